"""Hybrid candidate x job score: five normalised components combined by versioned weights.

Components (each in [0, 1]; 0.5 = "unknown, neutral"); default weights ``w2`` (see WEIGHTS):
- semantic:   cosine of the two embeddings, clipped at 0.
- skills:     weighted coverage of the job's ESCO skills by the candidate's, essential skills
              counting ``essential_weight`` (2) and optional ones 1; neutral if the job lists none.
- experience: 1 when the candidate has the required years, else the fraction of them.
- location:   1 remote job or same city; 0.6 same country; 0 different country; 0.5 unknown;
              halved when a remote-only candidate meets an onsite job.
- salary:     1 when the job's top of range reaches the candidate's desired minimum, else the ratio.
- occupation: ISCO-08 agreement of the two sides' top ESCO occupations: 1 same unit group (4 digits),
              0.85 same minor group (3 digits), else 0; 0.5 when either side has none.

``score = sum(w_c * component_c) / sum(w)`` rounded to 1e-6 (same input => same bits; the serving
key uses the same resolution). Any pair with an invalid side or two different tenants scores NaN.
``score_matrix`` accepts the sides in either order and returns arrays shaped (len(a), len(b)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from matching.features import UNKNOWN, FeatureMatrix

COMPONENTS = ("semantic", "skills", "experience", "location", "salary", "occupation")
# occupation agreement by ISCO-08 hierarchy of the two sides' top ESCO occupations (chosen by dev-half CV)
SAME_UNIT_GROUP = 1.0  # first 4 digits equal
SAME_MINOR_GROUP = 0.85  # first 3 digits equal
NEUTRAL = 0.5
SCORE_DECIMALS = 6


@dataclass(frozen=True)
class HybridWeights:
    version: str
    semantic: float
    skills: float
    experience: float
    location: float
    salary: float
    occupation: float = 0.0
    essential_weight: float = 2.0
    optional_weight: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)

    def component_weights(self) -> np.ndarray:
        w = np.array([getattr(self, c) for c in COMPONENTS], dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights {self.version} must be non-negative with a positive sum")
        return w / w.sum()


WEIGHTS: dict[str, HybridWeights] = {
    # w0: the first hand-set priors. On the dev split of the resume->job evaluation the skills
    # component (0.35) pulled precision@10 from 0.30 (embedding only) down to 0.16, so it was retired
    # before any run was published.
    "w0": HybridWeights("w0", semantic=0.40, skills=0.35, experience=0.10, location=0.10, salary=0.05),
    # w1: best point of the dev-split weight grid (matching.evaluation.weight_grid) among those
    # that keep every component in play (p@10 0.3026 vs 0.3047 for the overall best, which drops
    # location/experience entirely). Test-split numbers in docs/matching.md.
    "w1": HybridWeights("w1", semantic=0.75, skills=0.05, experience=0.10, location=0.05, salary=0.05),
    # w2: learning-to-rank fit on the dev half only (`python -m matching.cli evaluate --split dev --tune`,
    # matching.evaluation.fit_weights): pairwise logistic loss on relevant vs irrelevant jobs of each
    # resume, weights >= 0, then backward elimination by 5-fold CV precision@10 (skills dropped: CV
    # 0.352 -> 0.360; experience was fit to 0). Vectors are title-emphasised (embeddings.TITLE_WEIGHT).
    "w2": HybridWeights("w2", semantic=0.7589, skills=0.0, experience=0.0, location=0.0435, salary=0.0115,
                        occupation=0.1862),
    # Baselines used by the evaluation (not for serving).
    "semantic_only": HybridWeights("semantic_only", 1.0, 0.0, 0.0, 0.0, 0.0),
    "skills_only": HybridWeights("skills_only", 0.0, 1.0, 0.0, 0.0, 0.0),
    "occupation_only": HybridWeights("occupation_only", 0.0, 0.0, 0.0, 0.0, 0.0, occupation=1.0),
}
DEFAULT_WEIGHTS_VERSION = "w2"


def resolve_weights(weights: HybridWeights | str | None) -> HybridWeights:
    if weights is None:
        return WEIGHTS[DEFAULT_WEIGHTS_VERSION]
    if isinstance(weights, str):
        try:
            return WEIGHTS[weights]
        except KeyError:
            raise ValueError(f"unknown weights version {weights!r}; known: {sorted(WEIGHTS)}") from None
    return weights


def _orient(a: FeatureMatrix, b: FeatureMatrix) -> tuple[FeatureMatrix, FeatureMatrix, bool]:
    if {a.side, b.side} != {"candidate", "job"}:
        raise ValueError(f"need one candidate and one job matrix, got {a.side!r} and {b.side!r}")
    return (a, b, False) if a.side == "candidate" else (b, a, True)


def _semantic(c: FeatureMatrix, j: FeatureMatrix) -> np.ndarray:
    # float64 GEMM: float32 summation order differs between block shapes (gemv vs gemm) by ~1e-7,
    # enough to flip the 1e-6 rounding; float64 noise (~1e-16) keeps blocked == brute force.
    return np.clip(c.vectors.astype(np.float64) @ j.vectors.astype(np.float64).T, 0.0, 1.0)


# --- the structured components as broadcastable formulas (also used by matching.fast_topk) ---------------
def job_skill_sets(j: FeatureMatrix):
    """(essential, optional) skill matrices of a job side; `skills` counts as essential without a split."""
    return (j.essential if j.essential is not None else j.skills), j.optional


def skill_totals(j: FeatureMatrix, w: HybridWeights) -> np.ndarray:
    """(m,) weighted number of skills each job lists: the denominator of its skills coverage."""
    ess, opt = job_skill_sets(j)
    total = w.essential_weight * np.asarray(ess.sum(axis=1), dtype=np.float64).ravel()
    if opt is not None:
        total = total + w.optional_weight * np.asarray(opt.sum(axis=1), dtype=np.float64).ravel()
    return total


def experience(have: np.ndarray, need: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        frac = np.where(have >= need, 1.0, have / need)
    out = np.where(np.isnan(need) | (need <= 0), 1.0, frac)  # nothing required: anyone fits
    out = np.where(~np.isnan(need) & (need > 0) & np.isnan(have), NEUTRAL, out)
    return np.clip(out, 0.0, 1.0)


def location(c_city, c_country, c_remote, j_city, j_country, j_remote) -> np.ndarray:
    same_city = (c_city == j_city) & (c_city != UNKNOWN)
    known_country = (c_country != UNKNOWN) & (j_country != UNKNOWN)
    out = np.full(np.broadcast_shapes(np.shape(c_city), np.shape(j_city)), NEUTRAL)
    out = np.where(known_country & (c_country != j_country), 0.0, out)
    out = np.where(known_country & (c_country == j_country), 0.6, out)
    out = np.where(same_city, 1.0, out)
    remote_only_vs_onsite = (c_remote == 2) & (j_remote == 0)
    out = np.where(remote_only_vs_onsite, out * 0.5, out)
    return np.where(j_remote == 2, 1.0, out)


def offered_salary(j: FeatureMatrix) -> np.ndarray:
    """(m,) the top of each job's range (its minimum when it gives no maximum)."""
    return np.where(np.isnan(j.salary_max), j.salary_min, j.salary_max)


def salary(desired: np.ndarray, offered: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.where(offered >= desired, 1.0, offered / desired)
    out = np.where(np.isnan(desired) | np.isnan(offered) | (desired <= 0), NEUTRAL, ratio)
    return np.clip(out, 0.0, 1.0)


def occupation(c_isco: np.ndarray, j_isco: np.ndarray) -> np.ndarray:
    """ISCO agreement of (broadcastable) unit-group codes; -1 = unknown -> neutral."""
    c_isco, j_isco = np.asarray(c_isco, dtype=np.int64), np.asarray(j_isco, dtype=np.int64)
    out = np.where(c_isco == j_isco, SAME_UNIT_GROUP, np.where(c_isco // 10 == j_isco // 10, SAME_MINOR_GROUP, 0.0))
    return np.where((c_isco < 0) | (j_isco < 0), NEUTRAL, out)


def combine(parts: dict[str, np.ndarray], norm: np.ndarray, ok: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted sum of the components in COMPONENTS order, everything rounded to SCORE_DECIMALS; NaN
    where not ``ok``. One rule for every scorer, so they agree to the bit."""
    score = np.zeros(np.shape(ok), dtype=np.float64)
    for weight, name in zip(norm, COMPONENTS, strict=True):
        if weight:
            score += weight * parts[name]
    out = {"score": np.where(ok, np.round(score, SCORE_DECIMALS), np.nan)}
    for name in COMPONENTS:
        out[name] = np.where(ok, np.round(parts[name], SCORE_DECIMALS), np.nan)
    return out


def _skills(c: FeatureMatrix, j: FeatureMatrix, w: HybridWeights) -> np.ndarray:
    ess, opt = job_skill_sets(j)
    covered = w.essential_weight * (c.skills @ ess.T).toarray().astype(np.float64)
    if opt is not None:
        covered += w.optional_weight * (c.skills @ opt.T).toarray()
    total = skill_totals(j, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = covered / total[None, :]
    out[:, total == 0] = NEUTRAL
    return np.clip(out, 0.0, 1.0)


def score_matrix(a: FeatureMatrix, b: FeatureMatrix, weights: HybridWeights | str | None = None
                 ) -> dict[str, np.ndarray]:
    """All components and the combined score for every pair, shaped (len(a), len(b))."""
    w = resolve_weights(weights)
    c, j, swapped = _orient(a, b)
    parts = {
        "semantic": _semantic(c, j),
        "skills": _skills(c, j, w),
        "experience": experience(c.years[:, None], j.years[None, :]),
        "location": location(c.city[:, None], c.country[:, None], c.remote[:, None],
                             j.city[None, :], j.country[None, :], j.remote[None, :]),  # fmt: skip
        "salary": salary(c.salary_min[:, None], offered_salary(j)[None, :]),
        "occupation": occupation(c.isco[:, None], j.isco[None, :]),
    }
    pair_ok = c.valid[:, None] & j.valid[None, :] & (c.tenant[:, None] == j.tenant[None, :])
    out = combine(parts, w.component_weights(), pair_ok)
    if swapped:
        out = {k: np.ascontiguousarray(v.T) for k, v in out.items()}
    return out

"""Hybrid candidate x job score: five normalised components combined by versioned weights.

Components (each in [0, 1]; 0.5 = "unknown, neutral"); default weights ``w1`` (see WEIGHTS):
- semantic:   cosine of the two embeddings, clipped at 0.
- skills:     weighted coverage of the job's ESCO skills by the candidate's, essential skills
              counting ``essential_weight`` (2) and optional ones 1; neutral if the job lists none.
- experience: 1 when the candidate has the required years, else the fraction of them.
- location:   1 remote job or same city; 0.6 same country; 0 different country; 0.5 unknown;
              halved when a remote-only candidate meets an onsite job.
- salary:     1 when the job's top of range reaches the candidate's desired minimum, else the ratio.

``score = sum(w_c * component_c) / sum(w)`` rounded to 1e-6 (same input => same bits; the serving
key uses the same resolution). Any pair with an invalid side or two different tenants scores NaN.
``score_matrix`` accepts the sides in either order and returns arrays shaped (len(a), len(b)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from matching.features import UNKNOWN, FeatureMatrix

COMPONENTS = ("semantic", "skills", "experience", "location", "salary")
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
    # Baselines used by the evaluation (not for serving).
    "semantic_only": HybridWeights("semantic_only", 1.0, 0.0, 0.0, 0.0, 0.0),
    "skills_only": HybridWeights("skills_only", 0.0, 1.0, 0.0, 0.0, 0.0),
}
DEFAULT_WEIGHTS_VERSION = "w1"


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


def _skills(c: FeatureMatrix, j: FeatureMatrix, w: HybridWeights) -> np.ndarray:
    ess = j.essential if j.essential is not None else j.skills
    opt = j.optional if j.optional is not None else None
    covered = w.essential_weight * (c.skills @ ess.T).toarray().astype(np.float64)
    total = w.essential_weight * np.asarray(ess.sum(axis=1), dtype=np.float64).ravel()
    if opt is not None:
        covered += w.optional_weight * (c.skills @ opt.T).toarray()
        total = total + w.optional_weight * np.asarray(opt.sum(axis=1), dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = covered / total[None, :]
    out[:, total == 0] = NEUTRAL
    return np.clip(out, 0.0, 1.0)


def _experience(c: FeatureMatrix, j: FeatureMatrix) -> np.ndarray:
    have = c.years[:, None]
    need = j.years[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(have >= need, 1.0, have / need)
    out = np.where(np.isnan(need) | (need <= 0), 1.0, frac)  # nothing required: anyone fits
    out = np.where(~np.isnan(need) & (need > 0) & np.isnan(have), NEUTRAL, out)
    return np.clip(out, 0.0, 1.0)


def _location(c: FeatureMatrix, j: FeatureMatrix) -> np.ndarray:
    same_city = (c.city[:, None] == j.city[None, :]) & (c.city[:, None] != UNKNOWN)
    c_country, j_country = c.country[:, None], j.country[None, :]
    known_country = (c_country != UNKNOWN) & (j_country != UNKNOWN)
    out = np.full((len(c), len(j)), NEUTRAL)
    out = np.where(known_country & (c_country != j_country), 0.0, out)
    out = np.where(known_country & (c_country == j_country), 0.6, out)
    out = np.where(same_city, 1.0, out)
    remote_only_vs_onsite = (c.remote[:, None] == 2) & (j.remote[None, :] == 0)
    out = np.where(remote_only_vs_onsite, out * 0.5, out)
    out = np.where(j.remote[None, :] == 2, 1.0, out)
    return out


def _salary(c: FeatureMatrix, j: FeatureMatrix) -> np.ndarray:
    desired = c.salary_min[:, None]
    offered = np.where(np.isnan(j.salary_max), j.salary_min, j.salary_max)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(offered >= desired, 1.0, offered / desired)
    out = np.where(np.isnan(desired) | np.isnan(offered) | (desired <= 0), NEUTRAL, ratio)
    return np.clip(out, 0.0, 1.0)


def score_matrix(a: FeatureMatrix, b: FeatureMatrix, weights: HybridWeights | str | None = None
                 ) -> dict[str, np.ndarray]:
    """All components and the combined score for every pair, shaped (len(a), len(b))."""
    w = resolve_weights(weights)
    c, j, swapped = _orient(a, b)
    parts = {
        "semantic": _semantic(c, j),
        "skills": _skills(c, j, w),
        "experience": _experience(c, j),
        "location": _location(c, j),
        "salary": _salary(c, j),
    }
    norm = w.component_weights()
    score = np.zeros((len(c), len(j)), dtype=np.float64)
    for weight, name in zip(norm, COMPONENTS, strict=True):
        if weight:
            score += weight * parts[name]
    pair_ok = c.valid[:, None] & j.valid[None, :] & (c.tenant[:, None] == j.tenant[None, :])
    score = np.where(pair_ok, np.round(score, SCORE_DECIMALS), np.nan)
    out = {"score": score}
    for name in COMPONENTS:
        out[name] = np.where(pair_ok, np.round(parts[name], SCORE_DECIMALS), np.nan)
    if swapped:
        out = {k: np.ascontiguousarray(v.T) for k, v in out.items()}
    return out

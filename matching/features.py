"""Profiles + vectors -> dense/sparse arrays the scorer works on (one side at a time).

The skill multi-hot uses the taxonomy's skill index, so candidate and job matrices share one
vocabulary and skill overlap is a sparse matrix product.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from matching.taxonomy import Taxonomy, load_taxonomy

SIDES = ("candidate", "job")
# every profile field build_features reads (besides the id): callers may send only these
FEATURE_FIELDS = (
    "tenant_id", "invalid_reason", "skills", "essential_skills", "optional_skills", "years_experience",
    "location_city", "location_country", "remote", "salary_min", "salary_max", "desired_salary_min",
)  # fmt: skip
REMOTE_CODES = {"onsite": 0, "hybrid": 1, "remote": 2}
UNKNOWN = -1


@dataclass
class FeatureMatrix:
    side: str
    ids: np.ndarray  # (n,) object: candidate_id / job_id
    tenant: np.ndarray  # (n,) object; "" when the profiles carry no tenant
    vectors: np.ndarray  # (n, d) float32, L2-normalised
    skills: sp.csr_matrix  # (n, V) all skills (for jobs: essential + optional)
    essential: sp.csr_matrix | None  # jobs only
    optional: sp.csr_matrix | None  # jobs only
    years: np.ndarray  # (n,) float64; NaN unknown (candidates: experience, jobs: required)
    city: np.ndarray  # (n,) int64 code, -1 unknown (codes shared via the city vocabulary)
    country: np.ndarray  # (n,) int64 code, -1 unknown
    remote: np.ndarray  # (n,) int8: 0 onsite, 1 hybrid, 2 remote, -1 unknown
    salary_min: np.ndarray  # (n,) float64 yearly; NaN unknown (candidates: desired minimum)
    salary_max: np.ndarray  # (n,) float64 yearly; NaN unknown
    valid: np.ndarray  # (n,) bool
    invalid_reason: np.ndarray  # (n,) object: None when valid
    skill_vocab_size: int = 0
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray | slice) -> FeatureMatrix:
        """A row subset (used for blocking)."""
        sub = lambda m: None if m is None else m[rows]  # noqa: E731
        return FeatureMatrix(
            side=self.side, ids=self.ids[rows], tenant=self.tenant[rows], vectors=self.vectors[rows],
            skills=self.skills[rows], essential=sub(self.essential), optional=sub(self.optional),
            years=self.years[rows], city=self.city[rows], country=self.country[rows], remote=self.remote[rows],
            salary_min=self.salary_min[rows], salary_max=self.salary_max[rows], valid=self.valid[rows],
            invalid_reason=self.invalid_reason[rows], skill_vocab_size=self.skill_vocab_size,
        )


def _float(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) and out >= 0 else math.nan


def _place_code(value) -> int:
    """Stable code for a city/country string (crc32 of the folded name): comparable across calls."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    return _text_code(str(value))


@functools.lru_cache(maxsize=1 << 16)  # a few thousand distinct places; every profile names one
def _text_code(value: str) -> int:
    text = " ".join(value.lower().split())
    if not text or text in {"city", "state", "unknown", "n/a"}:
        return UNKNOWN
    return int(zlib.crc32(text.encode("utf-8")))


def as_list(value) -> list:
    """Array-like profile field -> list (Spark/pandas hand over numpy arrays; None -> [])."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return list(value)


def _multi_hot(rows: list[list[str]], taxonomy: Taxonomy) -> sp.csr_matrix:
    index = taxonomy.skill_index
    indptr, indices = [0], []
    for skills in rows:
        cols = sorted({index[s] for s in as_list(skills) if s in index})
        indices.extend(cols)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
                         shape=(len(rows), taxonomy.n_skills))


def _id(profile: dict, side: str, row: int):
    key = "candidate_id" if side == "candidate" else "job_id"
    for name in (key, "entity_id", "id"):
        if profile.get(name) is not None:
            return profile[name]
    return row


def build_features(profiles: list[dict], vectors: np.ndarray, side: str,
                   taxonomy: Taxonomy | None = None) -> FeatureMatrix:
    """Arrays for one side. A profile is invalid (never scored) when it carries an
    ``invalid_reason``, when its vector is missing/zero/non-finite, or when it has neither skills nor text."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    taxonomy = taxonomy or load_taxonomy()
    n = len(profiles)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 1), np.float32)
    if vectors.shape[0] != n:
        raise ValueError(f"{n} profiles but {vectors.shape[0]} vectors")
    valid = np.ones(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    norms = np.linalg.norm(vectors, axis=1) if n else np.zeros(0)
    finite = np.isfinite(vectors).all(axis=1) if n else np.zeros(0, dtype=bool)
    for i, p in enumerate(profiles):
        reason = p.get("invalid_reason")
        if isinstance(reason, float) and math.isnan(reason):  # pandas' missing value
            reason = None
        if not reason and not finite[i]:
            reason = "non_finite_embedding"
        elif not reason and norms[i] == 0:
            reason = "empty_embedding"
        if reason:
            valid[i] = False
            reasons[i] = str(reason)
    safe = np.where(np.isfinite(vectors), vectors, 0).astype(np.float32)
    skills_all = _multi_hot([as_list(p.get("skills")) for p in profiles], taxonomy)
    essential = optional = None
    if side == "job":
        essential = _multi_hot([as_list(p.get("essential_skills")) for p in profiles], taxonomy)
        optional = _multi_hot([as_list(p.get("optional_skills")) for p in profiles], taxonomy)
        # Skills listed only in `skills` (no split) count as essential, per the contract.
        leftover = skills_all - skills_all.multiply(essential) - skills_all.multiply(optional)
        leftover.eliminate_zeros()
        essential = ((essential + leftover) > 0).astype(np.float32).tocsr()
    if side == "candidate":
        sal_min = [_float(p.get("desired_salary_min", p.get("salary_min"))) for p in profiles]
        sal_max = [_float(p.get("salary_max")) for p in profiles]
    else:
        sal_min = [_float(p.get("salary_min")) for p in profiles]
        sal_max = [_float(p.get("salary_max")) for p in profiles]
    return FeatureMatrix(
        side=side,
        ids=np.asarray([_id(p, side, i) for i, p in enumerate(profiles)], dtype=object),
        tenant=np.asarray([str(p.get("tenant_id") or "") for p in profiles], dtype=object),
        vectors=safe,
        skills=skills_all,
        essential=essential,
        optional=optional,
        years=np.asarray([_float(p.get("years_experience")) for p in profiles], dtype=np.float64),
        city=np.asarray([_place_code(p.get("location_city")) for p in profiles], dtype=np.int64),
        country=np.asarray([_place_code(p.get("location_country")) for p in profiles], dtype=np.int64),
        remote=np.asarray([REMOTE_CODES.get(str(p.get("remote") or "").lower(), UNKNOWN) for p in profiles],
                          dtype=np.int8),
        salary_min=np.asarray(sal_min, dtype=np.float64),
        salary_max=np.asarray(sal_max, dtype=np.float64),
        valid=valid,
        invalid_reason=reasons,
        skill_vocab_size=taxonomy.n_skills,
    )

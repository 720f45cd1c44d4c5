"""Profiles + vectors -> dense/sparse arrays the scorer works on (one side at a time).

The skill multi-hot uses the taxonomy's skill index, so candidate and job matrices share one
vocabulary and skill overlap is a sparse matrix product. Built column by column from a pandas frame
(`build_features_frame`: the Spark task's Arrow batch, no dict per profile); `build_features` takes
profile dicts and goes through the same code.
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pandas.api.types import is_list_like, is_numeric_dtype

from matching.taxonomy import Taxonomy, load_taxonomy

SIDES = ("candidate", "job")
# every profile field the builders read (besides the ids): callers may send only these
FEATURE_FIELDS = (
    "tenant_id", "invalid_reason", "skills", "essential_skills", "optional_skills", "years_experience",
    "location_city", "location_country", "remote", "salary_min", "salary_max", "desired_salary_min",
    "occupation_code",
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
    # (n,) int64 ISCO-08 unit group (first 4 digits of the top ESCO occupation), -1 unknown; None: all unknown
    occupation: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def isco(self) -> np.ndarray:
        """(n,) int64 ISCO unit group per row, -1 unknown."""
        if self.occupation is None:
            return np.full(len(self.ids), UNKNOWN, dtype=np.int64)
        return np.asarray(self.occupation, dtype=np.int64)

    def take(self, rows: np.ndarray | slice) -> FeatureMatrix:
        """A row subset (used for blocking)."""
        sub = lambda m: None if m is None else m[rows]  # noqa: E731
        return FeatureMatrix(
            side=self.side, ids=self.ids[rows], tenant=self.tenant[rows], vectors=self.vectors[rows],
            skills=self.skills[rows], essential=sub(self.essential), optional=sub(self.optional),
            years=self.years[rows], city=self.city[rows], country=self.country[rows], remote=self.remote[rows],
            salary_min=self.salary_min[rows], salary_max=self.salary_max[rows], valid=self.valid[rows],
            invalid_reason=self.invalid_reason[rows], skill_vocab_size=self.skill_vocab_size,
            occupation=None if self.occupation is None else self.occupation[rows],
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
    text = " ".join(str(value).lower().split())
    if not text or text in {"city", "state", "unknown", "n/a"}:
        return UNKNOWN
    return int(zlib.crc32(text.encode("utf-8")))


def as_list(value) -> list:
    """Array-like profile field -> list (Spark/pandas hand over numpy arrays; None -> [])."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return list(value)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A profile field as a column; one the frame lacks reads as all missing (as dict.get did)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(None, index=frame.index, dtype=object)


def _per_distinct(column: pd.Series | np.ndarray, encode, missing, dtype) -> np.ndarray:
    """``encode`` applied once per distinct value (a few thousand places, not one per profile);
    a missing value (None/NaN/NA) gets ``missing``."""
    codes, uniques = pd.factorize(column)
    # factorize marks missing values -1, which indexes the appended `missing`
    table = np.array([encode(u) for u in uniques] + [missing], dtype=dtype)
    return table[codes]


def _numbers(column: pd.Series) -> np.ndarray:
    """`_float` per value: non-numeric, negative or non-finite -> NaN."""
    if is_numeric_dtype(column.dtype):  # the usual case (Arrow doubles): no Python per value
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isfinite(values) & (values >= 0), values, np.nan)
    return np.fromiter(map(_float, column.to_numpy(dtype=object)), np.float64, len(column))


def _flatten(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """List column -> (row position, item) per item. Lists, tuples and numpy arrays hold items; None/NaN
    hold none (a bare string too: `as_list` made it single characters, which are never skill ids)."""
    lists = [v if is_list_like(v) else _NO_ITEMS for v in column.to_numpy(dtype=object)]
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    return np.repeat(np.arange(len(lists)), lengths), _concat(lists, int(lengths.sum()))


_NO_ITEMS = np.empty(0, dtype=object)


def _concat(lists: list, total: int) -> np.ndarray:
    """The items of all lists, in order, as one object array."""
    if lists and all(isinstance(v, np.ndarray) for v in lists):
        # Arrow -> pandas hands over numpy arrays: one C-level copy (~4x faster than iterating)
        return np.concatenate(lists, dtype=object)
    return np.fromiter(itertools.chain.from_iterable(lists), dtype=object, count=total)


def _skill_columns(items: np.ndarray, index: dict[str, int]) -> np.ndarray:
    """Skill id -> taxonomy column, -1 when unknown (looked up once per distinct id)."""
    return _per_distinct(items, lambda s: index.get(s, UNKNOWN), UNKNOWN, np.int64)


def _multi_hot(column: pd.Series, taxonomy: Taxonomy) -> sp.csr_matrix:
    n, width = len(column), max(taxonomy.n_skills, 1)
    rows, items = _flatten(column)
    cols = _skill_columns(items, taxonomy.skill_index)
    known = cols >= 0
    # sorted (row, column) keys: each row's columns in order, its duplicate skills adjacent
    keys = np.sort(rows[known] * width + cols[known])
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // width, minlength=n), out=indptr[1:])
    data = np.ones(len(keys), dtype=np.float32)
    return sp.csr_matrix((data, (keys % width).astype(np.int32), indptr), shape=(n, taxonomy.n_skills))


def _job_skills(frame: pd.DataFrame, skills_all: sp.csr_matrix,
                taxonomy: Taxonomy) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(essential, optional) of jobs."""
    essential = _multi_hot(_column(frame, "essential_skills"), taxonomy)
    optional = _multi_hot(_column(frame, "optional_skills"), taxonomy)
    # Skills listed only in `skills` (no split) count as essential, per the contract. (A skill listed as
    # essential *and* optional stays essential: subtracting both would leave it at -1.)
    listed = ((essential + optional) > 0).astype(np.float32)
    leftover = skills_all - skills_all.multiply(listed)
    leftover.eliminate_zeros()
    essential = ((essential + leftover) > 0).astype(np.float32).tocsr()
    return essential, optional


def _vector_flaws(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(finite, zero) per row, in one pass over the vectors for the usual all-finite case."""
    # a finite sum of squares proves the row finite; only the rest (overflow, inf, NaN) is checked
    squares = np.einsum("ij,ij->i", vectors, vectors)
    finite = np.isfinite(squares)
    suspects = np.flatnonzero(~finite)
    finite[suspects] = np.isfinite(vectors[suspects]).all(axis=1)
    # squares are never negative, so their sum is 0 exactly when every square is (== a zero norm)
    return finite, squares == 0


def _invalid_reasons(column: pd.Series, finite: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """(n,) object: the profile's own reason (str), else a vector problem, else None."""
    # a falsy reason ("", 0) means valid, as does a missing one (None, pandas' NaN)
    reasons = _per_distinct(column, lambda r: str(r) if r else None, None, object)
    unexplained = np.equal(reasons, None)
    reasons[unexplained & ~finite] = "non_finite_embedding"
    reasons[unexplained & finite & zero] = "empty_embedding"
    return reasons


def _finite_copy(vectors: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """float32 copy with non-finite entries zeroed (their rows are invalid anyway)."""
    out = np.array(vectors, dtype=np.float32)
    if not finite.all():
        flawed = np.flatnonzero(~finite)
        out[flawed] = np.where(np.isfinite(out[flawed]), out[flawed], 0)
    return out


def _ids(frame: pd.DataFrame, side: str) -> np.ndarray:
    """Per row the first non-null of candidate_id / job_id, entity_id, id; else the row number."""
    key = "candidate_id" if side == "candidate" else "job_id"
    ids = np.arange(len(frame)).astype(object)  # Python ints, like the row numbers of enumerate
    for name in ("id", "entity_id", key):  # lowest priority first: a later column overwrites
        if name in frame.columns:
            values = frame[name].to_numpy(dtype=object)
            present = pd.notna(values)
            ids[present] = values[present]
    return ids


def isco_unit_group(code) -> int:
    """ESCO occupation code ("2411.1.3") -> its ISCO-08 unit group as an int (2411; "0110" -> 110), -1 unknown."""
    head = str(code or "")[:4]
    return int(head) if len(head) == 4 and head.isdigit() else UNKNOWN


def _remote_code(value) -> int:
    return REMOTE_CODES.get(str(value or "").lower(), UNKNOWN)


def _salary_min_column(frame: pd.DataFrame, side: str) -> pd.Series:
    """Candidates: the desired minimum when the profiles carry that field, else `salary_min`.

    Decided per frame, not per row: a null `desired_salary_min` is "unknown", never a fall-back to
    `salary_min` (the profile builder writes both the same). So a record that lacks the key while
    others have it reads as unknown here, where the old per-record `dict.get` fell back to its
    `salary_min`."""
    if side == "candidate" and "desired_salary_min" in frame.columns:
        return frame["desired_salary_min"]
    return _column(frame, "salary_min")


def _as_vectors(vectors, n: int) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 1), np.float32)
    if vectors.shape[0] != n:
        raise ValueError(f"{n} profiles but {vectors.shape[0]} vectors")
    return vectors


def build_features_frame(frame: pd.DataFrame, vectors: np.ndarray, side: str,
                         taxonomy: Taxonomy | None = None) -> FeatureMatrix:
    """Arrays for one side, column by column (profile fields as columns, row i <-> vectors[i]).

    A profile is invalid (never scored) when it carries an ``invalid_reason`` or when its vector is
    zero/non-finite. List columns may hold Python lists or numpy arrays (Arrow -> pandas); missing
    values may be None or NaN; a missing column reads as missing values."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    taxonomy = taxonomy or load_taxonomy()
    vectors = _as_vectors(vectors, len(frame))
    finite, zero = _vector_flaws(vectors)
    reasons = _invalid_reasons(_column(frame, "invalid_reason"), finite, zero)
    skills_all = _multi_hot(_column(frame, "skills"), taxonomy)
    essential, optional = _job_skills(frame, skills_all, taxonomy) if side == "job" else (None, None)
    return FeatureMatrix(
        side=side,
        ids=_ids(frame, side),
        # a missing tenant is "" (pandas' NaN included, which the old str(x or "") turned into "nan")
        tenant=_per_distinct(_column(frame, "tenant_id"), lambda t: str(t or ""), "", object),
        vectors=_finite_copy(vectors, finite),
        skills=skills_all,
        essential=essential,
        optional=optional,
        years=_numbers(_column(frame, "years_experience")),
        city=_per_distinct(_column(frame, "location_city"), _place_code, UNKNOWN, np.int64),
        country=_per_distinct(_column(frame, "location_country"), _place_code, UNKNOWN, np.int64),
        remote=_per_distinct(_column(frame, "remote"), _remote_code, UNKNOWN, np.int8),
        salary_min=_numbers(_salary_min_column(frame, side)),
        salary_max=_numbers(_column(frame, "salary_max")),
        valid=np.equal(reasons, None),
        invalid_reason=reasons,
        skill_vocab_size=taxonomy.n_skills,
        occupation=_per_distinct(_column(frame, "occupation_code"), isco_unit_group, UNKNOWN, np.int64),
    )


def build_features(profiles: list[dict], vectors: np.ndarray, side: str,
                   taxonomy: Taxonomy | None = None) -> FeatureMatrix:
    """`build_features_frame` over profile dicts (one implementation: the dicts become a frame)."""
    # object dtype keeps each value as the record holds it (an int id stays an int even when other
    # records lack it); a key a record lacks becomes NaN, which every field reads as missing
    return build_features_frame(pd.DataFrame(list(profiles), dtype=object), vectors, side, taxonomy)

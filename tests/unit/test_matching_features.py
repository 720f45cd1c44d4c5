"""Column-wise features (`build_features_frame`) == the former per-record builder, on awkward inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sp

from matching.features import (
    FEATURE_FIELDS,
    REMOTE_CODES,
    UNKNOWN,
    FeatureMatrix,
    _float,
    _place_code,
    as_list,
    build_features,
    build_features_frame,
    isco_unit_group,
)
from matching.taxonomy import load_taxonomy

pytestmark = pytest.mark.unit

NAN = float("nan")


def _reference(profiles: list[dict], vectors, side: str) -> FeatureMatrix:
    """The per-record builder this module replaced, kept verbatim in substance as the oracle."""
    taxonomy = load_taxonomy()
    n = len(profiles)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 1), np.float32)
    valid = np.ones(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    with np.errstate(over="ignore"):  # a huge vector's squares overflow: still finite, still valid
        norms = np.linalg.norm(vectors, axis=1) if n else np.zeros(0)
    finite = np.isfinite(vectors).all(axis=1) if n else np.zeros(0, dtype=bool)
    for i, p in enumerate(profiles):
        reason = p.get("invalid_reason")
        if isinstance(reason, float) and math.isnan(reason):
            reason = None
        if not reason and not finite[i]:
            reason = "non_finite_embedding"
        elif not reason and norms[i] == 0:
            reason = "empty_embedding"
        if reason:
            valid[i] = False
            reasons[i] = str(reason)

    def multi_hot(rows):
        index = taxonomy.skill_index
        indptr, indices = [0], []
        for skills in rows:
            indices.extend(sorted({index[s] for s in as_list(skills) if s in index}))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        return sp.csr_matrix((data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
                             shape=(len(rows), taxonomy.n_skills))  # fmt: skip

    def ident(p, row):
        for name in ("candidate_id" if side == "candidate" else "job_id", "entity_id", "id"):
            if p.get(name) is not None:
                return p[name]
        return row

    skills_all = multi_hot([as_list(p.get("skills")) for p in profiles])
    essential = optional = None
    if side == "job":
        essential = multi_hot([as_list(p.get("essential_skills")) for p in profiles])
        optional = multi_hot([as_list(p.get("optional_skills")) for p in profiles])
        leftover = skills_all - skills_all.multiply(((essential + optional) > 0).astype(np.float32))
        leftover.eliminate_zeros()
        essential = ((essential + leftover) > 0).astype(np.float32).tocsr()
    if side == "candidate":
        sal_min = [_float(p.get("desired_salary_min", p.get("salary_min"))) for p in profiles]
    else:
        sal_min = [_float(p.get("salary_min")) for p in profiles]
    return FeatureMatrix(
        side=side,
        ids=np.asarray([ident(p, i) for i, p in enumerate(profiles)], dtype=object),
        tenant=np.asarray([str(p.get("tenant_id") or "") for p in profiles], dtype=object),
        vectors=np.where(np.isfinite(vectors), vectors, 0).astype(np.float32),
        skills=skills_all, essential=essential, optional=optional,
        years=np.asarray([_float(p.get("years_experience")) for p in profiles], dtype=np.float64),
        city=np.asarray([_place_code(p.get("location_city")) for p in profiles], dtype=np.int64),
        country=np.asarray([_place_code(p.get("location_country")) for p in profiles], dtype=np.int64),
        remote=np.asarray([REMOTE_CODES.get(str(p.get("remote") or "").lower(), UNKNOWN) for p in profiles],
                          dtype=np.int8),
        salary_min=np.asarray(sal_min, dtype=np.float64),
        salary_max=np.asarray([_float(p.get("salary_max")) for p in profiles], dtype=np.float64),
        valid=valid, invalid_reason=reasons, skill_vocab_size=taxonomy.n_skills,
        occupation=np.asarray([isco_unit_group(p.get("occupation_code")) for p in profiles], dtype=np.int64),
    )  # fmt: skip


ARRAYS = ("ids", "tenant", "vectors", "years", "city", "country", "remote", "salary_min", "salary_max", "valid",
          "invalid_reason", "isco")  # fmt: skip


def assert_same(got: FeatureMatrix, want: FeatureMatrix) -> None:
    assert (got.side, got.skill_vocab_size) == (want.side, want.skill_vocab_size)
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), name
        else:
            assert [(type(x), x) for x in a.tolist()] == [(type(x), x) for x in b.tolist()], name
    for name in ("skills", "essential", "optional"):
        a, b = getattr(got, name), getattr(want, name)
        if b is None:
            assert a is None, name
            continue
        assert a.shape == b.shape, name
        for part in ("indptr", "indices", "data"):
            x, y = getattr(a, part), getattr(b, part)
            assert x.dtype == y.dtype and np.array_equal(x, y), (name, part)


def _u(i: int) -> str:
    return load_taxonomy().skill_uri(i)


def _vectors(n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _awkward_candidates() -> tuple[list[dict], np.ndarray]:
    u = _u
    records = [
        {"candidate_id": "c0", "tenant_id": "t", "skills": [u(3), u(1), u(3), "no-such-skill"], "years_experience": 5,
         "location_city": "Leeds ", "location_country": "GB", "remote": "Remote", "desired_salary_min": 50000,
         "salary_min": 1},
        {"candidate_id": "c1", "tenant_id": "t", "skills": np.array([u(2), None, u(2)], dtype=object),
         "years_experience": -1.0, "location_city": "  leeds", "remote": "HYBRID", "desired_salary_min": None,
         "salary_min": 30000},
        {"candidate_id": "c2", "tenant_id": None, "skills": None, "years_experience": "7", "invalid_reason": "empty_text",
         "desired_salary_min": NAN},
        {"candidate_id": "c3", "tenant_id": "u", "skills": NAN, "years_experience": "seven", "invalid_reason": NAN,
         "location_city": "n/a", "location_country": "", "desired_salary_min": "60000"},
        {"candidate_id": "c4", "tenant_id": "u", "skills": (u(7),), "years_experience": float("inf"), "invalid_reason": "",
         "location_city": NAN, "remote": "", "desired_salary_min": -5},
        {"candidate_id": None, "entity_id": "e5", "skills": [], "years_experience": None, "desired_salary_min": 1e9,
         "remote": "onsite"},
        {"candidate_id": None, "entity_id": None, "id": "i6", "skills": ["no-such-skill"], "desired_salary_min": None},
        {"skills": np.array([u(0), u(9)], dtype=object), "desired_salary_min": 0, "years_experience": True},
        {"candidate_id": "c8", "skills": [u(1)], "desired_salary_min": None},  # zero vector
        {"candidate_id": "c9", "skills": [u(1)], "desired_salary_min": None},  # NaN in the vector
        {"candidate_id": "c10", "skills": [u(1)], "desired_salary_min": None, "invalid_reason": "dup"},  # and inf
        {"candidate_id": "c11", "skills": [u(1)], "desired_salary_min": None},  # huge: squares overflow, valid
        {"candidate_id": "c12", "skills": [u(1)], "desired_salary_min": None},  # tiny: norm underflows to 0
    ]  # fmt: skip
    vectors = _vectors(len(records))
    vectors[8] = 0
    vectors[9, 1] = np.nan
    vectors[10, 2] = np.inf
    vectors[11] = [3e38, -3e38, 1e30, 0]
    vectors[12] = [1e-30, 0, -1e-30, 0]
    return records, vectors


def _awkward_jobs() -> tuple[list[dict], np.ndarray]:
    u = _u
    records = [
        {"job_id": "j0", "tenant_id": "t", "skills": [u(1), u(2), u(3)], "essential_skills": [u(1)],
         "optional_skills": [u(2)], "salary_min": 40000, "salary_max": 60000.0, "years_experience": 3},
        # skills only in `skills` (no split at all) count as essential
        {"job_id": "j1", "tenant_id": "t", "skills": np.array([u(4), u(5)], dtype=object), "essential_skills": None,
         "optional_skills": NAN, "salary_min": None, "salary_max": "lots"},
        {"job_id": "j2", "tenant_id": "t", "skills": [u(6), u(6), "no-such-skill"], "essential_skills": [u(7), u(7)],
         "optional_skills": np.array([u(6)], dtype=object), "salary_min": -1, "salary_max": NAN},
        # a skill listed as essential and optional (and in skills): whatever the old arithmetic made of it
        {"job_id": "j3", "tenant_id": "u", "skills": [u(8)], "essential_skills": [u(8)], "optional_skills": [u(8)]},
        {"job_id": None, "entity_id": "e4", "skills": None, "essential_skills": [u(9)], "invalid_reason": "closed"},
        {"job_id": "j5", "skills": [], "essential_skills": [], "optional_skills": []},
    ]  # fmt: skip
    vectors = _vectors(len(records), seed=1)
    vectors[5] = 0
    return records, vectors


@pytest.mark.parametrize("side, world", [("candidate", _awkward_candidates), ("job", _awkward_jobs)])
def test_records_and_frames_give_what_the_per_record_builder_gave(side, world):
    records, vectors = world()
    want = _reference(records, vectors, side)
    assert_same(build_features(records, vectors, side), want)
    # the same records as an ordinary pandas frame (missing keys -> NaN, inferred dtypes, odd index)
    frame = pd.DataFrame(records, index=np.arange(100, 100 + len(records)))
    assert_same(build_features_frame(frame, vectors, side), want)
    assert not want.valid.all() and want.skills.nnz  # the data exercises both branches


def test_missing_columns_read_as_missing_values():
    records = [{"candidate_id": "a"}, {"candidate_id": "b", "skills": [_u(1)]}, {}]
    vectors = _vectors(3)
    assert_same(build_features(records, vectors, "candidate"), _reference(records, vectors, "candidate"))
    jobs = [{"job_id": "j", "skills": [_u(2)]}]
    assert_same(build_features(jobs, vectors[:1], "job"), _reference(jobs, vectors[:1], "job"))
    assert_same(build_features([], np.zeros((0, 4)), "job"), _reference([], np.zeros((0, 4)), "job"))


def _synthetic(side: str, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic gold profiles with holes punched in, as a Spark task sees them (via Arrow)."""
    from spark_jobs._synthetic import profiles, unit_vectors

    rng = np.random.default_rng(seed)
    frame = profiles(n, side, ["acme", "globex"], rng)
    hole = lambda share: rng.uniform(size=n) < share  # noqa: E731
    frame.loc[hole(0.1), "skills"] = None
    frame.loc[hole(0.1), "years_experience"] = np.nan
    frame.loc[hole(0.1), "location_city"] = None
    frame.loc[hole(0.1), "remote"] = None
    frame.loc[hole(0.1), "salary_max"] = -1.0
    frame["invalid_reason"] = np.where(hole(0.05), "empty_text", None)
    if side == "candidate":
        frame["desired_salary_min"] = np.where(hole(0.3), np.nan, rng.uniform(20_000, 90_000, n))
    else:
        frame.loc[hole(0.2), "essential_skills"] = None
        frame.loc[hole(0.2), "optional_skills"] = None
    vectors = unit_vectors(n, 8, rng)
    vectors[hole(0.03)] = 0
    return pa.Table.from_pandas(frame, preserve_index=False).to_pandas(), vectors


@pytest.mark.parametrize("side", ["candidate", "job"])
def test_arrow_frames_give_what_the_spark_task_got_from_records(side):
    frame, vectors = _synthetic(side, 400, seed=5)
    assert isinstance(frame["skills"].dropna().iloc[0], np.ndarray)  # Arrow lists arrive as numpy arrays
    assert_same(build_features_frame(frame, vectors, side), _reference(frame.to_dict("records"), vectors, side))


@pytest.mark.parametrize("side", ["candidate", "job"])
def test_feature_fields_are_exactly_the_fields_the_builder_reads(side):
    frame, vectors = _synthetic(side, 200, seed=9)
    id_col = "candidate_id" if side == "candidate" else "job_id"
    full = build_features_frame(frame, vectors, side)
    # enough: the builder needs no other column ...
    assert_same(build_features_frame(frame[[id_col, *(c for c in FEATURE_FIELDS if c in frame)]], vectors, side), full)
    # ... and no field is listed in vain: each one that this side reads changes the result when dropped
    reads = set(FEATURE_FIELDS) - ({"essential_skills", "optional_skills"} if side == "candidate"
                                   else {"desired_salary_min"})  # fmt: skip
    for name in reads:
        # a candidate's salary_min counts only when the desired minimum is absent
        base = frame.drop(columns=["desired_salary_min"]) if (side, name) == ("candidate", "salary_min") else frame
        with pytest.raises(AssertionError):
            assert_same(build_features_frame(base.drop(columns=[name]), vectors, side),
                        build_features_frame(base, vectors, side))


def test_chosen_behaviour_where_records_and_columns_cannot_agree():
    """Documented differences from the per-record builder (see matching.features)."""
    records = [
        {"candidate_id": "a", "desired_salary_min": 50000.0, "salary_min": 1.0},
        # lacks the key others have: the column decides, a missing desired minimum is unknown
        # (the per-record builder fell back to this record's salary_min)
        {"candidate_id": "b", "salary_min": 30000.0},
        # pandas' NaN is a missing tenant / id (the per-record builder made tenant "nan", id NaN)
        {"candidate_id": NAN, "entity_id": "e", "tenant_id": NAN},
        # pd.NA (nullable dtypes) is missing too (the per-record builder raised on it)
        {"candidate_id": "d", "tenant_id": pd.NA, "invalid_reason": pd.NA, "remote": pd.NA, "location_city": pd.NA},
    ]
    f = build_features(records, _vectors(4), "candidate")
    assert np.array_equal(f.salary_min, [50000.0, NAN, NAN, NAN], equal_nan=True)
    assert f.ids.tolist() == ["a", "b", "e", "d"] and f.tenant.tolist() == ["", "", "", ""]
    assert f.valid.all() and f.remote[3] == UNKNOWN and f.city[3] == UNKNOWN


def test_record_values_keep_their_type():
    """Records are read as they are (object dtype): an int id missing elsewhere stays an int, not 7.0."""
    records = [{"candidate_id": 7}, {"entity_id": "e"}, {}]
    f = build_features(records, _vectors(3), "candidate")
    assert [(type(x), x) for x in f.ids] == [(int, 7), (str, "e"), (int, 2)]


def test_a_job_skill_listed_essential_and_optional_stays_essential():
    from matching.features import build_features_frame

    skill, other = list(load_taxonomy().skill_index)[:2]
    frame = pd.DataFrame({"job_id": ["j1"], "tenant_id": ["t"], "skills": [[skill, other]],
                          "essential_skills": [[skill]], "optional_skills": [[skill]]})  # fmt: skip
    fm = build_features_frame(frame, np.ones((1, 4), np.float32), "job")
    index = load_taxonomy().skill_index
    assert fm.essential[0, index[skill]] == 1 and fm.optional[0, index[skill]] == 1
    assert fm.essential[0, index[other]] == 1  # only in `skills`: essential, per the contract

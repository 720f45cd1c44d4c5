"""matching.fast_topk (bf16 / float32 screen + exact re-score) == brute force over matching.scoring.score_matrix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.features import FeatureMatrix
from matching.scoring import COMPONENTS, WEIGHTS, HybridWeights, score_matrix
from matching.topk import select_topk

pytestmark = pytest.mark.unit


def _skills(rng, n, vocab, lo, hi):
    rows = [rng.choice(vocab, size=int(rng.integers(lo, hi + 1)), replace=False) for _ in range(n)]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.concatenate([np.sort(r) for r in rows]).astype(np.int32) if n else np.zeros(0, np.int32)
    return sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(n, vocab))


def _features(side, n, rng, tenants=("a", "b"), dim=24, vocab=40, invalid_share=0.1, dup_share=0.2):
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dup = rng.uniform(size=n) < dup_share  # exact duplicates of row 0 → ties in score
    vectors[dup] = vectors[0]
    valid = rng.uniform(size=n) >= invalid_share
    vectors[~valid & (rng.uniform(size=n) < 0.5)] = 0.0
    reasons = np.where(valid, None, "empty_profile").astype(object)
    years = rng.choice([np.nan, 0.0, 1.0, 2.5, 5.0, 10.0], size=n)
    salary = rng.choice([np.nan, 0.0, 30000.0, 45000.0, 60000.0, 90000.0], size=n)
    skills = _skills(rng, n, vocab, 0, 8)
    kw = dict(
        side=side, ids=np.arange(n).astype(object), tenant=rng.choice(list(tenants), size=n).astype(object),
        vectors=vectors, skills=skills, essential=None, optional=None, years=years,
        city=rng.choice([-1, 1, 2, 3], size=n).astype(np.int64),
        country=rng.choice([-1, 10, 11], size=n).astype(np.int64),
        remote=rng.choice([-1, 0, 1, 2], size=n).astype(np.int8),
        salary_min=salary, salary_max=np.where(rng.uniform(size=n) < 0.3, np.nan, salary * 1.2),
        valid=valid, invalid_reason=reasons, skill_vocab_size=vocab,
        # ISCO unit groups sharing minor groups (2411/2412/2413 → 241), some unknown → every occupation value
        occupation=rng.choice([-1, 2411, 2412, 2413, 2421, 5120], size=n).astype(np.int64),
    )  # fmt: skip
    if side == "job":
        none = (rng.uniform(size=n) >= 0.15).astype(np.float32)  # 15 % list no skill → neutral component
        essential = sp.csr_matrix(sp.diags(none) @ _skills(rng, n, vocab, 0, 4))
        essential.eliminate_zeros()
        kw["essential"] = essential
        kw["optional"] = _skills(rng, n, vocab, 0, 4)
        kw["skills"] = ((essential + kw["optional"]) > 0).astype(np.float32).tocsr()
    return FeatureMatrix(**kw)


def _brute(c, j, k, weights):
    full = score_matrix(c, j, weights)
    rc, rv = select_topk(full["score"], k)
    jc, jv = select_topk(full["score"].T, k)
    return full, (rc, rv), (jc, jv)


def _check(c, j, k, weights, block_size):
    """Both screen engines return brute force's top-k, both directions, every component."""
    for gemm in ("bfloat16", "float32"):
        got, full = _check_engine(c, j, k, weights, block_size, gemm)
    return got, full


def _check_engine(c, j, k, weights, block_size, gemm):
    from matching.fast_topk import topk_both

    full, (rc, rv), (jc, jv) = _brute(c, j, k, weights)
    got = topk_both(c, j, k, weights, block_size=block_size, gemm=gemm)
    np.testing.assert_array_equal(got.candidate_to_job.col_index, rc)
    np.testing.assert_array_equal(got.candidate_to_job.score, rv)  # NaN == NaN for padding
    np.testing.assert_array_equal(got.job_to_candidate.col_index, jc)
    np.testing.assert_array_equal(got.job_to_candidate.score, jv)
    for name in COMPONENTS:
        want_c = np.where(rc >= 0, np.take_along_axis(full[name], np.maximum(rc, 0), axis=1), np.nan)
        want_j = np.where(jc >= 0, np.take_along_axis(full[name].T, np.maximum(jc, 0), axis=1), np.nan)
        np.testing.assert_array_equal(got.candidate_to_job.components[name], want_c)
        np.testing.assert_array_equal(got.job_to_candidate.components[name], want_j)
    return got, full


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", ["w2", "w1", "w0", "semantic_only", "skills_only", "occupation_only"])
def test_equals_brute_force_with_invalid_rows_ties_and_tenants(seed, weights):
    rng = np.random.default_rng(seed)
    c = _features("candidate", int(rng.integers(20, 90)), rng)
    j = _features("job", int(rng.integers(10, 60)), rng)
    k = int(rng.choice([1, 3, 7]))
    got, full = _check(c, j, k, weights, block_size=int(rng.choice([1, 5, 16, 1000])))
    # invalid candidates / jobs never get a number; cross-tenant pairs never appear
    assert np.isnan(got.candidate_to_job.score[~c.valid]).all()
    assert (got.candidate_to_job.col_index[~c.valid] == -1).all()
    assert not np.isin(got.candidate_to_job.col_index, np.flatnonzero(~j.valid)).any()
    rows, cols = np.nonzero(got.candidate_to_job.col_index >= 0)
    picked = got.candidate_to_job.col_index[rows, cols]
    assert (c.tenant[rows] == j.tenant[picked]).all()
    assert np.isnan(full["score"][~c.valid]).all()


def test_k_larger_than_the_other_side_pads_with_minus_one_and_nan():
    rng = np.random.default_rng(42)
    c = _features("candidate", 30, rng, tenants=("a",))
    j = _features("job", 6, rng, tenants=("a",))
    got, _ = _check(c, j, 10, "w1", block_size=7)
    valid_jobs = int(j.valid.sum())
    ok_rows = got.candidate_to_job.col_index[c.valid]
    assert ((ok_rows >= 0).sum(axis=1) == valid_jobs).all()
    assert np.isnan(got.candidate_to_job.score[c.valid][:, valid_jobs:]).all()


def test_many_exact_ties_resolve_by_index_like_the_library():
    rng = np.random.default_rng(7)
    c = _features("candidate", 40, rng, tenants=("a",), dup_share=0.9, invalid_share=0.0)
    j = _features("job", 25, rng, tenants=("a",), dup_share=0.9, invalid_share=0.0)
    for fm in (c, j):  # identical structured attributes too → whole groups of equal scores
        fm.years[:] = 5.0
        fm.city[:] = 1
        fm.country[:] = 10
        fm.remote[:] = 1
        fm.salary_min[:] = 40000.0
        fm.salary_max[:] = 50000.0
    _check(c, j, 4, "w1", block_size=9)


def test_custom_weights_and_no_shared_tenant():
    rng = np.random.default_rng(5)
    weights = HybridWeights("t", 0.3, 0.3, 0.2, 0.1, 0.1, essential_weight=3.0, optional_weight=0.5)
    c = _features("candidate", 50, rng)
    j = _features("job", 30, rng)
    _check(c, j, 5, weights, block_size=13)
    other = _features("job", 10, rng, tenants=("zzz",))
    got, _ = _check(c, other, 3, WEIGHTS["w1"], block_size=8)
    assert (got.candidate_to_job.col_index == -1).all() and (got.job_to_candidate.col_index == -1).all()


def test_pair_scores_equal_score_matrix_entries():
    from matching.fast_topk import pair_scores

    rng = np.random.default_rng(9)
    c = _features("candidate", 35, rng)
    j = _features("job", 21, rng)
    full = score_matrix(c, j, "w1")
    ri, ci = np.nonzero(np.ones((35, 21), dtype=bool))
    got = pair_scores(c, j, ri, ci, "w1")
    for name in ("score", *COMPONENTS):
        np.testing.assert_array_equal(got[name], full[name][ri, ci])


@pytest.mark.parametrize("weights", ["w1", "w2", "occupation_only"])  # occupation: the class-table term
@pytest.mark.parametrize("gemm", ["bfloat16", "float32"])
def test_screen_is_an_upper_bound_within_its_error_and_a_tight_one(gemm, weights):
    from matching.fast_topk import JobSide, screen_block, screen_error_bound

    rng = np.random.default_rng(11)
    c = _features("candidate", 64, rng, tenants=("a",), invalid_share=0.0, dim=384)
    j = _features("job", 48, rng, tenants=("a",), invalid_share=0.0, dim=384)
    side = JobSide.build(j, weights)
    bound = screen_block(c, side, gemm).astype(np.float64)
    w = WEIGHTS[weights].component_weights()
    parts = score_matrix(c, j, weights)
    exact = sum(wt * parts[name] for wt, name in zip(w, COMPONENTS, strict=True))
    cosine = c.vectors.astype(np.float64) @ j.vectors.astype(np.float64).T
    max_terms = int(np.diff(c.skills.indptr).max()) + 4
    eps = screen_error_bound(side, 1.0 + 1e-6, max_terms) + 6 * 5e-7  # + the rounding of the rebuilt parts
    gap = bound - exact
    assert gap.min() >= -eps  # an upper bound, the clipped cosine included
    assert np.median(gap) < 0.01  # exact skills and location, fine buckets: the bound stays close
    assert (np.abs(gap[cosine >= 0]) <= eps).mean() > 0.1  # and is often exact
    if weights == "occupation_only":  # the class table holds the occupation term exactly (bar the int16 quantum)
        from matching._kernels import QUANTUM

        assert np.abs(gap).max() <= eps + QUANTUM


def test_equals_brute_force_at_a_size_where_most_pairs_are_pruned():
    rng = np.random.default_rng(21)
    c = _features("candidate", 600, rng, dim=384, vocab=200, dup_share=0.02)
    j = _features("job", 400, rng, dim=384, vocab=200, dup_share=0.02)
    got, _ = _check(c, j, 10, "w1", block_size=128)
    assert got.pairs_rescored < 0.25 * 600 * 400  # the screen really prunes


def test_absurd_magnitudes_fall_back_to_exact_screening_and_stay_exact():
    rng = np.random.default_rng(3)
    c = _features("candidate", 40, rng, tenants=("a",))
    j = _features("job", 30, rng, tenants=("a",))
    c.salary_min[:5] = 1e-300  # 1 / desired overflows float32
    c.years[5:8] = 1e300
    j.years[:3] = 1e-300
    j.salary_max[3:6] = 1e300
    _check(c, j, 4, "w1", block_size=16)


def test_deferred_job_pairs_settled_mid_run_stay_exact(monkeypatch):
    """Pairs only a job's bar lets through wait and are estimated best-first (``settle``); settling after
    every block (instead of once a million wait) changes nothing in the result."""
    import matching.fast_topk as fast_topk

    monkeypatch.setattr(fast_topk, "SETTLE_AT", 1)
    rng = np.random.default_rng(8)
    c = _features("candidate", 300, rng, tenants=("a",), dim=64, vocab=60, dup_share=0.05)
    j = _features("job", 120, rng, tenants=("a",), dim=64, vocab=60, dup_share=0.05)
    _check(c, j, 6, "w1", block_size=32)


def test_quantised_bar_never_excludes_a_bound_that_reaches_its_threshold():
    from matching import _kernels
    from matching.fast_topk import quantised_bar

    rng = np.random.default_rng(2)
    bounds = np.concatenate([rng.uniform(0, 1.5, 5000), [0.0, 2.5, 1e-9]]).astype(np.float32)
    stored = np.minimum(np.ceil(bounds.astype(np.float64) / _kernels.QUANTUM), _kernels.QMAX)  # as tile_pass
    for threshold in [-0.3, 0.0, 1e-9, 0.25, 0.5 + 2**-16, 1.0, 3.0]:
        reaches = bounds.astype(np.float64) >= threshold
        assert (stored[reaches] >= quantised_bar(np.array([threshold]))[0]).all()

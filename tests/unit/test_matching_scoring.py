"""Hybrid score, exact blocked top-K vs brute force, invalid/tenant handling, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from matching.features import build_features
from matching.scoring import COMPONENTS, DEFAULT_WEIGHTS_VERSION, WEIGHTS, HybridWeights, score_matrix
from matching.taxonomy import load_taxonomy
from matching.topk import select_topk, topk_dot, topk_hybrid

pytestmark = pytest.mark.unit


def _unit(rng, n, d=16):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _world(n_c=37, n_j=53, seed=0, tenants=("t1",)):
    rng = np.random.default_rng(seed)
    tax = load_taxonomy()
    uri = tax.skill_uri
    cands, jobs = [], []
    for i in range(n_c):
        cands.append({"candidate_id": f"c{i}", "tenant_id": tenants[i % len(tenants)],
                      "skills": [uri(int(s)) for s in rng.choice(40, size=rng.integers(0, 8), replace=False)],
                      "years_experience": float(rng.integers(0, 15)) if i % 5 else None,
                      "location_city": ["Austin", "Paris", None][i % 3], "location_country": ["US", "FR", None][i % 3],
                      "remote": ["remote", "onsite", None][i % 3],
                      "desired_salary_min": [50000, None, 90000][i % 3],
                      "occupation_code": ["2411.1", "2512.4", None, "5120.1.2"][i % 4]})
    for j in range(n_j):
        ess = [uri(int(s)) for s in rng.choice(40, size=rng.integers(0, 6), replace=False)]
        opt = [uri(int(s)) for s in rng.choice(range(40, 60), size=rng.integers(0, 4), replace=False)]
        jobs.append({"job_id": f"j{j}", "tenant_id": tenants[j % len(tenants)], "skills": ess + opt,
                     "essential_skills": ess, "optional_skills": opt,
                     "years_experience": [None, 2.0, 5.0, 10.0][j % 4],
                     "location_city": ["Austin", "Berlin", None][j % 3], "location_country": ["US", "DE", None][j % 3],
                     "remote": ["onsite", "remote", "hybrid"][j % 3],
                     "salary_min": [40000, None, 100000][j % 3], "salary_max": [60000, None, 120000][j % 3],
                     "occupation_code": ["2411.1.3", "2413.1", "2512.4", None, "7212.1"][j % 5]})
    c = build_features(cands, _unit(rng, n_c), "candidate")
    jm = build_features(jobs, _unit(rng, n_j), "job")
    return cands, jobs, c, jm


def test_components_are_normalised_and_score_is_weighted_mean():
    _, _, c, j = _world()
    out = score_matrix(c, j, DEFAULT_WEIGHTS_VERSION)
    w = WEIGHTS[DEFAULT_WEIGHTS_VERSION].component_weights()
    for name in COMPONENTS:
        assert out[name].shape == (len(c), len(j))
        assert np.nanmin(out[name]) >= 0 and np.nanmax(out[name]) <= 1
    manual = sum(wi * out[name] for wi, name in zip(w, COMPONENTS, strict=True))
    np.testing.assert_allclose(out["score"], manual, atol=5e-6)


def test_occupation_agreement_follows_the_isco_hierarchy():
    vec = np.ones((1, 4), dtype=np.float32)
    cand = build_features([{"candidate_id": "c", "occupation_code": "2411.1"}], vec, "candidate")
    codes = ["2411.1.3", "2413.1", "2421.2", "0110.1", None, "nonsense"]
    jobs = build_features([{"job_id": str(i), "occupation_code": code} for i, code in enumerate(codes)],
                          np.ones((len(codes), 4), np.float32), "job")
    got = score_matrix(cand, jobs, "occupation_only")["occupation"][0]
    # same unit group 2411, same minor group 241, other group, other major group, unknown, unparseable
    assert got.tolist() == [1.0, 0.85, 0.0, 0.0, 0.5, 0.5]
    unknown = build_features([{"candidate_id": "u"}], vec, "candidate")
    assert score_matrix(unknown, jobs, "occupation_only")["occupation"][0].tolist() == [0.5] * len(codes)


def test_skill_coverage_weights_essential_above_optional():
    tax = load_taxonomy()
    a, b, c_ = tax.skill_uri(1), tax.skill_uri(2), tax.skill_uri(3)
    job = {"job_id": "j", "essential_skills": [a, b], "optional_skills": [c_], "skills": [a, b, c_]}
    has_essential = {"candidate_id": "e", "skills": [a]}
    has_optional = {"candidate_id": "o", "skills": [c_]}
    v = np.ones((2, 4), np.float32) / 2
    c = build_features([has_essential, has_optional], v, "candidate")
    j = build_features([job], v[:1], "job")
    skills = score_matrix(c, j)["skills"][:, 0]
    assert skills[0] == pytest.approx(2 / 5) and skills[1] == pytest.approx(1 / 5)


def test_invalid_profiles_and_cross_tenant_pairs_score_nan_never_a_number():
    cands, jobs, _, _ = _world(6, 4, tenants=("t1", "t2"))
    cands[0]["invalid_reason"] = "empty_text"
    rng = np.random.default_rng(1)
    vc = _unit(rng, 6)
    vc[1] = 0  # no embedding
    c = build_features(cands, vc, "candidate")
    j = build_features(jobs, _unit(rng, 4), "job")
    assert list(c.invalid_reason[:2]) == ["empty_text", "empty_embedding"]
    score = score_matrix(c, j)["score"]
    assert np.isnan(score[0]).all() and np.isnan(score[1]).all()
    same_tenant = c.tenant[:, None] == j.tenant[None, :]
    assert np.isnan(score[2:][~same_tenant[2:]]).all()
    assert np.isfinite(score[2:][same_tenant[2:]]).all()


def test_score_matrix_is_symmetric_in_api():
    _, _, c, j = _world()
    forward = score_matrix(c, j)
    backward = score_matrix(j, c)
    for name in forward:
        np.testing.assert_array_equal(forward[name], backward[name].T)


@pytest.mark.parametrize("block_size", [1, 7, 64, 4096])
def test_blocked_topk_equals_brute_force(block_size):
    _, _, c, j = _world(41, 67, seed=3)
    k = 10
    full = score_matrix(c, j)["score"]
    expected_cols, expected_vals = select_topk(full, k)
    top = topk_hybrid(c, j, k, block_size=block_size)
    np.testing.assert_array_equal(top.col_index, expected_cols)
    np.testing.assert_array_equal(top.score, expected_vals)
    # brute force by full sort: score desc, column asc
    for r in range(len(c)):
        order = sorted(range(len(j)), key=lambda col: (-np.nan_to_num(full[r, col], nan=-np.inf), col))[:k]
        assert list(top.col_index[r]) == order
    for name in COMPONENTS:
        picked = np.take_along_axis(score_matrix(c, j)[name], top.col_index, axis=1)
        np.testing.assert_array_equal(top.components[name], picked)


def test_job_to_candidate_direction_by_swapping_sides():
    _, _, c, j = _world(30, 20, seed=5)
    top = topk_hybrid(j, c, 5, block_size=8)
    full_t = score_matrix(c, j)["score"].T
    cols, vals = select_topk(full_t, 5)
    np.testing.assert_array_equal(top.col_index, cols)
    np.testing.assert_array_equal(top.score, vals)


def test_ties_break_by_column_and_padding_when_few_valid():
    scores = np.array([[0.5, 0.9, 0.5, 0.5, np.nan], [np.nan] * 5])
    cols, vals = select_topk(scores, 3)
    assert cols[0].tolist() == [1, 0, 2]
    assert cols[1].tolist() == [-1, -1, -1] and np.isnan(vals[1]).all()
    cols, _ = select_topk(scores[:1], 6)
    assert cols[0].tolist() == [1, 0, 2, 3, -1, -1]


def test_same_input_same_score_bit_for_bit():
    a = topk_hybrid(*_world(seed=9)[2:], 5, block_size=5)
    b = topk_hybrid(*_world(seed=9)[2:], 5, block_size=50)
    assert a.score.tobytes() == b.score.tobytes()
    assert a.col_index.tobytes() == b.col_index.tobytes()


def test_topk_dot_matches_argsort():
    rng = np.random.default_rng(0)
    q, items = _unit(rng, 25, 32), _unit(rng, 300, 32)
    top = topk_dot(q, items, 7, block_size=4)
    sims = (q @ items.T).astype(np.float64)
    for r in range(25):
        assert list(top.col_index[r]) == sorted(range(300), key=lambda c: (-sims[r, c], c))[:7]


def test_weights_are_versioned_and_validated():
    assert DEFAULT_WEIGHTS_VERSION in WEIGHTS
    with pytest.raises(ValueError):
        HybridWeights("bad", -1, 0, 0, 0, 0).component_weights()
    with pytest.raises(ValueError):
        score_matrix(*_world(3, 3)[2:], weights="nope")


def test_occupation_explanation_agrees_with_the_component():
    from matching.explain import explain_pair

    cands, jobs, c, j = _world(n_c=12, n_j=15)
    parts = score_matrix(c, j, DEFAULT_WEIGHTS_VERSION)["occupation"]
    for i, cand in enumerate(cands):
        for x, job in enumerate(jobs):
            reason = explain_pair(cand, job)["occupation_match"]
            value = parts[i, x]
            assert (reason == []) == (value == 0.5)
            if reason:
                assert reason[0].startswith({1.0: "same ISCO unit group", 0.85: "same ISCO minor group",
                                             0.0: "different ISCO groups"}[float(value)])

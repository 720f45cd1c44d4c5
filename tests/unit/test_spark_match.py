"""Spark hybrid top-K equals brute force over matching.scoring, per tenant, both directions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.unit, pytest.mark.timeout(600)]


def _frames(seed=3, n_c=37, n_j=23):
    from spark_jobs._synthetic import profiles, unit_vectors

    rng = np.random.default_rng(seed)
    cands = profiles(n_c, "candidate", ["acme", "globex", "initech"], rng)
    jobs = profiles(n_j, "job", ["acme", "globex"], rng, closed_share=0.25)  # initech has no jobs
    cands["vector"] = list(unit_vectors(n_c, 16, rng))
    jobs["vector"] = list(unit_vectors(n_j, 16, rng))
    return cands, jobs


def _brute_force(cands: pd.DataFrame, jobs: pd.DataFrame, k: int) -> set:
    """Expected (direction, candidate, job, rank, score) straight from matching.scoring."""
    from matching.features import build_features
    from matching.scoring import score_matrix

    expected = set()
    open_jobs = jobs[jobs["job_status"] == "open"]
    for tenant in sorted(set(cands["tenant_id"]) & set(open_jobs["tenant_id"])):
        c = cands[cands["tenant_id"] == tenant].reset_index(drop=True)
        j = open_jobs[open_jobs["tenant_id"] == tenant].sort_values("job_id").reset_index(drop=True)
        recs = lambda f: [{k2: v for k2, v in r.items() if k2 != "vector"} for r in f.to_dict("records")]  # noqa: E731
        cf = build_features(recs(c), np.stack(c["vector"]), "candidate")
        jf = build_features(recs(j), np.stack(j["vector"]), "job")
        s = score_matrix(cf, jf, "w2")["score"]
        for i, cid in enumerate(c["candidate_id"]):
            order = sorted(range(len(j)), key=lambda x: (-s[i, x], j["job_id"][x]))[:k]
            expected |= {
                ("candidate_to_job", cid, j["job_id"][x], r + 1, round(s[i, x], 6))
                for r, x in enumerate(order)
            }
        for x, jid in enumerate(j["job_id"]):
            order = sorted(range(len(c)), key=lambda i: (-s[i, x], c["candidate_id"][i]))[:k]
            expected |= {
                ("job_to_candidate", c["candidate_id"][i], jid, r + 1, round(s[i, x], 6))
                for r, i in enumerate(order)
            }
    return expected


def test_spark_topk_equals_brute_force_and_respects_tenants_and_status(spark):
    from spark_jobs.match import hybrid_topk

    cands, jobs = _frames()
    k = 4
    cdf = spark.createDataFrame(cands.assign(vector=cands["vector"].map(lambda v: [float(x) for x in v])))
    jdf = spark.createDataFrame(jobs.assign(vector=jobs["vector"].map(lambda v: [float(x) for x in v])))
    # block_size 5 forces several blocks per batch, exercising the jobs' running top-K merge
    timings = {}
    got_rows = hybrid_topk(cdf, jdf, k, "w2", block_size=5, partitions=2, timings=timings).collect()
    got = {(r.direction, r.candidate_id, r.job_id, r.rank, round(r.score, 6)) for r in got_rows}
    assert got == _brute_force(cands, jobs, k)
    # the scoring's own seconds (what an incremental match could shrink) are reported apart
    assert set(timings) == {"job_side_seconds", "scoring_seconds"} and min(timings.values()) >= 0

    job_tenant = dict(zip(jobs["job_id"], jobs["tenant_id"], strict=True))
    status = dict(zip(jobs["job_id"], jobs["job_status"], strict=True))
    cand_tenant = dict(zip(cands["candidate_id"], cands["tenant_id"], strict=True))
    for r in got_rows:
        assert r.tenant_id == job_tenant[r.job_id] == cand_tenant[r.candidate_id]  # never cross-tenant
        assert status[r.job_id] == "open"  # closed jobs never matched
        assert all(
            0.0 <= getattr(r, c) <= 1.0 for c in ("semantic", "skills", "experience", "location", "salary")
        )
    assert not any(cand_tenant[r.candidate_id] == "initech" for r in got_rows)  # tenant without jobs: nothing


def test_spark_topk_breaks_score_ties_by_id_across_partitions(spark):
    """Whole groups of equal scores (identical candidates) spread over three partitions: the merged
    job → candidate lists rank them by candidate_id, as brute force does."""
    from spark_jobs.match import hybrid_topk

    cands, jobs = _frames(seed=9, n_c=30, n_j=8)
    same = cands.iloc[0]
    for column in ("vector", "skills", "years_experience", "location_city", "location_country", "remote",
                   "salary_min", "salary_max"):  # fmt: skip
        cands[column] = [same[column]] * len(cands)
    cands = cands.sample(frac=1.0, random_state=1)  # ids arrive out of order
    k = 5
    as_spark = lambda f: spark.createDataFrame(f.assign(vector=f["vector"].map(lambda v: [float(x) for x in v])))  # noqa: E731
    got = {(r.direction, r.candidate_id, r.job_id, r.rank, round(r.score, 6))
           for r in hybrid_topk(as_spark(cands), as_spark(jobs), k, "w2", partitions=3).collect()}  # fmt: skip
    assert got == _brute_force(cands, jobs, k)


def test_score_block_is_deterministic_whatever_the_block_size():
    from matching.features import build_features
    from spark_jobs._hybrid import flat_matches, score_block, weights_for

    cands, jobs = _frames(seed=11, n_c=30, n_j=12)
    cands, jobs = (
        cands[cands.tenant_id == "acme"],
        jobs[(jobs.tenant_id == "acme") & (jobs.job_status == "open")],
    )
    recs = lambda f: [{k: v for k, v in r.items() if k != "vector"} for r in f.to_dict("records")]  # noqa: E731
    cf = build_features(recs(cands), np.stack(cands["vector"]), "candidate")
    jf = build_features(recs(jobs), np.stack(jobs["vector"]), "job")
    _, w = weights_for("w1")
    args = ("acme", cands["candidate_id"].to_numpy(object), cf, jobs["job_id"].to_numpy(object), jf, 3, w)
    one = (
        flat_matches(score_block(*args, block_size=1000))
        .sort_values(["direction", "candidate_id", "job_id"])
        .reset_index(drop=True)
    )
    many = (
        flat_matches(score_block(*args, block_size=4))
        .sort_values(["direction", "candidate_id", "job_id"])
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(one, many)
    assert (one.groupby(["direction", "candidate_id"]).size().loc["candidate_to_job"] == 3).all()


def test_arrow_task_body_scores_like_features_built_from_records():
    """`job_side_by_tenant` + `_score_arrow` (no Spark: a stand-in broadcast) build features column-wise
    from the Arrow batches; the matches equal `score_block` over features built from record dicts."""
    from types import SimpleNamespace

    import pyarrow as pa

    from matching.features import build_features
    from spark_jobs._hybrid import flat_matches, score_block, weights_for
    from spark_jobs.match import _score_arrow, _scoring_columns, job_side_by_tenant

    cands, jobs = _frames(seed=5, n_c=41, n_j=19)
    cands.loc[cands.index[::7], "skills"] = None  # null lists and values arrive as None / NaN
    cands.loc[cands.index[::5], "years_experience"] = np.nan
    open_jobs = jobs[jobs["job_status"] == "open"]

    def arrow(frame, id_col):
        return pa.Table.from_pandas(frame[_scoring_columns(frame, id_col)], preserve_index=False)

    tenants = job_side_by_tenant(arrow(open_jobs, "job_id"), "w1")
    batches = arrow(cands, "candidate_id").to_batches(max_chunksize=16)
    got = flat_matches(pa.Table.from_batches(_score_arrow(batches, jobs_bc=SimpleNamespace(value=tenants), k=3,
                                                          weights_version="w1", block_size=8)))  # fmt: skip

    _, weights = weights_for("w1")
    recs = lambda f: f.drop(columns="vector").to_dict("records")  # noqa: E731
    expected = []
    for tenant in sorted(tenants):
        c = cands[cands["tenant_id"] == tenant].sort_values("candidate_id")
        j = open_jobs[open_jobs["tenant_id"] == tenant].sort_values("job_id")
        cf = build_features(recs(c), np.stack(c["vector"]), "candidate")
        jf = build_features(recs(j), np.stack(j["vector"]), "job")
        expected.append(flat_matches(score_block(tenant, c["candidate_id"].to_numpy(object), cf, j["job_id"].to_numpy(object),
                                    jf, 3, weights, 8)))  # fmt: skip
    order = ["direction", "candidate_id", "job_id"]
    want = pd.concat(expected, ignore_index=True)
    pd.testing.assert_frame_equal(got.sort_values(order, ignore_index=True), want.sort_values(order, ignore_index=True))

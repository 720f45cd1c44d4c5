"""Write-audit-publish: the Great Expectations gate passes a sound run and blocks a broken one."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.timeout(600)]

RUN_DATE = "2026-11-22"


def _rewrite_matches(spark, settings, run_id, mutate):
    from spark_jobs._lake import write_partitions

    uri = settings.table_uri("gold", "matches")
    frame = spark.read.parquet(f"{uri}/run_id={run_id}").toPandas()
    from spark_jobs.match import GOLD_MATCHES_DDL

    frame = mutate(frame)
    frame["run_id"] = run_id
    columns = [c.split()[0] for c in GOLD_MATCHES_DDL.split(", ")]
    write_partitions(spark.createDataFrame(frame[columns], GOLD_MATCHES_DDL), uri, ["run_id"])


def test_gate_passes_a_sound_run_then_blocks_a_broken_one(spark, isolated_settings):
    from spark_jobs import _runs, quality_gate
    from spark_jobs._synthetic import write_run
    from spark_jobs.publish import PublishBlocked
    from spark_jobs.publish import run as publish

    run = write_run(spark, RUN_DATE, weights_version="w1")
    counts = quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)
    assert counts["failed"] == 0 and counts["expectations"] >= 30
    assert _runs.read_run(spark, run["run_id"])["status"] == "audited"

    jobs = run["jobs"]
    closed_job = jobs.loc[jobs["job_status"] == "closed"].iloc[0]

    def break_it(frame):
        c2j = frame["direction"] == "candidate_to_job"
        first = frame.loc[c2j, "candidate_id"].iloc[0]
        own = c2j & (frame["candidate_id"] == first)
        # rank 1 now scores below rank 2: score no longer monotonic with rank
        r1, r2 = frame.index[own & (frame["rank"] == 1)][0], frame.index[own & (frame["rank"] == 2)][0]
        frame.loc[r1, "score"], frame.loc[r2, "score"] = frame.loc[r2, "score"], frame.loc[r1, "score"]
        extra = frame.loc[[r2]].copy()
        extra["job_id"], extra["tenant_id"], extra["rank"] = closed_job["job_id"], closed_job["tenant_id"], 6
        extra["candidate_id"] = frame.loc[
            c2j & (frame["tenant_id"] == closed_job["tenant_id"]), "candidate_id"
        ].iloc[0]
        return frame._append(extra, ignore_index=True)

    _rewrite_matches(spark, isolated_settings, run["run_id"], break_it)
    with pytest.raises(quality_gate.QualityGateFailed) as failed:
        quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)
    found = {(f["dataset"], f["expectation"]) for f in failed.value.failures}
    assert ("matches", "expect_column_values_to_be_between") in found  # rank 6 > K=5
    assert (
        "matches_per_entity",
        "expect_column_values_to_be_between",
    ) in found  # score rises with rank / > K rows
    assert ("match_partners", "expect_column_values_to_be_in_set") in found  # a closed job was matched
    assert (
        "candidate_profiles",
        "expect_column_values_to_not_be_null",
    ) not in found  # sound datasets stay green
    assert _runs.read_run(spark, run["run_id"])["status"] == "blocked"
    with pytest.raises(PublishBlocked, match="blocked"):
        publish(RUN_DATE, weights_version="w1", spark=spark)


def test_gate_catches_missing_vectors_and_missing_run(spark, isolated_settings):
    from spark_jobs import quality_gate
    from spark_jobs._lake import table_uri
    from spark_jobs._synthetic import write_run

    with pytest.raises(quality_gate.QualityGateFailed, match="run_exists"):
        quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)

    write_run(spark, RUN_DATE, weights_version="w1", n_candidates=12, n_jobs=6, k=3)
    # drop the job embeddings: every job profile now lacks a vector of the run's model
    import shutil
    from pathlib import Path

    shutil.rmtree(Path(table_uri("gold", "embeddings")) / "entity_type=job")
    with pytest.raises(quality_gate.QualityGateFailed) as failed:
        quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)
    datasets = {f["dataset"] for f in failed.value.failures}
    assert "job_embeddings" in datasets and "candidate_embeddings" not in datasets


def test_spark_engine_path_reports_failures_too(spark):
    """Datasets above the pandas limit are validated on the Spark engine with the same suites."""
    import great_expectations.expectations as gxe

    from spark_jobs.quality_gate import Dataset, run_checkpoint

    df = spark.createDataFrame([(1, 0.5), (2, 1.5)], "rank int, score double")
    exps = [
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="rank"),
    ]
    failures = run_checkpoint([Dataset("tiny", df, exps)], pandas_limit=0)
    assert [(f["dataset"], f["expectation"], f["column"]) for f in failures] == [
        ("tiny", "expect_column_values_to_be_between", "score")
    ]
    assert failures[0]["observed"]["unexpected_count"] == 1


def test_an_empty_day_matches_nothing_and_passes_the_gate(spark, isolated_settings):
    """No profiles at all: match writes an empty run, the gate audits it, nothing crashes."""
    from spark_jobs import _runs, match, quality_gate

    counts = match.run("2026-11-23", k=5, spark=spark)
    assert counts["candidates"] == 0 and counts["pairs_scored"] == 0 and counts["candidate_to_job_rows"] == 0
    gate = quality_gate.run("2026-11-23", spark=spark)
    assert gate["failed"] == 0
    assert _runs.read_run(spark, counts["run_id"])["status"] == "audited"

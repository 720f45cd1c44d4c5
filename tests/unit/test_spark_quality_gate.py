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


def write_silver_of(spark, run, day="2026-11-21", drop_profile=None):
    """The silver events the synthetic run's profiles come from: each candidate registered and uploaded a
    resume, each job was posted (``day``, before the run date). ``drop_profile``: (side, id) whose gold
    profile is removed afterwards (an entity build_profiles silently lost)."""
    from spark_jobs._lake import table_uri, write_partitions

    for table, frame, id_col in (
        ("candidate_registered", run["candidates"], "candidate_id"),
        ("resume_uploaded", run["candidates"], "candidate_id"),
        ("job_posted", run["jobs"], "job_id"),
    ):
        rows = [(t, i, day) for t, i in zip(frame["tenant_id"], frame[id_col], strict=True)]
        df = spark.createDataFrame(rows, f"tenant_id string, {id_col} string, dt string")
        write_partitions(df, table_uri("silver", table), ["dt"])
    if drop_profile:
        side, entity_id = drop_profile
        id_col = f"{side}_id"
        uri = table_uri("gold", f"{side}_profiles")
        kept = spark.read.parquet(uri).where(f"{id_col} != '{entity_id}'").toPandas()
        write_partitions(spark.createDataFrame(kept, spark.read.parquet(uri).schema), uri, ["run_date"])


def test_gate_passes_a_sound_run_then_blocks_a_broken_one(spark, isolated_settings):
    from spark_jobs import _runs, quality_gate
    from spark_jobs._synthetic import write_run
    from spark_jobs.publish import PublishBlocked
    from spark_jobs.publish import run as publish

    run = write_run(spark, RUN_DATE, weights_version="w1")
    write_silver_of(spark, run)
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

    write_silver_of(spark, write_run(spark, RUN_DATE, weights_version="w1", n_candidates=12, n_jobs=6, k=3))
    # drop the job embeddings: every job profile now lacks a vector of the run's model
    import shutil
    from pathlib import Path

    shutil.rmtree(Path(table_uri("gold", "embeddings")) / "entity_type=job")
    with pytest.raises(quality_gate.QualityGateFailed) as failed:
        quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)
    datasets = {f["dataset"] for f in failed.value.failures}
    assert "job_embeddings" in datasets and "candidate_embeddings" not in datasets


def test_a_silver_candidate_without_profile_or_quarantine_blocks_publish(spark, isolated_settings):
    """Profiles vs silver: a candidate silver has that the run neither profiled nor quarantined fails the
    gate with a message naming it, and publish refuses the blocked run. The candidate is one no job
    ranked, and its own list goes with its profile, so every match-side expectation stays green: only
    the reconciliation can see the loss."""
    from spark_jobs import _runs, quality_gate
    from spark_jobs._lake import table_uri, write_partitions
    from spark_jobs._synthetic import write_run
    from spark_jobs.publish import PublishBlocked
    from spark_jobs.publish import run as publish

    # 10 candidates and 2 jobs per tenant, K = 3: at least 4 candidates per tenant are in no job's list.
    run = write_run(spark, RUN_DATE, weights_version="w1", n_candidates=20, n_jobs=4, k=3)
    write_silver_of(spark, run)
    assert quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)["failed"] == 0

    ranked = set(run["matches"].loc[run["matches"]["direction"] == "job_to_candidate", "candidate_id"])
    lost = run["candidates"].loc[~run["candidates"]["candidate_id"].isin(ranked)].iloc[0]
    write_silver_of(spark, run, drop_profile=("candidate", lost["candidate_id"]))
    _rewrite_matches(
        spark,
        isolated_settings,
        run["run_id"],
        lambda frame: frame.loc[frame["candidate_id"] != lost["candidate_id"]],
    )
    with pytest.raises(
        quality_gate.QualityGateFailed, match=f"{lost['tenant_id']}/{lost['candidate_id']}"
    ) as failed:
        quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)
    assert {(f["dataset"], f["expectation"]) for f in failed.value.failures} == {
        ("profiles_vs_silver", "every_silver_candidate_profiled_or_quarantined")
    }
    assert "no profile and no quarantine reason" in str(failed.value)
    assert _runs.read_run(spark, run["run_id"])["status"] == "blocked"
    with pytest.raises(PublishBlocked, match="blocked"):
        publish(RUN_DATE, weights_version="w1", spark=spark)

    # Quarantined with a reason, the same candidate is accounted for: the gate audits the run again.
    reason = spark.createDataFrame(
        [(lost["tenant_id"], "candidate", lost["candidate_id"], "unreadable", RUN_DATE)],
        "tenant_id string, entity_type string, entity_id string, reason string, dt string",
    )
    write_partitions(reason, table_uri("quarantine", "documents"), ["dt"])
    gate = quality_gate.run(RUN_DATE, weights_version="w1", spark=spark)
    assert gate["failed"] == 0 and gate["profiles_vs_silver"]["reconciled"]
    assert gate["profiles_vs_silver"]["candidates_in_silver"] == len(run["candidates"])
    assert _runs.read_run(spark, run["run_id"])["status"] == "audited"


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


def test_each_engine_sees_only_the_columns_its_suite_reads(spark, monkeypatch):
    """A match run's rows carry explanation lists no expectation reads: they are projected away before
    the collect (the 50k x 20k run's 1.4M rows overflowed the driver heap with them); a suite with a
    table-level expectation keeps every column; failures are found on both engines alike."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    from spark_jobs.quality_gate import Dataset, columns_read, run_checkpoint

    df = spark.createDataFrame([(1, 0.5, ["python", "sql"]), (2, 1.5, ["excel"])],
                               "rank int, score double, matched_skills array<string>")
    def suite():  # a GX expectation belongs to one suite: fresh ones per checkpoint
        return [gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["rank", "score"])]

    assert columns_read(suite()) == ["score", "rank"]
    assert columns_read([*suite(), gxe.ExpectTableRowCountToBeBetween(min_value=1)]) is None

    seen = []
    real_run = gx.Checkpoint.run

    def spy(self, *args, batch_parameters=None, **kwargs):
        frame = batch_parameters["dataframe"]
        seen.append(list(frame.columns) if isinstance(frame, pd.DataFrame) else frame.columns)
        return real_run(self, *args, batch_parameters=batch_parameters, **kwargs)

    monkeypatch.setattr(gx.Checkpoint, "run", spy)
    for limit in (10, 0):  # pandas engine, then Spark engine
        failures = run_checkpoint([Dataset("wide", df, suite())], pandas_limit=limit)
        assert [(f["expectation"], f["column"]) for f in failures] == [("expect_column_values_to_be_between", "score")]
    assert seen == [["score", "rank"], ["score", "rank"]]
    run_checkpoint([Dataset("whole", df, [gxe.ExpectTableRowCountToBeBetween(min_value=1)])], pandas_limit=10)
    assert seen[-1] == ["rank", "score", "matched_skills"]


def test_an_empty_day_matches_nothing_and_passes_the_gate(spark, isolated_settings):
    """No profiles at all: match writes an empty run, the gate audits it, nothing crashes."""
    from spark_jobs import _runs, match, quality_gate

    counts = match.run("2026-11-23", k=5, spark=spark)
    assert counts["candidates"] == 0 and counts["pairs_scored"] == 0 and counts["candidate_to_job_rows"] == 0
    gate = quality_gate.run("2026-11-23", spark=spark)
    assert gate["failed"] == 0
    assert _runs.read_run(spark, counts["run_id"])["status"] == "audited"

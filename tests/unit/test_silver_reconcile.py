"""Profiles reconcile against silver, measured from both sides' tables (spark_jobs.silver_reconcile)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit
RUN_DATE = "2026-11-22"


def _write(spark, settings, zone, table, rows, ddl, partition):
    spark.createDataFrame(rows, ddl).write.mode("overwrite").partitionBy(partition).parquet(
        settings.table_uri(zone, table))


def test_a_silently_dropped_entity_and_an_unknown_profile_are_counted(spark, isolated_settings):
    from spark_jobs.silver_reconcile import reconcile_profiles, unaccounted

    s = isolated_settings
    reg = [("acme", c, "2026-11-21") for c in ("C1", "C2", "C3", "C4")] + [("acme", "C9", "2026-11-23"),
                                                                            ("globex", "C1", "2026-11-21")]
    _write(spark, s, "silver", "candidate_registered", reg, "tenant_id string, candidate_id string, dt string", "dt")
    resumes = [("acme", c, "2026-11-21") for c in ("C1", "C3", "C4")] + [("globex", "C1", "2026-11-21")]
    _write(spark, s, "silver", "resume_uploaded", resumes, "tenant_id string, candidate_id string, dt string", "dt")
    _write(spark, s, "silver", "job_posted", [("acme", "J1", "2026-11-20"), ("acme", "J2", "2026-11-22")],
           "tenant_id string, job_id string, dt string", "dt")
    # C1 profiled in acme only (globex's C1 is another candidate), C2 has no resume, C3 quarantined, C4 dropped;
    # P9 is a profile silver never saw; J2 dropped. C9 registers after the run date: not expected.
    _write(spark, s, "gold", "candidate_profiles", [("acme", "C1", RUN_DATE), ("acme", "P9", RUN_DATE),
                                                    ("globex", "C1", "2026-11-21")],
           "tenant_id string, candidate_id string, run_date string", "run_date")
    _write(spark, s, "gold", "job_profiles", [("acme", "J1", RUN_DATE)], "tenant_id string, job_id string, run_date string",
           "run_date")
    _write(spark, s, "quarantine", "documents", [("acme", "candidate", "C3", RUN_DATE)],
           "tenant_id string, entity_type string, entity_id string, dt string", "dt")

    out = reconcile_profiles(spark, RUN_DATE)
    assert out["candidates_in_silver"] == 5 and out["jobs_in_silver"] == 2
    assert sorted(out["candidates_missing_examples"]) == ["acme/C4", "globex/C1"]
    assert out["candidates_missing"] == 2 and out["jobs_missing"] == 1
    assert out["candidate_profiles_not_in_silver"] == 1 and out["job_profiles_not_in_silver"] == 0
    assert out["reconciled"] is False

    # once every entity is accounted for, it reconciles
    _write(spark, s, "gold", "candidate_profiles", [("acme", "C1", RUN_DATE), ("acme", "C4", RUN_DATE),
                                                    ("globex", "C1", RUN_DATE)],
           "tenant_id string, candidate_id string, run_date string", "run_date")
    _write(spark, s, "gold", "job_profiles", [("acme", "J1", RUN_DATE), ("acme", "J2", RUN_DATE)],
           "tenant_id string, job_id string, run_date string", "run_date")
    assert reconcile_profiles(spark, RUN_DATE)["reconciled"] is True

    keys = spark.createDataFrame([("a", "1"), ("a", "2"), ("b", "1")], "tenant_id string, entity_id string")
    seen = spark.createDataFrame([("a", "1"), ("a", "2")], "tenant_id string, entity_id string")
    assert [tuple(r) for r in unaccounted(keys, seen).collect()] == [("b", "1")]

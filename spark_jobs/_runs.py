"""The match-run ledger (`gold/match_runs/`, one partition per run) and the run id convention.

A run moves pending → audited | blocked (quality gate) → published (publish). Each status change
overwrites the run's own partition, so re-running any stage is idempotent.
"""

from __future__ import annotations

import logging

from spark_jobs._lake import read_table, table_uri, utc_now, write_partitions

log = logging.getLogger(__name__)

RUN_STATUSES = ("pending", "audited", "blocked", "published")
RUNS_SCHEMA = (
    "run_id string, run_date string, weights_version string, model_version string, candidates long, "
    "jobs long, k int, pairs_scored long, matches_written long, status string, status_detail string, "
    "created_at timestamp, updated_at timestamp"
)


def make_run_id(run_date: str, weights_version: str) -> str:
    """`2026-11-22Tw1`: the same date and weights always give the same run (re-runs overwrite it)."""
    return f"{run_date}T{weights_version}"


def default_weights_version() -> str:
    from matching.scoring import DEFAULT_WEIGHTS_VERSION

    return DEFAULT_WEIGHTS_VERSION


def runs_uri() -> str:
    return table_uri("gold", "match_runs")


def read_run(spark, run_id: str) -> dict | None:
    """The ledger row of ``run_id`` as a dict, or None when the run was never written."""
    from pyspark.sql import functions as F

    df = read_table(spark, runs_uri(), RUNS_SCHEMA)
    rows = df.where(F.col("run_id") == run_id).limit(1).collect()
    return rows[0].asDict() if rows else None


def write_run(spark, run: dict) -> None:
    """Insert or replace one run's ledger row."""
    if run["status"] not in RUN_STATUSES:
        raise ValueError(f"unknown run status {run['status']!r}")
    now = utc_now().replace(tzinfo=None)
    row = {name.split()[0]: None for name in RUNS_SCHEMA.split(", ")}
    row.update(run)
    row["created_at"] = row.get("created_at") or now
    row["updated_at"] = now
    df = spark.createDataFrame([row], RUNS_SCHEMA)
    write_partitions(df.coalesce(1), runs_uri(), ["run_id"])
    register_run_partition("match_runs", run["run_id"])
    log.info("match run %s → %s", run["run_id"], run["status"])


def register_run_partition(table: str, run_id: str) -> None:
    """`run_id` partitions fit no Glue projection: register each one so Athena and dbt see it (infra/README.md)."""
    from common.lake_client import get_lake_client

    get_lake_client().register_partitions(table, [{"run_id": run_id}])


def set_status(spark, run_id: str, status: str, detail: str | None = None) -> dict:
    run = read_run(spark, run_id)
    if run is None:
        raise LookupError(f"match run {run_id} does not exist; run the match stage first")
    run.update(status=status, status_detail=detail)
    write_run(spark, run)
    return run


def read_run_matches(spark, run_id: str):
    """The run's gold/matches rows (empty, with the contract columns, when the run wrote none)."""
    from spark_jobs.match import GOLD_MATCHES_DDL

    ddl = ", ".join(c for c in GOLD_MATCHES_DDL.split(", ") if not c.startswith("run_id "))
    return read_table(spark, f"{table_uri('gold', 'matches')}/run_id={run_id}", ddl)

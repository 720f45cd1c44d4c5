"""backfill (manual): re-run the pipeline for a date range, one date at a time, idempotently.

Trigger with params ``start_date``/``end_date`` (inclusive, YYYY-MM-DD). Every stage is expanded over the
dates and runs them in order (one at a time); each stage overwrites exactly its date's partitions and the
same match run id, so re-running a range converges to the same lake, DynamoDB items and marts.
Landing is not part of it: raw events are the replay source.
"""

from __future__ import annotations

from _platform.defaults import DEFAULT_ARGS, START_DATE
from _platform.summary import run_summary
from _platform.tasks import mapped_stage
from airflow.sdk import Param, chain, dag, task

MAX_BACKFILL_DAYS = 92
STAGES = (
    ("bronze_to_silver", "spark_jobs.bronze_to_silver", "run"),
    ("build_profiles", "spark_jobs.build_profiles", "run"),
    ("embed", "spark_jobs.embed", "run"),
    ("match", "spark_jobs.match", "run"),
    ("quality_gate", "spark_jobs.quality_gate", "run"),
    ("publish", "spark_jobs.publish", "run"),
    ("dbt_build", "analytics.dbt_runner", "run_dbt_build"),
)


@task(retries=0)
def plan_dates(start_date: str, end_date: str) -> list[str]:
    """The inclusive list of dates to re-run; bad ranges fail here with a clear message."""
    from _platform.dates import date_range

    return date_range(start_date, end_date, max_days=MAX_BACKFILL_DAYS)


@dag(
    dag_id="backfill",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["marketplace", "backfill", "manual"],
    params={
        "start_date": Param("2026-01-01", type="string", format="date", description="first date (inclusive)"),
        "end_date": Param("2026-01-01", type="string", format="date", description="last date (inclusive)"),
    },
    doc_md=__doc__,
)
def backfill():
    dates = plan_dates("{{ params.start_date }}", "{{ params.end_date }}")
    steps = [mapped_stage(task_id, module, dates, function) for task_id, module, function in STAGES]
    chain(dates, *steps, run_summary([task_id for task_id, _, _ in STAGES]))


backfill()

"""match_daily: profiles → embeddings → match → quality gate → publish → dbt build → dashboard.

Runs once per day for the data interval's date (``run_date`` = data_interval_start), after the day's
silver tables are complete: the run for D starts at 00:00 of D+1, the same moment as events_landing's
23:00 run of D, so it first waits (``wait_for_silver_day``, a reschedule-mode sensor) until that last hour
is in silver (``_platform/silver_day.py``). A failing quality gate fails the run before publish: DynamoDB keeps serving the
previous run (its CURRENT pointers are untouched), the marts and dashboard are not refreshed.
"""

from __future__ import annotations

from _platform.assets import gold_asset, silver_assets
from _platform.dbt import dbt_build
from _platform.defaults import DEFAULT_ARGS, RUN_DATE, START_DATE
from _platform.silver_day import wait_for_silver_day
from _platform.summary import run_summary
from _platform.tasks import stage
from airflow.sdk import CronDataIntervalTimetable, chain, dag

STAGES = ("build_profiles", "embed", "match", "quality_gate", "publish", "dbt_build", "refresh_dashboard")


@dag(
    dag_id="match_daily",
    # The run for day D starts after D ends and waits for D's last landing hour; events that arrive later
    # still are picked up by an idempotent re-run/backfill.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,  # Spark and duckdb each want the whole 2-core laptop
    default_args=DEFAULT_ARGS,
    tags=["marketplace", "matching", "serving", "dbt", "daily"],
    doc_md=__doc__,
)
def match_daily():
    profiles = stage("build_profiles", "spark_jobs.build_profiles", inlets=silver_assets(),
                     outlets=[gold_asset("candidate_profiles"), gold_asset("job_profiles")])
    embeddings = stage("embed", "spark_jobs.embed", outlets=[gold_asset("embeddings")])
    matches = stage("match", "spark_jobs.match", outlets=[gold_asset("matches")])
    gate = stage("quality_gate", "spark_jobs.quality_gate")
    publish = stage("publish", "spark_jobs.publish")
    marts = dbt_build()
    dashboard = stage("refresh_dashboard", "analytics.dashboard", "render_dashboard", run_date=None)
    chain(wait_for_silver_day(RUN_DATE), profiles, embeddings, matches, gate, publish, marts, dashboard,
          run_summary(["wait_for_silver_day", *STAGES]))


match_daily()

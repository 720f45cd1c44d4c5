"""match_daily: profiles → embeddings → match → quality gate → publish → dbt build → dashboard.

Runs once per day for the data interval's date (``run_date`` = data_interval_start), after the day's
silver tables are complete. A failing quality gate fails the run before publish: DynamoDB keeps serving the
previous run (its CURRENT pointers are untouched), the marts and dashboard are not refreshed.
"""

from __future__ import annotations

from _platform.assets import gold_asset, silver_assets
from _platform.dbt import dbt_build
from _platform.defaults import DEFAULT_ARGS, START_DATE
from _platform.summary import run_summary
from _platform.tasks import stage
from airflow.sdk import CronDataIntervalTimetable, chain, dag

STAGES = ("build_profiles", "embed", "match", "quality_gate", "publish", "dbt_build", "refresh_dashboard")


@dag(
    dag_id="match_daily",
    # The run for day D starts after D ends; late events are picked up by an idempotent re-run/backfill.
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
    chain(profiles, embeddings, matches, gate, publish, marts, dashboard, run_summary(list(STAGES)))


match_daily()

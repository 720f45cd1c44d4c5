"""events_landing (hourly): land the hour's events, then raw → bronze → silver for its day.

Each silver table is an Asset, updated only when bronze_to_silver succeeds; then ``mark_hour_landed``
records the hour as complete, and match_daily waits for the day's last hour (``_platform/silver_day.py``). Both stages are idempotent
per partition (dynamic partition overwrite, dedupe on event_id), so every hourly run re-derives the day's
silver partition and a re-run of any hour gives the same output.
"""

from __future__ import annotations

from _platform.assets import silver_assets
from _platform.defaults import DEFAULT_ARGS, RUN_DATE, RUN_HOUR, START_DATE
from _platform.silver_day import mark_hour_landed
from _platform.summary import run_summary
from _platform.tasks import stage
from airflow.sdk import CronDataIntervalTimetable, dag


@dag(
    dag_id="events_landing",
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["marketplace", "ingestion", "lake", "hourly"],
    doc_md=__doc__,
)
def events_landing():
    landed = stage("land_events", "ingestion.landing", "run_landing", options={"hour": RUN_HOUR})
    silver = stage("bronze_to_silver", "spark_jobs.bronze_to_silver", outlets=silver_assets())
    complete = mark_hour_landed(RUN_DATE, RUN_HOUR)
    landed >> silver >> complete >> run_summary(["land_events", "bronze_to_silver", "mark_hour_landed"])


events_landing()

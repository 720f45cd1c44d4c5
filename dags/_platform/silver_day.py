"""When is day D's silver complete? After the hourly landing of D's last hour has turned into silver.

The race this closes: match_daily for day D and events_landing's 23:00 run of D both start at 00:00 of D+1.
Without a wait, profiles are built from a silver that lacks the last hour (and whatever arrived during the
drain). Every hourly run re-derives the whole day's silver from everything landed so far, so the 23:00 run's
success implies every record that arrived before it ran is in silver.

- events_landing ends with ``mark_hour_landed``: a small JSON marker per (date, hour) in the lake, beside
  the silver tables (``silver/_landed_hours/dt=D/hour=HH.json``; the leading ``_`` keeps it out of Spark's
  and Hive's table scans), written only after ``bronze_to_silver`` succeeded.
- match_daily starts with ``wait_for_silver_day``: a sensor (reschedule mode, no worker slot held while it
  waits) that passes once the marker of D's last hour exists, and fails with the command to run otherwise.

Keyed on the data interval, like every stage: an hourly run marks ``data_interval_start``'s date and hour;
the daily run waits for its ``data_interval_start`` date. Markers live in the lake (``file://`` locally,
``s3://`` in AWS) through Airflow's ObjectStoragePath, so both environments run the same code.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from airflow.sdk import PokeReturnValue, task

from _platform import REPO_ROOT  # noqa: F401  (puts the repo root on sys.path)
from _platform.assets import as_uri
from common.config import get_settings

log = logging.getLogger("marketplace.orchestration")

LAST_HOUR = 23
MARKER_DIR = "_landed_hours"
# How long match_daily waits for the last hour before it fails (the landing's own retries fit in it).
WAIT_TIMEOUT = timedelta(hours=6)
POKE_INTERVAL = timedelta(minutes=5)


def marker_uri(run_date: str, hour: int | str) -> str:
    """Where the marker of one landed hour lives (a URI: file:// locally, s3:// in AWS)."""
    silver = as_uri(get_settings().zone_uri("silver"))
    return f"{silver}/{MARKER_DIR}/dt={run_date}/hour={int(hour):02d}.json"


def _path(uri: str):
    from airflow.sdk import ObjectStoragePath  # imports fsspec: at run time only, never at parse time

    return ObjectStoragePath(uri)


def write_marker(run_date: str, hour: int | str, counts: dict | None = None) -> str:
    """Record that ``run_date``'s ``hour`` is in silver (idempotent: a re-run rewrites the same marker)."""
    uri = marker_uri(run_date, hour)
    path = _path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"run_date": run_date, "hour": int(hour), "bronze_to_silver": counts or {}}
    path.write_text(json.dumps(record, default=str))
    return uri


def day_landed(run_date: str) -> bool:
    """True once the last hour of ``run_date`` has been landed and turned into silver."""
    return _path(marker_uri(run_date, LAST_HOUR)).exists()


@task(task_id="mark_hour_landed")
def mark_hour_landed(run_date: str, hour: str, silver_counts: dict | None = None) -> str:
    """Last task of events_landing: this interval's hour of silver is complete."""
    uri = write_marker(run_date, hour, silver_counts)
    log.info("silver of %s hour %s complete: %s", run_date, hour, uri)
    return uri


@task.sensor(task_id="wait_for_silver_day", poke_interval=POKE_INTERVAL.total_seconds(),
             timeout=WAIT_TIMEOUT.total_seconds(), mode="reschedule")
def wait_for_silver_day(run_date: str) -> PokeReturnValue:
    """First task of match_daily: wait until the 23:00 landing of ``run_date`` is in silver."""
    if day_landed(run_date):
        return PokeReturnValue(is_done=True, xcom_value=marker_uri(run_date, LAST_HOUR))
    log.info(
        "silver of %s is not complete yet: waiting for events_landing's %02d:00 run (marker %s). To run "
        "match_daily on the silver as it is, mark this task success.", run_date, LAST_HOUR,
        marker_uri(run_date, LAST_HOUR),
    )
    return PokeReturnValue(is_done=False)

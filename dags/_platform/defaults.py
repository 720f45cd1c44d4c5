"""Shared DAG defaults: owner, retries with exponential backoff, the failure callback, approved tags.

Every DAG passes ``default_args=DEFAULT_ARGS`` and tags from ``APPROVED_TAGS``; the DAG-integrity
tests enforce both, so a new DAG cannot quietly drop retries or invent a tag.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from _platform import REPO_ROOT  # noqa: F401  (puts the repo root on sys.path)
from common.config import get_settings

log = logging.getLogger("marketplace.orchestration")

OWNER = "data-platform"
MIN_RETRIES = 2
# One fixed, past start date: schedules are data-interval based, catchup is off, so this never backfills
# by itself (the `backfill` DAG does that on request).
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

# Every stage reads/writes the partition of the run's data interval start, never "now".
RUN_DATE = "{{ data_interval_start | ds }}"
RUN_HOUR = "{{ data_interval_start.strftime('%H') }}"

APPROVED_TAGS = frozenset(
    {
        "marketplace",  # every DAG of this platform
        "ingestion",
        "lake",
        "matching",
        "serving",
        "dbt",
        "analytics",
        "backfill",
        "hourly",
        "daily",
        "manual",
    }
)


def alerts_path():
    """Where failure alerts are appended (JSON lines) besides the task log; one file per environment."""
    return get_settings().local_state_dir / "alerts" / "task_failures.jsonl"


def on_task_failure(context) -> None:
    """Failure callback: one readable log line and one JSON alert record per failed task try.

    Kept dependency-free so it can never fail itself; a pager/SNS hook would subscribe to the same record.
    """
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    record = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "run_id": getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": f"{type(exception).__name__}: {exception}" if exception else None,
        "failed_at": datetime.now(UTC).isoformat(),
    }
    log.error(
        "TASK FAILED dag=%s task=%s run=%s try=%s: %s",
        record["dag_id"],
        record["task_id"],
        record["run_id"],
        record["try_number"],
        record["error"],
    )
    try:
        path = alerts_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
    except OSError as exc:  # alerting must never mask the original failure
        log.warning("could not write failure alert: %s", exc)


DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": MIN_RETRIES,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
    "execution_timeout": timedelta(hours=2),
    "on_failure_callback": on_task_failure,
}

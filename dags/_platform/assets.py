"""Airflow Assets: one per silver table (docs/contracts.md: ``silver/<event_type>/``).

URIs come from the configuration seam (a ``file://`` URI for the local lake, ``s3://`` in AWS), so the
lineage graph shows the real table locations in both environments.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import Asset

from _platform import REPO_ROOT  # noqa: F401  (puts the repo root on sys.path)
from common.config import get_settings

# The event types of docs/contracts.md; silver has one table per type, named after it.
SILVER_TABLES = (
    "candidate_registered",
    "resume_uploaded",
    "job_posted",
    "job_updated",
    "job_closed",
    "application_submitted",
    "application_status_changed",
    "match_impression",
    "match_clicked",
    "notification_sent",
)


def as_uri(location: str) -> str:
    """A lake location as a URI Airflow accepts (local paths become ``file://``)."""
    return location if "://" in location else Path(location).as_uri()


def silver_asset(table: str) -> Asset:
    return Asset(name=f"silver.{table}", uri=as_uri(get_settings().table_uri("silver", table)), group="silver")


def silver_assets() -> list[Asset]:
    return [silver_asset(t) for t in SILVER_TABLES]


def gold_asset(table: str) -> Asset:
    return Asset(name=f"gold.{table}", uri=as_uri(get_settings().table_uri("gold", table)), group="gold")

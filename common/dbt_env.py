"""The environment dbt runs with: the variables dbt/profiles.yml and the sources read, from the seam.

One home for both callers — ``analytics.dbt_runner`` (the pipeline's dbt stage, jobs venv) and the
Airflow DAGs' cosmos task group (``dags/_platform/dbt.py``, Airflow venv) — so the two cannot drift.
Standard library and ``common.config`` only: both venvs import it.
"""

from __future__ import annotations

import os

from common.config import Settings


def dbt_environment(settings: Settings, target_path: str | None = None) -> dict[str, str]:
    """Env for a dbt subprocess. ``target_path``: dbt's target directory (tests and benchmarks keep
    their own); None leaves dbt's default (or the caller's DBT_TARGET_PATH) alone."""
    env = {
        "PLATFORM_ENV": settings.env,
        "DBT_TARGET": settings.dbt_target,
        "LAKE_ROOT": settings.lake_root,
        "LAKE_BUCKET_PREFIX": settings.lake_root,
        "LOCAL_STATE_DIR": str(settings.local_state_dir),
        "GLUE_DATABASE": settings.glue_database,
        "AWS_REGION": settings.region,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # Athena locations default to lake zones; infra may override them with explicit env vars.
        "DBT_ATHENA_S3_STAGING_DIR": os.environ.get(
            "DBT_ATHENA_S3_STAGING_DIR", f"{settings.zone_uri('athena-results')}/dbt/"
        ),
        "DBT_ATHENA_S3_DATA_DIR": os.environ.get("DBT_ATHENA_S3_DATA_DIR", f"{settings.zone_uri('gold')}/warehouse/"),
    }
    if target_path is not None:
        env["DBT_TARGET_PATH"] = target_path
    if settings.warehouse_path is not None:
        env["WAREHOUSE_PATH"] = str(settings.warehouse_path)
    return env

"""The environment every local Airflow process of this repo runs with (standalone, dags test, tests).

One function so `make airflow`, `make run` (via run_dag) and tests agree: home under the state dir, the
repo's dags folder, no examples, low parallelism for a 2-core laptop, everything bound to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from _platform import DAGS_FOLDER, REPO_ROOT
from common.config import get_settings

ADMIN_USER = "admin"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or get_settings().local_state_dir / "airflow")


def airflow_port() -> int:
    return int(get_settings().ports.get("AIRFLOW_PORT", 8080))


def airflow_environment(home: Path | None = None, port: int | None = None) -> dict[str, str]:
    """``os.environ`` plus the Airflow settings for this repo (existing AIRFLOW__* values win)."""
    home = Path(home or airflow_home()).resolve()
    port = port or airflow_port()
    settings = get_settings()
    ours = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        "AIRFLOW__COSMOS__ENABLE_CACHE": "False",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
        # standalone starts its components as `airflow …`: this venv's bin must come first on PATH
        "PATH": os.pathsep.join(p for p in (str(Path(sys.executable).parent), os.environ.get("PATH")) if p),
        "NO_PROXY": "*",
        "no_proxy": "*",
    }
    # Local connection for AWS hooks: the same endpoints the configuration seam hands to boto3.
    s3_endpoint = settings.endpoints.get("s3")
    if s3_endpoint:
        extra = {"region_name": settings.region, "endpoint_url": s3_endpoint}
        ours["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {"conn_type": "aws", "login": "local", "password": "local", "extra": extra}
        )
    env = dict(os.environ)
    for key, value in ours.items():
        if key in ("PYTHONPATH", "PATH") or key not in env:
            env[key] = value
    return env


def passwords_file(home: Path | None = None) -> Path:
    """Where Airflow's simple auth manager writes the generated admin password."""
    return Path(home or airflow_home()) / "simple_auth_manager_passwords.json.generated"


def admin_password(home: Path | None = None) -> str | None:
    path = passwords_file(home)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(ADMIN_USER)

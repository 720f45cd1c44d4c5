"""Airflow-venv tests: DAG integrity, the stage runner, and a real match_daily run.

Run with ``.venv/airflow/bin/python -m pytest tests/airflow``. The environment below is set before any
Airflow module is imported: a throw-away AIRFLOW_HOME, lake and state dir, no example DAGs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))

if importlib.util.find_spec("airflow") is None:
    # Collected by another venv's pytest (no Airflow there): these tests belong to the airflow venv run.
    collect_ignore_glob = ["test_*.py"]
else:
    _SESSION_DIR = Path(tempfile.mkdtemp(prefix="airflow-tests-"))
    os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
    os.environ["LOCAL_STATE_DIR"] = str(_SESSION_DIR / "state")
    os.environ["LAKE_ROOT"] = str(_SESSION_DIR / "lake")
    os.environ["PLATFORM_ENV"] = "local"
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    os.environ["AIRFLOW__OPENLINEAGE__DISABLED"] = "True"
    for path in (str(DAGS_FOLDER), str(REPO_ROOT)):
        if path not in sys.path:
            sys.path.append(path)


@pytest.fixture(scope="session")
def dagbag():
    """All DAG files parsed the way the dag processor does (the dags folder is the bundle root)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER, bundle_name="dags-folder")


@pytest.fixture(scope="session", autouse=True)
def _remove_session_dir():
    yield
    shutil.rmtree(Path(os.environ["LOCAL_STATE_DIR"]).parent, ignore_errors=True)

"""Shared fixtures. Area-specific fixtures live in tests/<tier>/conftest.py or beside the tests.

A test session never uses the ports, lake or state a developer's `make run` uses: before anything reads the
settings, this module points KINESIS_PORT / DYNAMODB_PORT / MOTO_PORT / AIRFLOW_PORT at free ports and
LAKE_ROOT / LOCAL_STATE_DIR at a session directory (the warehouse follows the state dir). The
``local_services`` fixture starts the stand-ins there once and stops them at session end; the session then
fails if any stand-in it started (found by the run tag every child inherits) is still running.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
if str(REPO_ROOT) not in sys.path:  # the airflow venv does not install the repo
    sys.path.append(str(REPO_ROOT))

from common.local_services.processes import RUN_TAG_ENV, pick_free_ports  # noqa: E402  (reads no settings)

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Inherited by every process the session starts (scripts/run_tests.sh sets one tag for all tiers).
os.environ.setdefault(RUN_TAG_ENV, f"pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}")


SESSION_DIR = Path(tempfile.mkdtemp(prefix="marketplace-tests-"))
SESSION_ENV = {
    "PLATFORM_ENV": "local",
    "LAKE_ROOT": str(SESSION_DIR / "lake"),
    "LOCAL_STATE_DIR": str(SESSION_DIR / "state"),
    **pick_free_ports(("KINESIS_PORT", "DYNAMODB_PORT", "MOTO_PORT", "AIRFLOW_PORT")),
}
# Endpoint overrides (docker compose) and a warehouse path would point past the session dirs.
for _name in ("KINESIS_ENDPOINT", "DYNAMODB_ENDPOINT", "MOTO_ENDPOINT", "WAREHOUSE_PATH"):
    os.environ.pop(_name, None)
os.environ.update(SESSION_ENV)


def _session_settings():
    """The settings of SESSION_ENV, whatever a test left in os.environ."""
    from common.config import get_settings, reset_settings_cache

    with pytest.MonkeyPatch.context() as mp:
        for name, value in SESSION_ENV.items():
            mp.setenv(name, value)
        reset_settings_cache()
        settings = get_settings()
    reset_settings_cache()
    return settings


@pytest.fixture(scope="session")
def local_services():
    """kinesalite, dynalite and moto on the session's own ports and state dir; stopped at session end."""
    from common.local_services import ensure_up, stop_all

    settings = _session_settings()
    try:
        ensure_up(settings)
        yield settings
    finally:
        stop_all(settings)


def pytest_sessionfinish(session, exitstatus):
    """Stop the Spark JVM; fail the session if a stand-in (or Airflow) it started outlived it; stop
    those, remove the session dir."""
    from common.local_services.processes import checkout_processes, stop_leftovers

    if "pyspark" in sys.modules:  # a tier that ran Spark (the Airflow and infra venvs have none)
        from spark_jobs.session import stop_spark

        stop_spark()

    services = ("kinesalite.js", "dynalite.js", "moto.server", "moto_server", "airflow")
    tag = os.environ[RUN_TAG_ENV]
    left = [row for row in checkout_processes(tag=tag)
            if row["tagged"] and any(marker in row["cmdline"] for marker in services)]
    if left:
        stop_leftovers(left)
        listing = "\n".join(f"  pid {row['pid']}: {row['cmdline']}" for row in left)
        session.config.get_terminal_writer().line(
            f"\nERROR: {len(left)} service processes started by this test session were still running "
            f"(now stopped):\n{listing}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if session.exitstatus == 0:
        shutil.rmtree(SESSION_DIR, ignore_errors=True)
    else:
        session.config.get_terminal_writer().line(f"test session lake/state kept in {SESSION_DIR}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real-data folder beside the repo (../shared/data). CI always has it."""
    if not SHARED_DATA.exists():
        pytest.fail(f"shared data folder not found at {SHARED_DATA}; set SHARED_DATA to its path")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spark():
    """One local[1] SparkSession for the whole test session (pure DataFrame function tests)."""
    from spark_jobs.session import get_spark

    session = get_spark("tests", master="local[1]", shuffle_partitions=1)
    yield session
    session.stop()


@pytest.fixture()
def isolated_settings(tmp_path, monkeypatch):
    """Point the configuration seam at a temporary lake/state dir for one test."""
    from common.config import get_settings, reset_settings_cache

    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    reset_settings_cache()
    yield get_settings()
    reset_settings_cache()

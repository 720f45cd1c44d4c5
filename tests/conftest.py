"""Shared fixtures. Area-specific fixtures live in tests/<tier>/conftest.py or beside the tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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

"""Unit tests for the infra helpers that need no synth: context settings and Docker-free assets."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import subprocess
import sys
import uuid

import pytest

from tests.infra.conftest import REPO_ROOT, cdk_context

pytestmark = pytest.mark.unit


def _settings(**overrides):
    from stacks.settings import settings_from_context

    context = cdk_context(**overrides)
    return settings_from_context(context.get)


def test_dev_is_the_default_and_prod_retains_data():
    dev, prod = _settings(env=None), _settings(env="prod")
    assert dev.name == "dev" and not dev.retain_data
    assert prod.name == "prod" and prod.retain_data
    assert prod.athena_bytes_cutoff["analysts"] > dev.athena_bytes_cutoff["analysts"]


def test_command_line_context_overrides_are_typed():
    settings = _settings(env="dev", mwaa_enabled="false", kinesis_shards="4", alarm_quarantine_rate="0.1")
    assert settings.mwaa_enabled is False
    assert settings.kinesis_shards == 4
    assert settings.alarm_quarantine_rate == pytest.approx(0.1)


def test_unknown_environment_and_unknown_setting_are_clear_errors():
    from stacks.settings import InfraConfigError, settings_from_context

    with pytest.raises(InfraConfigError, match="not one of"):
        _settings(env="staging")
    context = cdk_context()
    context["environments"]["dev"]["kinesis_shardz"] = 3
    with pytest.raises(InfraConfigError, match="kinesis_shardz"):
        settings_from_context(context.get)


def test_mwaa_requirements_come_from_the_airflow_lock():
    from stacks.assets import mwaa_requirements, parse_lock

    pins = parse_lock(REPO_ROOT / "requirements" / "airflow.lock")
    text = mwaa_requirements("3.0.6")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0].startswith('--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-3.0.6/')
    requirements = dict(line.split("==") for line in lines[1:])
    assert "apache-airflow" not in requirements  # MWAA installs its own Airflow
    assert "pytest" not in requirements
    assert requirements["apache-airflow-providers-amazon"] == pins["apache-airflow-providers-amazon"]
    assert requirements["astronomer-cosmos"] == pins["astronomer-cosmos"]


def test_dbt_pins_for_the_mwaa_venv_come_from_the_dbt_lock():
    from stacks.assets import dbt_requirements, parse_lock

    pins = parse_lock(REPO_ROOT / "requirements" / "dbt.lock")
    assert dbt_requirements() == [f"dbt-core=={pins['dbt-core']}",
                                  f"dbt-athena-community=={pins['dbt-athena-community']}"]


def _event(occurred: dt.datetime) -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": "job_posted", "schema_version": 1,
            "occurred_at": occurred.isoformat(), "tenant_id": "tenant-a", "producer": "jobs-api",
            "payload": {"job_id": "J1", "employer_id": "E1", "title": "Data engineer", "description": "Spark"}}


def test_transform_lambda_asset_runs_with_only_the_stdlib_and_itself(tmp_path):
    """The staged asset is what Lambda gets: import and call the handler with site-packages disabled."""
    from stacks.assets import stage_transform_lambda
    from stacks.streaming import RAW_EVENTS_PREFIX, TRANSFORM_HANDLER

    asset = stage_transform_lambda()
    assert not list(asset.rglob("__pycache__"))
    arrived = dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC)
    good = _event(arrived - dt.timedelta(minutes=5))
    records = [
        {"recordId": "1", "approximateArrivalTimestamp": int(arrived.timestamp() * 1000),
         "data": base64.b64encode(json.dumps(good).encode()).decode()},
        {"recordId": "2", "approximateArrivalTimestamp": int(arrived.timestamp() * 1000),
         "data": base64.b64encode(b"{not json").decode()},
    ]
    module, function = TRANSFORM_HANDLER.rsplit(".", 1)
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        f"from {module} import {function} as handler;"
        "print(json.dumps(handler(json.loads(sys.stdin.read()))))"
    )
    # -S: no site-packages (like the Lambda runtime, which has no pydantic); -E: ignore PYTHONPATH.
    result = subprocess.run([sys.executable, "-S", "-E", "-c", script, str(asset)], input=json.dumps(
        {"records": records}), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = {r["recordId"]: r for r in json.loads(result.stdout)["records"]}
    assert out["1"]["result"] == "Ok"
    keys = out["1"]["metadata"]["partitionKeys"]
    assert keys == {"event_type": "job_posted", "dt": "2026-11-22", "hour": "10"}
    # every key the Firehose prefix uses is one the Lambda returns
    used = set(re.findall(r"!\{partitionKeyFromLambda:(\w+)\}", RAW_EVENTS_PREFIX))
    assert used == set(keys)
    assert out["2"]["result"] == "ProcessingFailed"  # to the errors/ prefix, never dropped


def test_dag_bundle_has_the_dags_and_the_config_seam():
    from stacks.assets import stage_dag_bundle

    bundle = stage_dag_bundle()
    assert (bundle / "common" / "config.py").exists()
    assert (bundle / "dags").is_dir()
    assert not list(bundle.rglob("*.pyc"))
    assert not (bundle / "dbt" / "target").exists()

"""The stage runner, the local subprocess task body, the AWS (EMR Serverless) variant, date helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import DAGS_FOLDER

pytestmark = pytest.mark.unit

FAKE_STAGES = '''
class QualityGateFailed(RuntimeError):
    pass

def ok(run_date, hour=None):
    return {"run_date": run_date, "hour": hour, "rows": 3}

def no_options(run_date):
    return {"run_date": run_date}

def gate_fails(run_date):
    raise QualityGateFailed("3 expectations failed")

def flaky(run_date):
    raise ConnectionError("endpoint timed out")

def undated():
    return {"rendered": 1}
'''


@pytest.fixture()
def fake_stages(tmp_path, monkeypatch):
    (tmp_path / "fake_stages.py").write_text(textwrap.dedent(FAKE_STAGES))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    # The runner only needs the stdlib, so this interpreter can stand in for the jobs venv's.
    monkeypatch.setenv("JOBS_PYTHON", sys.executable)
    return tmp_path


def test_stage_runner_reports_counts_and_filters_options(fake_stages, capsys):
    from _platform import stage_runner

    code = stage_runner.main(["--module", "fake_stages", "--function", "no_options", "--run-date", "2026-11-22",
                              "--options", json.dumps({"hour": "07"})])
    assert code == stage_runner.EXIT_OK
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(stage_runner.RESULT_MARKER)
    result = json.loads(line[len(stage_runner.RESULT_MARKER):])
    assert result["run_date"] == "2026-11-22" and "_seconds" in result and "hour" not in result


@pytest.mark.parametrize(
    ("function", "expected"),
    [("ok", 0), ("gate_fails", 3), ("flaky", 1)],
)
def test_stage_runner_exit_codes_say_whether_a_retry_can_help(fake_stages, function, expected):
    from _platform import stage_runner

    assert stage_runner.main(["--module", "fake_stages", "--function", function, "--run-date", "2026-11-22"]) == expected


def test_stage_runner_missing_module_is_final(fake_stages):
    from _platform import stage_runner

    assert stage_runner.main(["--module", "spark_jobs.no_such_stage", "--run-date", "2026-11-22"]) == 3


def test_local_task_body_maps_exit_codes_to_airflow_semantics(fake_stages):
    from _platform.tasks import run_stage_subprocess
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    ok = run_stage_subprocess("fake_stages", "ok", "2026-11-22", {"hour": "07"})
    assert ok["run_date"] == "2026-11-22" and ok["hour"] == "07" and ok["rows"] == 3
    assert run_stage_subprocess("fake_stages", "undated", None, {})["rendered"] == 1
    with pytest.raises(AirflowFailException, match="retry cannot fix"):
        run_stage_subprocess("fake_stages", "gate_fails", "2026-11-22", {})
    with pytest.raises(AirflowException, match="retryable") as info:
        run_stage_subprocess("fake_stages", "flaky", "2026-11-22", {})
    assert not isinstance(info.value, AirflowFailException)


def test_missing_jobs_venv_is_a_clear_final_error(fake_stages, monkeypatch):
    from _platform.tasks import run_stage_subprocess
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("JOBS_PYTHON", "/nonexistent/python")
    with pytest.raises(AirflowFailException, match="make install-jobs"):
        run_stage_subprocess("fake_stages", "ok", "2026-11-22", {})


AWS_PROBE = """
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="aws-probe")
out = {"errors": bag.import_errors, "tasks": {}}
for dag in bag.dags.values():
    for t in dag.tasks:
        info = {"type": type(t).__name__}
        if hasattr(t, "job_driver"):
            info.update(job_driver=t.job_driver, deferrable=t.deferrable, config=t.config,
                        overrides=t.configuration_overrides, application_id=t.application_id,
                        timeout=t.execution_timeout.total_seconds())
        out["tasks"][f"{dag.dag_id}.{t.task_id}"] = info
print(json.dumps(out, default=str))
"""


def test_aws_mode_builds_emr_serverless_tasks_from_the_same_dag_files(tmp_path):
    env = {
        **os.environ,
        "PLATFORM_ENV": "aws",
        "LAKE_BUCKET_PREFIX": "marketplace-dev-123456789012",
        "EMR_APPLICATION_ID": "00abc123def",
        "EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/emr-jobs",
        "PYTHONPATH": "",
    }
    done = subprocess.run([sys.executable, "-c", AWS_PROBE, str(DAGS_FOLDER)], capture_output=True, text=True,
                          env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    match = report["tasks"]["match_daily.match"]
    assert match["type"] == "StageEmrServerlessOperator"
    assert match["deferrable"] is True and match["application_id"] == "00abc123def"
    submit = match["job_driver"]["sparkSubmit"]
    # spark_jobs/package.py's artefacts: entrypoint.py runs the module's CLI, code.zip unpacked as ./code
    assert submit["entryPoint"] == "s3://marketplace-dev-123456789012-artefacts/emr/entrypoint.py"
    assert submit["entryPointArguments"] == ["spark_jobs.match", "--run-date", "{{ data_interval_start | ds }}"]
    params = submit["sparkSubmitParameters"]
    assert ("spark.archives=s3://marketplace-dev-123456789012-artefacts/emr/code.zip#code,"
            "s3://marketplace-dev-123456789012-artefacts/emr/pyspark_deps.tar.gz#environment") in params
    assert "spark.executorEnv.PYTHONPATH=./code" in params
    assert "spark.emr-serverless.driverEnv.PLATFORM_ENV=aws" in params
    assert "spark.emr-serverless.driverEnv.LAKE_BUCKET_PREFIX=marketplace-dev-123456789012" in params
    log_uri = match["overrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
    assert log_uri == "s3://marketplace-dev-123456789012-emr-logs/applications/"
    hourly = report["tasks"]["events_landing.land_events"]["job_driver"]["sparkSubmit"]["entryPointArguments"]
    assert hourly[:2] == ["ingestion.landing", "--run-date"] and "--hour" in hourly
    assert 0 < match["config"]["executionTimeoutMinutes"] * 60 < match["timeout"]
    # backfill: the same operator, mapped over dates
    assert report["tasks"]["backfill.publish"]["type"] == "MappedOperator"


def test_aws_mode_without_emr_ids_fails_with_the_fix(tmp_path):
    env = {**os.environ, "PLATFORM_ENV": "aws", "LAKE_BUCKET_PREFIX": "p", "PYTHONPATH": ""}
    env.pop("EMR_APPLICATION_ID", None)
    done = subprocess.run([sys.executable, "-c", AWS_PROBE, str(DAGS_FOLDER)], capture_output=True, text=True,
                          env=env, timeout=180)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert any("EMR_APPLICATION_ID" in err for err in report["errors"].values())


def test_client_token_is_stable_per_try_and_new_per_retry():
    from _platform.emr import client_token

    class TI:
        dag_id, run_id, task_id, map_index, try_number = "match_daily", "scheduled__2026-11-22", "match", -1, 1

    first = client_token({"ti": TI()})
    assert first == client_token({"ti": TI()}) and len(first) <= 64
    TI.try_number = 2
    assert client_token({"ti": TI()}) != first


def test_date_range():
    from _platform.dates import date_range

    assert date_range("2026-02-27", "2026-03-02", 10) == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
    assert date_range("2026-03-01", "2026-03-01", 1) == ["2026-03-01"]
    with pytest.raises(ValueError, match="before"):
        date_range("2026-03-02", "2026-03-01", 10)
    with pytest.raises(ValueError, match="at most"):
        date_range("2026-01-01", "2026-12-31", 92)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        date_range("yesterday", "2026-01-01", 10)


def test_failure_callback_writes_an_alert(tmp_path, monkeypatch):
    from _platform import defaults

    monkeypatch.setattr(defaults, "alerts_path", lambda: tmp_path / "alerts.jsonl")

    class TI:
        dag_id, task_id, map_index, run_id, try_number = "match_daily", "quality_gate", -1, "r1", 1

    defaults.on_task_failure({"ti": TI(), "exception": RuntimeError("gate said no")})
    record = json.loads((tmp_path / "alerts.jsonl").read_text().strip())
    assert record["task_id"] == "quality_gate" and "gate said no" in record["error"]

"""The Airflow AWS operators' requests, executed against moto's EMR Serverless, and checked end to end.

Every DAG task in aws mode is an EmrServerlessStartJobOperator (`dags/_platform/emr.py`); the airflow
venv executes each one (tests/aws/airflow_submit.py) — StartJobRun reaches moto, which stores the job run.
Then the stored request is checked against what it must fit: the application and role the CDK app
defines, log URIs the role may write, artefacts `make package-spark` builds and uploads, and the shipped
entry point's argparse for the task's arguments (tests/aws/parse_entrypoints.py, code from code.zip only).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.aws.conftest import AIRFLOW_PY, REPO_ROOT

pytestmark = pytest.mark.timeout(600)
INTERVAL_START = "2026-11-22T05:00:00+00:00"  # the 05:00 hourly run / the daily run of 2026-11-22


@pytest.fixture(scope="module")
def artefacts(aws_env, boto_session, tmp_path_factory):
    """`make package-spark` (no deps archive: too big to build here), uploaded where the DAGs look."""
    from common.config import get_settings
    from spark_jobs import package

    out = tmp_path_factory.mktemp("emr-dist")
    package.build(out)
    bucket, prefix = f"{get_settings().lake_root}-artefacts", "emr"
    s3 = boto_session.client("s3")
    for name in ("code.zip", "entrypoint.py"):
        s3.upload_file(str(out / name), bucket, f"{prefix}/{name}")
    return {"bucket": bucket, "prefix": prefix, "dist": out}


@pytest.fixture(scope="module")
def submitted(aws_env, artefacts, deployed, boto_session, tmp_path_factory):
    """Every DAG's EMR tasks executed by the real provider operator (airflow venv) against moto."""
    assert AIRFLOW_PY.exists(), "the airflow venv is missing: run `make install-airflow`"
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"), "AIRFLOW__OPENLINEAGE__DISABLED": "True",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "PYTHONPATH": f"{REPO_ROOT / 'dags'}:{REPO_ROOT}"}
    done = subprocess.run([str(AIRFLOW_PY), str(REPO_ROOT / "tests" / "aws" / "airflow_submit.py"),
                           str(REPO_ROOT / "dags"), INTERVAL_START],
                          capture_output=True, text=True, env=env, timeout=400, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    emr = boto_session.client("emr-serverless")
    for job in report["jobs"]:
        job["run"] = emr.get_job_run(applicationId=job["application_id"], jobRunId=job["job_run_id"])["jobRun"]
    return report


def _spark_conf(parameters: str) -> dict[str, str]:
    """`--conf k=v` / `--py-files x` pairs of sparkSubmitParameters."""
    words, conf = shlex.split(parameters), {}
    for flag, value in zip(words[::2], words[1::2], strict=True):
        if flag == "--conf":
            key, _, val = value.partition("=")
            conf[key] = val
        else:
            conf[flag] = value
    return conf


def test_every_dag_task_of_aws_mode_starts_a_job_run_on_the_stacks_application(submitted, deployed):
    assert submitted["import_errors"] == {}
    tasks = {(j["dag"], j["task"]) for j in submitted["jobs"]}
    assert {("events_landing", "bronze_to_silver"), ("match_daily", "match"), ("match_daily", "publish"),
            ("backfill", "match")} <= tasks
    _, app = deployed.one("AWS::EMRServerless::Application")
    app_id = deployed.physical[next(iter(deployed.of_type("AWS::EMRServerless::Application")))]["ApplicationId"]
    for job in submitted["jobs"]:
        assert job["deferred"], f"{job['task']}: the operator should hand the wait to the triggerer"
        run = job["run"]
        assert run["applicationId"] == app_id and run["releaseLabel"] == app["ReleaseLabel"]
        assert len(job["client_token"]) == 64


def test_only_modules_shipped_in_code_zip_become_emr_jobs_the_rest_runs_in_the_worker(submitted):
    from common.emr_artefacts import CODE_PACKAGES

    for job in submitted["jobs"]:
        module = job["run"]["jobDriver"]["sparkSubmit"]["entryPointArguments"][0]
        assert module.split(".")[0] in CODE_PACKAGES, f"{job['task']}: {module} is not in code.zip"
    others = {(t["dag"], t["task"]) for t in submitted["other_tasks"]}
    assert {("match_daily", "refresh_dashboard"), ("backfill", "dbt_build")} <= others


def test_job_runs_use_the_execution_role_and_the_log_location_the_stack_grants(submitted, deployed):
    role_logical = next(k for k, r in deployed.of_type("AWS::IAM::Role").items()
                        if "emr-serverless.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"]))
    role_arn = deployed.physical[role_logical]["Arn"]
    _, app = deployed.one("AWS::EMRServerless::Application")
    app_log_uri = app["MonitoringConfiguration"]["S3MonitoringConfiguration"]["LogUri"]
    policies = [deployed.props(k) for k, r in deployed.of_type("AWS::IAM::Policy").items()
                if {"Ref": role_logical} in r["Properties"].get("Roles", [])]
    writable = [res for p in policies for st in p["PolicyDocument"]["Statement"]
                if "s3:PutObject" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
                for res in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    for job in submitted["jobs"]:
        run = job["run"]
        assert run["executionRole"] == role_arn, job["task"]
        log_uri = run["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
        assert log_uri == app_log_uri, job["task"]
        bucket_key = log_uri.removeprefix("s3://")
        assert any(bucket_key.startswith(arn.removeprefix("arn:aws:s3:::").rstrip("*")) for arn in writable), (
            f"{job['task']}: the execution role may not write its logs to {log_uri}")


def test_job_runs_reference_the_artefacts_package_spark_builds(submitted, artefacts, boto_session):
    from spark_jobs import package

    s3 = boto_session.client("s3")
    root = f"s3://{artefacts['bucket']}/{artefacts['prefix']}"
    documented = _spark_conf(package.spark_submit_parameters(root, with_deps=True))
    for job in submitted["jobs"]:
        submit = job["run"]["jobDriver"]["sparkSubmit"]
        bucket, key = submit["entryPoint"].removeprefix("s3://").split("/", 1)
        s3.head_object(Bucket=bucket, Key=key)  # raises when the entry point is not where the job looks
        conf = _spark_conf(submit["sparkSubmitParameters"])
        # The code ships as package.py says (archives unpacked as ./code on driver and executors, on PYTHONPATH),
        # not as a --py-files zip the executors would import from (matching/ reads its data files from disk).
        for key in ("spark.archives", "spark.emr-serverless.driverEnv.PYTHONPATH", "spark.executorEnv.PYTHONPATH"):
            assert conf.get(key) == documented[key], f"{job['task']}: {key}={conf.get(key)!r}"
        for uri in conf["spark.archives"].split(","):
            bucket, key = uri.split("#")[0].removeprefix("s3://").split("/", 1)
            if key.endswith("pyspark_deps.tar.gz"):
                continue  # built with `make package-spark --deps` on the EMR image's OS (docs/aws_mode.md)
            s3.head_object(Bucket=bucket, Key=key)


def test_job_runs_forward_the_whole_configuration_seam(submitted, aws_env):
    """The driver and executors rebuild the same Settings: every variable the stack outputs is forwarded."""
    forwarded = {k for k in aws_env if k.isupper() and k not in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED", "LOCAL_STATE_DIR",
                 "EMBEDDING_ENCODER", "EMR_APPLICATION_ID", "EMR_EXECUTION_ROLE_ARN")}
    for job in submitted["jobs"]:
        conf = _spark_conf(job["run"]["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"])
        for side in ("spark.emr-serverless.driverEnv.", "spark.executorEnv."):
            missing = {k for k in forwarded if conf.get(side + k) != aws_env[k]}
            assert not missing, f"{job['task']}: {side}* lacks {sorted(missing)}"


def test_every_job_runs_arguments_parse_in_the_shipped_entry_point(submitted, artefacts, boto_session, tmp_path):
    """entrypoint.py + code.zip as EMR gets them from S3, run with each job run's entryPointArguments."""
    s3 = boto_session.client("s3")
    for name in ("entrypoint.py", "code.zip"):
        s3.download_file(artefacts["bucket"], f"{artefacts['prefix']}/{name}", str(tmp_path / name))
    zipfile.ZipFile(tmp_path / "code.zip").extractall(tmp_path / "code")  # spark.archives=…code.zip#code
    jobs = [{"task": f"{j['dag']}.{j['task']}", "arguments": j["run"]["jobDriver"]["sparkSubmit"]["entryPointArguments"]}
            for j in submitted["jobs"]]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    checker = Path(__file__).with_name("parse_entrypoints.py")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "code")}
    done = subprocess.run([os.sys.executable, str(checker), str(tmp_path / "jobs.json"), str(REPO_ROOT)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    failures = [r for r in results if "parsed" not in r]
    assert not failures, "job runs whose arguments the entry point rejects:\n" + "\n".join(
        f"  {r['task']} {r['arguments']}: {r.get('stderr') or r.get('error')}" for r in failures)
    by_task = {r["task"]: r["parsed"] for r in results}
    assert by_task["match_daily.match"]["run_date"] == "2026-11-22"
    assert by_task["events_landing.land_events"]["hour"] == "05"

"""EMR Serverless, MWAA, alarms/dashboard and the outputs that feed common/config.py."""

from __future__ import annotations

import re

import pytest

from tests.infra.conftest import REPO_ROOT, one, render, resources_of

pytestmark = pytest.mark.unit


def _statements_of_role(template: dict, role_name: str) -> list[dict]:
    role_id = next(k for k, r in resources_of(template, "AWS::IAM::Role").items()
                   if r["Properties"].get("RoleName") == role_name)
    statements = []
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_emr_serverless_application_is_long_lived_spark_4(platform):
    app = one(platform, "AWS::EMRServerless::Application")["Properties"]
    assert app["ReleaseLabel"] == "emr-spark-8.0.0"  # Spark 4.0.2, same line as local pyspark 4.0.2
    assert app["Type"] == "SPARK"
    assert app["AutoStartConfiguration"]["Enabled"] is True
    assert app["AutoStopConfiguration"] == {"Enabled": True, "IdleTimeoutMinutes": 15}
    assert set(app["MaximumCapacity"]) == {"Cpu", "Memory", "Disk"}
    assert render(app["MonitoringConfiguration"]["S3MonitoringConfiguration"]["LogUri"], platform).startswith(
        "s3://marketplace-dev-${AWS::AccountId}-emr-logs/")


def test_emr_execution_role_is_trusted_by_emr_serverless_only_and_never_writes_raw(platform):
    role = one(platform, "AWS::IAM::Role", RoleName="marketplace-dev-emr-execution")["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"]["Service"] for s in trust] == ["emr-serverless.amazonaws.com"]
    assert "aws:SourceAccount" in trust[0]["Condition"]["StringEquals"]
    statements = _statements_of_role(platform, "marketplace-dev-emr-execution")
    written = [render(r, platform) for s in statements if "s3:PutObject" in _as_list(s["Action"])
               for r in _as_list(s["Resource"])]
    assert any("-silver" in w for w in written) and any("-quarantine" in w for w in written)
    assert not any(w.startswith("${") and "Raw" in w for w in written)
    assert not any("-raw" in w for w in written)


def test_mwaa_runs_the_repo_dags_privately_with_generated_requirements(dev_synth, platform):
    env = one(platform, "AWS::MWAA::Environment")["Properties"]
    assert env["Name"] == "marketplace-dev"
    assert env["DagS3Path"] == "airflow/dags" and env["RequirementsS3Path"] == "airflow/requirements.txt"
    assert env["StartupScriptS3Path"] == "airflow/startup.sh"
    assert env["WebserverAccessMode"] == "PRIVATE_ONLY"
    logging = env["LoggingConfiguration"]
    assert all(logging[k]["Enabled"] for k in ("DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WorkerLogs"))
    assert len(env["NetworkConfiguration"]["SubnetIds"]) == 2
    # the deployed requirements.txt and startup.sh are staged assets: check their content
    from stacks.assets import mwaa_requirements

    requirements = list(dev_synth.outdir.glob("asset.*/requirements.txt"))
    assert len(requirements) == 1
    assert requirements[0].read_text() == mwaa_requirements(env["AirflowVersion"])
    startup = next(dev_synth.outdir.glob("asset.*/startup.sh")).read_text()
    assert 'export PLATFORM_ENV="aws"' in startup and 'export ATHENA_WORKGROUP="marketplace-dbt"' in startup
    bundles = [p for p in dev_synth.outdir.glob("asset.*") if (p / "dags").is_dir()]
    assert len(bundles) == 1 and (bundles[0] / "common" / "config.py").exists()


def test_mwaa_startup_script_exports_the_config_seam_variables():
    from stacks.orchestration import startup_script
    from stacks.platform_stack import CONFIG_ENV_VARS

    script = startup_script({name: "x" for name in CONFIG_ENV_VARS}, ["dbt-core==1.0"])
    for name in CONFIG_ENV_VARS:
        assert f'export {name}="x"' in script
    assert "dbt_venv/bin/pip install --quiet dbt-core==1.0" in script


def test_outputs_are_exactly_the_env_vars_common_config_reads_in_aws_mode(platform):
    from stacks.platform_stack import CONFIG_ENV_VARS, output_id

    source = (REPO_ROOT / "common" / "config.py").read_text()
    aws_block = source[source.index("def _aws_settings"):source.index("def get_settings")]
    read = set(re.findall(r'_env\("([A-Z_]+)"', aws_block)) | {"PLATFORM_ENV"}
    # LANDING_QUEUE: Firehose replaces the local landing consumer in AWS; LOCAL_STATE_DIR: a local path;
    # LAKE_FILE_MIRROR: only the offline aws test tier sets it (Spark on a file:// mirror), never a deployment.
    assert set(CONFIG_ENV_VARS) == read - {"LANDING_QUEUE", "LOCAL_STATE_DIR", "LAKE_FILE_MIRROR"}
    outputs = platform["Outputs"]
    for name in CONFIG_ENV_VARS:
        assert output_id(name) in outputs, name
    assert render(outputs["LAKEBUCKETPREFIX"]["Value"]) == "marketplace-dev-${AWS::AccountId}"
    assert outputs["PLATFORMENV"]["Value"] == "aws"


def test_outputs_file_becomes_an_env_file(tmp_path):
    import json

    from outputs_to_env import OutputsError, env_lines
    from stacks.platform_stack import CONFIG_ENV_VARS, output_id

    values = {output_id(n): f"v-{n.lower()}" for n in CONFIG_ENV_VARS}
    lines = env_lines({"Marketplace-dev-Platform": values}, "dev")
    assert lines[2] == "LAKE_BUCKET_PREFIX=v-lake_bucket_prefix"
    with pytest.raises(OutputsError, match="EMR_EXECUTION_ROLE_ARN"):
        env_lines({"Marketplace-dev-Platform": {k: v for k, v in values.items() if k != "EMREXECUTIONROLEARN"}},
                  "dev")
    with pytest.raises(OutputsError, match="make deploy"):
        env_lines(json.loads("{}"), "prod")


EXPECTED_ALARMS = {"KinesisIteratorAge", "FirehoseDeliveryFailures", "FirehoseTransformFailures", "QuarantineRate",
                   "EventsDlqDepth", "DagRunFailures", "DynamoDbThrottles"}


def test_alarms_cover_the_pipeline_and_notify_the_alerts_topic(platform):
    topic_id = next(iter(resources_of(platform, "AWS::SNS::Topic")))
    assert resources_of(platform, "AWS::SNS::Topic")[topic_id]["Properties"]["KmsMasterKeyId"]
    alarms = {a["Properties"]["AlarmName"].removeprefix("marketplace-dev-"): a["Properties"]
              for a in resources_of(platform, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == EXPECTED_ALARMS
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
    assert alarms["KinesisIteratorAge"]["MetricName"] == "GetRecords.IteratorAgeMilliseconds"
    assert alarms["FirehoseDeliveryFailures"]["ComparisonOperator"] == "LessThanThreshold"
    quarantine = {m["Id"]: m for m in alarms["QuarantineRate"]["Metrics"]}
    assert "quarantined / processed" in quarantine[next(k for k in quarantine if "Expression" in quarantine[k])][
        "Expression"]


def test_dashboard_shows_every_alarm(platform):
    dashboard = one(platform, "AWS::CloudWatch::Dashboard")["Properties"]
    assert dashboard["DashboardName"] == "marketplace-dev-pipeline"
    body = render(dashboard["DashboardBody"])
    for name in EXPECTED_ALARMS:
        assert name in body or "alarm" in body

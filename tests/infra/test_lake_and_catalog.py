"""S3 lake zones, Glue tables with partition projection, Athena workgroups."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.infra.conftest import REPO_ROOT, render, resources_of

pytestmark = pytest.mark.unit
ZONES = ("raw", "bronze", "silver", "gold", "quarantine", "artefacts", "athena-results")


def _buckets_by_name(template: dict) -> dict[str, dict]:
    return {render(b["Properties"]["BucketName"]): b for b in resources_of(template, "AWS::S3::Bucket").values()}


def test_one_bucket_per_zone_named_like_the_config_seam(platform):
    from common.config import LAKE_ZONES

    assert set(ZONES) == set(LAKE_ZONES)
    names = _buckets_by_name(platform)
    for zone in ZONES:  # common/config.py: s3://<LAKE_BUCKET_PREFIX>-<zone>
        assert f"marketplace-dev-${{AWS::AccountId}}-{zone}" in names


@pytest.mark.parametrize("zone", ZONES)
def test_zone_bucket_is_kms_encrypted_versioned_private_and_logged(platform, zone):
    bucket = _buckets_by_name(platform)[f"marketplace-dev-${{AWS::AccountId}}-{zone}"]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in sse["ServerSideEncryptionByDefault"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    assert bucket["LifecycleConfiguration"]["Rules"]


def test_every_bucket_policy_denies_plain_http(platform):
    buckets = resources_of(platform, "AWS::S3::Bucket")
    policies = resources_of(platform, "AWS::S3::BucketPolicy").values()
    covered = set()
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
               for s in statements):
            covered.add(policy["Properties"]["Bucket"]["Ref"])
    assert covered == set(buckets), f"buckets without a TLS-only policy: {set(buckets) - covered}"


def test_lifecycle_ages_raw_and_expires_quarantine_and_query_results(platform):
    names = _buckets_by_name(platform)

    def rules(zone):
        return {r["Id"]: r for r in names[f"marketplace-dev-${{AWS::AccountId}}-{zone}"]["Properties"][
            "LifecycleConfiguration"]["Rules"]}

    raw = rules("raw")["age-raw-events"]
    assert raw["Prefix"] == "events/"
    assert [t["StorageClass"] for t in raw["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert rules("quarantine")["expire-quarantine"]["ExpirationInDays"] == 90
    assert rules("athena-results")["expire-query-results"]["ExpirationInDays"] == 7


def test_tenant_document_policies_are_confined_to_their_prefix(platform):
    policies = {p["Properties"]["ManagedPolicyName"]: p for p in
                resources_of(platform, "AWS::IAM::ManagedPolicy").values()}
    for tenant in ("tenant-a", "tenant-b"):
        doc = policies[f"marketplace-dev-{tenant}-documents"]["Properties"]["PolicyDocument"]
        objects = [render(r) for s in doc["Statement"] if "s3:GetObject" in s["Action"] for r in
                   (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
        assert objects and all(o.endswith(f"/documents/tenant_id={tenant}/*") for o in objects)


# -- Glue / Athena ---------------------------------------------------------------------------------
def _tables(platform) -> dict[str, dict]:
    return {t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
            for t in resources_of(platform, "AWS::Glue::Table").values()}


def test_glue_database_and_one_silver_table_per_event_type(platform):
    from stacks.lake_tables import EVENT_TYPES

    database = next(iter(resources_of(platform, "AWS::Glue::Database").values()))
    assert database["Properties"]["DatabaseInput"]["Name"] == "marketplace"
    contract_types = {p.stem for p in (REPO_ROOT / "ingestion" / "schemas" / "v1").glob("*.json")}
    assert set(EVENT_TYPES) == contract_types  # same event types as the ingestion contracts
    tables = _tables(platform)
    for event_type in EVENT_TYPES:
        table = tables[event_type]
        params = table["Parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.dt.type"] == "date"
        assert render(params["storage.location.template"], platform) == (
            f"s3://marketplace-dev-${{AWS::AccountId}}-silver/{event_type}/dt=${{dt}}/")
        assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]


def test_raw_events_table_projects_event_type_date_and_hour(platform):
    from stacks.lake_tables import EVENT_TYPES

    params = _tables(platform)["raw_events"]["Parameters"]
    assert set(params["projection.event_type.values"].split(",")) == set(EVENT_TYPES)
    assert params["projection.hour.type"] == "integer" and params["projection.hour.digits"] == "2"
    assert render(params["storage.location.template"], platform) == (
        "s3://marketplace-dev-${AWS::AccountId}-raw/events/event_type=${event_type}/dt=${dt}/hour=${hour}/")


def test_matches_table_is_partitioned_by_run_without_projection(platform):
    table = _tables(platform)["matches"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["run_id"]
    assert "projection.enabled" not in table["Parameters"]  # dbt reads every run; partitions are registered


# dbt's declared type -> Glue types that satisfy it (Athena widens int to bigint without loss).
_DBT_TYPES = {"varchar": {"string"}, "integer": {"int", "bigint"}, "bigint": {"bigint"}, "double": {"double"},
              "boolean": {"boolean"}, "timestamp": {"timestamp"}, "date": {"date"}, "varchar[]": {"array<string>"}}


def test_glue_tables_match_the_dbt_sources_column_for_column(platform):
    """dbt (Athena target) reads these Glue tables by name: names and types must agree."""
    sources = yaml.safe_load((REPO_ROOT / "dbt" / "models" / "staging" / "_sources.yml").read_text())["sources"]
    tables = _tables(platform)
    checked = 0
    for source in sources:
        for table in source["tables"]:
            glue = tables[table["name"]]
            glue_columns = {c["Name"]: c["Type"] for c in glue["StorageDescriptor"]["Columns"]}
            glue_columns.update({c["Name"]: c["Type"] for c in glue.get("PartitionKeys", [])})
            for column in table.get("columns", []):
                if column.get("data_type"):
                    assert glue_columns.get(column["name"]) in _DBT_TYPES[column["data_type"]], (
                        f"{table['name']}.{column['name']}: glue {glue_columns.get(column['name'])}")
                    checked += 1
    assert checked > 100


@pytest.mark.parametrize("audience", ["analysts", "dbt", "quicksight"])
def test_athena_workgroups_enforce_settings_and_cap_bytes_scanned(platform, audience):
    groups = {g["Properties"]["Name"]: g["Properties"] for g in resources_of(platform, "AWS::Athena::WorkGroup").values()}
    config = groups[f"marketplace-{audience}"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] >= 10 * 1024**3
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert render(result["OutputLocation"], platform) == f"s3://marketplace-dev-${{AWS::AccountId}}-athena-results/{audience}/"


def test_keys_rotate_and_log_groups_are_encrypted_with_retention(platform):
    for key in resources_of(platform, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True
    log_groups = resources_of(platform, "AWS::Logs::LogGroup")
    assert len(log_groups) >= 4
    for logical_id, group in log_groups.items():
        assert "KmsKeyId" in group["Properties"], logical_id
        assert group["Properties"].get("RetentionInDays"), logical_id


def test_queues_are_encrypted_and_tls_only(platform):
    queues = resources_of(platform, "AWS::SQS::Queue")
    assert queues
    for queue in queues.values():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId")
    policies = resources_of(platform, "AWS::SQS::QueuePolicy").values()
    assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
               for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] if "Condition" in s)


def test_silver_columns_match_the_ingestion_contracts_flattening(platform):
    """Silver Parquet is written from ingestion.contracts.flat_columns (jobs venv): Glue must read those types."""
    script = ("import json; from ingestion.contracts import EVENT_TYPES, flat_columns;"
              "print(json.dumps({t: flat_columns(t) for t in EVENT_TYPES}))")
    jobs_python = REPO_ROOT / ".venv" / "jobs" / "bin" / "python"
    assert jobs_python.exists(), "jobs venv missing: run `make install-jobs`"
    result = subprocess.run([str(jobs_python), "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stderr
    spark_to_glue = {"string": "string", "long": "bigint", "double": "double", "boolean": "boolean"}
    tables = _tables(platform)
    for event_type, columns in json.loads(result.stdout).items():
        glue = {c["Name"]: c["Type"] for c in tables[event_type]["StorageDescriptor"]["Columns"]}
        expected = {name: spark_to_glue[kind] for name, kind in columns}
        assert {k: glue.get(k) for k in expected} == expected, event_type
        assert glue["schema_version"] == "bigint" and glue["occurred_at"] == "timestamp"

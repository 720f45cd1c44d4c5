"""Contracts that bind the layers: Glue ↔ what Spark writes, Firehose prefix ↔ what bronze reads, dbt ↔ Glue.

The Glue tables are the CDK app's (created in moto from the synthesised template); the data is what the
Spark jobs wrote in conftest.aws_day (the file:// mirror of the buckets, synced to S3 after the jobs).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(900)


def _hive_type(arrow_type) -> str:
    """The Hive/Athena type a Parquet column of this Arrow type is read as."""
    import pyarrow as pa

    t = pa.types
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "string"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type):
        return f"array<{_hive_type(arrow_type.value_type)}>"
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    named = {pa.int64(): "bigint", pa.int32(): "int", pa.int16(): "smallint", pa.int8(): "tinyint",
             pa.float64(): "double", pa.float32(): "float", pa.bool_(): "boolean", pa.date32(): "date",
             pa.binary(): "binary"}
    return named.get(arrow_type, str(arrow_type))


def _glue_tables(session, database: str) -> dict[str, dict]:
    glue = session.client("glue")
    tables = {}
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        tables.update({t["Name"]: t for t in page["TableList"]})
    return tables


def _mirror_path(aws_day, s3_uri: str) -> Path:
    return Path(aws_day["mirror"]) / s3_uri.removeprefix("s3://").rstrip("/")


def _partition_value_ok(table: dict, key: str, value: str) -> bool:
    params = table.get("Parameters", {})
    kind = params.get(f"projection.{key}.type")
    if kind == "date":
        java = params[f"projection.{key}.format"]
        strftime = java.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
        try:
            return dt.datetime.strptime(value, strftime).strftime(strftime) == value
        except ValueError:
            return False
    if kind == "enum":
        return value in params[f"projection.{key}.values"].split(",")
    if kind == "integer":
        digits = int(params.get(f"projection.{key}.digits", "1"))
        low, high = (int(x) for x in params[f"projection.{key}.range"].split(","))
        return value.isdigit() and len(value) >= digits and low <= int(value) <= high
    return True  # no projection: the partition must be registered (checked separately)


def test_every_parquet_glue_table_matches_the_schema_and_layout_spark_writes(aws_day, boto_session):
    import pyarrow.parquet as pq

    from common.config import get_settings

    problems = []
    tables = _glue_tables(boto_session, get_settings().glue_database)
    parquet_tables = {n: t for n, t in tables.items()
                      if "parquet" in t["StorageDescriptor"].get("InputFormat", "").lower()}
    assert len(parquet_tables) >= 15, sorted(tables)
    for name, table in sorted(parquet_tables.items()):
        root = _mirror_path(aws_day, table["StorageDescriptor"]["Location"])
        files = sorted(p for p in root.rglob("*.parquet"))
        if not files:
            problems.append(f"{name}: the Spark jobs wrote nothing at {table['StorageDescriptor']['Location']}")
            continue
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        written: dict[str, str] = {}
        for path in files:
            parts = path.relative_to(root).parts[:-1]
            found = [p.split("=", 1) for p in parts]
            if [k for k, _ in found] != keys:
                problems.append(f"{name}: partition directories {parts} but Glue partition keys {keys}")
                break
            bad = [f"{k}={v}" for k, v in found if not _partition_value_ok(table, k, v)]
            if bad:
                problems.append(f"{name}: partition values {bad} do not fit the table's projection")
            written.update({f.name: _hive_type(f.type) for f in pq.read_schema(path)})
        declared = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
        for column in sorted(set(declared) | set(written)):
            if column in keys:
                problems.append(f"{name}: partition key {column} is also a data column in the files")
            elif declared.get(column) != written.get(column):
                problems.append(f"{name}.{column}: Glue {declared.get(column)} vs Parquet {written.get(column)}")
    assert not problems, "\n".join(problems)


def test_unprojected_run_partitions_are_registered_in_glue(aws_day, boto_session):
    """matches / match_runs are partitioned by run_id, which no projection expresses (infra/README.md)."""
    from common.config import get_settings

    glue = boto_session.client("glue")
    database = get_settings().glue_database
    run_id = aws_day["publish"]["run_id"]
    for name, table in _glue_tables(boto_session, database).items():
        if table.get("Parameters", {}).get("projection.enabled") == "true":
            continue
        partitions = glue.get_partitions(DatabaseName=database, TableName=name)["Partitions"]
        values = [p["Values"] for p in partitions]
        assert [run_id] in values, f"{name}: run {run_id} is not registered in Glue (Athena/dbt see nothing)"


def test_firehose_prefix_is_the_raw_layout_bronze_to_silver_reads(aws_day, deployed, boto_session, tmp_path):
    from ingestion import lake_io, lambda_transform
    from spark_jobs import bronze_to_silver
    from tests.aws.cloud import render_prefix

    logical, props = deployed.one("AWS::KinesisFirehose::DeliveryStream")
    destination = boto_session.client("firehose").describe_delivery_stream(
        DeliveryStreamName=props["DeliveryStreamName"])["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"]
    event = {"event_id": "0b9f8c2e-3d5a-4c1e-9f7b-2a6d8e4c1b00", "event_type": "job_posted", "schema_version": 1,
             "occurred_at": "2026-11-22T05:30:00Z", "tenant_id": "acme", "producer": "employer-service",
             "payload": {"job_id": "J1"}}
    import base64

    out = lambda_transform.handler({"records": [{
        "recordId": "1", "data": base64.b64encode(json.dumps(event).encode()).decode(),
        "approximateArrivalTimestamp": int(dt.datetime(2026, 11, 22, 5, 31, tzinfo=dt.UTC).timestamp() * 1000)}]})
    keys = out["records"][0]["metadata"]["partitionKeys"]
    raw = deployed.physical[next(k for k in deployed.of_type("AWS::S3::Bucket") if "Raw" in k)]["Ref"]
    key = render_prefix(destination["Prefix"], keys, dt.datetime(2026, 11, 22, 5, 31)) + "part" + destination["FileExtension"]
    match = re.search(bronze_to_silver.RAW_PATH_PATTERN, f"s3://{raw}/{key}")
    assert match and match.groups() == ("job_posted", "2026-11-22"), key
    raw_table = _glue_tables(boto_session, "marketplace")["raw_events"]
    template = raw_table["Parameters"]["storage.location.template"]
    assert f"s3://{raw}/{key}".startswith(template.replace("${event_type}", keys["event_type"]).replace(
        "${dt}", keys["dt"]).replace("${hour}", keys["hour"]))
    # and bronze_to_silver's own file listing finds an object written there (a file:// copy of the raw bucket)
    mirror_root = f"file://{tmp_path}/{raw}"
    lake_io.write_bytes(f"{mirror_root}/{key}", b"{}\n")
    assert f"{mirror_root}/{key}" in bronze_to_silver._window_files(mirror_root, ["2026-11-22"], errors=False)
    error_key = render_prefix(destination["ErrorOutputPrefix"], {}, dt.datetime(2026, 11, 22, 5, 31),
                              "processing-failed") + "part"
    lake_io.write_bytes(f"{mirror_root}/{error_key}", b"{}\n")
    assert f"{mirror_root}/{error_key}" in bronze_to_silver._window_files(mirror_root, ["2026-11-22"], errors=True)


def test_raw_events_glue_table_reads_the_objects_firehose_wrote(aws_day, boto_session):
    """The JSON table: every Firehose object sits under its location template and has the declared keys."""
    raw_table = _glue_tables(boto_session, "marketplace")["raw_events"]
    location = raw_table["StorageDescriptor"]["Location"]
    root = _mirror_path(aws_day, location)
    files = sorted(root.rglob("*.jsonl"))
    assert files
    from ingestion.contracts import validate_event

    columns = {c["Name"] for c in raw_table["StorageDescriptor"]["Columns"]}
    valid = 0
    for path in files:
        parts = [p.split("=", 1)[0] for p in path.relative_to(root).parts[:-1]]
        assert parts == [k["Name"] for k in raw_table["PartitionKeys"]], path
        # Every record the contract accepts has the declared keys (the simulator's deliberately bad records,
        # e.g. one without tenant_id, are Firehose "Ok" objects too; bronze→silver quarantines them).
        for line in path.read_text().splitlines():
            if validate_event(line).ok:
                valid += 1
                assert columns <= set(json.loads(line)), (columns - set(json.loads(line)), path)
    assert valid > 0


def test_dbt_compile_for_athena_resolves_every_source_to_a_glue_table(aws_env, deployed, boto_session, tmp_path):
    from analytics.dbt_runner import DBT_EXECUTABLE, DBT_PROJECT_DIR
    from common.config import get_settings
    from common.dbt_env import dbt_environment

    settings = get_settings()
    env = {**os.environ, **dbt_environment(settings, target_path=str(tmp_path / "target"))}
    done = subprocess.run([str(DBT_EXECUTABLE), "compile", "--target", "athena", "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR)], capture_output=True, text=True, env=env,
                          timeout=600, cwd=DBT_PROJECT_DIR)
    assert done.returncode == 0, done.stdout[-4000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    glue = boto_session.client("glue")
    sources = list(manifest["sources"].values())
    assert sources
    for source in sources:
        assert source["database"] == "awsdatacatalog", source["unique_id"]
        table = glue.get_table(DatabaseName=source["schema"], Name=source["identifier"])["Table"]
        glue_columns = {c["Name"] for c in table["StorageDescriptor"]["Columns"]} | {
            k["Name"] for k in table.get("PartitionKeys", [])}
        missing = set(source["columns"]) - glue_columns
        assert not missing, f"{source['unique_id']}: columns {sorted(missing)} are not in Glue {source['schema']}.{source['identifier']}"
    # the workgroup and locations dbt-athena will use exist in the stack
    workgroups = {w["Name"] for w in boto_session.client("athena").list_work_groups()["WorkGroups"]}
    assert env.get("DBT_ATHENA_WORKGROUP", "marketplace-dbt") in workgroups
    s3 = boto_session.client("s3")
    for var in ("DBT_ATHENA_S3_STAGING_DIR", "DBT_ATHENA_S3_DATA_DIR"):
        s3.head_bucket(Bucket=env[var].removeprefix("s3://").split("/", 1)[0])

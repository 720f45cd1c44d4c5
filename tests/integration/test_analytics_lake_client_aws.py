"""The AWS backend of the lake client (awswrangler) against a moto server on 127.0.0.1."""

from __future__ import annotations

import socket

import boto3
import pandas as pd
import pytest

from common.config import Settings
from common.lake_client import AwsLakeClient, LakeClientError, get_lake_client

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def aws_client(tmp_path, monkeypatch):
    import awswrangler as wr
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    settings = Settings(env="aws", region="us-east-1", lake_root="test-lake", local_state_dir=tmp_path,
                        endpoints={"s3": endpoint, "dynamodb": endpoint}, dynamodb_table="marketplace-matches")
    s3 = boto3.client("s3", **settings.boto3_kwargs("s3"))
    s3.create_bucket(Bucket="test-lake-silver")
    try:
        client = get_lake_client(settings)
        assert isinstance(client, AwsLakeClient)
        yield client, settings
    finally:
        wr.config.reset()
        server.stop()


def test_s3_parquet_round_trip_and_partition_overwrite(aws_client):
    client, _ = aws_client
    first = pd.DataFrame({"tenant_id": ["t", "t"], "value": [1, 2], "dt": ["2026-11-01", "2026-11-02"]})
    uri = client.write_table(first, "silver", "demo", partition_cols=["dt"])
    assert uri == "s3://test-lake-silver/demo/"
    replacement = pd.DataFrame({"tenant_id": ["t"], "value": [20], "dt": ["2026-11-02"]})
    client.write_table(replacement, "silver", "demo", partition_cols=["dt"], mode="overwrite_partitions")
    back = client.read_table("silver", "demo").sort_values("value")
    assert back["value"].tolist() == [1, 20]
    assert client.table_exists("silver", "demo") and not client.table_exists("silver", "other")
    with pytest.raises(LakeClientError, match="no Parquet files"):
        client.read_table("silver", "other")


def test_read_dynamodb_scans_the_serving_table(aws_client):
    client, settings = aws_client
    dynamodb = boto3.client("dynamodb", **settings.boto3_kwargs("dynamodb"))
    dynamodb.create_table(
        TableName="marketplace-matches",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="marketplace-matches",
                      Item={"PK": {"S": "T#t#CAND#c1"}, "SK": {"S": "CURRENT"}, "run_id": {"S": "2026-11-22Tw1"}})
    frame = client.read_dynamodb()
    assert frame.to_dict("records") == [{"PK": "T#t#CAND#c1", "SK": "CURRENT", "run_id": "2026-11-22Tw1"}]


def test_register_partitions_adds_run_partitions_to_glue_once(aws_client, monkeypatch):
    """`run_id` partitions fit no projection: the AWS client registers them with the table's own descriptor."""
    from common.config import reset_settings_cache

    client, settings = aws_client
    endpoint = settings.endpoints["s3"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # common.aws clients use the SDK's endpoint variable in aws mode
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.setenv("LAKE_BUCKET_PREFIX", settings.lake_root)
    reset_settings_cache()
    glue = boto3.client("glue", **settings.boto3_kwargs("s3"))
    glue.create_database(DatabaseInput={"Name": settings.glue_database})
    glue.create_table(DatabaseName=settings.glue_database, TableInput={
        "Name": "matches", "PartitionKeys": [{"Name": "run_id", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "score", "Type": "double"}],
                              "Location": "s3://test-lake-gold/matches/"}})
    try:
        assert client.register_partitions("matches", [{"run_id": "2026-11-22Tw2"}]) == 1
        assert client.register_partitions("matches", [{"run_id": "2026-11-22Tw2"}]) == 0  # idempotent re-run
        (partition,) = glue.get_partitions(DatabaseName=settings.glue_database, TableName="matches")["Partitions"]
        assert partition["Values"] == ["2026-11-22Tw2"]
        assert partition["StorageDescriptor"]["Location"] == "s3://test-lake-gold/matches/run_id=2026-11-22Tw2/"
        with pytest.raises(LakeClientError, match="partitioned by"):
            client.register_partitions("matches", [{"dt": "2026-11-22"}])
    finally:
        reset_settings_cache()

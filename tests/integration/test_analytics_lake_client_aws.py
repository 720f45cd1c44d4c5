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

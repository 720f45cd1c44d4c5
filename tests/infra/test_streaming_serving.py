"""Kinesis → Firehose (dynamic partitioning on event time) → raw; EventBridge bus; DynamoDB serving table."""

from __future__ import annotations

import pytest

from tests.infra.conftest import logical_id_of, one, render, resources_of

pytestmark = pytest.mark.unit


def test_event_stream_is_named_for_the_config_seam_and_kms_encrypted(platform):
    stream = one(platform, "AWS::Kinesis::Stream", Name="marketplace-events")["Properties"]
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    assert stream["RetentionPeriodHours"] >= 24


def test_firehose_partitions_raw_events_on_event_time_from_the_lambda(platform):
    delivery = one(platform, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    assert delivery["DeliveryStreamType"] == "KinesisStreamAsSource"
    s3 = delivery["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == ("events/event_type=!{partitionKeyFromLambda:event_type}/"
                            "dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/")
    assert "!{timestamp:" not in s3["Prefix"]  # arrival time must never decide the partition
    assert s3["ErrorOutputPrefix"].startswith("errors/dt=") and "!{firehose:error-output-type}" in s3[
        "ErrorOutputPrefix"]
    assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert s3["BufferingHints"]["SizeInMBs"] >= 64  # required with dynamic partitioning
    assert render(s3["BucketARN"], platform) == "arn:aws:s3:::marketplace-dev-${AWS::AccountId}-raw"
    assert s3["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"]
    processor = s3["ProcessingConfiguration"]["Processors"][0]
    assert s3["ProcessingConfiguration"]["Enabled"] is True and processor["Type"] == "Lambda"
    lambda_ref = next(p["ParameterValue"] for p in processor["Parameters"] if p["ParameterName"] == "LambdaArn")
    function = platform["Resources"][lambda_ref["Fn::GetAtt"][0]]["Properties"]
    assert function["Handler"] == "ingestion.lambda_transform.handler"


def test_firehose_role_writes_only_its_two_raw_prefixes(platform):
    delivery = one(platform, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    role_id = delivery["ExtendedS3DestinationConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    writes = []
    for policy in resources_of(platform, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:PutObject" in actions:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                writes += [render(r) for r in resources]
    assert writes and all(w.endswith(("/events/*", "/errors/*")) for w in writes)


def test_bus_archive_and_rule_route_contract_events_into_the_stream(platform):
    from stacks.lake_tables import EVENT_TYPES

    one(platform, "AWS::Events::EventBus", Name="marketplace-events")
    archive = one(platform, "AWS::Events::Archive")["Properties"]
    assert archive["RetentionDays"] == 30
    rule = one(platform, "AWS::Events::Rule", Name="marketplace-events-to-lake")["Properties"]
    assert set(rule["EventPattern"]["detail-type"]) == set(EVENT_TYPES)
    target = rule["Targets"][0]
    assert target["InputPath"] == "$.detail"  # the event itself, not the EventBridge envelope
    assert target["KinesisParameters"]["PartitionKeyPath"] == "$.detail.tenant_id"
    stream_id = logical_id_of(platform, "AWS::Kinesis::Stream", Name="marketplace-events")
    assert target["Arn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    dlq_id = logical_id_of(platform, "AWS::SQS::Queue", QueueName="marketplace-events-dlq")
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}


def test_match_table_matches_the_serving_contract(platform):
    table = one(platform, "AWS::DynamoDB::Table", TableName="marketplace-matches")["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "PK", "KeyType": "HASH"},
                                  {"AttributeName": "SK", "KeyType": "RANGE"}]
    gsi = table["GlobalSecondaryIndexes"]
    assert [g["IndexName"] for g in gsi] == ["gsi1"]
    assert gsi[0]["KeySchema"] == [{"AttributeName": "GSI1PK", "KeyType": "HASH"},
                                   {"AttributeName": "GSI1SK", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "PK": "S", "SK": "S", "GSI1PK": "S", "GSI1SK": "S"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEType"] == "KMS" and table["SSESpecification"]["KMSMasterKeyId"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"



def _policy_named(template, name):
    return one(template, "AWS::IAM::ManagedPolicy", ManagedPolicyName=name)["Properties"]


def test_each_configured_tenant_gets_a_reader_confined_to_its_leading_keys(platform):
    table_id = logical_id_of(platform, "AWS::DynamoDB::Table", TableName="marketplace-matches")
    for tenant in ("tenant-a", "tenant-b"):  # cdk.json's dev tenants
        statements = _policy_named(platform, f"marketplace-dev-{tenant}-serving-reader")["PolicyDocument"]["Statement"]
        reads = next(s for s in statements if s.get("Sid") == "ReadOwnTenantKeysOnly")
        assert reads["Effect"] == "Allow"
        assert sorted(reads["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]
        assert reads["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}  # not the index, no Scan
        assert reads["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"T#{tenant}#*"]}}
        decrypt = next(s for s in statements if s.get("Sid") == "DecryptThroughDynamoDB")
        assert decrypt["Action"] == "kms:Decrypt" and "kms:ViaService" in decrypt["Condition"]["StringEquals"]
        others = [s for s in statements if s.get("Sid") not in ("ReadOwnTenantKeysOnly", "DecryptThroughDynamoDB")]
        assert others == []


def test_a_tenant_whose_id_holds_the_key_separator_cannot_get_a_reader():
    from stacks.serving import tenant_key_prefix

    assert tenant_key_prefix("acme") == "T#acme#*"
    for bad in ("ac#me", ""):
        with pytest.raises(ValueError, match="separates key parts"):
            tenant_key_prefix(bad)

"""Bootstrap: the resources docs/contracts.md names, created idempotently on the stand-ins.

moto is in-memory, so this runs after every start; every step is a create-or-accept-existing or an upsert.
"""

from __future__ import annotations

import json
import logging

from common.config import EVENT_SOURCE_PREFIX, Settings, get_settings
from common.local_services.definitions import LocalServicesError, require_local
from common.local_services.health import client
from common.local_services.processes import wait_for

log = logging.getLogger("common.local_services")

# Landing queue: messages that fail this many receives go to the DLQ.
LANDING_MAX_RECEIVE_COUNT = 5


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _bootstrap_kinesis(settings: Settings, shards: int = 2) -> str:
    from botocore.exceptions import ClientError

    kinesis = client(settings, "kinesis")
    name = settings.kinesis_stream
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        outcome = "created"
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
        outcome = "exists"

    def active() -> bool:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return summary["StreamStatus"] == "ACTIVE"

    if not wait_for(active, 30.0, 0.1):
        raise LocalServicesError(f"Kinesis stream {name!r} did not become ACTIVE within 30s")
    open_shards = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "OpenShardCount"
    ]
    if open_shards != shards:
        log.warning("Kinesis stream %s has %d open shards (contract: %d)", name, open_shards, shards)
    return outcome


def serving_table_schema() -> dict:
    """CreateTable arguments of the single-table serving layout (PK/SK + GSI1 for job → candidates)."""
    keys = ("PK", "SK", "GSI1PK", "GSI1SK")
    return {
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"} for key in keys],
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def _bootstrap_dynamodb(settings: Settings) -> str:
    from botocore.exceptions import ClientError

    dynamodb = client(settings, "dynamodb")
    name = settings.dynamodb_table
    try:
        dynamodb.create_table(TableName=name, **serving_table_schema())
        outcome = "created"
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
        outcome = "exists"

    def active() -> bool:
        return dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"

    if not wait_for(active, 30.0, 0.1):
        raise LocalServicesError(f"DynamoDB table {name!r} did not become ACTIVE within 30s")
    indexes = {
        i["IndexName"]
        for i in dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
    }
    if "gsi1" not in indexes:
        raise LocalServicesError(
            f"DynamoDB table {name!r} exists without GSI 'gsi1' (made by an older bootstrap?): "
            "run `python -m common.local_services down`, delete <local_state_dir>/dynamodb, and run `up` again"
        )
    try:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
    except ClientError as exc:
        code = _error_code(exc)
        if code == "UnknownOperationException":
            # dynalite has no UpdateTimeToLive: items keep `expires_at`, only AWS enforces it.
            log.info("DynamoDB TTL on expires_at not supported by this stand-in (dynalite); skipped")
        elif code != "ValidationException" or "already enabled" not in str(exc):
            raise
    return outcome


def _bootstrap_sqs(settings: Settings) -> tuple[str, str]:
    """Landing queue + DLQ (redrive after LANDING_MAX_RECEIVE_COUNT receives). Returns (outcome, queue ARN)."""
    sqs = client(settings, "sqs")
    existing = set(sqs.list_queues(QueueNamePrefix=settings.landing_queue).get("QueueUrls", []))
    dlq_url = sqs.create_queue(QueueName=f"{settings.landing_queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(QueueName=settings.landing_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(LANDING_MAX_RECEIVE_COUNT)}
    # EventBridge may deliver to the queue (a no-op for moto, required by real SQS).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowEventBridge",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        ],
    }
    # set_queue_attributes is an upsert, unlike create_queue with attributes (which rejects a changed queue).
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(redrive), "Policy": json.dumps(policy)}
    )
    outcome = "exists" if queue_url in existing and dlq_url in existing else "created"
    return outcome, queue_arn


def _bootstrap_eventbridge(settings: Settings, queue_arn: str) -> str:
    from botocore.exceptions import ClientError

    events = client(settings, "events")
    try:
        events.create_event_bus(Name=settings.event_bus)
        outcome = "created"
    except ClientError as exc:
        if _error_code(exc) != "ResourceAlreadyExistsException":
            raise
        outcome = "exists"
    rule = f"{settings.event_bus}-to-landing"
    # put_rule / put_targets are upserts.
    events.put_rule(
        Name=rule,
        EventBusName=settings.event_bus,
        EventPattern=json.dumps({"source": [{"prefix": EVENT_SOURCE_PREFIX}]}),
        State="ENABLED",
        Description=f"All {EVENT_SOURCE_PREFIX}* events to the SQS landing queue",
    )
    events.put_targets(
        Rule=rule, EventBusName=settings.event_bus, Targets=[{"Id": "landing-queue", "Arn": queue_arn}]
    )
    return outcome


def _bootstrap_glue(settings: Settings) -> str:
    from botocore.exceptions import ClientError

    glue = client(settings, "glue")
    try:
        glue.create_database(DatabaseInput={"Name": settings.glue_database})
        return "created"
    except ClientError as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise
        return "exists"


def bootstrap(settings: Settings | None = None) -> dict[str, str]:
    """Create (idempotently) the stream, table, queues, bus + rule and Glue database. Returns resource -> outcome."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    settings = settings or get_settings()
    require_local(settings)
    try:
        sqs_outcome, queue_arn = _bootstrap_sqs(settings)
        return {
            f"kinesis:{settings.kinesis_stream}": _bootstrap_kinesis(settings),
            f"dynamodb:{settings.dynamodb_table}": _bootstrap_dynamodb(settings),
            f"sqs:{settings.landing_queue}(+dlq)": sqs_outcome,
            f"events:{settings.event_bus}(+rule)": _bootstrap_eventbridge(settings, queue_arn),
            f"glue:{settings.glue_database}": _bootstrap_glue(settings),
        }
    except EndpointConnectionError as exc:
        raise LocalServicesError(
            f"cannot reach a local stand-in ({exc}): start them with `python -m common.local_services up`"
        ) from exc
    except (BotoCoreError, ClientError) as exc:
        raise LocalServicesError(
            f"bootstrap of the local resources failed: {exc}. `python -m common.local_services status` shows "
            "each stand-in; their logs are under <local_state_dir>/services/"
        ) from exc

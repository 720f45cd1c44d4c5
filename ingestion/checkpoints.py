"""Leases and Kinesis checkpoints in one DynamoDB table (the design of the Kinesis Client Library).

One item per resource a lander consumes — ``kinesis/<stream>/<shard>`` or ``sqs/<queue>`` — holding
``lease_owner``, ``lease_expires`` (epoch seconds) and, for a shard, ``checkpoint`` (the last sequence
number whose records are durable in the lake). Every write is conditional:

- a lander takes a resource only if nobody holds it, it holds it already, or the holder's lease has
  expired (a crashed or stalled lander); otherwise it skips that resource (``LeaseHeld``);
- a checkpoint moves (and the lease is renewed) only while the writer still owns the lease, so a
  zombie that lost its lease can never move a checkpoint past records another lander is reading
  (``LeaseLost`` stops it before its next write).

The table name comes from the configuration seam (``settings.ingestion_state_table``): dynalite
locally, the DynamoDB table infra/ creates in AWS — durable across workers, unlike a file in /tmp.
A checkpoint only moves after the files holding those records are durable, so a crash can repeat
records (removed later by the bronze dedupe) but never skip them.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from botocore.exceptions import ClientError

LEASE_SECONDS = 120
KEY = "resource"


class LeaseHeld(RuntimeError):
    """Another lander holds a live lease on the resource."""


class LeaseLost(RuntimeError):
    """This lander's lease was taken over (it expired): stop before writing anything more."""


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StateTable:
    """Conditional-write leases + checkpoints for one lander (``owner``)."""

    def __init__(self, dynamodb, table_name: str, owner: str | None = None,
                 lease_seconds: float = LEASE_SECONDS, clock=time.time):
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.owner = owner or new_owner_id()
        self.lease_seconds = lease_seconds
        self.clock = clock

    def ensure_table(self) -> None:
        """Create the table if it does not exist yet (the local stand-ins start empty; in AWS infra/
        creates it and this is a DescribeTable)."""
        try:
            self.dynamodb.describe_table(TableName=self.table_name)
            return
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        try:
            self.dynamodb.create_table(
                TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            )
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":  # another lander created it meanwhile
                raise
        deadline = time.monotonic() + 30
        while self.dynamodb.describe_table(TableName=self.table_name)["Table"]["TableStatus"] != "ACTIVE":
            if time.monotonic() > deadline:  # pragma: no cover - stand-in failure
                raise TimeoutError(f"DynamoDB table {self.table_name} not ACTIVE after 30s")
            time.sleep(0.1)

    def _values(self) -> dict:
        now = self.clock()
        return {":me": {"S": self.owner}, ":now": {"N": repr(now)}, ":exp": {"N": repr(now + self.lease_seconds)}}

    def acquire(self, resource: str) -> str | None:
        """Take the lease on ``resource``; returns its checkpoint (None: start from the beginning)."""
        try:
            item = self.dynamodb.update_item(
                TableName=self.table_name, Key={KEY: {"S": resource}},
                UpdateExpression="SET lease_owner = :me, lease_expires = :exp",
                ConditionExpression="attribute_not_exists(lease_owner) OR lease_owner = :me OR lease_expires < :now",
                ExpressionAttributeValues=self._values(), ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            raise LeaseHeld(f"{resource} is leased by another lander") from exc
        return item.get("checkpoint", {}).get("S")

    def renew(self, resource: str, checkpoint: str | None = None) -> None:
        """Extend the lease (and move the checkpoint) — only while this lander still owns it."""
        expression = "SET lease_expires = :exp" + (", checkpoint = :seq" if checkpoint is not None else "")
        values = self._values()
        del values[":now"]
        if checkpoint is not None:
            values[":seq"] = {"S": checkpoint}
        try:
            self.dynamodb.update_item(
                TableName=self.table_name, Key={KEY: {"S": resource}}, UpdateExpression=expression,
                ConditionExpression="lease_owner = :me", ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            raise LeaseLost(f"{resource}: lease lost to another lander; stopping before the next write") from exc

    def release(self, resource: str) -> None:
        """Give the lease up (the checkpoint stays) so the next lander need not wait for it to expire."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name, Key={KEY: {"S": resource}},
                UpdateExpression="REMOVE lease_owner, lease_expires", ConditionExpression="lease_owner = :me",
                ExpressionAttributeValues={":me": {"S": self.owner}},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def checkpoint(self, resource: str) -> str | None:
        item = self.dynamodb.get_item(TableName=self.table_name, Key={KEY: {"S": resource}},
                                      ConsistentRead=True).get("Item", {})
        return item.get("checkpoint", {}).get("S")


def shard_resource(stream_name: str, shard_id: str) -> str:
    return f"kinesis/{stream_name}/{shard_id}"


def queue_resource(queue_name: str) -> str:
    return f"sqs/{queue_name}"

"""Private ingestion channels (stream, bus, rule → queue) for benchmarks and tests.

The platform's own resources are created by ``common.local_services`` (locally) and infra/ (AWS);
this helper makes throw-away copies with the same wiring so a benchmark or a test never reads
records that another run left on the shared stream.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from common.aws import client
from common.config import EVENT_SOURCE_PREFIX


@dataclass(frozen=True)
class Channels:
    stream: str
    bus: str
    queue: str
    queue_url: str


def create_channels(name: str, shards: int = 2, timeout: float = 30.0) -> Channels:
    kinesis, sqs, events = client("kinesis"), client("sqs"), client("events")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + timeout
    while kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream {name} not ACTIVE after {timeout}s")
        time.sleep(0.1)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name=name)
    events.put_rule(Name=name, EventBusName=name,
                    EventPattern=json.dumps({"source": [{"prefix": EVENT_SOURCE_PREFIX}]}))
    events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "landing-queue", "Arn": queue_arn}])
    return Channels(stream=name, bus=name, queue=name, queue_url=queue_url)


def delete_channels(channels: Channels) -> None:
    events = client("events")
    events.remove_targets(Rule=channels.bus, EventBusName=channels.bus, Ids=["landing-queue"])
    events.delete_rule(Name=channels.bus, EventBusName=channels.bus)
    events.delete_event_bus(Name=channels.bus)
    client("sqs").delete_queue(QueueUrl=channels.queue_url)
    client("kinesis").delete_stream(StreamName=channels.stream)

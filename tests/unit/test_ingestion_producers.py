"""Producers: service limits, retry of only the failed records, throttling, no silent drops."""

from __future__ import annotations

import json
import random

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ingestion.producers import (
    EVENTBRIDGE_MAX_ENTRIES,
    KINESIS_MAX_RECORDS,
    KINESIS_MAX_REQUEST_BYTES,
    Backoff,
    DeliveryError,
    EventBridgeProducer,
    KinesisProducer,
    OutboundRecord,
    encode_event,
)

pytestmark = pytest.mark.unit


def records(n: int, size: int = 20) -> list[OutboundRecord]:
    return [OutboundRecord(data=f"{i:08d}".encode().ljust(size, b"x"), partition_key=f"k{i}") for i in range(n)]


class FakeKinesis:
    """Fails chosen records (by data) a given number of times, or throttles whole requests."""

    def __init__(self, fail_times: dict[bytes, int] | None = None, throttle_requests: int = 0, code="ProvisionedThroughputExceededException"):
        self.fail_times = dict(fail_times or {})
        self.throttle_requests = throttle_requests
        self.code = code
        self.calls: list[list[bytes]] = []
        self.delivered: list[bytes] = []

    def put_records(self, StreamName, Records):
        self.calls.append([r["Data"] for r in Records])
        if self.throttle_requests:
            self.throttle_requests -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutRecords")
        out = []
        for record in Records:
            left = self.fail_times.get(record["Data"], 0)
            if left:
                self.fail_times[record["Data"]] = left - 1
                out.append({"ErrorCode": self.code, "ErrorMessage": "rate exceeded"})
            else:
                self.delivered.append(record["Data"])
                out.append({"SequenceNumber": str(len(self.delivered)), "ShardId": "shardId-0"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in out), "Records": out}


def no_sleep_backoff(max_attempts: int = 5) -> tuple[Backoff, list[float]]:
    slept: list[float] = []
    return Backoff(base_seconds=0.1, cap_seconds=1.0, max_attempts=max_attempts, sleep=slept.append,
                   rng=random.Random(7)), slept


def test_batches_respect_the_500_record_limit():
    fake = FakeKinesis()
    report = KinesisProducer(fake, "s", no_sleep_backoff()[0], concurrency=1).put(records(1234))
    assert [len(c) for c in fake.calls] == [500, 500, 234]
    assert report.sent == 1234 and len(fake.delivered) == 1234


def test_batches_respect_the_5_mib_request_limit():
    fake = FakeKinesis()
    big = records(12, size=900_000)  # 12 x ~0.9 MB: 5 fit under 5 MiB
    KinesisProducer(fake, "s", no_sleep_backoff()[0], concurrency=1).put(big)
    assert [len(c) for c in fake.calls] == [5, 5, 2]
    assert all(sum(len(d) + 3 for d in call) <= KINESIS_MAX_REQUEST_BYTES for call in fake.calls)


def test_partial_failure_retries_only_the_failed_records_with_backoff():
    batch = records(10)
    failing = {batch[2].data: 1, batch[7].data: 2}
    fake = FakeKinesis(fail_times=failing)
    backoff, slept = no_sleep_backoff()
    report = KinesisProducer(fake, "s", backoff, concurrency=1).put(batch)
    assert [len(c) for c in fake.calls] == [10, 2, 1]
    assert fake.calls[1] == [batch[2].data, batch[7].data] and fake.calls[2] == [batch[7].data]
    assert sorted(fake.delivered) == sorted(r.data for r in batch)  # each exactly once
    assert report.sent == 10 and report.retried_records == 3
    assert len(slept) == 2 and all(0 <= s <= 1.0 for s in slept)  # jittered, capped


def test_whole_request_throttling_is_retried():
    fake = FakeKinesis(throttle_requests=2)
    report = KinesisProducer(fake, "s", no_sleep_backoff()[0], concurrency=1).put(records(3))
    assert report.sent == 3 and report.throttled_requests == 2 and len(fake.calls) == 3


def test_exhausted_retries_raise_with_the_undelivered_records():
    batch = records(4)
    fake = FakeKinesis(fail_times={batch[1].data: 99})
    with pytest.raises(DeliveryError) as caught:
        KinesisProducer(fake, "s", no_sleep_backoff(max_attempts=3)[0], concurrency=1).put(batch)
    assert [r.data for r, _ in caught.value.undelivered] == [batch[1].data]
    assert caught.value.undelivered[0][1] == "ProvisionedThroughputExceededException"
    assert len(fake.delivered) == 3


def test_non_throttling_client_errors_propagate():
    class Broken:
        def put_records(self, **_):
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, "PutRecords")

    with pytest.raises(ClientError):
        KinesisProducer(Broken(), "s", no_sleep_backoff()[0], concurrency=1).put(records(1))


def test_a_record_over_1_mib_is_refused_before_sending_anything():
    fake = FakeKinesis()
    with pytest.raises(DeliveryError, match="exceed"):
        KinesisProducer(fake, "s", no_sleep_backoff()[0], concurrency=1).put(records(2) + [OutboundRecord(b"x" * (1024 * 1024 + 1), "k")])
    assert fake.calls == []


def test_kinesis_producer_with_botocore_stubber():
    client = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    batch = records(2)
    with Stubber(client) as stub:
        stub.add_response("put_records", {"FailedRecordCount": 1, "Records": [
            {"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow"}]},
            {"StreamName": "s", "Records": [{"Data": r.data, "PartitionKey": r.partition_key} for r in batch]})
        stub.add_response("put_records", {"Records": [{"SequenceNumber": "2", "ShardId": "shardId-000000000000"}]},
                          {"StreamName": "s", "Records": [{"Data": batch[1].data, "PartitionKey": batch[1].partition_key}]})
        report = KinesisProducer(client, "s", no_sleep_backoff()[0], concurrency=1).put(batch)
        stub.assert_no_pending_responses()
    assert report.sent == 2 and report.requests == 2


class FakeEventBridge:
    def __init__(self, fail_codes: dict[str, list[str]] | None = None):
        self.fail_codes = {k: list(v) for k, v in (fail_codes or {}).items()}
        self.calls: list[list[dict]] = []

    def put_events(self, Entries):
        self.calls.append(Entries)
        out = []
        for entry in Entries:
            codes = self.fail_codes.get(entry["Detail"])
            out.append({"ErrorCode": codes.pop(0), "ErrorMessage": "x"} if codes else {"EventId": "e"})
        return {"FailedEntryCount": sum("ErrorCode" in e for e in out), "Entries": out}


def event_records(n: int, size: int = 50) -> list[OutboundRecord]:
    return [OutboundRecord(json.dumps({"i": i, "pad": "x" * size}).encode(), f"k{i}", "job_posted", "marketplace.employer-service")
            for i in range(n)]


def test_eventbridge_batches_by_10_entries_and_256_kib():
    fake = FakeEventBridge()
    EventBridgeProducer(fake, "bus", no_sleep_backoff()[0], concurrency=1).put(event_records(25))
    assert [len(c) for c in fake.calls] == [10, 10, 5]
    fake = FakeEventBridge()
    EventBridgeProducer(fake, "bus", no_sleep_backoff()[0], concurrency=1).put(event_records(6, size=60_000))
    assert [len(c) for c in fake.calls] == [4, 2]
    assert max(len(c) for c in fake.calls) <= EVENTBRIDGE_MAX_ENTRIES
    assert fake.calls[0][0]["Source"] == "marketplace.employer-service" and fake.calls[0][0]["EventBusName"] == "bus"


def test_eventbridge_retries_throttled_entries_and_hands_back_malformed_ones():
    batch = event_records(3)
    fake = FakeEventBridge({batch[0].data.decode(): ["ThrottlingException"], batch[2].data.decode(): ["MalformedDetail"]})
    with pytest.raises(DeliveryError) as caught:
        EventBridgeProducer(fake, "bus", no_sleep_backoff()[0], concurrency=1).put(batch)
    assert [len(c) for c in fake.calls] == [3, 1]  # only the throttled entry is retried
    assert [(r.data, code) for r, code in caught.value.undelivered] == [(batch[2].data, "MalformedDetail")]


def test_encode_event_keys_by_tenant_and_entity():
    record = encode_event({"event_id": "e", "event_type": "match_clicked", "tenant_id": "t",
                           "producer": "p", "payload": {"candidate_id": "c9", "job_id": "j"}})
    assert record.partition_key == "t#c9"
    assert json.loads(record.data)["payload"]["candidate_id"] == "c9"
    assert KINESIS_MAX_RECORDS == 500


def test_eventbridge_source_follows_the_one_convention():
    from common.config import EVENT_SOURCE_PREFIX
    from ingestion.producers import event_source

    record = encode_event({"event_id": "e", "event_type": "job_posted", "tenant_id": "t",
                           "producer": "employer-service", "payload": {"job_id": "j"}})
    assert record.source == f"{EVENT_SOURCE_PREFIX}employer-service"
    assert event_source("marketplace.employer-service") == "marketplace.employer-service"  # never doubled
    assert event_source(None).startswith(EVENT_SOURCE_PREFIX)


class OverlapMeter:
    """Counts requests in flight at once; each request waits until a second one has arrived (or 2 s)."""

    def __init__(self):
        import threading

        self.lock, self.inflight, self.peak = threading.Lock(), 0, 0
        self.second = threading.Event()

    def __enter__(self):
        with self.lock:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
            if self.inflight >= 2:
                self.second.set()
        self.second.wait(2.0)

    def __exit__(self, *exc):
        with self.lock:
            self.inflight -= 1


class ConcurrentFakeKinesis(FakeKinesis):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.meter = OverlapMeter()

    def put_records(self, StreamName, Records):
        with self.meter:
            return super().put_records(StreamName, Records)


def test_kinesis_lanes_send_at_once_and_keep_each_partition_keys_order():
    keyed = [OutboundRecord(f"{key}:{n:04d}".encode(), key) for n in range(300) for key in ("t#a", "t#b", "t#c", "t#d")]
    fake = ConcurrentFakeKinesis(fail_times={keyed[5].data: 1, keyed[801].data: 2})
    report = KinesisProducer(fake, "s", no_sleep_backoff()[0], concurrency=4).put(keyed)
    assert fake.meter.peak >= 2  # requests overlapped
    assert report.sent == 1200 and sorted(fake.delivered) == sorted(r.data for r in keyed)  # each exactly once
    assert report.retried_records == 3 and report.requests == len(fake.calls)
    assert max(len(call) for call in fake.calls) <= KINESIS_MAX_RECORDS
    retried = {keyed[5].data, keyed[801].data}  # PutRecords delivers a retried record after its batch's others
    for key in ("t#a", "t#b", "t#c", "t#d"):  # otherwise one key's records arrive in the order they were put
        sent = [d for d in fake.delivered if d.startswith(key.encode()) and d not in retried]
        assert sent == sorted(sent), key


def test_eventbridge_batches_go_out_at_once_and_failures_still_come_back():
    class ConcurrentFakeEventBridge(FakeEventBridge):
        meter = OverlapMeter()

        def put_events(self, Entries):
            with self.meter:
                return super().put_events(Entries)

    batch = event_records(40)
    fake = ConcurrentFakeEventBridge({batch[3].data.decode(): ["ThrottlingException"],
                                      batch[37].data.decode(): ["MalformedDetail"]})
    with pytest.raises(DeliveryError) as caught:
        EventBridgeProducer(fake, "bus", no_sleep_backoff()[0], concurrency=4).put(batch)
    assert fake.meter.peak >= 2
    assert sorted(len(c) for c in fake.calls) == [1, 10, 10, 10, 10]  # four batches at once, one retry
    assert [(r.data, code) for r, code in caught.value.undelivered] == [(batch[37].data, "MalformedDetail")]

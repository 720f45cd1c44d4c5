"""Producers the app services use: Kinesis PutRecords and EventBridge PutEvents, batched within the
service limits, retrying only what failed (exponential backoff, full jitter), never dropping silently.

Anything still undelivered after the last attempt raises ``DeliveryError`` carrying those records, so
the caller can keep them (outbox) or fail loudly. Records bigger than the service accepts at all are
refused up front with the same error, before anything is sent.

Requests go out on ``concurrency`` lanes at once (a request waits on the service far longer than it
takes to build): Kinesis records are laned by partition key, so one key's records are still sent in
order, one request after the other; EventBridge promises no order, its batches are dealt round-robin.
"""

from __future__ import annotations

import json
import logging
import random
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from common.config import EVENT_SOURCE_PREFIX

log = logging.getLogger(__name__)

# Service limits (AWS docs): PutRecords 500 records / 5 MiB per call, 1 MiB per record incl. key;
# PutEvents 10 entries / 256 KiB per call.
KINESIS_MAX_RECORDS = 500
KINESIS_MAX_REQUEST_BYTES = 5 * 1024 * 1024
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
EVENTBRIDGE_MAX_ENTRIES = 10
EVENTBRIDGE_MAX_REQUEST_BYTES = 256 * 1024
# Requests in flight at once per put() (boto3 clients are thread-safe; urllib3 pools 10 connections).
DEFAULT_CONCURRENCY = 4
RETRYABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "InternalFailure",
    "InternalFailureException",
    "ServiceUnavailable",
    "KMSThrottlingException",
    "LimitExceededException",
}


@dataclass(frozen=True)
class OutboundRecord:
    """One record to send: raw bytes (normally an encoded event) and its partition/ordering key."""

    data: bytes
    partition_key: str
    detail_type: str = "unknown"  # EventBridge only
    source: str = f"{EVENT_SOURCE_PREFIX}unknown"  # EventBridge only


def event_source(producer: str | None) -> str:
    """The EventBridge ``Source`` of an app event: ``marketplace.<producer>`` (the convention the lake's
    rule matches, common.config.EVENT_SOURCE_PREFIX), whichever service sends it."""
    name = str(producer or "unknown")
    return name if name.startswith(EVENT_SOURCE_PREFIX) else f"{EVENT_SOURCE_PREFIX}{name}"


def encode_event(event: dict) -> OutboundRecord:
    """Compact JSON; partition by tenant + entity so one entity's events stay ordered on one shard."""
    payload = event.get("payload") or {}
    entity = next(
        (payload[k] for k in ("candidate_id", "job_id", "application_id", "recipient_id") if payload.get(k)),
        event.get("event_id", ""),
    )
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return OutboundRecord(
        data=data,
        partition_key=f"{event.get('tenant_id')}#{entity}"[:256],
        detail_type=str(event.get("event_type") or "unknown"),
        source=event_source(event.get("producer")),
    )


class DeliveryError(RuntimeError):
    """Some records could not be delivered; ``undelivered`` holds them with their last error code."""

    def __init__(self, message: str, undelivered: list[tuple[OutboundRecord, str]]):
        super().__init__(message)
        self.undelivered = undelivered


@dataclass
class DeliveryReport:
    sent: int = 0
    requests: int = 0
    retried_records: int = 0
    throttled_requests: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)

    def merge(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.requests += other.requests
        self.retried_records += other.retried_records
        self.throttled_requests += other.throttled_requests
        for code, count in other.error_codes.items():
            self.error_codes[code] = self.error_codes.get(code, 0) + count

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "requests": self.requests,
            "retried_records": self.retried_records,
            "throttled_requests": self.throttled_requests,
            "error_codes": dict(self.error_codes),
        }


@dataclass
class Backoff:
    """Exponential backoff with full jitter (sleep ~ U(0, min(cap, base * 2**attempt)))."""

    base_seconds: float = 0.05
    cap_seconds: float = 5.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def wait(self, attempt: int) -> float:
        delay = self.rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))
        self.sleep(delay)
        return delay


def batches(records: Sequence, size_of: Callable, max_count: int, max_bytes: int) -> Iterable[list]:
    """Greedy batches that respect both a count and a byte budget."""
    batch: list = []
    batch_bytes = 0
    for record in records:
        size = size_of(record)
        if batch and (len(batch) >= max_count or batch_bytes + size > max_bytes):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(record)
        batch_bytes += size
    if batch:
        yield batch


def _kinesis_size(record: OutboundRecord) -> int:
    return len(record.data) + len(record.partition_key.encode("utf-8"))


def _eventbridge_size(record: OutboundRecord) -> int:
    # PutEvents entry size as AWS computes it: 14 bytes for Time + Source + DetailType + Detail.
    return 14 + len(record.source.encode()) + len(record.detail_type.encode()) + len(record.data)


def _throttled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in RETRYABLE_CODES


class _RetryingProducer:
    max_count: int
    max_request_bytes: int
    max_record_bytes: int
    service: str

    def __init__(self, client, backoff: Backoff | None = None, concurrency: int = DEFAULT_CONCURRENCY):
        self.client = client
        self.backoff = backoff or Backoff()
        self.concurrency = max(1, concurrency)

    def _lanes(self, records: Sequence[OutboundRecord]) -> list[list[list[OutboundRecord]]]:
        """Batches per lane; a lane's batches are sent one after the other. Default: batches round-robin."""
        lanes: list[list[list[OutboundRecord]]] = [[] for _ in range(self.concurrency)]
        for index, batch in enumerate(batches(records, self._size, self.max_count, self.max_request_bytes)):
            lanes[index % self.concurrency].append(batch)
        return [lane for lane in lanes if lane]

    def _size(self, record: OutboundRecord) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _send(self, batch: list[OutboundRecord]) -> list[str | None]:  # pragma: no cover - abstract
        """Send one request; return one error code (or None on success) per record."""
        raise NotImplementedError

    def put(self, records: Sequence[OutboundRecord]) -> DeliveryReport:
        report = DeliveryReport()
        too_big = [(r, "RecordTooLarge") for r in records if self._size(r) > self.max_record_bytes]
        if too_big:
            raise DeliveryError(
                f"{len(too_big)} record(s) exceed the {self.service} limit of {self.max_record_bytes} bytes; "
                "nothing was sent",
                too_big,
            )
        lanes = self._lanes(records)
        lane_reports = [DeliveryReport() for _ in lanes]

        def send_lane(index: int) -> list[tuple[OutboundRecord, str]]:
            return [failed for batch in lanes[index] for failed in self._deliver(batch, lane_reports[index])]

        if len(lanes) <= 1:
            undelivered = [failed for index in range(len(lanes)) for failed in send_lane(index)]
        else:
            with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix=f"{self.service}-put") as pool:
                undelivered = [failed for lane in pool.map(send_lane, range(len(lanes))) for failed in lane]
        for lane_report in lane_reports:
            report.merge(lane_report)
        if undelivered:
            raise DeliveryError(
                f"{len(undelivered)} of {len(records)} record(s) undelivered to {self.service} after "
                f"{self.backoff.max_attempts} attempts (codes: {sorted({c for _, c in undelivered})})",
                undelivered,
            )
        return report

    def _deliver(self, batch: list[OutboundRecord], report: DeliveryReport) -> list[tuple[OutboundRecord, str]]:
        pending = batch
        codes: list[str] = []
        permanent: list[tuple[OutboundRecord, str]] = []
        for attempt in range(self.backoff.max_attempts):
            if attempt:
                self.backoff.wait(attempt)
            report.requests += 1
            try:
                results = self._send(pending)
            except ClientError as exc:
                if not _throttled(exc):
                    raise
                report.throttled_requests += 1
                code = exc.response["Error"]["Code"]
                report.error_codes[code] = report.error_codes.get(code, 0) + len(pending)
                codes = [code] * len(pending)
                continue
            failed = [(rec, code) for rec, code in zip(pending, results, strict=True) if code]
            report.sent += len(pending) - len(failed)
            for _, code in failed:
                report.error_codes[code] = report.error_codes.get(code, 0) + 1
            # A malformed entry fails the same way every time: hand it back now instead of retrying.
            permanent.extend((rec, code) for rec, code in failed if code not in RETRYABLE_CODES)
            failed = [(rec, code) for rec, code in failed if code in RETRYABLE_CODES]
            if not failed:
                return permanent
            report.retried_records += len(failed)
            log.warning("%s: %d of %d records failed (attempt %d), retrying only those",
                        self.service, len(failed), len(pending), attempt + 1)
            pending = [rec for rec, _ in failed]
            codes = [code for _, code in failed]
        return permanent + list(zip(pending, codes, strict=True))


class KinesisProducer(_RetryingProducer):
    max_count = KINESIS_MAX_RECORDS
    max_request_bytes = KINESIS_MAX_REQUEST_BYTES
    max_record_bytes = KINESIS_MAX_RECORD_BYTES
    service = "kinesis"

    def __init__(self, client, stream_name: str, backoff: Backoff | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY):
        super().__init__(client, backoff, concurrency)
        self.stream_name = stream_name

    def _size(self, record: OutboundRecord) -> int:
        return _kinesis_size(record)

    def _lanes(self, records: Sequence[OutboundRecord]) -> list[list[list[OutboundRecord]]]:
        """One lane per partition-key hash: a key's records keep their order (Kinesis orders per key only
        for requests sent one after another)."""
        by_lane: list[list[OutboundRecord]] = [[] for _ in range(self.concurrency)]
        for record in records:
            by_lane[zlib.crc32(record.partition_key.encode("utf-8")) % self.concurrency].append(record)
        return [list(batches(lane, self._size, self.max_count, self.max_request_bytes)) for lane in by_lane if lane]

    def _send(self, batch: list[OutboundRecord]) -> list[str | None]:
        response = self.client.put_records(
            StreamName=self.stream_name,
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in batch],
        )
        return [entry.get("ErrorCode") for entry in response["Records"]]


class EventBridgeProducer(_RetryingProducer):
    max_count = EVENTBRIDGE_MAX_ENTRIES
    max_request_bytes = EVENTBRIDGE_MAX_REQUEST_BYTES
    max_record_bytes = EVENTBRIDGE_MAX_REQUEST_BYTES
    service = "eventbridge"

    def __init__(self, client, bus_name: str, backoff: Backoff | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY):
        super().__init__(client, backoff, concurrency)
        self.bus_name = bus_name

    def _size(self, record: OutboundRecord) -> int:
        return _eventbridge_size(record)

    def _send(self, batch: list[OutboundRecord]) -> list[str | None]:
        response = self.client.put_events(
            Entries=[
                {
                    "EventBusName": self.bus_name,
                    "Source": r.source,
                    "DetailType": r.detail_type,
                    "Detail": r.data.decode("utf-8"),
                }
                for r in batch
            ]
        )
        return [entry.get("ErrorCode") for entry in response["Entries"]]

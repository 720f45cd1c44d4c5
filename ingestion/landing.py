"""Local landing consumer with Firehose semantics: Kinesis (every shard) + SQS (EventBridge rule) → raw zone.

In AWS this is Firehose with dynamic partitioning and ``ingestion.lambda_transform``; here one
process does the same job with the same routing code and the same output layout:

- buffering by size and by time, then one file per event-time partition and flush, named
  ``<source>-<first-seq>.jsonl`` (deterministic: a re-read after a crash rewrites the same name);
- records that cannot be routed go to ``raw/errors/dt=<run_date>/`` with a reason;
- Kinesis positions are checkpointed per shard only after the files are durable; SQS messages are
  deleted only after the files are durable. A crash therefore repeats records (deduped in bronze on
  event_id) and never loses them.

CLI: ``python -m ingestion.landing --run-date YYYY-MM-DD``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from tqdm import tqdm

from common.aws import client as aws_client
from common.config import get_settings
from ingestion import lake_io
from ingestion.checkpoints import ShardCheckpoints
from ingestion.routing import LOOKBACK_DAYS, Routed, Unroutable, route_record

log = logging.getLogger(__name__)

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024  # Firehose's default buffering hint (5 MiB / 300 s)
DEFAULT_BUFFER_SECONDS = 60.0
GET_RECORDS_LIMIT = 10_000
# Undeleted messages stay in flight (invisible) and every receive has to skip them; bound how many
# wait for a size/age flush (and stay well within the visibility timeout).
MAX_INFLIGHT_MESSAGES = 500


class LandingError(RuntimeError):
    """The stream or queue to drain is missing; the message names the fix."""


# SQS may redeliver a message whose first copy was already written and deleted (a failed delete):
# queue-fed files carry a digest of their message ids so such a file can never overwrite another one.
# Kinesis files need none: a shard re-read starts at the checkpoint, so a same-named file is a superset.
DIGEST_SOURCES = {"eventbridge"}


@dataclass
class _Group:
    source: str
    first_seq: str
    lines: list[str] = field(default_factory=list)
    ids: Any = field(default_factory=hashlib.sha256)  # running digest of the sequence numbers

    @property
    def name(self) -> str:
        suffix = f"-{self.ids.hexdigest()[:12]}" if self.source in DIGEST_SOURCES else ""
        return f"{self.source}-{self.first_seq}{suffix}.jsonl"


class PartitionedBuffer:
    """Firehose-style buffer: records grouped by destination prefix, flushed by size or age."""

    def __init__(self, raw_root: str, errors_dt: str, max_bytes: int, max_seconds: float, clock=time.monotonic):
        self.raw_root = raw_root.rstrip("/")
        self.errors_dt = errors_dt
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.clock = clock
        self._groups: dict[str, _Group] = {}
        self._bytes = 0
        self._opened_at: float | None = None
        self.counts: Counter = Counter()

    def add(self, source: str, seq: str, routed: Routed | Unroutable, arrived_at: dt.datetime) -> None:
        if isinstance(routed, Routed):
            prefix, line = f"events/{routed.partition}", routed.line
            self.counts["routed"] += 1
        else:
            prefix, line = f"errors/dt={self.errors_dt}", routed.error_line(source, arrived_at)
            self.counts["errors"] += 1
            self.counts[f"error:{routed.reason}"] += 1
        group = self._groups.get(prefix)
        if group is None:
            group = self._groups[prefix] = _Group(source=source, first_seq=seq)
        group.lines.append(line)
        group.ids.update(seq.encode() + b"\n")
        self._bytes += len(line) + 1
        if self._opened_at is None:
            self._opened_at = self.clock()

    def due(self) -> bool:
        if not self._groups:
            return False
        return self._bytes >= self.max_bytes or (self.clock() - (self._opened_at or 0.0)) >= self.max_seconds

    def flush(self) -> int:
        """Write every group as one file; returns files written. Durable when this returns."""
        written = 0
        for prefix, group in sorted(self._groups.items()):
            body = ("\n".join(group.lines) + "\n").encode("utf-8")
            lake_io.write_bytes(f"{self.raw_root}/{prefix}/{group.name}", body)
            written += 1
        self.counts["files"] += written
        self._groups.clear()
        self._bytes = 0
        self._opened_at = None
        return written


def _end_of_day(run_date: str) -> dt.datetime:
    """The last instant of the run date: the latest a record of this run could have arrived."""
    day = dt.date.fromisoformat(run_date)
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)


def _list_shards(kinesis, stream_name: str) -> list[str]:
    shards, token = [], None
    while True:
        response = kinesis.list_shards(NextToken=token) if token else kinesis.list_shards(StreamName=stream_name)
        shards.extend(shard["ShardId"] for shard in response["Shards"])
        token = response.get("NextToken")
        if not token:
            return shards


def _commit_checkpoint(checkpoints: ShardCheckpoints, shard_id: str, sequence_number: str) -> None:
    """Separate so tests can kill the consumer exactly between the durable write and the commit."""
    checkpoints.commit(shard_id, sequence_number)


def _delete_messages(sqs, queue_url: str, receipts: list[tuple[str, str]]) -> None:
    for start in range(0, len(receipts), 10):
        chunk = receipts[start : start + 10]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, (_, handle) in enumerate(chunk)]
        )
        if response.get("Failed"):
            # The files are durable; a message that comes back is deduped in bronze. Say so, do not fail.
            log.warning("SQS delete failed for %d message(s): %s", len(response["Failed"]), response["Failed"][:3])


def land_kinesis(kinesis, stream_name: str, buffer: PartitionedBuffer, checkpoints: ShardCheckpoints,
                 reference_time: dt.datetime, lookback_days: int) -> Counter:
    counts: Counter = Counter()
    for shard_id in _list_shards(kinesis, stream_name):
        position = checkpoints.get(shard_id)
        kwargs = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": position}
            if position else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = kinesis.get_shard_iterator(StreamName=stream_name, ShardId=shard_id, **kwargs)["ShardIterator"]
        source = f"kinesis-{shard_id}"
        last_seq: str | None = None
        with tqdm(desc=f"land {shard_id}", unit="rec", disable=None, leave=False) as progress:
            while iterator:
                response = kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
                records = response["Records"]
                for record in records:
                    arrived = record["ApproximateArrivalTimestamp"]
                    buffer.add(source, record["SequenceNumber"],
                               route_record(record["Data"], reference_time, lookback_days), arrived)
                    last_seq = record["SequenceNumber"]
                    if buffer.due():
                        buffer.flush()
                        _commit_checkpoint(checkpoints, shard_id, last_seq)
                counts["kinesis_records"] += len(records)
                progress.update(len(records))
                iterator = response.get("NextShardIterator")
                if not records:  # caught up with this shard
                    break
        if last_seq is not None:
            buffer.flush()
            _commit_checkpoint(checkpoints, shard_id, last_seq)
        counts["shards"] += 1
    return counts


def _unwrap_eventbridge(body: str) -> tuple[bytes, str]:
    """SQS body from an EventBridge rule -> (the event JSON bytes, the EventBridge id)."""
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError:
        return body.encode("utf-8"), ""
    if isinstance(envelope, dict) and "detail" in envelope and "detail-type" in envelope:
        return json.dumps(envelope["detail"], separators=(",", ":"), ensure_ascii=False).encode(), envelope.get("id", "")
    return body.encode("utf-8"), ""


def land_sqs(sqs, queue_name: str, buffer: PartitionedBuffer, reference_time: dt.datetime,
             lookback_days: int, visibility_timeout: int) -> Counter:
    counts: Counter = Counter()
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    pending: list[tuple[str, str]] = []  # (message id, receipt) not yet durable
    with tqdm(desc="land sqs", unit="msg", disable=None, leave=False) as progress:
        while True:
            response = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                VisibilityTimeout=visibility_timeout, AttributeNames=["SentTimestamp"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                data, event_id = _unwrap_eventbridge(message["Body"])
                sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", time.time() * 1000))
                arrived = dt.datetime.fromtimestamp(sent_ms / 1000, dt.UTC)
                seq = event_id or base64.b32encode(message["MessageId"].encode()).decode().rstrip("=").lower()[:32]
                buffer.add("eventbridge", seq, route_record(data, reference_time, lookback_days), arrived)
                pending.append((message["MessageId"], message["ReceiptHandle"]))
                if buffer.due() or len(pending) >= MAX_INFLIGHT_MESSAGES:
                    buffer.flush()
                    _delete_messages(sqs, queue_url, pending)
                    pending = []
            counts["sqs_messages"] += len(messages)
            progress.update(len(messages))
    if pending:
        buffer.flush()
        _delete_messages(sqs, queue_url, pending)
    return counts


def run_landing(
    run_date: str,
    *,
    stream_name: str | None = None,
    queue_name: str | None = None,
    max_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    max_buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
    visibility_timeout: int = 120,
    lookback_days: int = LOOKBACK_DAYS,
) -> dict:
    """Drain the stream and the landing queue into ``raw/``. Returns counts for the run summary."""
    settings = get_settings()
    started = time.perf_counter()
    stream_name = stream_name or settings.kinesis_stream
    queue_name = queue_name or settings.landing_queue
    reference_time = _end_of_day(run_date)
    buffer = PartitionedBuffer(settings.zone_uri("raw"), run_date, max_buffer_bytes, max_buffer_seconds)
    checkpoints = ShardCheckpoints.for_stream(settings.local_state_dir, stream_name)
    try:
        counts = land_kinesis(aws_client("kinesis"), stream_name, buffer, checkpoints, reference_time, lookback_days)
        counts += land_sqs(aws_client("sqs"), queue_name, buffer, reference_time, lookback_days, visibility_timeout)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise LandingError(
                f"{exc.operation_name}: {code} (stream {stream_name!r}, queue {queue_name!r}). Locally, start and "
                "bootstrap the stand-ins with `make services-up`; in AWS, deploy the stack (`make deploy`)."
            ) from exc
        raise
    counts.update(buffer.counts)
    result = {
        "kinesis_records": counts["kinesis_records"],
        "sqs_messages": counts["sqs_messages"],
        "records_in": counts["kinesis_records"] + counts["sqs_messages"],
        "routed": counts["routed"],
        "errors": counts["errors"],
        "files_written": counts["files"],
        "shards": counts["shards"],
        "errors_by_reason": {k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("error:")},
        "seconds": round(time.perf_counter() - started, 2),
    }
    if result["records_in"] != result["routed"] + result["errors"]:  # pragma: no cover - invariant
        raise RuntimeError(f"landing lost records: {result}")
    log.info("landing %s: %s", run_date, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Land Kinesis + EventBridge(SQS) events into raw/ (Firehose-style)")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--buffer-mb", type=float, default=DEFAULT_BUFFER_BYTES / 1024 / 1024)
    parser.add_argument("--buffer-seconds", type=float, default=DEFAULT_BUFFER_SECONDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run_landing(args.run_date, max_buffer_bytes=int(args.buffer_mb * 1024 * 1024),
                         max_buffer_seconds=args.buffer_seconds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Local landing consumer with Firehose semantics: Kinesis (every shard) + SQS (EventBridge rule) → raw zone.

In AWS this is Firehose with dynamic partitioning and ``ingestion.lambda_transform``; here one
process does the same job with the same routing code and the same output layout:

- every record is routed on its own event time, bounded by its *arrival* time (Kinesis
  ApproximateArrivalTimestamp, SQS SentTimestamp) as the Lambda does — not by the run date, so the
  23:00 run, a retry or a slow drain after midnight lands the next day's records in their partition;
- buffering by size and by time, then one file per event-time partition and flush, named
  ``<source>-<first-seq>-<digest of the batch's ids>.jsonl``: a re-read after a crash rewrites the
  same name, and a second lander's batch can never overwrite another one's file;
- records that cannot be routed go to ``raw/errors/dt=<run_date>/`` with a reason (a poison record —
  a lone surrogate, say — is one of those: it never stalls a shard or a queue);
- one lander per shard and per queue at a time: a DynamoDB lease (``ingestion.checkpoints``); Kinesis
  positions are checkpointed per shard in the same item only after the files are durable; SQS
  messages are deleted only after the files are durable; the queue's DLQ (if it has one) is drained
  the same way. A crash therefore repeats records (deduped in bronze) and never loses them.
- shards are read in parallel (one thread and one buffer each).

CLI: ``python -m ingestion.landing --run-date YYYY-MM-DD [--hour HH]``.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from common.aws import client as aws_client
from common.config import get_settings
from ingestion import lake_io
from ingestion.checkpoints import LeaseHeld, StateTable, queue_resource, shard_resource
from ingestion.contracts import EVENT_TYPES
from ingestion.routing import LOOKBACK_DAYS, Routed, Unroutable, route_record

log = logging.getLogger(__name__)

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024  # Firehose's default buffering hint (5 MiB / 300 s)
DEFAULT_BUFFER_SECONDS = 60.0
FLUSH_WRITERS = 8  # files of one flush written at once (fsync / S3 PUT bound)
GET_RECORDS_LIMIT = 10_000
# Undeleted messages stay in flight (invisible) and every receive has to skip them; bound how many
# wait for a size/age flush (and stay well within the visibility timeout).
MAX_INFLIGHT_MESSAGES = 500
DLQ_SUFFIX = "-dlq"  # the landing queue's dead-letter queue (common.local_services creates it locally)
QUEUE_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class LandingError(RuntimeError):
    """The stream or queue to drain is missing; the message names the fix."""


@dataclass
class _Group:
    source: str
    first_seq: str
    lines: list[str] = field(default_factory=list)
    ids: Any = field(default_factory=hashlib.sha256)  # running digest of the sequence numbers

    @property
    def name(self) -> str:
        # The digest: an SQS redelivery (a failed delete) or a zombie lander's batch can never overwrite
        # another batch's file; the same batch re-read after a crash gets the same name (idempotent).
        return f"{self.source}-{self.first_seq}-{self.ids.hexdigest()[:12]}.jsonl"


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
        """Write every group as one file; returns files written. Durable when this returns.

        The files are written at once: each one waits on its fsync (or its S3 PUT), not on the CPU."""
        groups = sorted(self._groups.items())

        def write(item: tuple[str, _Group]) -> None:
            prefix, group = item
            lake_io.write_bytes(f"{self.raw_root}/{prefix}/{group.name}", ("\n".join(group.lines) + "\n").encode("utf-8"))

        if len(groups) > 1:
            with ThreadPoolExecutor(max_workers=min(FLUSH_WRITERS, len(groups)), thread_name_prefix="flush") as pool:
                list(pool.map(write, groups))  # re-raises the first failure, after every write has finished
        else:
            for item in groups:
                write(item)
        written = len(groups)
        self.counts["files"] += written
        self._groups.clear()
        self._bytes = 0
        self._opened_at = None
        return written


def _list_shards(kinesis, stream_name: str) -> list[str]:
    shards, token = [], None
    while True:
        response = kinesis.list_shards(NextToken=token) if token else kinesis.list_shards(StreamName=stream_name)
        shards.extend(shard["ShardId"] for shard in response["Shards"])
        token = response.get("NextToken")
        if not token:
            return shards


def _commit_checkpoint(state: StateTable, resource: str, sequence_number: str) -> None:
    """Separate so tests can kill the consumer exactly between the durable write and the commit."""
    state.renew(resource, sequence_number)


def _delete_messages(sqs, queue_url: str, receipts: list[tuple[str, str]]) -> None:
    for start in range(0, len(receipts), 10):
        chunk = receipts[start : start + 10]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, (_, handle) in enumerate(chunk)]
        )
        if response.get("Failed"):
            # The files are durable; a message that comes back is deduped in bronze. Say so, do not fail.
            log.warning("SQS delete failed for %d message(s): %s", len(response["Failed"]), response["Failed"][:3])


def _as_utc(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def land_shard(kinesis, stream_name: str, shard_id: str, buffer: PartitionedBuffer, state: StateTable,
               not_before: dt.date, lookback_days: int) -> Counter:
    """Drain one shard from its checkpoint, holding its lease; skip it if another lander holds it."""
    counts: Counter = Counter()
    resource = shard_resource(stream_name, shard_id)
    try:
        position = state.acquire(resource)
    except LeaseHeld as exc:
        log.warning("%s: skipped", exc)
        counts["shards_leased_elsewhere"] += 1
        return counts
    try:
        kwargs = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": position}
            if position else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = kinesis.get_shard_iterator(StreamName=stream_name, ShardId=shard_id, **kwargs)["ShardIterator"]
        source = f"kinesis-{shard_id}"
        last_seq: str | None = None
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
            records = response["Records"]
            for record in records:
                arrived = _as_utc(record["ApproximateArrivalTimestamp"])
                buffer.add(source, record["SequenceNumber"],
                           route_record(record["Data"], arrived, lookback_days, not_before), arrived)
                last_seq = record["SequenceNumber"]
                if buffer.due():
                    buffer.flush()
                    _commit_checkpoint(state, resource, last_seq)
            counts["kinesis_records"] += len(records)
            iterator = response.get("NextShardIterator")
            if not records:  # caught up with this shard
                break
            state.renew(resource)  # still ours? (a lost lease stops us before the next write)
        if last_seq is not None:
            buffer.flush()
            _commit_checkpoint(state, resource, last_seq)
        counts["shards"] += 1
    finally:
        state.release(resource)
    return counts


def land_kinesis(kinesis, stream_name: str, new_buffer: Callable[[], PartitionedBuffer], state: StateTable,
                 not_before: dt.date, lookback_days: int, parallel: int = 4) -> Counter:
    """Every shard, ``parallel`` at a time, each with its own buffer (so its checkpoint covers its files)."""
    shards = _list_shards(kinesis, stream_name)
    buffers = {shard_id: new_buffer() for shard_id in shards}
    counts: Counter = Counter()
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(shards) or 1))) as pool:
        futures = [pool.submit(land_shard, kinesis, stream_name, shard_id, buffers[shard_id], state,
                               not_before, lookback_days) for shard_id in shards]
        for future in futures:
            counts += future.result()
    for buffer in buffers.values():
        counts.update(buffer.counts)
    return counts


def _unwrap_eventbridge(body: str) -> tuple[bytes, str]:
    """SQS body from an EventBridge rule -> (the event JSON bytes, the EventBridge id).

    Never raises: a body that cannot be encoded (a lone surrogate) is passed on as bytes that the
    routing rejects with a reason, instead of stalling the queue."""
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError:
        return body.encode("utf-8", "surrogatepass"), ""
    if isinstance(envelope, dict) and "detail" in envelope and "detail-type" in envelope:
        detail = envelope["detail"]
        try:
            data = json.dumps(detail, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            data = json.dumps(detail, separators=(",", ":")).encode("ascii")  # escapes kept for the routing
        return data, str(envelope.get("id", ""))
    return body.encode("utf-8", "surrogatepass"), ""


def land_sqs(sqs, queue_name: str, buffer: PartitionedBuffer, state: StateTable, not_before: dt.date,
             lookback_days: int, visibility_timeout: int) -> Counter:
    """Drain one queue while holding its lease; delete each message only after its file is durable."""
    counts: Counter = Counter()
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    resource = queue_resource(queue_name)
    try:
        state.acquire(resource)
    except LeaseHeld as exc:
        log.warning("%s: skipped", exc)
        counts["queues_leased_elsewhere"] += 1
        return counts
    pending: list[tuple[str, str]] = []  # (message id, receipt) not yet durable
    try:
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
                buffer.add("eventbridge", seq, route_record(data, arrived, lookback_days, not_before), arrived)
                pending.append((message["MessageId"], message["ReceiptHandle"]))
                if buffer.due() or len(pending) >= MAX_INFLIGHT_MESSAGES:
                    buffer.flush()
                    state.renew(resource)
                    _delete_messages(sqs, queue_url, pending)
                    pending = []
            counts["sqs_messages"] += len(messages)
        if pending:
            buffer.flush()
            state.renew(resource)
            _delete_messages(sqs, queue_url, pending)
    finally:
        state.release(resource)
    return counts


def _queue_exists(sqs, queue_name: str) -> bool:
    try:
        sqs.get_queue_url(QueueName=queue_name)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") in QUEUE_MISSING:
            return False
        raise


def run_landing(
    run_date: str,
    *,
    hour: str | int | None = None,
    stream_name: str | None = None,
    queue_name: str | None = None,
    max_buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    max_buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
    visibility_timeout: int = 120,
    lookback_days: int = LOOKBACK_DAYS,
    parallel_shards: int = 4,
) -> dict:
    """Drain the stream, the landing queue and its DLQ into ``raw/``. Returns counts for the run summary.

    ``hour`` (the hourly DAG's ``HH``) only labels the run: a drain lands everything that has arrived,
    and each record is bounded by its own arrival time, so which hour drains it does not matter."""
    if hour is not None and not (str(hour).isdigit() and 0 <= int(hour) <= 23):
        raise ValueError(f"hour must be 00..23, got {hour!r}")
    settings = get_settings()
    started = time.perf_counter()
    if settings.firehose_lands_stream:
        return firehose_delivery_report(run_date, hour)
    stream_name = stream_name or settings.kinesis_stream
    queue_name = queue_name or settings.landing_queue
    # The oldest event date the bronze→silver run after this landing still re-reads.
    not_before = dt.date.fromisoformat(run_date) - dt.timedelta(days=lookback_days)
    raw_root = settings.zone_uri("raw")

    def new_buffer() -> PartitionedBuffer:
        return PartitionedBuffer(raw_root, run_date, max_buffer_bytes, max_buffer_seconds)

    state = StateTable(aws_client("dynamodb"), settings.ingestion_state_table)
    queue_buffer = new_buffer()
    sqs = aws_client("sqs")
    try:
        state.ensure_table()

        def drain_queues() -> Counter:
            queued = land_sqs(sqs, queue_name, queue_buffer, state, not_before, lookback_days, visibility_timeout)
            dlq = f"{queue_name}{DLQ_SUFFIX}"
            if _queue_exists(sqs, dlq):
                # Messages that failed every receive (an old lander's crash on a poison record) land the same way.
                drained = land_sqs(sqs, dlq, queue_buffer, state, not_before, lookback_days, visibility_timeout)
                queued["dlq_messages"] += drained.pop("sqs_messages", 0)
                queued += drained
            return queued

        # The queue drains while the shards do: the two paths share nothing but the lease table.
        with ThreadPoolExecutor(max_workers=1) as pool:
            queues = pool.submit(drain_queues)
            counts = land_kinesis(aws_client("kinesis"), stream_name, new_buffer, state, not_before, lookback_days,
                                  parallel_shards)
            counts += queues.result()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFoundException", *QUEUE_MISSING):
            raise LandingError(
                f"{exc.operation_name}: {code} (stream {stream_name!r}, queue {queue_name!r}). Locally, start and "
                "bootstrap the stand-ins with `make services-up`; in AWS, deploy the stack (`make deploy`)."
            ) from exc
        raise
    counts.update(queue_buffer.counts)
    result = {
        "hour": None if hour is None else f"{int(hour):02d}",
        "kinesis_records": counts["kinesis_records"],
        "sqs_messages": counts["sqs_messages"],
        "dlq_messages": counts["dlq_messages"],
        "records_in": counts["kinesis_records"] + counts["sqs_messages"] + counts["dlq_messages"],
        "routed": counts["routed"],
        "errors": counts["errors"],
        "files_written": counts["files"],
        "shards": counts["shards"],
        "leased_elsewhere": counts["shards_leased_elsewhere"] + counts["queues_leased_elsewhere"],
        "errors_by_reason": {k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("error:")},
        "seconds": round(time.perf_counter() - started, 2),
    }
    if result["records_in"] != result["routed"] + result["errors"]:  # pragma: no cover - invariant
        raise RuntimeError(f"landing lost records: {result}")
    log.info("landing %s: %s", run_date, result)
    return result


def firehose_delivery_report(run_date: str, hour: str | int | None) -> dict:
    """Where Firehose consumes the stream (AWS), a second consumer would only land every record twice:
    the landing step reports what Firehose delivered for the run date (and hour) instead."""
    raw_root = get_settings().zone_uri("raw")
    hour_part = "" if hour is None else f"/hour={int(hour):02d}"
    files = [uri for event_type in EVENT_TYPES
             for uri in lake_io.list_files(f"{raw_root}/events/event_type={event_type}/dt={run_date}{hour_part}")]
    errors = lake_io.list_files(f"{raw_root}/errors/dt={run_date}")
    return {"hour": None if hour is None else f"{int(hour):02d}", "landed_by": "firehose",
            "files_delivered": len(files), "error_files": len(errors)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Land Kinesis + EventBridge(SQS) events into raw/ (Firehose-style)")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--hour", help="the hourly DAG's hour (00..23); labels the run")
    parser.add_argument("--buffer-mb", type=float, default=DEFAULT_BUFFER_BYTES / 1024 / 1024)
    parser.add_argument("--buffer-seconds", type=float, default=DEFAULT_BUFFER_SECONDS)
    parser.add_argument("--parallel-shards", type=int, default=4)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run_landing(args.run_date, hour=args.hour, max_buffer_bytes=int(args.buffer_mb * 1024 * 1024),
                         max_buffer_seconds=args.buffer_seconds, parallel_shards=args.parallel_shards)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Routing (shared by the local consumer and the Firehose Lambda), buffering, checkpoints."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from ingestion import lambda_transform
from ingestion.checkpoints import ShardCheckpoints
from ingestion.landing import PartitionedBuffer, land_kinesis
from ingestion.routing import MAX_RECORD_BYTES, Routed, Unroutable, normalise_error_line, route_record

pytestmark = pytest.mark.unit

REFERENCE = dt.datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=dt.UTC)  # end of run date 2026-11-22


def event(occurred_at="2026-11-22T10:15:00Z", event_type="match_clicked", **extra) -> bytes:
    body = {"event_id": "e1", "event_type": event_type, "schema_version": 1, "occurred_at": occurred_at,
            "tenant_id": "t", "producer": "p", "payload": {}, **extra}
    return json.dumps(body, indent=2).encode()  # pretty-printed on purpose: the line must be compacted


def test_routes_by_event_time_to_hive_partitions():
    routed = route_record(event(), REFERENCE)
    assert isinstance(routed, Routed)
    assert routed.partition == "event_type=match_clicked/dt=2026-11-22/hour=10"
    assert "\n" not in routed.line and json.loads(routed.line)["event_id"] == "e1"


def test_offsets_are_normalised_to_utc():
    routed = route_record(event("2026-11-22T01:30:00+05:00"), REFERENCE)
    assert (routed.dt, routed.hour) == ("2026-11-21", "20")


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"{oops", "malformed_json"),
        (b"[1,2,3]", "malformed_json"),
        (b"\xff\xfe\x00", "malformed_json"),
        (event(event_type="match_liked"), "unknown_event_type"),
        (event(event_type="../../etc"), "unknown_event_type"),
        (event(occurred_at="2026-11-22T10:15:00"), "invalid_timestamp"),
        (event(occurred_at=None), "invalid_timestamp"),
        (event(occurred_at="2026-11-26T00:00:00Z"), "future_timestamp"),
        (event(occurred_at="1999-12-31T23:59:59Z"), "ancient_timestamp"),
        (event(occurred_at="2026-11-19T23:59:59Z"), "ancient_timestamp"),
        (event(occurred_at="2026-11-23T00:16:00Z"), "future_timestamp"),
        (event(pad="x" * MAX_RECORD_BYTES), "oversized_record"),
    ],
)
def test_unroutable_records_get_a_reason(data, reason):
    routed = route_record(data, REFERENCE)
    assert isinstance(routed, Unroutable) and routed.reason == reason


def test_late_events_inside_the_lookback_window_are_accepted():
    assert isinstance(route_record(event("2026-11-20T00:00:00Z"), REFERENCE), Routed)  # 2 days back
    assert isinstance(route_record(event("2026-11-23T00:10:00Z"), REFERENCE), Routed)  # within clock skew


def test_lambda_handler_uses_the_same_routing():
    arrival_ms = int(REFERENCE.timestamp() * 1000)
    records = [
        {"recordId": "1", "approximateArrivalTimestamp": arrival_ms, "data": base64.b64encode(event()).decode()},
        {"recordId": "2", "approximateArrivalTimestamp": arrival_ms, "data": base64.b64encode(b"nope").decode()},
    ]
    out = lambda_transform.handler({"records": records})["records"]
    assert [r["recordId"] for r in out] == ["1", "2"]
    assert out[0]["result"] == "Ok"
    assert out[0]["metadata"]["partitionKeys"] == {"event_type": "match_clicked", "dt": "2026-11-22", "hour": "10"}
    assert base64.b64decode(out[0]["data"]).endswith(b"\n")
    assert out[1]["result"] == "ProcessingFailed" and out[1]["data"] == records[1]["data"]


def test_error_lines_normalise_from_both_formats():
    ours = Unroutable("malformed_json", "cannot parse", b"{oops").error_line("kinesis-shard-1", REFERENCE)
    assert normalise_error_line(ours)["reason"] == "malformed_json"
    firehose = json.dumps({"attemptsMade": 1, "arrivalTimestamp": int(REFERENCE.timestamp() * 1000),
                           "errorCode": "Lambda.ProcessingFailed", "rawData": base64.b64encode(event(occurred_at="1990-01-01T00:00:00Z")).decode()})
    normalised = normalise_error_line(firehose)
    assert normalised["reason"] == "ancient_timestamp" and '"event_id": "e1"' in normalised["raw_record"]
    assert normalise_error_line("{truncated")["reason"] == "corrupt_error_record"


def test_oversized_error_lines_keep_a_truncated_copy():
    line = json.loads(Unroutable("oversized_record", "big", b"x" * 200_000).error_line("s", REFERENCE))
    assert line["truncated"] and line["raw_size_bytes"] == 200_000 and len(line["raw_record"]) == 64 * 1024


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_buffer_flushes_by_size_and_by_age_with_deterministic_names(tmp_path: Path):
    clock = Clock()
    buffer = PartitionedBuffer(str(tmp_path / "raw"), "2026-11-22", max_bytes=10_000, max_seconds=60, clock=clock)
    buffer.add("kinesis-shard-0", "100", route_record(event(), REFERENCE), REFERENCE)
    buffer.add("kinesis-shard-0", "101", route_record(event("2026-11-22T11:00:00Z"), REFERENCE), REFERENCE)
    buffer.add("kinesis-shard-0", "102", route_record(b"{bad", REFERENCE), REFERENCE)
    assert not buffer.due()
    clock.now = 61
    assert buffer.due()
    assert buffer.flush() == 3
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.jsonl"))
    assert files == [
        "raw/errors/dt=2026-11-22/kinesis-shard-0-102.jsonl",
        "raw/events/event_type=match_clicked/dt=2026-11-22/hour=10/kinesis-shard-0-100.jsonl",
        "raw/events/event_type=match_clicked/dt=2026-11-22/hour=11/kinesis-shard-0-101.jsonl",
    ]
    for _ in range(80):
        buffer.add("kinesis-shard-0", "200", route_record(event(), REFERENCE), REFERENCE)
    assert buffer.due()  # 80 x ~150 bytes > 10 kB
    assert buffer.counts["routed"] == 82 and buffer.counts["errors"] == 1


class FakeKinesisStream:
    """Two shards of records; get_records pages of 3."""

    def __init__(self, shards: dict[str, list[bytes]]):
        self.shards = shards

    def list_shards(self, StreamName=None, NextToken=None):
        return {"Shards": [{"ShardId": s} for s in self.shards]}

    def get_shard_iterator(self, StreamName, ShardId, ShardIteratorType, StartingSequenceNumber=None):
        start = 0 if ShardIteratorType == "TRIM_HORIZON" else int(StartingSequenceNumber) + 1
        return {"ShardIterator": f"{ShardId}:{start}"}

    def get_records(self, ShardIterator, Limit):
        shard, start = ShardIterator.rsplit(":", 1)
        start = int(start)
        data = self.shards[shard][start : start + 3]
        records = [{"SequenceNumber": str(start + i), "Data": d, "ApproximateArrivalTimestamp": REFERENCE}
                   for i, d in enumerate(data)]
        return {"Records": records, "NextShardIterator": f"{shard}:{start + len(data)}", "MillisBehindLatest": 0}


def test_consumer_killed_between_write_and_checkpoint_repeats_but_never_skips(tmp_path: Path, monkeypatch):
    import ingestion.landing as landing

    shards = {"shardId-0": [event(f"2026-11-22T{h:02d}:00:00Z", event_id=f"a{h}") for h in range(8)],
              "shardId-1": [event(f"2026-11-22T{h:02d}:30:00Z", event_id=f"b{h}") for h in range(5)]}
    stream = FakeKinesisStream(shards)
    checkpoints = ShardCheckpoints(tmp_path / "cp.json")

    def new_buffer():
        return PartitionedBuffer(str(tmp_path / "raw"), "2026-11-22", max_bytes=600, max_seconds=999)

    commits = {"n": 0}
    real_commit = landing._commit_checkpoint

    def dying_commit(cp, shard, seq):
        commits["n"] += 1
        if commits["n"] == 2:
            raise KeyboardInterrupt("consumer killed")
        real_commit(cp, shard, seq)

    monkeypatch.setattr(landing, "_commit_checkpoint", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        land_kinesis(stream, "s", new_buffer(), checkpoints, REFERENCE, 2)
    monkeypatch.setattr(landing, "_commit_checkpoint", real_commit)
    reloaded = ShardCheckpoints(tmp_path / "cp.json")
    assert reloaded.get("shardId-0") is not None and reloaded.get("shardId-1") is None
    counts = land_kinesis(stream, "s", new_buffer(), reloaded, REFERENCE, 2)
    assert counts["shards"] == 2
    ids = [json.loads(line)["event_id"] for p in (tmp_path / "raw").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert set(ids) == {f"a{h}" for h in range(8)} | {f"b{h}" for h in range(5)}  # nothing lost
    assert len(ids) == 13  # and the re-read rewrote the same file names: no duplicates at all here
    assert ShardCheckpoints(tmp_path / "cp.json").as_dict() == {"shardId-0": "7", "shardId-1": "4"}
    # A third run finds nothing new.
    assert land_kinesis(stream, "s", new_buffer(), ShardCheckpoints(tmp_path / "cp.json"), REFERENCE, 2)["kinesis_records"] == 0


def test_list_files_skips_temp_files_but_not_hidden_parent_dirs(tmp_path: Path):
    from ingestion import lake_io

    root = tmp_path / ".local" / "lake"
    lake_io.write_bytes(str(root / "raw" / "a.jsonl"), b"{}\n")
    (root / "raw" / ".partial.tmp").write_bytes(b"half")
    assert lake_io.list_files(str(root), ".jsonl") == [str(root / "raw" / "a.jsonl")]
    assert lake_io.read_bytes(str(root / "raw" / "a.jsonl")) == b"{}\n"
    assert lake_io.list_files(str(tmp_path / "missing")) == []


def test_queue_fed_files_carry_a_digest_so_a_redelivery_never_overwrites(tmp_path: Path):
    def flush(ids: list[str]) -> set[str]:
        buffer = PartitionedBuffer(str(tmp_path / "raw"), "2026-11-22", max_bytes=10**6, max_seconds=999)
        for message_id in ids:
            buffer.add("eventbridge", message_id, route_record(event(event_id=message_id), REFERENCE), REFERENCE)
        buffer.flush()
        return {p.name for p in tmp_path.rglob("eventbridge-*.jsonl")}

    first = flush(["m1", "m2"])
    both = flush(["m1", "m3"])  # m1 redelivered after its delete failed, now batched with m3
    assert len(first) == 1 and len(both) == 2  # m2's file survives
    assert flush(["m1", "m2"]) == both  # same messages, same name: idempotent


class FakeQueue:
    """SQS semantics that matter here: received messages are invisible until deleted."""

    def __init__(self, bodies: list[str]):
        self.messages = {f"m{i}": body for i, body in enumerate(bodies)}
        self.in_flight: set[str] = set()
        self.max_in_flight = 0

    def get_queue_url(self, QueueName):
        return {"QueueUrl": QueueName}

    def receive_message(self, QueueUrl, MaxNumberOfMessages, **_):
        visible = [m for m in self.messages if m not in self.in_flight][:MaxNumberOfMessages]
        self.in_flight.update(visible)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        return {"Messages": [{"MessageId": m, "ReceiptHandle": m, "Body": self.messages[m],
                              "Attributes": {"SentTimestamp": "1795000000000"}} for m in visible]}

    def delete_message_batch(self, QueueUrl, Entries):
        for entry in Entries:
            self.messages.pop(entry["ReceiptHandle"], None)
            self.in_flight.discard(entry["ReceiptHandle"])
        return {"Successful": Entries, "Failed": []}


def test_sqs_messages_are_deleted_in_bounded_batches_after_durable_writes(tmp_path: Path):
    from ingestion.landing import MAX_INFLIGHT_MESSAGES, land_sqs

    bodies = [json.dumps({"version": "0", "id": f"eb-{i}", "detail-type": "job_posted", "source": "marketplace.x",
                          "detail": json.loads(event(event_id=f"e{i}"))}) for i in range(1_234)]
    queue = FakeQueue(bodies)
    buffer = PartitionedBuffer(str(tmp_path / "raw"), "2026-11-22", max_bytes=10**9, max_seconds=10**6)
    counts = land_sqs(queue, "q", buffer, REFERENCE, 2, visibility_timeout=30)
    assert counts["sqs_messages"] == 1_234 and queue.messages == {}
    assert queue.max_in_flight <= MAX_INFLIGHT_MESSAGES + 10
    lines = [json.loads(line) for p in (tmp_path / "raw").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert sorted(line["event_id"] for line in lines) == sorted(f"e{i}" for i in range(1_234))

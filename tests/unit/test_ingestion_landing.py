"""Routing (shared by the local consumer and the Firehose Lambda), buffering, checkpoints."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from ingestion import lambda_transform
from ingestion.landing import PartitionedBuffer, land_kinesis
from ingestion.routing import MAX_RECORD_BYTES, Routed, Unroutable, normalise_error_line, route_record

pytestmark = pytest.mark.unit

REFERENCE = dt.datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=dt.UTC)  # arrival: end of 2026-11-22
NOT_BEFORE = dt.date(2026, 11, 20)  # the run date's window start (run date - 2 days)


@pytest.fixture()
def state():
    """The lease + checkpoint table on moto's in-process DynamoDB."""
    import boto3
    from moto import mock_aws

    from ingestion.checkpoints import StateTable

    with mock_aws():
        table = StateTable(boto3.client("dynamodb", region_name="us-east-1"), "leases", owner="lander-a")
        table.ensure_table()
        yield table


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
    files = sorted(str(p.relative_to(tmp_path)).rsplit("-", 1)[0] for p in tmp_path.rglob("*.jsonl"))
    assert files == [
        "raw/errors/dt=2026-11-22/kinesis-shard-0-102",
        "raw/events/event_type=match_clicked/dt=2026-11-22/hour=10/kinesis-shard-0-100",
        "raw/events/event_type=match_clicked/dt=2026-11-22/hour=11/kinesis-shard-0-101",
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


def test_consumer_killed_between_write_and_checkpoint_repeats_but_never_skips(tmp_path: Path, monkeypatch, state):
    import ingestion.landing as landing
    from ingestion.checkpoints import shard_resource

    shards = {"shardId-0": [event(f"2026-11-22T{h:02d}:00:00Z", event_id=f"a{h}") for h in range(8)],
              "shardId-1": [event(f"2026-11-22T{h:02d}:30:00Z", event_id=f"b{h}") for h in range(5)]}
    stream = FakeKinesisStream(shards)

    def new_buffer():
        return PartitionedBuffer(str(tmp_path / "raw"), "2026-11-22", max_bytes=600, max_seconds=999)

    commits = {"n": 0}
    real_commit = landing._commit_checkpoint

    def dying_commit(table, resource, seq):
        commits["n"] += 1
        if commits["n"] == 2:
            raise KeyboardInterrupt("consumer killed")
        real_commit(table, resource, seq)

    monkeypatch.setattr(landing, "_commit_checkpoint", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        land_kinesis(stream, "s", new_buffer, state, NOT_BEFORE, 2, parallel=1)
    monkeypatch.setattr(landing, "_commit_checkpoint", real_commit)
    assert state.checkpoint(shard_resource("s", "shardId-0")) not in (None, "7")  # stopped mid-shard
    counts = land_kinesis(stream, "s", new_buffer, state, NOT_BEFORE, 2)
    assert counts["shards"] == 2
    ids = [json.loads(line)["event_id"] for p in (tmp_path / "raw").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert set(ids) == {f"a{h}" for h in range(8)} | {f"b{h}" for h in range(5)}  # nothing lost
    assert len(ids) == 13  # and the re-read rewrote the same file names: no duplicates at all here
    assert [state.checkpoint(shard_resource("s", s)) for s in shards] == ["7", "4"]
    # A third run finds nothing new.
    assert land_kinesis(stream, "s", new_buffer, state, NOT_BEFORE, 2)["kinesis_records"] == 0


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
                              "Attributes": {"SentTimestamp": str(int(REFERENCE.timestamp() * 1000))}} for m in visible]}

    def delete_message_batch(self, QueueUrl, Entries):
        for entry in Entries:
            self.messages.pop(entry["ReceiptHandle"], None)
            self.in_flight.discard(entry["ReceiptHandle"])
        return {"Successful": Entries, "Failed": []}


def test_sqs_messages_are_deleted_in_bounded_batches_after_durable_writes(tmp_path: Path, state):
    from ingestion.landing import MAX_INFLIGHT_MESSAGES, land_sqs

    bodies = [json.dumps({"version": "0", "id": f"eb-{i}", "detail-type": "job_posted", "source": "marketplace.x",
                          "detail": json.loads(event(event_id=f"e{i}"))}) for i in range(1_234)]
    queue = FakeQueue(bodies)
    buffer = PartitionedBuffer(str(tmp_path / "raw"), "2026-11-22", max_bytes=10**9, max_seconds=10**6)
    counts = land_sqs(queue, "q", buffer, state, NOT_BEFORE, 2, visibility_timeout=30)
    assert counts["sqs_messages"] == 1_234 and queue.messages == {}
    assert queue.max_in_flight <= MAX_INFLIGHT_MESSAGES + 10
    lines = [json.loads(line) for p in (tmp_path / "raw").rglob("*.jsonl") for line in p.read_text().splitlines()]
    assert sorted(line["event_id"] for line in lines) == sorted(f"e{i}" for i in range(1_234))


# ---------------------------------------------------------------- run_landing end to end on fakes
# (the same calls run_landing made before this change, so these tests also ran against the old code)

SURROGATE = (b'{"event_id":"s1","event_type":"match_clicked","schema_version":1,"occurred_at":"2026-11-22T10:00:00Z",'
             b'"tenant_id":"t","producer":"p","payload":{"note":"\\ud83d"}}')


def _arrived(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


class ArrivalStream(FakeKinesisStream):
    """One shard whose records carry their own arrival times."""

    def __init__(self, records: list[tuple[bytes, dt.datetime]]):
        super().__init__({"shardId-0": [data for data, _ in records]})
        self.arrivals = [arrived for _, arrived in records]

    def get_records(self, ShardIterator, Limit):
        response = super().get_records(ShardIterator, Limit)
        for record in response["Records"]:
            record["ApproximateArrivalTimestamp"] = self.arrivals[int(record["SequenceNumber"])]
        return response


class NamedQueues:
    """Several SQS queues by name (a missing one raises like SQS); messages carry SentTimestamp."""

    def __init__(self, queues: dict[str, list[tuple[str, dt.datetime]]]):
        self.queues = {name: FakeQueue([body for body, _ in msgs]) for name, msgs in queues.items()}
        self.sent = {name: [arrived for _, arrived in msgs] for name, msgs in queues.items()}

    def get_queue_url(self, QueueName):
        from botocore.exceptions import ClientError

        if QueueName not in self.queues:
            raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue", "Message": "no"}},
                              "GetQueueUrl")
        return {"QueueUrl": QueueName}

    def receive_message(self, QueueUrl, MaxNumberOfMessages, **kwargs):
        response = self.queues[QueueUrl].receive_message(QueueUrl, MaxNumberOfMessages, **kwargs)
        for message in response["Messages"]:
            sent = self.sent[QueueUrl][int(message["MessageId"][1:])]
            message["Attributes"] = {"SentTimestamp": str(int(sent.timestamp() * 1000))}
        return response

    def delete_message_batch(self, QueueUrl, Entries):
        return self.queues[QueueUrl].delete_message_batch(QueueUrl, Entries)


def _eventbridge_body(detail_json: str, message_id: str) -> str:
    # The detail is spliced in as text so a JSON escape (a lone surrogate) reaches the consumer as SQS delivers it.
    envelope = json.dumps({"version": "0", "id": message_id, "detail-type": "job_posted", "source": "marketplace.x",
                           "detail": "DETAIL"})
    return envelope.replace('"DETAIL"', detail_json)


@pytest.fixture()
def fake_aws(monkeypatch, isolated_settings):
    """run_landing against fakes of Kinesis and SQS (+ moto's in-process DynamoDB for the leases)."""
    import boto3
    from moto import mock_aws

    import ingestion.landing as landing

    wiring: dict = {}
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")

        def fake_client(service):
            return {"kinesis": wiring.get("kinesis"), "sqs": wiring.get("sqs"), "dynamodb": dynamodb}[service]

        monkeypatch.setattr(landing, "aws_client", fake_client)
        yield wiring, isolated_settings


def _landed(settings) -> dict[str, list[dict]]:
    raw = Path(settings.zone_uri("raw"))
    out: dict[str, list[dict]] = {}
    for path in raw.rglob("*.jsonl"):
        out.setdefault(str(path.parent.relative_to(raw)), []).extend(
            json.loads(line) for line in path.read_text().splitlines())
    return out


def test_records_arriving_after_midnight_land_in_their_partition_not_errors(fake_aws):
    import ingestion.landing as landing

    wiring, settings = fake_aws
    after_midnight = event("2026-11-23T00:40:00Z", event_id="k-after")
    wiring["kinesis"] = ArrivalStream([(event(event_id="k-day"), _arrived("2026-11-22T10:16:00Z")),
                                       (after_midnight, _arrived("2026-11-23T00:40:01Z"))])
    detail = event("2026-11-23T01:10:00Z", event_type="job_posted", event_id="q-after").decode()
    wiring["sqs"] = NamedQueues({"landing": [(_eventbridge_body(json.dumps(json.loads(detail)), "eb-1"),
                                              _arrived("2026-11-23T01:10:02Z"))]})
    # The 23:00 run of 2026-11-22, draining after midnight.
    result = landing.run_landing("2026-11-22", stream_name="s", queue_name="landing")
    assert result["errors"] == 0 and result["routed"] == 3
    landed = _landed(settings)
    assert [e["event_id"] for e in landed["events/event_type=match_clicked/dt=2026-11-23/hour=00"]] == ["k-after"]
    assert [e["event_id"] for e in landed["events/event_type=job_posted/dt=2026-11-23/hour=01"]] == ["q-after"]
    # Arrival still bounds the future: a record stamped an hour after it arrived is refused.
    wiring["kinesis"] = ArrivalStream([(event("2026-11-23T02:00:00Z", event_id="k-skewed"), _arrived("2026-11-23T00:41:00Z"))])
    wiring["sqs"] = NamedQueues({"landing": []})
    again = landing.run_landing("2026-11-22", stream_name="s2", queue_name="landing")
    assert again["errors_by_reason"] == {"future_timestamp": 1}


def test_a_lone_surrogate_is_quarantined_and_never_stalls_the_shard_or_queue(fake_aws):
    import ingestion.landing as landing

    wiring, settings = fake_aws
    at = _arrived("2026-11-22T10:00:05Z")
    wiring["kinesis"] = ArrivalStream([(SURROGATE, at), (event(event_id="k-next"), at)])
    surrogate_detail = SURROGATE.decode().replace('"match_clicked"', '"job_posted"').replace('"s1"', '"s2"')
    good_detail = json.dumps(json.loads(event(event_type="job_posted", event_id="q-next")))
    wiring["sqs"] = NamedQueues({"landing": [(_eventbridge_body(surrogate_detail, "eb-s"), at),
                                             (_eventbridge_body(good_detail, "eb-g"), at)]})
    result = landing.run_landing("2026-11-22", stream_name="s", queue_name="landing")
    assert result["records_in"] == 4 and result["errors_by_reason"] == {"invalid_unicode": 2}
    landed = _landed(settings)
    errors = landed["errors/dt=2026-11-22"]
    assert sorted(json.loads(e["raw_record"])["event_id"] for e in errors) == ["s1", "s2"]
    assert all(e["reason"] == "invalid_unicode" and "surrogate" in e["detail"] for e in errors)
    assert {e["event_id"] for rows in landed.values() for e in rows if "event_id" in e} == {"k-next", "q-next"}
    # The shard checkpointed past the poison record and the queue is empty: nothing is stuck.
    assert wiring["sqs"].queues["landing"].messages == {}
    assert landing.run_landing("2026-11-22", stream_name="s", queue_name="landing")["records_in"] == 0


def test_the_lambda_quarantines_a_lone_surrogate_instead_of_failing_the_batch():
    arrival_ms = int(REFERENCE.timestamp() * 1000)
    records = [{"recordId": "1", "approximateArrivalTimestamp": arrival_ms, "data": base64.b64encode(SURROGATE).decode()},
               {"recordId": "2", "approximateArrivalTimestamp": arrival_ms, "data": base64.b64encode(event()).decode()}]
    out = lambda_transform.handler({"records": records})["records"]
    assert [r["result"] for r in out] == ["ProcessingFailed", "Ok"]
    assert normalise_error_line(json.dumps({"rawData": records[0]["data"], "arrivalTimestamp": arrival_ms}))[
        "reason"] == "invalid_unicode"


def test_the_landing_queue_dlq_is_drained_like_the_queue(fake_aws):
    import ingestion.landing as landing

    wiring, settings = fake_aws
    at = _arrived("2026-11-22T10:20:00Z")
    wiring["kinesis"] = ArrivalStream([])
    body = _eventbridge_body(json.dumps(json.loads(event(event_type="job_posted", event_id="from-dlq"))), "eb-d")
    wiring["sqs"] = NamedQueues({"landing": [], "landing-dlq": [(body, at)]})
    result = landing.run_landing("2026-11-22", stream_name="s", queue_name="landing")
    assert result["dlq_messages"] == 1 and result["routed"] == 1
    assert wiring["sqs"].queues["landing-dlq"].messages == {}
    assert [e["event_id"] for rows in _landed(settings).values() for e in rows] == ["from-dlq"]


def test_cli_accepts_the_hourly_dags_hour(fake_aws, capsys):
    import ingestion.landing as landing

    wiring, _ = fake_aws
    wiring["kinesis"] = ArrivalStream([(event(event_id="k1"), _arrived("2026-11-22T13:20:00Z"))])
    wiring["sqs"] = NamedQueues({"marketplace-events-landing": []})
    landing.main(["--run-date", "2026-11-22", "--hour", "13"])  # the AWS DAG's arguments
    printed = json.loads(capsys.readouterr().out)
    assert printed["hour"] == "13" and printed["routed"] == 1
    with pytest.raises(ValueError, match="hour"):
        landing.run_landing("2026-11-22", hour="24")


def test_where_firehose_lands_the_stream_the_step_reports_its_delivery(isolated_settings, monkeypatch):
    """AWS (settings.firehose_lands_stream): a second consumer would land every record twice, so the hourly
    DAG's `--hour HH` step reports the files Firehose delivered for that hour instead of reading the stream."""
    import dataclasses

    import ingestion.landing as landing
    from ingestion import lake_io

    settings = dataclasses.replace(isolated_settings, firehose_lands_stream=True)
    monkeypatch.setattr(landing, "get_settings", lambda: settings)
    monkeypatch.setattr(landing, "aws_client", lambda service: pytest.fail(f"no {service} client expected"))
    raw = settings.zone_uri("raw")
    for hour in ("13", "14"):
        lake_io.write_bytes(f"{raw}/events/event_type=job_posted/dt=2026-11-22/hour={hour}/firehose-1.jsonl", b"{}\n")
    report = landing.run_landing("2026-11-22", hour="13")
    assert report == {"hour": "13", "landed_by": "firehose", "files_delivered": 1, "error_files": 0}

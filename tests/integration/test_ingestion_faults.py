"""Producer → kinesalite / moto EventBridge→SQS → landing → bronze → silver, with every fault injected.

Counts must reconcile exactly: every distinct record ends in silver or quarantine with a reason
(0 lost, 0 duplicated), through throttling, partial failures, duplicate deliveries, a consumer
killed twice mid-batch, a lone surrogate, an additive field, records arriving after midnight and two
landers at once. Real stand-ins on 127.0.0.1; fault injection wraps the real clients.

The run date is yesterday, as the DAG runs it: the stand-ins stamp arrival with the real clock, and
landing bounds each record by its own arrival time.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.UTC).date()
RUN_DATE = (TODAY - dt.timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def services(local_services):
    """The session's stand-ins (own ports and state dir, stopped at session end: tests/conftest.py)."""
    return local_services


@pytest.fixture()
def channels(services, isolated_settings):
    """A private stream, bus, rule and queue per test, so tests never read each other's records."""
    from ingestion.channels import create_channels, delete_channels

    made = create_channels(f"ingest-test-{uuid.uuid4().hex[:8]}")
    yield {"stream": made.stream, "queue": made.queue, "bus": made.bus, "settings": isolated_settings}
    delete_channels(made)


class FlakyKinesis:
    """The real kinesalite client, except: the 2nd request is throttled outright and every 5th record
    of each request fails with ProvisionedThroughputExceeded (not sent), like a hot shard."""

    def __init__(self, real):
        self.real = real
        self.requests = 0
        self.failed_records = 0
        self.lock = threading.Lock()  # the producer sends on several lanes at once

    def put_records(self, StreamName, Records):
        from botocore.exceptions import ClientError

        with self.lock:
            self.requests += 1
            request = self.requests
        if request == 2:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "PutRecords")
        keep = [r for i, r in enumerate(Records) if i % 5 != 4 or len(Records) == 1]
        sent = iter(self.real.put_records(StreamName=StreamName, Records=keep)["Records"]) if keep else iter(())
        out = []
        for i, _ in enumerate(Records):
            if i % 5 == 4 and len(Records) > 1:
                with self.lock:
                    self.failed_records += 1
                out.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "hot shard"})
            else:
                out.append(next(sent))
        return {"FailedRecordCount": sum("ErrorCode" in r for r in out), "Records": out}


def _with(event: dict, **changes) -> dict:
    """A copy of ``event`` with a new id and ``changes`` (``note`` goes into the payload)."""
    copy = json.loads(json.dumps(event))
    copy["event_id"] = str(uuid.uuid4())
    if "note" in changes:
        copy["payload"]["note"] = changes.pop("note")
    copy.update(changes)
    return copy


def _surrogate_bytes(event: dict) -> bytes:
    """The event as JSON text whose payload note is the escape of a lone surrogate (valid JSON, no UTF-8)."""
    return json.dumps(event).replace("\\\\ud83d", "\\ud83d").encode()


def _silver_column(settings, event_type: str, column: str) -> list:
    import pyarrow.dataset as ds

    return ds.dataset(settings.table_uri("silver", event_type), format="parquet",
                      partitioning="hive").to_table(columns=[column])[column].to_pylist()


def _silver_event_ids(settings) -> Counter:
    import pyarrow.dataset as ds

    from ingestion.contracts import EVENT_TYPES
    from ingestion.lake_io import list_files

    ids: Counter = Counter()
    for event_type in EVENT_TYPES:
        uri = settings.table_uri("silver", event_type)
        if list_files(uri, ".parquet"):
            ids.update(ds.dataset(uri, format="parquet", partitioning="hive").to_table(columns=["event_id"])["event_id"].to_pylist())
    return ids


def test_every_fault_reconciles_exactly(channels, spark, monkeypatch):
    import pyarrow.dataset as ds

    import ingestion.landing as landing
    from common.aws import client
    from ingestion.lake_io import list_files, read_bytes
    from ingestion.producers import (
        Backoff,
        EventBridgeProducer,
        KinesisProducer,
        OutboundRecord,
        encode_event,
    )
    from ingestion.simulator import EVENTBRIDGE_TYPES, build_day
    from spark_jobs import bronze_to_silver

    settings = channels["settings"]
    plan = build_day(RUN_DATE, seed=11, scale=0.12)
    good = plan.events
    duplicates = good[::15]  # re-delivered by a producer that timed out and retried
    # An added field is tolerated now (kept in `extra`): the simulator's "extra_field" record is valid.
    additive = [json.loads(data) for reason, data in plan.bad_records if reason == "extra_field"]
    bad_records = [(reason, data) for reason, data in plan.bad_records if reason != "extra_field"]
    # A lone surrogate on each channel, and events stamped after midnight (the run date's 23:00 run drains them).
    poison = [_with(good[0], note="\\ud83d"), _with(next(e for e in good if e["event_type"] in EVENTBRIDGE_TYPES),
                                                       note="\\ud83d")]
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    after_midnight = [_with(e, occurred_at=now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) for e in (good[1], good[-1])]
    expected_rejected = Counter(reason for reason, _ in bad_records) + Counter(invalid_unicode=len(poison))
    assert len(good) > 250 and len(expected_rejected) >= 10 and additive

    flaky = FlakyKinesis(client("kinesis"))
    fast = Backoff(base_seconds=0.01, cap_seconds=0.05, max_attempts=6)
    kinesis = KinesisProducer(flaky, channels["stream"], fast)
    bus = EventBridgeProducer(client("events"), channels["bus"], fast)
    sent = good + duplicates + additive + after_midnight
    to_kinesis = [encode_event(e) for e in sent if e["event_type"] not in EVENTBRIDGE_TYPES]
    to_kinesis += [OutboundRecord(data, f"bad{i}") for i, (_, data) in enumerate(bad_records)]
    # The real producer's records, unchanged: their Source must be what the bus's landing rule takes.
    to_bus = [encode_event(e) for e in sent if e["event_type"] in EVENTBRIDGE_TYPES]
    to_kinesis.append(OutboundRecord(_surrogate_bytes(poison[0]), "poison"))
    to_bus.append(OutboundRecord(_surrogate_bytes(poison[1]), "poison", poison[1]["event_type"],
                                 encode_event(poison[1]).source))
    report = kinesis.put(to_kinesis)
    assert report.sent == len(to_kinesis) and report.throttled_requests == 1 and report.retried_records > 0
    assert flaky.failed_records > 0
    assert bus.put(to_bus).sent == len(to_bus) > 0

    # Kill the consumer twice: between a durable write and the Kinesis checkpoint, then between a
    # durable write and the SQS delete. Small buffers so each run has several flushes.
    real_commit, real_delete = landing._commit_checkpoint, landing._delete_messages
    calls = Counter()

    def die_on_second_commit(*args):
        calls["commit"] += 1
        if calls["commit"] == 2:
            raise KeyboardInterrupt("killed before checkpoint")
        real_commit(*args)

    def die_on_first_delete(*args):
        calls["delete"] += 1
        if calls["delete"] == 1:
            raise KeyboardInterrupt("killed before SQS delete")
        real_delete(*args)

    kwargs = dict(stream_name=channels["stream"], queue_name=channels["queue"], max_buffer_bytes=8_000,
                  visibility_timeout=1)
    monkeypatch.setattr(landing, "_commit_checkpoint", die_on_second_commit)
    monkeypatch.setattr(landing, "_delete_messages", die_on_first_delete)
    # The shards and the queue drain concurrently, so which kill fires first is a matter of timing: run
    # until both have killed a run (each run that dies must die of one of them).
    for _ in range(3):
        if calls["commit"] >= 2 and calls["delete"] >= 1:
            break
        with pytest.raises(KeyboardInterrupt, match="checkpoint|SQS"):
            landing.run_landing(RUN_DATE, **kwargs)
    assert calls["commit"] >= 2 and calls["delete"] >= 1, calls
    time.sleep(1.5)  # the undeleted messages become visible again
    monkeypatch.setattr(landing, "_commit_checkpoint", real_commit)
    monkeypatch.setattr(landing, "_delete_messages", real_delete)
    landing.run_landing(RUN_DATE, **kwargs)
    assert landing.run_landing(RUN_DATE, **kwargs)["records_in"] == 0  # fully drained

    raw = settings.zone_uri("raw")
    landed_today = {json.loads(line)["event_id"] for uri in list_files(f"{raw}/events", ".jsonl")
                    if f"/dt={TODAY}/" in uri for line in read_bytes(uri).decode().splitlines()}
    assert landed_today == {e["event_id"] for e in after_midnight}  # landed, not future_timestamp errors

    result = bronze_to_silver.run(RUN_DATE, spark=spark)
    # Events in = silver + quarantined + duplicates, 0 lost, 0 duplicated: every term measured apart from
    # the job's own counters (which add up by construction): the ids the producer sent against the ids in
    # silver, the bad records' reasons against quarantine, the duplicates as the raw lines landed beyond
    # one per valid event (producer retries and the killed consumers' re-deliveries).
    valid = good + additive
    silver_ids = _silver_event_ids(settings)
    assert set(silver_ids) == {e["event_id"] for e in valid}
    assert max(silver_ids.values()) == 1
    quarantine = ds.dataset(settings.table_uri("quarantine", "events"), format="parquet",
                            partitioning="hive").to_table().to_pylist()
    assert Counter(row["reason"] for row in quarantine) == expected_rejected
    raw_lines = sum(len(path.read_text().splitlines())
                    for path in Path(raw, "events").rglob("*.jsonl") if f"/dt={TODAY}/" not in str(path))
    silver_rejects = sum(row["stage"] == "silver" for row in quarantine)
    assert raw_lines >= len(valid) + len(duplicates) + silver_rejects
    assert result["duplicates_removed"] == raw_lines - len(valid) - silver_rejects
    assert result["silver_rows"] == len(valid)
    assert result["quarantined"] == len(bad_records) + len(poison)
    extras = [x for x in _silver_column(settings, additive[0]["event_type"], "extra") if x]
    assert extras and "left in by a developer" in " ".join(extras)
    stages = {row["reason"]: row["stage"] for row in quarantine}
    assert stages["malformed_json"] == stages["oversized_record"] == stages["future_timestamp"] == "landing"
    assert stages["invalid_unicode"] == "landing"
    assert stages["missing_tenant"] == stages["unknown_schema_version"] == "silver"
    assert all(row["detail"] and row["raw_record"] for row in quarantine)
    produced_ids = {e["event_id"] for e in valid} | {e["event_id"] for e in poison}
    found_ids = set(silver_ids) | {row["event_id"] for row in quarantine}
    print(f"\nevents in = silver + quarantined + duplicates: {raw_lines + result['quarantined_landing']} = "
          f"{sum(silver_ids.values())} + {len(quarantine)} + {result['duplicates_removed']}; "
          f"lost {len(produced_ids - found_ids)}")
    assert produced_ids <= found_ids  # 0 lost

    # Idempotent: a re-run rebuilds the same partitions with the same rows.
    again = bronze_to_silver.run(RUN_DATE, spark=spark)
    assert {k: again[k] for k in ("silver_rows", "quarantined", "duplicates_removed")} == \
        {k: result[k] for k in ("silver_rows", "quarantined", "duplicates_removed")}
    assert _silver_event_ids(settings) == silver_ids


def test_simulator_delivers_to_both_channels_and_documents(channels):
    from ingestion.lake_io import list_files
    from ingestion.landing import run_landing
    from ingestion.simulator import late_event_count, run_simulation
    from tests.simulated_days import first_seed

    settings = channels["settings"]
    # a seed whose day (it depends on the date) has late events and a resume update to assert on
    seed = first_seed([RUN_DATE], 0.05, first=5, accept=lambda plans: len(plans[0].documents) > len(plans[0].people)
                      and late_event_count(plans[0], RUN_DATE) > 0)
    sim = run_simulation(RUN_DATE, seed=seed, scale=0.05, stream_name=channels["stream"], bus_name=channels["bus"])
    assert sim["eventbridge_entries"] > 0 and sim["kinesis_records"] > sim["eventbridge_entries"]
    assert sim["late_events_previous_day"] > 0 and sim["documents"] > sim["candidates"]
    landed = run_landing(RUN_DATE, stream_name=channels["stream"], queue_name=channels["queue"])
    delivered = sim["events"] + sim["duplicate_deliveries"] + sim["bad_records"]
    assert landed["records_in"] == delivered
    assert landed["sqs_messages"] == sim["eventbridge_entries"]
    landing_reasons = {"malformed_json", "unknown_event_type", "future_timestamp", "ancient_timestamp",
                       "invalid_timestamp", "oversized_record"}
    assert landed["errors_by_reason"] == {k: v for k, v in sim["expected_rejected"].items() if k in landing_reasons}
    raw = settings.zone_uri("raw")
    assert len(list_files(f"{raw}/documents")) == sim["documents"]
    late = list_files(f"{raw}/events/event_type=candidate_registered/dt={TODAY - dt.timedelta(days=2)}")
    assert late, "late events from the previous day land in their own event-date partition"


def test_missing_stream_is_a_clear_error(services, isolated_settings):
    from ingestion.landing import LandingError, run_landing

    with pytest.raises(LandingError, match="make services-up"):
        run_landing(RUN_DATE, stream_name=f"no-such-stream-{uuid.uuid4().hex[:6]}")


def test_real_producer_events_pass_the_platform_bus_rule_into_landing(channels):
    """The producer services use (encode_event + EventBridgeProducer), unchanged, on the platform's own bus:
    the bootstrap's rule (bus → landing queue) must take its Source."""
    from common.aws import client
    from ingestion.lake_io import list_files, read_bytes
    from ingestion.landing import run_landing
    from ingestion.producers import EventBridgeProducer, encode_event
    from ingestion.simulator import EVENTBRIDGE_TYPES, build_day

    settings = channels["settings"]
    events = [e for e in build_day(RUN_DATE, seed=3, scale=0.03).events if e["event_type"] in EVENTBRIDGE_TYPES][:25]
    assert events and all(not e["producer"].startswith("marketplace.") for e in events)  # a service's own name
    report = EventBridgeProducer(client("events"), settings.event_bus).put([encode_event(e) for e in events])
    assert report.sent == len(events)
    landed = run_landing(RUN_DATE, stream_name=channels["stream"], queue_name=settings.landing_queue)
    assert landed["errors"] == 0
    raw = settings.zone_uri("raw")
    ids = {json.loads(line)["event_id"] for uri in list_files(f"{raw}/events", ".jsonl")
           for line in read_bytes(uri).decode().splitlines()}
    assert {e["event_id"] for e in events} <= ids


class SlowFirstRead:
    """The real Kinesis client, except that the first GetRecords of each shard stalls (a GC pause, a
    stalled container): long enough for this lander's lease to expire while it still believes it owns it."""

    def __init__(self, real, stall_seconds: float, holding: threading.Event):
        self.real, self.stall_seconds, self.holding = real, stall_seconds, holding
        self.stalled: set[str] = set()

    def __getattr__(self, name):
        return getattr(self.real, name)

    def get_records(self, ShardIterator, Limit):
        response = self.real.get_records(ShardIterator=ShardIterator, Limit=Limit)
        if ShardIterator not in self.stalled and response["Records"]:
            self.stalled.add(ShardIterator)
            self.holding.set()
            time.sleep(self.stall_seconds)
        return response


def test_two_landers_at_once_neither_lose_nor_duplicate(channels):
    """A stalled lander (zombie) and a second one started meanwhile (a retry, or the CLI during the DAG):
    while the first holds its leases the second skips those shards; once they expire it takes them over
    and lands everything; the zombie then loses its lease before writing — every record lands once."""
    from common.aws import client
    from ingestion.checkpoints import LeaseLost, StateTable
    from ingestion.lake_io import list_files, read_bytes
    from ingestion.landing import PartitionedBuffer, land_kinesis
    from ingestion.producers import KinesisProducer, encode_event
    from ingestion.simulator import EVENTBRIDGE_TYPES, build_day

    settings = channels["settings"]
    events = [e for e in build_day(RUN_DATE, seed=4, scale=0.05).events if e["event_type"] not in EVENTBRIDGE_TYPES]
    KinesisProducer(client("kinesis"), channels["stream"]).put([encode_event(e) for e in events])
    raw_root = settings.zone_uri("raw")
    not_before = dt.date.fromisoformat(RUN_DATE) - dt.timedelta(days=2)

    def lander(owner: str, lease_seconds: float) -> StateTable:
        state = StateTable(client("dynamodb"), settings.ingestion_state_table, owner=owner, lease_seconds=lease_seconds)
        state.ensure_table()
        return state

    def new_buffer():
        return PartitionedBuffer(raw_root, RUN_DATE, 5 * 1024 * 1024, 60)

    holding, outcome = threading.Event(), {}

    def zombie():
        try:
            outcome["zombie"] = land_kinesis(SlowFirstRead(client("kinesis"), 4.0, holding), channels["stream"],
                                             new_buffer, lander("zombie", 2.0), not_before, 2)
        except LeaseLost as exc:
            outcome["zombie"] = exc

    thread = threading.Thread(target=zombie)
    thread.start()
    assert holding.wait(30)
    early = land_kinesis(client("kinesis"), channels["stream"], new_buffer, lander("retry-1", 30), not_before, 2)
    assert early["shards_leased_elsewhere"] >= 1 and early["kinesis_records"] < len(events)
    time.sleep(2.5)  # the zombie's leases expire while it is still stalled
    late = land_kinesis(client("kinesis"), channels["stream"], new_buffer, lander("retry-2", 30), not_before, 2)
    thread.join(30)
    assert isinstance(outcome["zombie"], LeaseLost)  # it stopped instead of moving a checkpoint
    landed = Counter(json.loads(line)["event_id"] for uri in list_files(f"{raw_root}/events", ".jsonl")
                     for line in read_bytes(uri).decode().splitlines())
    assert set(landed) == {e["event_id"] for e in events}  # nothing lost
    assert max(landed.values()) == 1  # nothing landed twice
    assert early["kinesis_records"] + late["kinesis_records"] == len(events)

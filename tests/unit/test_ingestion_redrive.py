"""Re-drive of raw/errors: what routes under today's rules is landed once; the rest stays, counts reconcile."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from ingestion import lake_io
from ingestion.routing import Unroutable

pytestmark = pytest.mark.unit


def _event(event_id: str, occurred_at: str) -> bytes:
    return json.dumps({"event_id": event_id, "event_type": "match_clicked", "schema_version": 1,
                       "occurred_at": occurred_at, "tenant_id": "t", "producer": "p", "payload": {}}).encode()


def _landed_ids(raw: Path) -> list[str]:
    return [json.loads(line)["event_id"] for p in (raw / "events").rglob("*.jsonl") for line in p.read_text().splitlines()]


def test_redrive_lands_what_routes_now_once_and_keeps_the_rest(isolated_settings):
    from ingestion.redrive import run_redrive

    raw = Path(isolated_settings.zone_uri("raw"))
    arrived = dt.datetime(2026, 11, 23, 0, 40, 1, tzinfo=dt.UTC)
    # What the old end-of-run-date rule wrote for an after-midnight record; a malformed record; and the
    # Firehose processing-failed format of a record that routes.
    lines = [
        Unroutable("future_timestamp", "after 2026-11-22T23:59:59", _event("e-midnight", "2026-11-23T00:40:00Z"))
        .error_line("kinesis-shardId-0", arrived),
        Unroutable("malformed_json", "cannot parse", b"{oops").error_line("kinesis-shardId-0", arrived),
        json.dumps({"attemptsMade": 4, "arrivalTimestamp": int(arrived.timestamp() * 1000),
                    "errorCode": "Lambda.FunctionError", "rawData": base64.b64encode(
                        _event("e-firehose", "2026-11-22T21:00:00Z")).decode()}),
    ]
    error_file = raw / "errors" / "dt=2026-11-22" / "kinesis-shardId-0-1-abc.jsonl"
    lake_io.write_bytes(str(error_file), ("\n".join(lines) + "\n").encode())

    first = run_redrive("2026-11-22")
    assert (first["error_lines"], first["redriven"], first["still_failing"]) == (3, 2, {"malformed_json": 1})
    assert sorted(_landed_ids(raw)) == ["e-firehose", "e-midnight"]
    assert list((raw / "events").rglob("*.jsonl"))[0].name.startswith("redrive-")
    assert (raw / "events/event_type=match_clicked/dt=2026-11-23/hour=00").is_dir()
    remaining = [json.loads(line) for line in error_file.read_text().splitlines()]
    assert [line["reason"] for line in remaining] == ["malformed_json"]

    again = run_redrive("2026-11-22")  # idempotent: nothing new lands, nothing is lost
    assert (again["error_lines"], again["redriven"], again["files_written"]) == (1, 0, 0)
    assert sorted(_landed_ids(raw)) == ["e-firehose", "e-midnight"]


def test_a_crash_between_the_events_write_and_the_error_rewrite_repeats_without_duplicates(isolated_settings,
                                                                                          monkeypatch):
    import ingestion.redrive as redrive

    raw = Path(isolated_settings.zone_uri("raw"))
    arrived = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
    line = Unroutable("future_timestamp", "x", _event("e1", "2026-11-22T11:00:00Z")).error_line("eventbridge", arrived)
    error_file = raw / "errors" / "dt=2026-11-22" / "eventbridge-1-abc.jsonl"
    lake_io.write_bytes(str(error_file), (line + "\n").encode())
    real_delete = lake_io.delete

    def crash(uri):
        raise KeyboardInterrupt("killed before the error file changed")

    monkeypatch.setattr(lake_io, "delete", crash)
    with pytest.raises(KeyboardInterrupt):
        redrive.run_redrive("2026-11-22")
    monkeypatch.setattr(lake_io, "delete", real_delete)
    assert redrive.run_redrive("2026-11-22")["redriven"] == 1
    assert _landed_ids(raw) == ["e1"] and not error_file.exists()

"""Firehose-style routing of one raw record: to an event-time partition, or to the error prefix.

Shared by the local landing consumer and the Firehose transformation Lambda, so both produce the
same layout (docs/contracts.md): ``raw/events/event_type=<t>/dt=YYYY-MM-DD/hour=HH/`` for records that
can be routed, ``raw/errors/dt=YYYY-MM-DD/`` (with a reason) for those that cannot. Full contract
validation happens later (bronze→silver); routing only needs what partitioning needs, plus the
bounds that keep a record inside the window the Spark job re-reads (so nothing lands where no run
will ever look).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass

from ingestion.contracts import EVENT_TYPES, parse_occurred_at

MAX_RECORD_BYTES = 256 * 1024  # the contract's event size limit (= EventBridge's), below Kinesis' 1 MiB
LOOKBACK_DAYS = 2  # bronze→silver re-reads dt ∈ [run_date - LOOKBACK_DAYS, run_date]
FUTURE_SKEW = dt.timedelta(minutes=15)  # producer clock skew tolerated beyond the reference time
MAX_RAW_KEPT = 64 * 1024  # error lines keep at most this much of the raw record


@dataclass(frozen=True)
class Routed:
    event_type: str
    dt: str
    hour: str
    line: str  # compact one-line JSON, the record as it will be stored
    event_id: str | None

    @property
    def partition(self) -> str:
        return f"event_type={self.event_type}/dt={self.dt}/hour={self.hour}"


@dataclass(frozen=True)
class Unroutable:
    reason: str
    detail: str
    raw: bytes

    def error_line(self, source: str, arrived_at: dt.datetime) -> str:
        text = self.raw[:MAX_RAW_KEPT].decode("utf-8", errors="replace")
        return json.dumps(
            {
                "reason": self.reason,
                "detail": self.detail,
                "raw_record": text,
                "raw_size_bytes": len(self.raw),
                "truncated": len(self.raw) > MAX_RAW_KEPT,
                "source": source,
                "arrived_at": arrived_at.astimezone(dt.UTC).isoformat(),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )


def route_record(data: bytes, arrived_at: dt.datetime, lookback_days: int = LOOKBACK_DAYS,
                 not_before: dt.date | None = None) -> Routed | Unroutable:
    """Route ``data`` by its own event time. ``arrived_at`` is when the stream or queue received it
    (Kinesis ApproximateArrivalTimestamp, SQS SentTimestamp; Firehose passes the same): nothing can
    have occurred later than that (+ clock skew), whatever run date drains it — so a record that
    arrives after midnight and is drained by the previous day's run is landed, not quarantined.
    Oldest accepted event date: ``arrived_at - lookback_days``, or ``not_before`` when earlier (the
    first day of the window the run that lands it re-reads)."""
    if len(data) > MAX_RECORD_BYTES:
        return Unroutable("oversized_record", f"{len(data)} bytes > limit {MAX_RECORD_BYTES}", data)
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return Unroutable("malformed_json", f"cannot parse: {exc}", data)
    line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False) if isinstance(obj, dict) else ""
    try:
        # JSON may escape a lone surrogate ("\ud83d"): it parses, but is no character UTF-8 can store.
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        return Unroutable("invalid_unicode", f"a string holds a lone surrogate, not storable as UTF-8: {exc}", data)
    if not isinstance(obj, dict):
        return Unroutable("malformed_json", f"top level is {type(obj).__name__}, not an object", data)
    event_type = obj.get("event_type")
    if event_type not in EVENT_TYPES:
        # Also keeps attacker-chosen strings out of the partition path.
        return Unroutable("unknown_event_type", f"event_type {event_type!r} is not one of the contracts", data)
    occurred = parse_occurred_at(obj.get("occurred_at"))
    if occurred is None:
        return Unroutable("invalid_timestamp", f"occurred_at {obj.get('occurred_at')!r} is not ISO-8601 with offset", data)
    if occurred > arrived_at + FUTURE_SKEW:
        return Unroutable("future_timestamp", f"occurred_at {occurred.isoformat()} is after its arrival "
                          f"{arrived_at.isoformat()}", data)
    oldest = (arrived_at - dt.timedelta(days=lookback_days)).date()
    if not_before is not None:
        oldest = min(oldest, not_before)
    if occurred.date() < oldest:
        return Unroutable("ancient_timestamp", f"occurred_at {occurred.isoformat()} is before {oldest} (lateness limit)", data)
    event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
    return Routed(
        event_type=event_type,
        dt=occurred.strftime("%Y-%m-%d"),
        hour=occurred.strftime("%H"),
        line=line,
        event_id=event_id,
    )


def normalise_error_line(line: str) -> dict:
    """One line of ``raw/errors/`` in either format -> {reason, detail, raw_record, source, arrived_at}.

    Our own format (local consumer) carries the reason. Firehose's processing-failed format carries
    ``rawData`` (base64) and its arrival time; the reason is re-derived with the same routing rules."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"reason": "corrupt_error_record", "detail": str(exc), "raw_record": line[:MAX_RAW_KEPT],
                "source": None, "arrived_at": None}
    if "reason" in obj:
        return {key: obj.get(key) for key in ("reason", "detail", "raw_record", "source", "arrived_at")}
    raw = base64.b64decode(obj.get("rawData") or b"")
    arrival_ms = obj.get("approximateArrivalTimestamp") or obj.get("arrivalTimestamp")
    arrived = dt.datetime.fromtimestamp(arrival_ms / 1000, dt.UTC) if arrival_ms else dt.datetime.now(dt.UTC)
    verdict = route_record(raw, arrived)
    reason, detail = (
        (verdict.reason, verdict.detail) if isinstance(verdict, Unroutable)
        else (obj.get("errorCode") or "processing_failed", obj.get("errorMessage") or "")
    )
    return {"reason": reason, "detail": detail, "raw_record": raw[:MAX_RAW_KEPT].decode("utf-8", "replace"),
            "source": "firehose", "arrived_at": arrived.isoformat()}

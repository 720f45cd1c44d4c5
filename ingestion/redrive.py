"""Re-drive ``raw/errors``: re-route every landing error with today's rules and land what now routes.

A landing error keeps the record and its arrival time (``routing.normalise_error_line`` reads both
our format and Firehose's processing-failed one), so when a rule was wrong — the old end-of-run-date
bound that sent after-midnight records to ``future_timestamp`` — or a producer's bug is understood,
the records can be landed where they belong instead of staying quarantined:

- each error file of the window is read; lines that route now are written to their event-time
  partition as ``redrive-<digest of the error file>.jsonl`` (one file per partition), then the
  error file is rewritten with only the lines that still fail (deleted when none are left);
- idempotent: the events file has a deterministic name and content, so a re-run after a crash
  between the two writes overwrites it with the same lines, and a re-run after success finds only
  lines that still fail; counts reconcile: error lines = re-driven + still failing;
- silver-stage quarantine (contract violations, conflicts) lives in ``raw/events`` already: it is
  re-validated by rebuilding the window (``--bronze-silver`` runs ``spark_jobs.bronze_to_silver``).

CLI: ``python -m ingestion.redrive --run-date YYYY-MM-DD [--bronze-silver]`` (``make redrive``).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import logging
from collections import Counter

from common.config import get_settings
from ingestion import lake_io
from ingestion.routing import LOOKBACK_DAYS, Routed, route_record

log = logging.getLogger(__name__)


def _record_and_arrival(line: str) -> tuple[bytes, dt.datetime] | None:
    """The original record bytes and arrival time of one error line; None if it kept only a truncated copy."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if "rawData" in obj:  # Firehose's processing-failed format: the whole record, base64
        arrival_ms = obj.get("approximateArrivalTimestamp") or obj.get("arrivalTimestamp")
        if not arrival_ms:
            return None
        return base64.b64decode(obj["rawData"]), dt.datetime.fromtimestamp(arrival_ms / 1000, dt.UTC)
    if obj.get("truncated") or not isinstance(obj.get("raw_record"), str) or not obj.get("arrived_at"):
        return None
    return obj["raw_record"].encode("utf-8", "surrogatepass"), dt.datetime.fromisoformat(obj["arrived_at"])


def redrive_file(uri: str, raw_root: str, not_before: dt.date, lookback_days: int = LOOKBACK_DAYS) -> Counter:
    counts: Counter = Counter()
    lines = [line for line in lake_io.read_bytes(uri).decode("utf-8", "replace").splitlines() if line.strip()]
    keep: list[str] = []
    by_partition: dict[str, list[str]] = {}
    for line in lines:
        counts["error_lines"] += 1
        found = _record_and_arrival(line)
        routed = route_record(found[0], found[1], lookback_days, not_before) if found else None
        if isinstance(routed, Routed):
            by_partition.setdefault(routed.partition, []).append(routed.line)
            counts["redriven"] += 1
        else:
            keep.append(line)
            counts[f"still:{routed.reason if routed else 'not_redrivable'}"] += 1
    if not by_partition:
        return counts
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    for partition, rows in sorted(by_partition.items()):  # durable first ...
        lake_io.write_bytes(f"{raw_root}/events/{partition}/redrive-{digest}.jsonl", ("\n".join(rows) + "\n").encode())
        counts["files_written"] += 1
    if keep:  # ... then the error file loses exactly those lines
        lake_io.write_bytes(uri, ("\n".join(keep) + "\n").encode("utf-8", "surrogatepass"))
    else:
        lake_io.delete(uri)
    counts["error_files_changed"] += 1
    return counts


def run_redrive(run_date: str, *, lookback_days: int = LOOKBACK_DAYS, bronze_silver: bool = False) -> dict:
    """Re-drive the error files of the run date's window; optionally rebuild bronze/silver for it."""
    settings = get_settings()
    raw_root = settings.zone_uri("raw")
    day = dt.date.fromisoformat(run_date)
    dates = [(day - dt.timedelta(days=back)).isoformat() for back in range(lookback_days, -1, -1)]
    not_before = day - dt.timedelta(days=lookback_days)
    counts: Counter = Counter()
    for date in dates:
        for uri in lake_io.list_files(f"{raw_root}/errors/dt={date}"):
            counts += redrive_file(uri, raw_root, not_before, lookback_days)
    result = {
        "window": f"{dates[0]}..{dates[-1]}",
        "error_lines": counts["error_lines"],
        "redriven": counts["redriven"],
        "still_failing": {k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("still:")},
        "files_written": counts["files_written"],
        "error_files_changed": counts["error_files_changed"],
    }
    if result["error_lines"] != result["redriven"] + sum(result["still_failing"].values()):  # pragma: no cover
        raise RuntimeError(f"redrive counts do not reconcile: {result}")
    if bronze_silver:
        from spark_jobs import bronze_to_silver

        result["bronze_to_silver"] = bronze_to_silver.run(run_date, lookback_days=lookback_days)
    log.info("redrive %s: %s", run_date, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Re-route raw/errors with today's rules; land what now routes")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--lookback-days", type=int, default=LOOKBACK_DAYS)
    parser.add_argument("--bronze-silver", action="store_true",
                        help="then rebuild bronze/silver/quarantine for the window (re-validates silver rejects)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(run_redrive(args.run_date, lookback_days=args.lookback_days, bronze_silver=args.bronze_silver),
                     indent=2))


if __name__ == "__main__":
    main()

"""`make bench-ingest`: events/s from the producers to silver, locally, with the count reconciliation.

Generates one simulated day (``--events`` target, default 20k; ``--events 1000000`` for the ≥ 1M
run), then times each hop on private channels and a private lake (never the platform's own):
produce (Kinesis PutRecords + EventBridge PutEvents) → land (local Firehose-style consumer) →
bronze→silver (Spark). Prints a table and one JSON line, also written to
``<local_state_dir>/bench/bench_ingest.json``.

Landing runs the way it runs in production — while the producers send (``--land-while-producing``,
the default: a lander polls the stream and the queue as Firehose / the hourly DAG do), then a final
drain — or only after everything is sent (``--land-after``, one day's backlog at once). The landing
rate is records landed per second the lander was busy. The day is yesterday (landing bounds each
record by its arrival time, which the stand-ins stamp with the real clock).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

RUN_DATE = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="target number of simulated events")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-lake", action="store_true", help="keep the benchmark lake for inspection")
    parser.add_argument("--shards", type=int, default=4, help="Kinesis shards of the private stream")
    parser.add_argument("--poll-seconds", type=float, default=5.0,
                        help="pause between landing passes while producing (a Firehose-like buffer interval)")
    parser.add_argument("--land-after", action="store_true",
                        help="land only after everything is produced (the whole backlog in one drain)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from common.config import get_settings, reset_settings_cache
    from common.local_services import ensure_up

    ensure_up()
    base_state = get_settings().local_state_dir
    bench_root = base_state / "bench" / f"ingest-{uuid.uuid4().hex[:8]}"
    os.environ["LAKE_ROOT"] = str(bench_root / "lake")
    os.environ["LOCAL_STATE_DIR"] = str(bench_root / "state")
    reset_settings_cache()

    from ingestion.channels import create_channels, delete_channels
    from ingestion.landing import run_landing
    from ingestion.simulator import build_day, run_simulation
    from spark_jobs import bronze_to_silver
    from spark_jobs.session import get_spark

    channels = create_channels(f"bench-ingest-{uuid.uuid4().hex[:8]}", shards=args.shards)
    try:
        started = time.perf_counter()
        plan_events = len(build_day(RUN_DATE, args.seed, args.events).events)
        generate_s = time.perf_counter() - started
        outcome: dict = {}

        def produce() -> None:
            outcome["sim"] = run_simulation(RUN_DATE, args.seed, args.events, stream_name=channels.stream,
                                            bus_name=channels.bus, write_documents=False)

        producer = threading.Thread(target=produce)
        producer.start()
        landings = []
        if not args.land_after:
            while producer.is_alive():  # poll like a continuously running lander
                landings.append(run_landing(RUN_DATE, stream_name=channels.stream, queue_name=channels.queue,
                                            max_buffer_seconds=args.poll_seconds))
                time.sleep(args.poll_seconds)
        producer.join()
        if "sim" not in outcome:
            raise RuntimeError("the simulator failed (see its traceback above)")
        sim = outcome["sim"]
        produce_s = sim["seconds"] - sim["generate_seconds"]
        while not landings or landings[-1]["records_in"]:  # drain what is left, until a pass finds nothing
            landings.append(run_landing(RUN_DATE, stream_name=channels.stream, queue_name=channels.queue))
        landed = {key: sum(run[key] for run in landings) for key in ("records_in", "errors", "files_written",
                                                                      "kinesis_records", "sqs_messages", "seconds")}
        landed["passes"] = len(landings)
        print(f"landed {landed['records_in']:,} records in {landed['seconds']:.1f} busy s over {len(landings)} passes",
              file=sys.stderr, flush=True)
        spark = get_spark("bench_ingest")
        silver = bronze_to_silver.run(RUN_DATE, spark=spark)
    finally:
        delete_channels(channels)
        if not args.keep_lake:
            shutil.rmtree(bench_root, ignore_errors=True)

    records_in = sim["events"] + sim["duplicate_deliveries"] + sim["bad_records"]
    # An added field is tolerated (kept in silver's `extra`): the simulator's extra_field record is valid
    # (newer simulators already count it in expected_valid).
    rejected = dict(sim["expected_rejected"])
    valid = sim.get("expected_valid", sim["events"]) + rejected.pop("extra_field", 0)
    expected_quarantine = sum(rejected.values())
    lost = valid - silver["silver_rows"]
    duplicated = max(0, silver["silver_rows"] - valid)
    pipeline_s = produce_s + landed["seconds"] + silver["seconds"]
    rows = [
        ("generate (simulator)", plan_events, generate_s),
        ("produce → Kinesis + EventBridge", records_in, produce_s),
        (f"land → raw ({landed['passes']} passes, busy s)", landed["records_in"], landed["seconds"]),
        ("raw → bronze → silver (Spark)", silver["raw_lines"] + silver["quarantined_landing"], silver["seconds"]),
        ("producer → silver, end to end", records_in, pipeline_s),
    ]
    print(f"\nbench-ingest: {sim['events']:,} events ({sim['candidates']} candidates, {sim.get('open_jobs', sim.get('jobs'))} jobs), "
          f"{os.cpu_count()} cores\n")
    print(f"{'hop':34} {'records':>10} {'seconds':>9} {'records/s':>11}")
    for name, count, seconds in rows:
        print(f"{name:34} {count:>10,} {seconds:>9.2f} {count / max(seconds, 1e-9):>11,.0f}")
    print("\nreconciliation")
    recon = [
        ("valid events produced", sim["events"]),
        ("duplicate deliveries", sim["duplicate_deliveries"]),
        ("bad records injected", sim["bad_records"]),
        ("records landed (kinesis + sqs)", landed["records_in"]),
        ("  of which via EventBridge → SQS", landed["sqs_messages"]),
        ("raw files written", landed["files_written"]),
        ("landing errors", landed["errors"]),
        ("silver rows", silver["silver_rows"]),
        ("quarantined (landing + silver)", silver["quarantined"]),
        ("duplicates removed", silver["duplicates_removed"]),
        ("lost", lost),
        ("duplicated in silver", duplicated),
    ]
    for name, value in recon:
        print(f"  {name:34} {value:>10,}")
    ok = (lost == 0 and duplicated == 0 and silver["quarantined"] == expected_quarantine
          and landed["records_in"] == records_in and silver["reconciled"])
    print(f"  {'in = silver + quarantined':34} {'OK' if ok else 'MISMATCH':>10}")
    summary = {
        "benchmark": "ingest", "events": sim["events"], "records_in": records_in, "cores": os.cpu_count(),
        "generate_s": round(generate_s, 2), "produce_s": round(produce_s, 2), "land_s": landed["seconds"],
        "bronze_silver_s": silver["seconds"], "end_to_end_s": round(pipeline_s, 2),
        "events_per_s_end_to_end": round(records_in / pipeline_s, 1),
        "produce_events_per_s": round(records_in / max(produce_s, 1e-9), 1),
        "land_events_per_s": round(landed["records_in"] / max(landed["seconds"], 1e-9), 1),
        "land_mode": "after_producing" if args.land_after else "while_producing", "shards": args.shards,
        "land_passes": landed["passes"], "sqs_messages": landed["sqs_messages"],
        "raw_files": landed["files_written"],
        "silver_phase_seconds": silver.get("phase_seconds"),
        "silver_rows": silver["silver_rows"], "quarantined": silver["quarantined"],
        "duplicates_removed": silver["duplicates_removed"], "lost": lost, "duplicated": duplicated,
        "reconciled": ok,
    }
    out = Path(base_state) / "bench" / "bench_ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print("\n" + json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

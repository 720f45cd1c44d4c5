"""`make bench-ingest`: events/s from the producers to silver, locally, with the count reconciliation.

Generates one simulated day (``--events`` target, default 20k; ``--events 1000000`` for the ≥ 1M
run), then times each hop on private channels and a private lake (never the platform's own):
produce (Kinesis PutRecords + EventBridge PutEvents) → land (local Firehose-style consumer) →
bronze→silver (Spark). Prints a table and one JSON line, also written to
``<local_state_dir>/bench/bench_ingest.json``.

Landing runs the way it runs in production — in its own process, while the producers send (the
default: a lander polls the stream and the queue every ``--poll-seconds``, as Firehose / the hourly DAG
do) until a pass after the producers finished finds nothing — or only after everything is sent
(``--land-after``, one day's backlog at once). The landing rate is records landed per second the lander
was busy. The day is yesterday (landing bounds each
record by its arrival time, which the stand-ins stamp with the real clock).

The headline figure is **producer → raw, end to end**: wall-clock seconds from the first record the
producers send until the last pass has landed everything into raw/ (both channels, the real mix),
checked by counting the lines in the raw files. bronze→silver runs after it (``--skip-silver`` to
leave it out) and is reported separately.

The benchmark starts its own stand-ins (kinesalite, dynalite, moto) on free ports with their own
state directory and stops them at the end: it never shares (or is slowed by) the developer's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import multiprocessing
import os
import queue
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

RUN_DATE = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def _raw_lines(raw_root: Path) -> int:
    """Lines in every landed raw file (events and errors): what the landing put into the lake."""
    total = 0
    for sub in ("events", "errors"):
        for path in (raw_root / sub).rglob("*.jsonl"):
            with path.open("rb") as handle:
                total += sum(1 for _ in handle)
    return total


def _cpu_seconds(settings) -> dict[str, float]:
    """CPU seconds used so far by this process (producers + lander) and by each stand-in it started."""
    from common.local_services import service_definitions
    from common.local_services.processes import read_pid_file

    times = os.times()
    used = {"simulator + producers (this process)": times.user + times.system,
            "lander (its own process, once ended)": times.children_user + times.children_system}
    ticks = os.sysconf("SC_CLK_TCK")
    for service in service_definitions(settings):
        record = read_pid_file(service)
        try:
            fields = Path(f"/proc/{record['pid']}/stat").read_text().rsplit(")", 1)[1].split()
            used[service.name] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        except (OSError, TypeError, IndexError, ValueError):
            continue  # no /proc (macOS) or not running: leave it out
    return used


def _lander(stream: str, queue: str, poll_seconds: float, land_after: bool, stop, results) -> None:
    """The lander in its own process, as in production (the landing task; Firehose in AWS): a pass every
    ``poll_seconds`` while the producers send (or, ``land_after``, none until they are done); once they
    are done, passes until one finds nothing."""
    from ingestion.landing import run_landing

    if land_after:
        stop.wait()  # started (and imported) with the producers, so its start-up is not timed
    landings = []
    while True:
        producers_done = stop.is_set()  # read before the pass: an empty pass after it proves all landed
        # A pass flushes when it is caught up (or at 5 MiB): the poll interval is the buffer interval.
        run = run_landing(RUN_DATE, stream_name=stream, queue_name=queue)
        landings.append({**run, "ended_at": time.time()})
        if producers_done and not run["records_in"]:
            break
        if not producers_done:
            stop.wait(poll_seconds)
    results.put(landings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="target number of simulated events")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-lake", action="store_true", help="keep the benchmark lake for inspection")
    parser.add_argument("--shards", type=int, default=4, help="Kinesis shards of the private stream")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="pause between landing passes while producing (a Firehose-like buffer interval)")
    parser.add_argument("--land-after", action="store_true",
                        help="land only after everything is produced (the whole backlog in one drain)")
    parser.add_argument("--skip-silver", action="store_true", help="stop after the landing (no Spark)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from common.config import get_settings, reset_settings_cache
    from common.local_services import ensure_up, pick_free_ports, stop_all

    base_state = get_settings().local_state_dir
    bench_root = base_state / "bench" / f"ingest-{uuid.uuid4().hex[:8]}"
    # Own stand-ins on free ports with their own state: nothing a developer (or another run) uses.
    os.environ.update(pick_free_ports())
    for name in ("KINESIS_ENDPOINT", "DYNAMODB_ENDPOINT", "MOTO_ENDPOINT"):
        os.environ.pop(name, None)
    os.environ["LAKE_ROOT"] = str(bench_root / "lake")
    os.environ["LOCAL_STATE_DIR"] = str(bench_root / "state")
    reset_settings_cache()
    settings = get_settings()

    from ingestion.channels import create_channels, delete_channels
    from ingestion.simulator import run_simulation

    try:
        ensure_up(settings)
        channels = create_channels(f"bench-ingest-{uuid.uuid4().hex[:8]}", shards=args.shards)
        try:
            outcome: dict = {}

            def produce() -> None:
                outcome["sim"] = run_simulation(RUN_DATE, args.seed, args.events, stream_name=channels.stream,
                                                bus_name=channels.bus, write_documents=False,
                                                continue_history=False)

            producer = threading.Thread(target=produce)
            spawn = multiprocessing.get_context("spawn")
            stop, results = spawn.Event(), spawn.Queue()
            lander = spawn.Process(target=_lander, args=(channels.stream, channels.queue, args.poll_seconds,
                                                         args.land_after, stop, results), name="bench-lander")
            cpu_at_start = _cpu_seconds(settings)
            wall_started = time.time()
            producer.start()
            lander.start()
            producer.join()
            stop.set()
            landings = None
            while landings is None:
                try:
                    landings = results.get(timeout=1.0)
                except queue.Empty:
                    if not lander.is_alive():
                        raise RuntimeError(f"the lander died (exit code {lander.exitcode}); see its traceback") from None
            lander.join()
            if "sim" not in outcome:
                raise RuntimeError("the simulator failed (see its traceback above)")
            sim = outcome["sim"]
            produce_s = sim["seconds"] - sim["generate_seconds"]
            generate_s = sim["generate_seconds"]
            # Until the end of the last pass that landed anything (the pass after it found nothing: all is
            # in raw/), less the simulator building the day before it sends anything.
            last_landed = max(run["ended_at"] for run in landings if run["records_in"])
            end_to_end_s = last_landed - wall_started - generate_s
            landed = {key: sum(run[key] for run in landings)
                      for key in ("records_in", "errors", "files_written", "kinesis_records", "sqs_messages",
                                  "seconds")}
            landed["passes"] = len(landings)
            raw_lines = _raw_lines(bench_root / "lake" / "raw")
            cpu = {name: round(seconds - cpu_at_start.get(name, 0.0), 2)
                   for name, seconds in _cpu_seconds(settings).items()}
            print(f"landed {landed['records_in']:,} records in {landed['seconds']:.1f} busy s over "
                  f"{len(landings)} passes", file=sys.stderr, flush=True)
        finally:
            delete_channels(channels)
        silver = None
        if not args.skip_silver:
            from spark_jobs import bronze_to_silver
            from spark_jobs.session import get_spark

            silver = bronze_to_silver.run(RUN_DATE, spark=get_spark("bench_ingest"))
    finally:
        stop_all(settings)
        if not args.keep_lake:
            shutil.rmtree(bench_root, ignore_errors=True)

    records_in = sim["events"] + sim["duplicate_deliveries"] + sim["bad_records"]
    # An added field is tolerated (kept in silver's `extra`): the simulator's extra_field record is valid.
    rejected = dict(sim["expected_rejected"])
    valid = sim.get("expected_valid", sim["events"]) + rejected.pop("extra_field", 0)
    expected_quarantine = sum(rejected.values())
    rows = [
        ("generate (simulator)", sim["events"], generate_s),
        ("produce → Kinesis + EventBridge", records_in, produce_s),
        (f"land → raw ({landed['passes']} passes, busy s)", landed["records_in"], landed["seconds"]),
        ("producer → raw, end to end (wall)", records_in, end_to_end_s),
    ]
    if silver is not None:
        rows.append(("raw → bronze → silver (Spark)", silver["raw_lines"] + silver["quarantined_landing"],
                     silver["seconds"]))
    print(f"\nbench-ingest: {sim['events']:,} events ({sim['candidates']} candidates, "
          f"{sim.get('open_jobs', sim.get('jobs'))} jobs), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'hop':36} {'records':>10} {'seconds':>9} {'records/s':>11}")
    for name, count, seconds in rows:
        print(f"{name:36} {count:>10,} {seconds:>9.2f} {count / max(seconds, 1e-9):>11,.0f}")
    print("\nreconciliation")
    recon = [
        ("valid events produced", sim["events"]),
        ("duplicate deliveries", sim["duplicate_deliveries"]),
        ("bad records injected", sim["bad_records"]),
        ("records landed (kinesis + sqs)", landed["records_in"]),
        ("  of which via EventBridge → SQS", landed["sqs_messages"]),
        ("lines in raw files", raw_lines),
        ("raw files written", landed["files_written"]),
        ("landing errors", landed["errors"]),
    ]
    ok = landed["records_in"] == records_in and raw_lines == records_in
    lost = duplicated = None
    if silver is not None:
        lost = valid - silver["silver_rows"]
        duplicated = max(0, silver["silver_rows"] - valid)
        recon += [
            ("silver rows", silver["silver_rows"]),
            ("quarantined (landing + silver)", silver["quarantined"]),
            ("duplicates removed", silver["duplicates_removed"]),
            ("lost", lost),
            ("duplicated in silver", duplicated),
        ]
        ok = ok and lost == 0 and duplicated == 0 and silver["quarantined"] == expected_quarantine \
            and silver["reconciled"]
    for name, value in recon:
        print(f"  {name:34} {value:>10,}")
    print(f"  {'in = raw lines' + ('' if silver is None else ' = silver + quarantined'):34} "
          f"{'OK' if ok else 'MISMATCH':>10}")
    print("\nCPU seconds, producing and landing (the simulator's generation of the day included)")
    for name, seconds in cpu.items():
        print(f"  {name:38} {seconds:>8.2f}")
    summary = {
        "benchmark": "ingest", "events": sim["events"], "records_in": records_in, "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "generate_s": round(generate_s, 2), "produce_s": round(produce_s, 2), "land_s": landed["seconds"],
        "end_to_end_s": round(end_to_end_s, 2),
        "events_per_s_end_to_end": round(records_in / max(end_to_end_s, 1e-9), 1),
        "produce_events_per_s": round(records_in / max(produce_s, 1e-9), 1),
        "land_events_per_s": round(landed["records_in"] / max(landed["seconds"], 1e-9), 1),
        "land_mode": "after_producing" if args.land_after else "while_producing", "shards": args.shards,
        "land_passes": landed["passes"], "kinesis_records": landed["kinesis_records"],
        "sqs_messages": landed["sqs_messages"], "raw_files": landed["files_written"], "raw_lines": raw_lines,
        "cpu_seconds": cpu, "reconciled": ok,
    }
    if silver is not None:
        summary.update({
            "bronze_silver_s": silver["seconds"], "silver_phase_seconds": silver.get("phase_seconds"),
            "silver_rows": silver["silver_rows"], "quarantined": silver["quarantined"],
            "duplicates_removed": silver["duplicates_removed"], "lost": lost, "duplicated": duplicated,
        })
    out = Path(base_state) / "bench" / "bench_ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print("\n" + json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the daily pipeline, real stages, a cold first day then steady days.

Day 1 is a cold day: the whole marketplace (``--candidates`` × ``--jobs``) arrives and every stage
processes everything. Each later day is a steady day continuing it (the simulator's history): ≈ 3 % new
candidates, ≈ 2 % changed resumes, ≈ 2-3 % new jobs (≈ 5 % new/changed documents), applications moving
through their stages, a share of the candidates back on their feed — a normal day's events — and the
incremental stages redo only what changed.

The stages are the ones `make run` and the Airflow DAGs call (`common.run_pipeline.default_stages`),
all of them every day (the marts as of each day; the dashboard is left out), in one process, on their own
lake, state directory and local AWS stand-ins (own ports, started and stopped here): nothing a
developer runs is touched. ``simulate`` stands in for the producers (in AWS the services emit the
events); it is timed but not counted in ``cold_day_seconds`` / ``steady_day_seconds``.

Output: a table and a JSON file with per-day, per-stage seconds, the work each stage reported and a
rate (the stage's headline count per second), plus ``cold_day_seconds`` and ``steady_day_seconds``.
Each stage also gets its CPU seconds (this process tree + the run's own service processes, from
/proc) and the 1-minute load average before and after it: on a shared machine the wall seconds
depend on everyone else's load, the CPU seconds much less — they are what docs/scaling.md scales
and prices (vCPU-hours).
Usage (``make bench-pipeline``):
  python benchmarks/bench_pipeline.py --candidates 50000 --jobs 20000 --days 2 --out .local/bench/pipeline.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RUN_DATE = "2026-11-02"
# Each stage's headline work: (unit, the count keys summed). Rates are units per second of the stage.
WORK_UNITS = {
    "simulate": ("events", ("events",)),
    "land": ("records", ("records_in",)),
    "bronze_to_silver": ("raw lines", ("raw_lines",)),
    "build_profiles": ("documents", ("candidates_reprocessed", "jobs_reprocessed")),
    "embed": ("documents", ("embedded",)),
    "match": ("pairs", ("pairs_scored",)),
    "quality_gate": ("expectations", ("expectations",)),
    "publish": ("ranked entries", ("entries_written",)),  # one DynamoDB item per list since layout 2
    "dbt_build": ("mart rows", ("mart_rows",)),
}
PORTS = {"KINESIS_PORT": 45671, "DYNAMODB_PORT": 45672, "MOTO_PORT": 45673}


def stage_work(name: str, counts: dict, seconds: float) -> tuple[str | None, int | None, float | None]:
    """(unit, units of work, units per second) from a stage's own counts; None where it reports none."""
    unit, keys = WORK_UNITS.get(name, (None, ()))
    values = [counts.get(k) for k in keys]
    if not keys or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return unit, None, None
    work = int(sum(values))
    return unit, work, (round(work / seconds, 1) if seconds > 0 else None)


def _proc_stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, utime + stime + cutime + cstime in clock ticks) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid … utime stime cutime cstime
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def cpu_seconds(scratch: Path) -> float | None:
    """CPU seconds used so far by this process tree (Spark's JVM and Python workers, dbt, reaped
    children) plus the local AWS stand-ins of this run (found by their scratch path or port). On a shared
    machine the wall seconds of a stage depend on everyone's load; its CPU seconds do not, and they
    are what a vCPU-hour price multiplies. None where /proc is missing (not Linux)."""
    if not Path("/proc/self/stat").exists():
        return None
    stats, services = {}, set()
    markers = [str(scratch)] + [f" {os.environ.get(k, v)}" for k, v in PORTS.items()]  # "--port N" / "-p N"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(entry.name)):
            stats[int(entry.name)] = stat
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ") + " "
                if any(marker in cmdline and (marker.startswith("/") or f"{marker} " in cmdline) for marker in markers):
                    services.add(int(entry.name))
            except OSError:
                pass
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo = set(), [os.getpid(), *services]
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
    return sum(stats[pid][1] for pid in seen) / os.sysconf("SC_CLK_TCK")


def isolated_environment(root: Path) -> dict[str, str]:
    env = {
        "PLATFORM_ENV": "local",
        "LAKE_ROOT": str(root / "lake"),
        "LOCAL_STATE_DIR": str(root / "state"),
        "PYTHONPATH": str(REPO),
        "SPARK_LOCAL_IP": "127.0.0.1",
        # dbt's target and log directories default to the repo's dbt/ folder: keep this run's apart
        "DBT_TARGET_PATH": str(root / "dbt-target"),
        "DBT_LOG_PATH": str(root / "dbt-logs"),
        **{k: str(os.environ.get(f"BENCH_{k}", v)) for k, v in PORTS.items()},
    }
    os.environ.update(env)
    from common.config import reset_settings_cache

    reset_settings_cache()
    return env


def services(action: str) -> None:
    subprocess.run([sys.executable, "-m", "common.local_services", action], cwd=REPO, check=action == "up",
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_days(args, root: Path) -> list[dict]:
    from common import run_pipeline as rp

    stages = [s for s in rp.default_stages(args.seed, "small", args.encoder, gold_every=1) if s.name != "dashboard"]
    for stage in stages:
        stage.daily, stage.every = True, 1  # every stage every day: the marts too
        if stage.name == "simulate":
            stage.kwargs.update(candidates=args.candidates, jobs=args.jobs)
    end = dt.date.fromisoformat(args.run_date)
    days = []
    for n, day in enumerate(rp.history_dates(end.isoformat(), args.days)):
        started = time.perf_counter()
        rows, blocked_by = [], None
        for stage in stages:  # rp.run_pipeline's loop, with CPU seconds and the load around each stage
            if blocked_by:
                rows.append({"stage": stage.name, "status": "skipped", "seconds": 0.0, "unit": None, "units": None,
                             "per_second": None, "cpu_seconds": None, "work": "", "counts": {},
                             "error": f"blocked by failed {blocked_by}"})
                continue
            cpu_before, load_before = cpu_seconds(root), os.getloadavg()[0]
            o = rp.run_stage(stage, day)
            cpu_after = cpu_seconds(root)
            unit, work, rate = stage_work(o.name, o.counts, o.seconds)
            cpu = round(cpu_after - cpu_before, 1) if cpu_before is not None and cpu_after is not None else None
            if cpu is not None and cpu < 0:
                cpu = None  # a process left the tree unreaped and took its CPU time along: no honest reading
            rows.append({"stage": o.name, "status": o.status, "seconds": round(o.seconds, 1), "unit": unit,
                         "units": work, "per_second": rate, "cpu_seconds": cpu,
                         "units_per_cpu_second": round(work / cpu, 1) if work is not None and cpu else None,
                         "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                         "work": rp.work_done(o.counts), "counts": o.counts, "error": o.error})
            if o.status == "failed" and stage.blocks_rest_on_failure:
                blocked_by = o.name
        wall = time.perf_counter() - started
        outcomes = rows
        platform = sum(r["seconds"] for r in rows if r["stage"] != "simulate")
        platform_cpu = [r["cpu_seconds"] for r in rows if r["stage"] != "simulate" and r["status"] == "ok"]
        days.append({"date": day, "kind": "cold" if n == 0 else "steady", "wall_seconds": round(wall, 1),
                     "platform_seconds": round(platform, 1),
                     "platform_cpu_seconds": (round(sum(platform_cpu), 1) if platform_cpu and None not in platform_cpu
                                              else None),
                     "stages": rows})
        if any(r["status"] == "failed" for r in outcomes):
            break
    return days


def print_table(days: list[dict]) -> None:
    print(f"{'day':<12} {'kind':<7} {'stage':<18} {'status':<8} {'seconds':>8} {'cpu s':>8} {'work':>22} "
          f"{'per s':>10} {'per cpu s':>10} {'load':>10}  redone / kept")
    for day in days:
        for row in day["stages"]:
            work = f"{row['units']:,} {row['unit']}" if row["units"] is not None else ""
            rate = f"{row['per_second']:,.1f}" if row["per_second"] is not None else ""
            per_cpu = f"{row['units_per_cpu_second']:,.1f}" if row.get("units_per_cpu_second") is not None else ""
            cpu = f"{row['cpu_seconds']:.1f}" if row.get("cpu_seconds") is not None else ""
            load = "→".join(f"{x:g}" for x in row.get("load_average") or [])
            print(f"{day['date']:<12} {day['kind']:<7} {row['stage']:<18} {row['status']:<8} {row['seconds']:>8.1f} "
                  f"{cpu:>8} {work:>22} {rate:>10} {per_cpu:>10} {load:>10}  {row['work'][:70]}")
        cpu_total = f"{day['platform_cpu_seconds']:.1f}" if day["platform_cpu_seconds"] is not None else ""
        print(f"{day['date']:<12} {day['kind']:<7} {'(platform total)':<18} {'':<8} {day['platform_seconds']:>8.1f} "
              f"{cpu_total:>8}")


def _stage_rows(result: dict, kind: str) -> dict[str, dict]:
    days = [d for d in result["per_day"] if d["kind"] == kind]
    return {r["stage"]: r for r in days[0]["stages"]} if days else {}


def fit_growth(small: dict, large: dict, candidates: int, jobs: int) -> dict:
    """Per stage and day kind, CPU seconds = fixed + per_unit × units fitted through two measured sizes,
    then evaluated at ``candidates`` × ``jobs`` — an EXTRAPOLATION, labelled so in the output.

    Units at the target size: the larger run's units scaled by the size ratio (linear stages) or its
    square (match pairs: candidates × jobs per tenant)."""
    ratio = candidates / large["candidates"]
    ratio_pairs = ratio * (jobs / large["jobs"])
    out: dict = {"extrapolated_to": {"candidates": candidates, "jobs": jobs},
                 "from_sizes": [f"{small['candidates']}x{small['jobs']}", f"{large['candidates']}x{large['jobs']}"],
                 "label": "EXTRAPOLATION from two measured sizes, not a measurement", "days": {}}
    for kind in ("cold", "steady"):
        rows_small, rows_large = _stage_rows(small, kind), _stage_rows(large, kind)
        stages, total = {}, 0.0
        for name, big in rows_large.items():
            little = rows_small.get(name)
            if (name == "simulate" or not little or "ok" != big["status"] or "ok" != little["status"]
                    or big.get("cpu_seconds") is None or little.get("cpu_seconds") is None):
                continue  # a failed/stopped stage or a lost CPU reading fits nothing
            u1, u2, unit = little.get("units"), big.get("units"), big.get("unit")
            c1, c2 = little["cpu_seconds"], big["cpu_seconds"]
            if u1 is None or u2 is None or u2 == u1:
                # no work count that grew with the size (the gate's expectations): the marketplace's size
                # (candidates + jobs) is the proxy the stage's reads grow with
                u1, u2 = small["candidates"] + small["jobs"], large["candidates"] + large["jobs"]
                unit = "candidates + jobs (proxy)"
            if u2 == u1:
                per_unit, fixed, target_units, cpu = None, max(c1, c2), None, max(c1, c2)
            else:
                per_unit = max((c2 - c1) / (u2 - u1), 0.0)
                fixed = max(c1 - per_unit * u1, 0.0)
                target_units = round(u2 * (ratio_pairs if name == "match" else ratio))
                cpu = fixed + per_unit * target_units
            total += cpu
            stages[name] = {"fixed_cpu_seconds": round(fixed, 1),
                            "cpu_seconds_per_unit": per_unit if per_unit is None else float(f"{per_unit:.3g}"),
                            "unit": unit, "units": target_units, "cpu_seconds": round(cpu, 1)}
        # 2 cores: the wall time if the stage kept both busy (a floor; measured stages do not always)
        out["days"][kind] = {"stages": stages, "cpu_seconds": round(total, 1),
                             "wall_seconds_if_2_cores_busy": round(total / 2, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=800)
    parser.add_argument("--days", type=int, default=2, help="1 cold day + (days - 1) steady days")
    parser.add_argument("--run-date", default=RUN_DATE, help="the last day")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--encoder", default=None, help="embedding encoder (default: the embed stage's own)")
    parser.add_argument("--out", type=Path, default=REPO / ".local" / "bench" / "pipeline.json")
    parser.add_argument("--keep", action="store_true", help="keep the scratch lake (its path is printed)")
    parser.add_argument("--fit", nargs=2, type=Path, metavar=("SMALL.json", "LARGE.json"),
                        help="no run: fit each stage's CPU cost (fixed + per unit) through two earlier outputs and "
                             "extrapolate it to --candidates x --jobs (printed and written to --out, labelled)")
    args = parser.parse_args(argv)
    if args.fit:
        small, large = (json.loads(p.read_text(encoding="utf-8")) for p in args.fit)
        fitted = fit_growth(small, large, args.candidates, args.jobs)
        print(json.dumps(fitted, indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(fitted, indent=2), encoding="utf-8")
        return 0
    if args.days < 1 or args.candidates < 10 or args.jobs < 4:
        parser.error("need --days ≥ 1, --candidates ≥ 10, --jobs ≥ 4")

    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    isolated_environment(root)
    from common.run_pipeline import RunLog

    log_file = root / "bench.log"
    services("up")
    try:
        with RunLog(log_file) as run_log:
            console = run_log.console
            print(f"bench-pipeline: {args.candidates} candidates x {args.jobs} jobs, {args.days} days; scratch {root};"
                  f" full log {log_file}", file=console, flush=True)
            days = run_days(args, root)
    finally:
        services("down")
    cold = next((d for d in days if d["kind"] == "cold"), None)
    steady = [d for d in days if d["kind"] == "steady"]
    result = {
        "candidates": args.candidates, "jobs": args.jobs, "days": args.days, "encoder": args.encoder,
        "cpu_count": os.cpu_count(), "load_average_at_end": os.getloadavg(),
        "cold_day_seconds": cold["platform_seconds"] if cold else None,
        "steady_day_seconds": (round(sum(d["platform_seconds"] for d in steady) / len(steady), 1) if steady else None),
        "cold_day_cpu_seconds": cold["platform_cpu_seconds"] if cold else None,
        "steady_day_cpu_seconds": (round(sum(d["platform_cpu_seconds"] or 0 for d in steady) / len(steady), 1)
                                   if steady and all(d["platform_cpu_seconds"] is not None for d in steady) else None),
        "simulate_seconds": {d["date"]: next((r["seconds"] for r in d["stages"] if r["stage"] == "simulate"), None)
                             for d in days},
        "all_ok": len(days) == args.days and all(r["status"] == "ok" for d in days for r in d["stages"]),
        "per_day": days,
        "log": str(log_file),
    }
    print_table(days)
    print(f"cold_day_seconds={result['cold_day_seconds']} steady_day_seconds={result['steady_day_seconds']} "
          f"(platform stages; simulate excluded) all_ok={result['all_ok']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"wrote {args.out}")
    if not args.keep:
        import shutil

        shutil.rmtree(root / "lake", ignore_errors=True)
    return 0 if result["all_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

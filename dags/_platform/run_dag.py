"""Run one DAG for one date under Airflow itself (``airflow dags test``): what `make run` calls.

    .venv/airflow/bin/python dags/_platform/run_dag.py match_daily --date 2026-11-22

Prepares a fresh Airflow home when needed (``db migrate`` once, then ``dags reserialize`` every time so the
run uses the current DAG files), runs the DAG in-process, prints the run summary table and exits non-zero
when the run failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `_platform` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _platform.airflow_env import airflow_environment, airflow_home  # noqa: E402
from _platform.dates import parse_run_date  # noqa: E402
from common.config import get_settings  # noqa: E402

log = logging.getLogger("marketplace.run_dag")


def airflow_cli(env: dict[str, str]) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow"))] if Path(sys.executable).with_name(
        "airflow"
    ).exists() else [sys.executable, "-m", "airflow"]


def _run(command: list[str], env: dict[str, str], quiet: bool = False) -> int:
    log.info("$ %s", " ".join(command[-4:] if len(command) > 4 else command))
    if quiet:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        return done.returncode
    return subprocess.run(command, env=env).returncode


def prepare_home(env: dict[str, str]) -> None:
    """``db migrate`` once per home (marker file), ``dags reserialize`` every time."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".db-migrated"
    cli = airflow_cli(env)
    if not marker.exists():
        if _run([*cli, "db", "migrate"], env, quiet=True) != 0:
            raise SystemExit("airflow db migrate failed (see output above)")
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), encoding="utf-8")
    if _run([*cli, "dags", "reserialize"], env, quiet=True) != 0:
        raise SystemExit("airflow dags reserialize failed: a DAG does not import (see output above)")


def print_summary(dag_id: str, run_date: str, since: float = 0.0) -> dict | None:
    path = get_settings().local_state_dir / "runs" / dag_id / f"{run_date}.json"
    if not path.exists() or path.stat().st_mtime < since:
        print(f"no run summary at {path} (the run stopped before its summary task)")
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    print(f"\n{dag_id} run_date={run_date} run_id={summary.get('run_id')}")
    for task_id, state in sorted(summary.get("tasks", {}).items()):
        counts = summary.get("counts", {}).get(task_id)
        print(f"  {task_id:<28} {state:<16} {json.dumps(counts) if counts else ''}")
    return summary


WAIT_TASK = "wait_for_silver_day"


def _wait_or_skip(dag_id: str, run_date: str, pattern: str | None, silver_as_is: bool) -> str | None:
    """match_daily waits for the day's last landing hour; `dags test` would sit in that sensor for hours,
    so say at once what is missing, or (``--silver-as-is``) mark the wait done and use silver as it is."""
    if dag_id != "match_daily":
        return pattern
    if silver_as_is:
        return f"(?:{pattern})|^{WAIT_TASK}$" if pattern else f"^{WAIT_TASK}$"
    from _platform.silver_day import LAST_HOUR, day_landed, marker_uri

    if not day_landed(run_date):
        raise SystemExit(
            f"silver of {run_date} is not marked complete ({marker_uri(run_date, LAST_HOUR)} is missing): run "
            f"events_landing for {run_date} first (its last hour writes the marker), or pass --silver-as-is "
            "to run match_daily on the silver as it is (e.g. after `make run`)"
        )
    return pattern


def run_dag(dag_id: str, run_date: str, conf: dict | None = None, home: Path | None = None,
            mark_success_pattern: str | None = None, silver_as_is: bool = False) -> int:
    """Run ``dag_id`` for the data interval starting at ``run_date``; returns the process exit code."""
    mark_success_pattern = _wait_or_skip(dag_id, run_date, mark_success_pattern, silver_as_is)
    env = airflow_environment(home=home)
    prepare_home(env)
    # `dags test` infers a manual run's data interval as the one *ending* at the logical date, so the
    # interval that starts at run_date (what every stage reads) is asked for with logical date run_date + 1.
    logical_date = (parse_run_date(run_date) + timedelta(days=1)).isoformat()
    command = [*airflow_cli(env), "dags", "test", dag_id, f"{logical_date}T00:00:00+00:00"]
    if conf:
        command += ["--conf", json.dumps(conf)]
    if mark_success_pattern:  # re-run the tail of a DAG: tasks matching this regex are marked, not run
        command += ["--mark-success-pattern", mark_success_pattern]
    started, wall_started = time.monotonic(), time.time()
    code = _run(command, env)
    elapsed = time.monotonic() - started
    print_summary(dag_id, run_date, since=wall_started)
    print(f"{dag_id} {run_date}: {'SUCCESS' if code == 0 else 'FAILED'} in {elapsed:.0f} s "
          f"(Airflow home {env['AIRFLOW_HOME']})")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one DAG for one date under Airflow (dags test).")
    parser.add_argument("dag_id", nargs="?", default="match_daily")
    parser.add_argument("--date", required=True, help="run date YYYY-MM-DD (the data interval start)")
    parser.add_argument("--conf", default=None, help="JSON run conf (e.g. backfill params)")
    parser.add_argument("--mark-success-pattern", default=None,
                        help="regex of task ids to mark successful without running (re-run a DAG's tail)")
    parser.add_argument("--silver-as-is", action="store_true",
                        help=f"match_daily: mark {WAIT_TASK} done instead of requiring the day's last landing hour")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.info("Airflow home %s", airflow_home())
    return run_dag(args.dag_id, args.date, json.loads(args.conf) if args.conf else None,
                   mark_success_pattern=args.mark_success_pattern, silver_as_is=args.silver_as_is)


if __name__ == "__main__":
    sys.exit(main())

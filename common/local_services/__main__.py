"""CLI: ``python -m common.local_services up|down|status|bootstrap [--timeout S] [--json]``
and ``leftovers [--tag T] [--kill]`` (processes of this checkout; exit 1 if any carries the run tag T)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from common.config import get_settings
from common.local_services.definitions import LocalServicesError, services_dir
from common.local_services.lifecycle import (
    DEFAULT_START_TIMEOUT_S,
    DEFAULT_STOP_TIMEOUT_S,
    start_services,
    status,
    stop_all,
)
from common.local_services.processes import RUN_TAG_ENV, checkout_processes, stop_leftovers
from common.local_services.resources import bootstrap


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(("-" if row.get(c) is None else str(row[c])).ljust(widths[c]) for c in columns))


def _print_outcomes(outcomes: dict[str, str], key: str) -> None:
    _print_table([{key: name, "outcome": outcome} for name, outcome in outcomes.items()], [key, "outcome"])


def leftovers(tag: str | None, kill: bool, timeout: float) -> int:
    """Processes of this checkout still running; with a tag, exit 1 if any was started by that run."""
    rows = checkout_processes(tag=tag)
    left = [row for row in rows if row["tagged"]]
    shown = left if tag is not None else rows  # with a tag, the others are a developer's or another run's
    if shown:
        _print_table(shown, ["pid", "pgid", "cwd", "cmdline"])
    if tag is None:
        print(f"{len(rows)} processes of this checkout running (no --tag: nothing judged)")
        return 0
    if not left:
        print(f"no process of test run {tag} is left running ({len(rows) - len(left)} others left alone)")
        return 0
    print(f"ERROR: {len(left)} processes of test run {tag} outlived it", file=sys.stderr)
    if kill:
        stop_leftovers(left, timeout)
        print(f"stopped them (process groups {sorted({row['pgid'] for row in left})})", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m common.local_services",
        description="Start, stop, inspect or bootstrap the local AWS stand-ins (kinesalite, dynalite, moto).",
    )
    parser.add_argument("command", choices=["up", "down", "status", "bootstrap", "leftovers"])
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for start-up / shutdown")
    parser.add_argument("--json", action="store_true", help="status as JSON (for scripts)")
    parser.add_argument("--tag", default=None, help=f"leftovers: the {RUN_TAG_ENV} value of the run to check")
    parser.add_argument("--kill", action="store_true", help="leftovers: stop the tagged processes found")
    args = parser.parse_args(argv)
    if args.command == "leftovers":
        return leftovers(args.tag, args.kill, args.timeout or DEFAULT_STOP_TIMEOUT_S)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        settings = get_settings()
        if args.command == "up":
            outcomes = start_services(settings, args.timeout or DEFAULT_START_TIMEOUT_S)
            resources = bootstrap(settings)
            print("\nlocal services up:")
            _print_table(status(settings), ["service", "state", "pid", "port", "port_env", "endpoint"])
            print("\nresources:")
            _print_outcomes(resources, "resource")
            print(
                f"\nsummary: {sum(v == 'started' for v in outcomes.values())} started, "
                f"{len(outcomes)} services healthy, {len(resources)} resources ready "
                f"in {time.monotonic() - started:.1f}s (logs: {services_dir(settings)})"
            )
        elif args.command == "down":
            _print_outcomes(stop_all(settings, args.timeout or DEFAULT_STOP_TIMEOUT_S), "service")
        elif args.command == "status":
            rows = status(settings)
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                _print_table(rows, ["service", "state", "pid", "port", "port_env", "endpoint", "log"])
        else:
            _print_outcomes(bootstrap(settings), "resource")
    except LocalServicesError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

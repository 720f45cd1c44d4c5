"""`make run`: push a short history of daily batches through every stage of the platform, print a summary.

The stages are the same importable functions the Airflow DAGs wire (docs/contracts.md); this runner only
sequences them, times them and reports their counts. A stage whose module does not exist yet is reported as
"not built" rather than faked. A failed quality gate stops the publish and fails the run.

History: ``--days N`` runs the daily stages for each of the N days ending at the run date, oldest first, as
the daily DAG would have (the simulator continues the marketplace from one day to the next, the incremental
stages redo only what changed), then builds the marts and the dashboard once, as of the last day.
Quiet: the console shows stage progress and the summary; every library's output goes to the log file the
summary names (``--verbose`` shows it all on the console instead).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.config import get_settings
from ingestion.routing import LOOKBACK_DAYS

log = logging.getLogger("run_pipeline")
trace_log = logging.getLogger("run_pipeline.trace")  # tracebacks: the log file only, not the console


@dataclass
class Stage:
    name: str
    module: str
    function: str
    kwargs: dict = field(default_factory=dict)
    blocks_rest_on_failure: bool = True
    daily: bool = True  # False: runs once, after the last day (the marts and dashboard are as-of builds)
    # On the days before the last: run every `every` days, counted back from the last day (1 = daily).
    every: int = 1
    # A stage that rebuilds an event-time window of `window_kwarg` days before its run date (plus the run
    # date): run on a cadence, its window reaches back to the last day its previous run covered (whose late
    # arrivals landed after that run), and to the evening before the history on its first run. Never
    # narrower than `min_window`.
    window_kwarg: str | None = None
    min_window: int = 0


@dataclass
class StageOutcome:
    name: str
    status: str  # ok | failed | not built | skipped
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    error: str | None = None


GOLD_EVERY = 7  # the match run's stages on a history day: weekly, so the precision trend has points


def default_stages(seed: int, scale: str, encoder: str | None, gold_every: int = GOLD_EVERY) -> list[Stage]:
    embed_kwargs = {"encoder": encoder} if encoder else {}
    return [
        Stage("simulate", "ingestion.simulator", "run_simulation", {"seed": seed, "scale": scale}),
        Stage("land", "ingestion.landing", "run_landing"),
        # Only when the match run needs it, its event-time window widened to every day since the last
        # run (late arrivals included): one Spark pass per week of history instead of one per day.
        Stage("bronze_to_silver", "spark_jobs.bronze_to_silver", "run", every=gold_every,
              window_kwarg="lookback_days", min_window=LOOKBACK_DAYS),
        Stage("build_profiles", "spark_jobs.build_profiles", "run", every=gold_every),
        Stage("embed", "spark_jobs.embed", "run", embed_kwargs, every=gold_every),
        Stage("match", "spark_jobs.match", "run", every=gold_every),
        Stage("quality_gate", "spark_jobs.quality_gate", "run", every=gold_every),
        Stage("publish", "spark_jobs.publish", "run", every=gold_every),
        Stage("dbt_build", "analytics.dbt_runner", "run_dbt_build", daily=False),
        Stage("dashboard", "analytics.dashboard", "render_dashboard", blocks_rest_on_failure=False, daily=False),
    ]


def _resolve(stage: Stage):
    """Import the stage function; None when its module is not part of the code base yet."""
    try:
        module = importlib.import_module(stage.module)
    except ModuleNotFoundError as exc:
        if exc.name and stage.module.startswith(exc.name):
            return None
        raise
    return getattr(module, stage.function, None)


def run_stage(stage: Stage, run_date: str) -> StageOutcome:
    fn = _resolve(stage)
    if fn is None:
        return StageOutcome(stage.name, "not built")
    log.info("▶ %s", stage.name)
    started = time.perf_counter()
    try:
        if stage.name == "dashboard":
            result = fn(**stage.kwargs)
        else:
            result = fn(run_date, **stage.kwargs)
    except Exception as exc:  # noqa: BLE001 - a stage failure is reported, never swallowed
        log.error("✗ %s failed: %s", stage.name, exc)
        trace_log.info("%s", traceback.format_exc())
        return StageOutcome(
            stage.name, "failed", time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"
        )
    counts = result if isinstance(result, dict) else {"output": str(result)}
    outcome = StageOutcome(stage.name, "ok", time.perf_counter() - started, counts=counts)
    log.info("✓ %s in %.1fs %s", stage.name, outcome.seconds, _fmt_counts(counts))
    return outcome


def _fmt_counts(counts: dict, limit: int = 8) -> str:
    items = [f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict | list)]
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def run_pipeline(run_date: str, stages: list[Stage]) -> list[StageOutcome]:
    outcomes: list[StageOutcome] = []
    blocked_by: str | None = None
    for stage in stages:
        if blocked_by:
            outcomes.append(StageOutcome(stage.name, "skipped", error=f"blocked by failed {blocked_by}"))
            continue
        outcome = run_stage(stage, run_date)
        outcomes.append(outcome)
        if outcome.status == "failed" and stage.blocks_rest_on_failure:
            blocked_by = stage.name
    return outcomes


def history_dates(run_date: str, days: int) -> list[str]:
    """The ``days`` dates ending at ``run_date``, oldest first."""
    if days < 1:
        raise ValueError(f"days must be ≥ 1, got {days}")
    end = dt.date.fromisoformat(run_date)
    return [(end - dt.timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def stages_for_day(stages: list[Stage], days_before_last: int) -> list[Stage]:
    """The stages a day runs: all of them on the last day; before it, each stage on its cadence, and a
    stage whenever a later stage runs (a match day needs that day's silver)."""
    if days_before_last == 0:
        return stages
    due = [s.daily and days_before_last % s.every == 0 for s in stages]
    for i in range(len(stages) - 2, -1, -1):
        due[i] = due[i] or (stages[i].daily and due[i + 1])
    return [s for s, run in zip(stages, due, strict=True) if run]


def with_window(stage: Stage, position: int, previous_run: int | None) -> Stage:
    """``stage`` with its event-time window reaching back to the last day its previous run covered (that
    day's late arrivals landed with the next day), or to the evening before the history (position 0)."""
    if not stage.window_kwarg:
        return stage
    back = position + 1 if previous_run is None else position - previous_run
    return replace(stage, kwargs={**stage.kwargs, stage.window_kwarg: max(stage.min_window, back)})


def run_history(dates: list[str], stages: list[Stage]) -> dict[str, list[StageOutcome]]:
    """The stages due on each date, oldest first; the as-of stages once, with the last date.

    A failed day stops the history (a later day would build on a broken one)."""
    by_date: dict[str, list[StageOutcome]] = {}
    last_ran: dict[str, int] = {}  # stage name -> position of the day it last ran ok
    for position, day in enumerate(dates):
        last = position == len(dates) - 1
        if len(dates) > 1:
            log.info("── day %d/%d: %s", position + 1, len(dates), day)
        due = [with_window(s, position, last_ran.get(s.name))
               for s in stages_for_day(stages, len(dates) - 1 - position)]
        outcomes = run_pipeline(day, due)
        last_ran.update({o.name: position for o in outcomes if o.status == "ok"})
        by_date[day] = outcomes
        if any(o.status == "failed" for o in outcomes) and not last:
            log.error("day %s failed: the later days are not run", day)
            break
    return by_date


# Count keys that say how much of a stage's input was redone and how much was kept from earlier runs.
# A stage's own run() dict is the only source; `processed` / `carried_forward` are the names to use.
PROCESSED_KEYS = ("processed", "reprocessed", "profiled", "embedded", "newly_embedded", "rescored",
                  "changed", "items_written", "written", "rows_written", "records")
CARRIED_KEYS = ("carried_forward", "carried", "reused", "unchanged", "kept", "skipped_unchanged",
                "already_embedded", "items_unchanged")


def work_done(counts: dict) -> str:
    """`processed X · carried forward Y` from a stage's counts (by key name; totals over nested keys)."""
    def pick(names):
        found = {k: v for k, v in counts.items() if isinstance(v, int | float) and not isinstance(v, bool)
                 and any(k == n or k.endswith(f"_{n}") or k.startswith(f"{n}_") for n in names)}
        return found
    processed, carried = pick(PROCESSED_KEYS), pick(CARRIED_KEYS)
    carried = {k: v for k, v in carried.items() if k not in processed}
    parts = []
    if processed:
        parts.append("processed " + ", ".join(f"{k}={v}" for k, v in processed.items()))
    if carried:
        parts.append("carried forward " + ", ".join(f"{k}={v}" for k, v in carried.items()))
    return " · ".join(parts)


def render_summary(run_date: str, outcomes: list[StageOutcome], total_seconds: float,
                   history: dict[str, list[StageOutcome]] | None = None, log_file: Path | None = None) -> str:
    settings = get_settings()
    history = history or {}
    lines = [
        "",
        f"═══ Run summary — run date {run_date} — environment {settings.env} — {total_seconds:.0f}s ═══",
    ]
    if len(history) > 1:
        lines += [f"History: {len(history)} days, {min(history)} → {max(history)} (each day the stages due)",
                  f"{'day':<12} {'status':<7} {'time':>7}  per stage (seconds) · simulated"]
        for day, day_outcomes in history.items():
            status = "failed" if any(o.status == "failed" for o in day_outcomes) else "ok"
            took = sum(o.seconds for o in day_outcomes)
            per_stage = " ".join(f"{o.name}={o.seconds:.0f}" for o in day_outcomes if o.status == "ok")
            sim = next((o.counts for o in day_outcomes if o.name == "simulate" and o.status == "ok"), {})
            simulated = (f" · {sim.get('day', '?')} day, {sim.get('events', '?')} events" if sim else "")
            lines.append(f"{day:<12} {status:<7} {took:>6.0f}s  {per_stage}{simulated}")
        lines += ["", f"Run date {run_date}:"]
    lines.append(f"{'stage':<18} {'status':<10} {'time':>7}  counts")
    for o in outcomes:
        detail = _fmt_counts(o.counts) if o.counts else (o.error or "")
        lines.append(f"{o.name:<18} {o.status:<10} {o.seconds:>6.1f}s  {detail}")
    work = [(o.name, work_done(o.counts)) for o in outcomes if o.status == "ok" and o.counts]
    if any(w for _, w in work):
        lines += ["", "What each stage redid and what it carried forward (from its own counts):"]
        lines += [f"  {name:<18} {w}" for name, w in work if w]
    lines += [
        "",
        "Where the outputs are:",
        f"  lake (raw/bronze/silver/gold/quarantine): {settings.zone_uri('raw').rsplit('/', 1)[0]}",
    ]
    if settings.warehouse_path:
        lines.append(f"  warehouse (dbt marts, duckdb):            {settings.warehouse_path}")
    dashboard = next((o for o in outcomes if o.name == "dashboard" and o.status == "ok"), None)
    if dashboard:
        lines.append(
            f"  dashboard:                                {dashboard.counts.get('output', dashboard.counts)}"
        )
    if log_file:
        lines.append(f"  full log (every library's output):       {log_file}")
    lines += [
        "",
        "How to query them:",
        "  make warehouse-shell            # duckdb on the warehouse: SELECT * FROM main_marts.<mart> LIMIT 10",
        f'  .venv/jobs/bin/python -c "import duckdb; print(duckdb.sql(\\"SELECT count(*) FROM '
        f"read_parquet('{settings.table_uri('silver', 'job_posted')}/**/*.parquet')\\\"))\"",
        "  make top-matches CANDIDATE=<candidate_id> TENANT=<tenant_id>   # serving table (DynamoDB)",
        "",
    ]
    every = [o for day_outcomes in history.values() for o in day_outcomes] or outcomes
    failed = [o.name for o in every if o.status == "failed"]
    failed_days = [d for d, day_outcomes in history.items() if any(o.status == "failed" for o in day_outcomes)]
    missing = sorted({o.name for o in outcomes if o.status == "not built"})
    if failed:
        where = f" on {', '.join(failed_days)}" if len(history) > 1 else ""
        lines.append(f"RESULT: FAILED at {', '.join(dict.fromkeys(failed))}{where} (later stages skipped; see the log)")
    elif len(history) > 1 and run_date not in history:
        lines.append("RESULT: FAILED — the history stopped before the run date")
    elif missing:
        lines.append(f"RESULT: ok for every built stage; not built yet: {', '.join(missing)}")
    else:
        lines.append("RESULT: ok — every stage ran")
    return "\n".join(lines)


class RunLog(contextlib.AbstractContextManager):
    """Everything the libraries print goes to one log file; the console gets stage progress only.

    Spark's JVM, py4j, Great Expectations, dbt and any `print` write to file descriptors 1 and 2 (the
    JVM and subprocesses inherit them), so the descriptors themselves are pointed at the log file for
    the run, not just Python's logging. ``console`` is the terminal (or the caller's captured stdout).
    """

    CONSOLE_FORMAT = "%(asctime)s %(message)s"
    FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

    def __init__(self, path: Path, verbose: bool = False):
        self.path = path
        self.verbose = verbose
        self.console = sys.stdout
        self._saved: list[tuple[int, int]] = []
        self._handlers: list[logging.Handler] = []

    def __enter__(self) -> RunLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in __exit__
        self._streams = (sys.stdout, sys.stderr)
        if not self.verbose:
            for stream in self._streams:
                stream.flush()
            console = sys.stdout
            with contextlib.suppress(AttributeError, OSError, ValueError):
                if sys.stdout.fileno() == 1:  # the real terminal: keep a copy before fd 1 moves
                    console = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
            self.console = console
            for fd in (1, 2):
                with contextlib.suppress(OSError):
                    self._saved.append((fd, os.dup(fd)))
                    os.dup2(self._file.fileno(), fd)
            sys.stdout = sys.stderr = self._file
        root = logging.getLogger()
        self._root_level = root.level
        root.setLevel(logging.INFO)
        to_file = logging.StreamHandler(self._file)
        to_file.setFormatter(logging.Formatter(self.FILE_FORMAT))
        to_console = logging.StreamHandler(self.console)
        to_console.setFormatter(logging.Formatter(self.CONSOLE_FORMAT, "%H:%M:%S"))
        to_console.addFilter(lambda record: record.name == log.name or self.verbose)
        self._handlers = [to_file, to_console]
        for handler in self._handlers:
            root.addHandler(handler)
        return self

    def __exit__(self, *exc) -> None:
        root = logging.getLogger()
        for handler in self._handlers:
            handler.flush()
            root.removeHandler(handler)
        root.setLevel(self._root_level)
        self._file.flush()
        sys.stdout, sys.stderr = self._streams
        for fd, saved in self._saved:
            os.dup2(saved, fd)
            os.close(saved)
        if self.console not in self._streams:
            self.console.flush()
            self.console.close()
        self.console = sys.stdout
        self._file.close()


def log_path(run_date: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(get_settings().local_state_dir) / "logs" / f"run-{run_date}-{stamp}.log"


def _default_run_date() -> str:
    # A daily run processes yesterday's data interval, as the Airflow schedule does.
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-date", default=None, help="YYYY-MM-DD, the last day (default: yesterday, UTC)")
    parser.add_argument("--days", type=int, default=1, help="days of history ending at the run date (default 1)")
    parser.add_argument("--gold-every", type=int, default=GOLD_EVERY,
                        help=f"before the last day, run profiles → publish every N days (default {GOLD_EVERY}; 1 = daily)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", default="small", help="simulator scale: small | medium | large | <events>")
    parser.add_argument("--encoder", default=None, help="embedding encoder (default: the embed stage's own)")
    parser.add_argument("--only", default=None, help="comma-separated stage names to run (default: all)")
    parser.add_argument("--verbose", action="store_true", help="every library's output on the console too")
    args = parser.parse_args(argv)
    run_date = args.run_date or _default_run_date()
    dt.date.fromisoformat(run_date)  # clear error on a malformed date
    if args.days < 1:
        parser.error("--days must be ≥ 1")

    if args.gold_every < 1:
        parser.error("--gold-every must be ≥ 1")
    stages = default_stages(args.seed, args.scale, args.encoder, args.gold_every)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in stages}
        if unknown:
            parser.error(f"unknown stages: {sorted(unknown)}")
        stages = [s for s in stages if s.name in wanted]

    dates = history_dates(run_date, args.days)
    log_file = log_path(run_date)
    with RunLog(log_file, verbose=args.verbose) as run_log:
        log.info("run %s → %s (%d day%s); full log: %s", dates[0], dates[-1], len(dates),
                 "s" if len(dates) > 1 else "", log_file)
        started = time.perf_counter()
        history = run_history(dates, stages)
        total = time.perf_counter() - started
        summary_dir = Path(get_settings().local_state_dir) / "runs"
        summary_dir.mkdir(parents=True, exist_ok=True)
        for day, outcomes in history.items():
            (summary_dir / f"{day}.json").write_text(
                json.dumps([o.__dict__ for o in outcomes], indent=2, default=str), encoding="utf-8"
            )
        outcomes = history.get(run_date) or next(reversed(history.values()))
        summary = render_summary(run_date, outcomes, total, history, log_file)
        print(summary, file=run_log.console, flush=True)
        if run_log.console is not sys.stdout:
            print(summary, flush=True)  # the log file keeps the summary too
    failed = any(o.status == "failed" for day_outcomes in history.values() for o in day_outcomes)
    return 1 if failed or run_date not in history else 0


if __name__ == "__main__":
    sys.exit(main())

"""`make run`: push one day's batch through every stage of the platform and print a run summary.

The stages are the same importable functions the Airflow DAGs wire (docs/contracts.md); this runner only
sequences them, times them and reports their counts. A stage whose module does not exist yet is reported as
"not built" rather than faked. A failed quality gate stops the publish and fails the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from common.config import get_settings

log = logging.getLogger("run_pipeline")


@dataclass
class Stage:
    name: str
    module: str
    function: str
    kwargs: dict = field(default_factory=dict)
    blocks_rest_on_failure: bool = True


@dataclass
class StageOutcome:
    name: str
    status: str  # ok | failed | not built | skipped
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    error: str | None = None


def default_stages(seed: int, scale: str, encoder: str | None) -> list[Stage]:
    embed_kwargs = {"encoder": encoder} if encoder else {}
    return [
        Stage("simulate", "ingestion.simulator", "run_simulation", {"seed": seed, "scale": scale}),
        Stage("land", "ingestion.landing", "run_landing"),
        Stage("bronze_to_silver", "spark_jobs.bronze_to_silver", "run"),
        Stage("build_profiles", "spark_jobs.build_profiles", "run"),
        Stage("embed", "spark_jobs.embed", "run", embed_kwargs),
        Stage("match", "spark_jobs.match", "run"),
        Stage("quality_gate", "spark_jobs.quality_gate", "run"),
        Stage("publish", "spark_jobs.publish", "run"),
        Stage("dbt_build", "analytics.dbt_runner", "run_dbt_build"),
        Stage("dashboard", "analytics.dashboard", "render_dashboard", blocks_rest_on_failure=False),
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
        log.debug("%s", traceback.format_exc())
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


def render_summary(run_date: str, outcomes: list[StageOutcome], total_seconds: float) -> str:
    settings = get_settings()
    lines = [
        "",
        f"═══ Run summary — run date {run_date} — environment {settings.env} — {total_seconds:.0f}s ═══",
        f"{'stage':<18} {'status':<10} {'time':>7}  counts",
    ]
    for o in outcomes:
        detail = _fmt_counts(o.counts) if o.counts else (o.error or "")
        lines.append(f"{o.name:<18} {o.status:<10} {o.seconds:>6.1f}s  {detail}")
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
    lines += [
        "",
        "How to query them:",
        "  make warehouse-shell            # duckdb on the warehouse: SELECT * FROM main_marts.<mart> LIMIT 10",
        f'  .venv/jobs/bin/python -c "import duckdb; print(duckdb.sql(\\"SELECT count(*) FROM '
        f"read_parquet('{settings.table_uri('silver', 'job_posted')}/**/*.parquet')\\\"))\"",
        "  make top-matches CANDIDATE=<candidate_id> TENANT=<tenant_id>   # serving table (DynamoDB)",
        "",
    ]
    failed = [o.name for o in outcomes if o.status == "failed"]
    missing = [o.name for o in outcomes if o.status == "not built"]
    if failed:
        lines.append(f"RESULT: FAILED at {', '.join(failed)} (later stages skipped; see the log above)")
    elif missing:
        lines.append(f"RESULT: ok for every built stage; not built yet: {', '.join(missing)}")
    else:
        lines.append("RESULT: ok — every stage ran")
    return "\n".join(lines)


def _default_run_date() -> str:
    # A daily run processes yesterday's data interval, as the Airflow schedule does.
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-date", default=None, help="YYYY-MM-DD (default: yesterday, UTC)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", default="small", help="simulator scale: small | medium | large | <events>")
    parser.add_argument("--encoder", default=None, help="embedding encoder (default: the embed stage's own)")
    parser.add_argument("--only", default=None, help="comma-separated stage names to run (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_date = args.run_date or _default_run_date()
    dt.date.fromisoformat(run_date)  # clear error on a malformed date

    stages = default_stages(args.seed, args.scale, args.encoder)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in stages}
        if unknown:
            parser.error(f"unknown stages: {sorted(unknown)}")
        stages = [s for s in stages if s.name in wanted]

    started = time.perf_counter()
    outcomes = run_pipeline(run_date, stages)
    total = time.perf_counter() - started
    print(render_summary(run_date, outcomes, total))

    summary_dir = Path(get_settings().local_state_dir) / "runs"
    summary_dir.mkdir(parents=True, exist_ok=True)
    (summary_dir / f"{run_date}.json").write_text(
        json.dumps([o.__dict__ for o in outcomes], indent=2, default=str), encoding="utf-8"
    )
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run one platform stage function and report its result: the single entry point for every task.

Runs *outside* Airflow: locally with the jobs venv's python (Spark local mode, torch, …), in AWS as the
EMR Serverless ``entryPoint``. Stdlib only, so it works in both. Contract (docs/contracts.md): a stage
is ``<module>.<function>(run_date, **options) -> dict`` of counts.

    python stage_runner.py --module spark_jobs.match --function run --run-date 2026-11-22 [--options JSON]

The last stdout line is ``@@STAGE_RESULT@@ {json}``. Exit codes tell the orchestrator whether a retry
can help: 0 ok, 1 failed (maybe transient: retry), 3 failed for a reason a retry cannot fix (a quality
gate said no, a missing module, bad configuration or arguments).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import sys
import time
import traceback

RESULT_MARKER = "@@STAGE_RESULT@@"
EXIT_OK = 0
EXIT_RETRYABLE = 1
EXIT_FINAL = 3
# Exceptions that describe the data or the set-up, not the weather: retrying them only delays the alert.
FINAL_EXCEPTIONS = frozenset({"QualityGateFailed", "ConfigError", "ModuleNotFoundError", "TypeError"})

log = logging.getLogger("marketplace.stage")


def _accepted_options(function, options: dict) -> tuple[dict, list[str]]:
    """Pass only the options the stage's signature accepts (e.g. ``hour`` to an hourly-aware stage)."""
    params = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options), []
    accepted = {k: v for k, v in options.items() if k in params}
    return accepted, sorted(set(options) - set(accepted))


def _jsonable(value):
    """Counts may be numpy scalars; the orchestrator side has no numpy, so hand it plain JSON."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def run_stage(module: str, function: str, run_date: str | None, options: dict) -> dict:
    stage = getattr(importlib.import_module(module), function)
    kwargs, ignored = _accepted_options(stage, options)
    if ignored:
        log.info("%s.%s does not take %s; not passed", module, function, ", ".join(ignored))
    started = time.monotonic()
    result = stage(run_date, **kwargs) if run_date else stage(**kwargs)
    elapsed = round(time.monotonic() - started, 2)
    summary = _jsonable(result) if isinstance(result, dict) else {"result": _jsonable(result)}
    summary["_seconds"] = elapsed
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", required=True)
    parser.add_argument("--function", default="run")
    parser.add_argument("--run-date", default=None, help="YYYY-MM-DD; omitted for stages without one")
    parser.add_argument("--options", default="{}", help="JSON object of keyword options")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        options = json.loads(args.options)
        if not isinstance(options, dict):
            raise TypeError("--options must be a JSON object")
        log.info("stage %s.%s run_date=%s options=%s", args.module, args.function, args.run_date, options)
        summary = run_stage(args.module, args.function, args.run_date, options)
    except Exception as exc:  # noqa: BLE001 - classify every failure for the orchestrator
        traceback.print_exc()
        final = type(exc).__name__ in FINAL_EXCEPTIONS or getattr(exc, "retryable", True) is False
        log.error("stage %s.%s failed (%s): %s", args.module, args.function, "final" if final else "retryable", exc)
        return EXIT_FINAL if final else EXIT_RETRYABLE
    sys.stderr.flush()
    print(f"{RESULT_MARKER} {json.dumps(summary, sort_keys=True)}", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

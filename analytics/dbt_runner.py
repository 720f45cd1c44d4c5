"""Pipeline stage ``dbt``: build and test the marts for one run date, return row counts per mart.

dbt lives in its own venv (.venv/dbt); this module runs in the jobs venv and shells out to it.
The target (duckdb locally, Athena in AWS) and every location come from ``get_settings()`` and are
handed to dbt as environment variables read by dbt/profiles.yml and the sources.
CLI: ``python -m analytics.dbt_runner --run-date 2026-11-22``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from common.config import REPO_ROOT, get_settings
from common.dbt_env import dbt_environment
from common.lake_client import get_lake_client

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = REPO_ROOT / "dbt"
DBT_EXECUTABLE = Path(os.environ.get("DBT_EXECUTABLE", REPO_ROOT / ".venv" / "dbt" / "bin" / "dbt"))
PROGRESS_LINE = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|ERROR|FAIL|WARN|SKIP)")


class DbtBuildFailed(RuntimeError):
    """dbt build returned failures; the message lists each failing node and its message."""


def _run_dbt(args: list[str], env: dict[str, str], timeout_s: int) -> tuple[int, list[str]]:
    """Run dbt, logging its output and showing a progress bar over the "N of M" node lines."""
    from tqdm import tqdm

    if not DBT_EXECUTABLE.exists():
        raise DbtBuildFailed(f"dbt not found at {DBT_EXECUTABLE}; run `make install-dbt`")
    command = [str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    log.info("running %s", " ".join(command))
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    with subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as process, \
            tqdm(desc="dbt build", unit="node", disable=not sys.stderr.isatty()) as bar:
        for line in process.stdout:
            line = line.rstrip()
            lines.append(line)
            log.debug("dbt: %s", line)
            match = PROGRESS_LINE.search(line)
            if match and match.group(3) != "START":
                bar.total = int(match.group(2))
                bar.update(1)
            if time.monotonic() > deadline:
                process.kill()
                raise DbtBuildFailed(f"dbt did not finish within {timeout_s}s")
        returncode = process.wait()
    return returncode, lines


def _read_run_results(target_dir: Path) -> list[dict]:
    path = target_dir / "run_results.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())["results"]


def _mart_relations(target_dir: Path) -> dict[str, str]:
    """Mart model name -> fully qualified relation, from the manifest dbt just wrote."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return {
        node["name"]: node["relation_name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "marts" in node["fqn"] and node.get("relation_name")
    }


def run_dbt_build(run_date: str, *, select: str | None = None, timeout_s: int = 1800) -> dict:
    """Build seeds, models and tests (data + unit) as of ``run_date``; raise DbtBuildFailed on any
    error or failing test. Returns node counts and the row count of every mart."""
    date.fromisoformat(run_date)  # a clear ValueError for a malformed date
    settings = get_settings()
    target_path = os.environ.get("DBT_TARGET_PATH", "target")  # tests use their own
    target_dir = DBT_PROJECT_DIR / target_path
    env = dbt_environment(settings, target_path=target_path)
    if settings.warehouse_path is not None:  # dbt-duckdb does not create the directory
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    args = ["build", "--target", settings.dbt_target, "--vars", json.dumps({"run_date": run_date})]
    if select:
        args += ["--select", select]
    (target_dir / "run_results.json").unlink(missing_ok=True)  # never judge a build by an older one
    started = time.monotonic()
    returncode, lines = _run_dbt(args, env, timeout_s)
    results = _read_run_results(target_dir)
    failures = [r for r in results if r["status"] in ("error", "fail", "runtime error")]
    if returncode != 0 or failures:
        detail = "; ".join(f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()[:300]}"
                           for r in failures) or "\n".join(lines[-30:])
        raise DbtBuildFailed(f"dbt build failed for run_date={run_date} (exit {returncode}): {detail}")

    statuses: dict[str, int] = {}
    for result in results:
        key = f"dbt_{result['unique_id'].split('.')[0]}_{result['status']}"
        statuses[key] = statuses.get(key, 0) + 1
    client = get_lake_client(settings)
    rows = {
        f"rows.{mart}": int(client.query(f"select count(*) as n from {relation}")["n"].iloc[0])
        for mart, relation in sorted(_mart_relations(target_dir).items())
    }
    # Headline numbers first: the run summary shows only the first few counts.
    counts: dict = {
        "marts_built": len(rows),
        "mart_rows": sum(rows.values()),
        "tests_passed": statuses.get("dbt_test_pass", 0) + statuses.get("dbt_unit_test_pass", 0),
        "tests_warned": statuses.get("dbt_test_warn", 0),
        **rows,
        **dict(sorted(statuses.items())),
        "run_date": run_date,
    }
    counts["seconds"] = round(time.monotonic() - started, 1)
    log.info("dbt build for %s: %s", run_date, counts)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build and test the dbt marts for one run date.")
    parser.add_argument("--run-date", default=date.today().isoformat())
    parser.add_argument("--select", default=None, help="dbt node selection (default: everything)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counts = run_dbt_build(args.run_date, select=args.select)
    print(f"dbt build {args.run_date}:")
    for key, value in counts.items():
        print(f"  {key:45s} {value}")


if __name__ == "__main__":
    main()

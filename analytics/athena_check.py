"""Offline Athena compatibility check of the dbt project.

Compiles every model for the ``athena`` target without touching AWS (``--no-populate-cache``,
placeholder locations) and parses each compiled statement with sqlglot's Trino dialect (Athena
engine v3 is Trino). A statement fails the check when it does not parse, or when it calls a
function sqlglot does not know for Trino or a DuckDB-only function leaked through a macro.
CLI: ``python -m analytics.athena_check`` (exit 1 on any problem).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from common.config import REPO_ROOT

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = REPO_ROOT / "dbt"
ATHENA_TARGET_PATH = "target/athena"  # inside the git-ignored dbt/target
# DuckDB spellings that parse fine as Trino but do not exist in Athena.
DUCKDB_ONLY_FUNCTIONS = {"median", "list_extract", "list_element", "list_contains", "strftime", "epoch",
                         "regexp_matches", "string_agg", "struct_pack", "list_value", "quantile_cont", "timezone"}
# Trino functions sqlglot parses as anonymous calls; allowed explicitly.
KNOWN_TRINO_FUNCTIONS: set[str] = {"element_at", "split_part", "date_diff", "approx_percentile", "contains"}


@dataclass
class CompatReport:
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.files_checked > 0 and not self.problems


def compile_for_athena(dbt_executable: Path | None = None) -> Path:
    """Run ``dbt compile --target athena --no-populate-cache``; returns the compiled models dir."""
    dbt = dbt_executable or REPO_ROOT / ".venv" / "dbt" / "bin" / "dbt"
    env = {
        **os.environ,
        "DBT_TARGET_PATH": ATHENA_TARGET_PATH,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Placeholders: compile never connects, but the profile must render.
        "DBT_ATHENA_S3_STAGING_DIR": os.environ.get("DBT_ATHENA_S3_STAGING_DIR", "s3://offline-check/athena/"),
        "DBT_ATHENA_S3_DATA_DIR": os.environ.get("DBT_ATHENA_S3_DATA_DIR", "s3://offline-check/data/"),
    }
    command = [str(dbt), "compile", "--target", "athena", "--no-populate-cache", "--vars", '{run_date: "2026-01-01"}',
               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"dbt compile --target athena failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return DBT_PROJECT_DIR / ATHENA_TARGET_PATH / "compiled" / "marketplace" / "models"


def check_sql(sql: str) -> list[str]:
    """Problems with one compiled statement when read as Trino (empty list = compatible)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, ParseError

    try:
        statements = [s for s in sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE) if s is not None]
    except ParseError as exc:
        return [f"does not parse as Trino: {str(exc).splitlines()[0][:300]}"]
    problems = []
    for statement in statements:
        for func in statement.find_all(exp.Func):
            name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
            if name in DUCKDB_ONLY_FUNCTIONS:
                problems.append(f"DuckDB-only function {name}()")
            elif isinstance(func, exp.Anonymous) and name not in KNOWN_TRINO_FUNCTIONS:
                problems.append(f"function {name}() unknown to the Trino dialect")
    return problems


def check_compiled_models(models_dir: Path) -> CompatReport:
    report = CompatReport()
    for path in sorted(models_dir.rglob("*.sql")):
        report.files_checked += 1
        for problem in check_sql(path.read_text()):
            report.problems.append(f"{path.relative_to(models_dir)}: {problem}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compile the dbt project for Athena offline and parse it as Trino.")
    parser.add_argument("--skip-compile", action="store_true", help="re-check the last compile only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    models_dir = (DBT_PROJECT_DIR / ATHENA_TARGET_PATH / "compiled" / "marketplace" / "models"
                  if args.skip_compile else compile_for_athena())
    report = check_compiled_models(models_dir)
    print(f"athena compatibility: {report.files_checked} compiled statements checked, {len(report.problems)} problem(s)")
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

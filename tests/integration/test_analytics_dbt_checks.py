"""Static checks of the dbt project with the real tools: Athena compile + Trino parse, sqlfluff."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from analytics.athena_check import check_compiled_models, compile_for_athena
from common.config import REPO_ROOT

pytestmark = pytest.mark.integration
DBT_VENV = REPO_ROOT / ".venv" / "dbt" / "bin"


def test_every_model_compiles_for_athena_and_parses_as_trino():
    models_dir = compile_for_athena()
    report = check_compiled_models(models_dir)
    assert report.problems == []
    compiled_marts = {p.stem for p in (models_dir / "marts").glob("*.sql")}
    assert {"fct_hiring_funnel", "rpt_fairness_topk_representation", "rpt_skills_gap"} <= compiled_marts
    # Athena-specific macros were chosen, not the duckdb ones
    skills_gap = (models_dir / "marts" / "rpt_skills_gap.sql").read_text()
    assert "element_at(" in skills_gap and "list_extract(" not in skills_gap


def test_sqlfluff_lint_is_clean(tmp_path):
    env = {"PATH": f"{DBT_VENV}:/usr/bin:/bin", "HOME": str(tmp_path), "LAKE_ROOT": str(tmp_path / "lake"),
           "WAREHOUSE_PATH": str(tmp_path / "sqlfluff.duckdb"), "DBT_TARGET_PATH": str(tmp_path / "target"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run([str(DBT_VENV / "sqlfluff"), "lint", "models", "--processes", "2", "--format", "json"],
                            cwd=REPO_ROOT / "dbt", env=env, capture_output=True, text=True, timeout=300)
    files = json.loads(result.stdout.strip().splitlines()[-1])
    linted = {Path(f["filepath"]).name for f in files}
    models = {p.name for p in (REPO_ROOT / "dbt" / "models").rglob("*.sql")}
    assert linted == models, f"not linted: {models - linted}"
    violations = [f"{f['filepath']}:{v['start_line_no']} {v['code']} {v['description']}"
                  for f in files for v in f["violations"]]
    assert violations == [], "\n".join(violations[:40])
    assert result.returncode == 0, result.stderr[-2000:]

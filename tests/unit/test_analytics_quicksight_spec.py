"""The QuickSight spec is consistent, stdlib-only, Athena-parsable and mirrored by dbt exposures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analytics import quicksight_spec as spec
from analytics.athena_check import check_sql

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_spec_validates_clean():
    assert spec.validate() == []


def test_validate_reports_a_broken_visual(monkeypatch):
    broken = spec.Visual("x", "x", "funnel_conversion", "bar", (spec.Measure("no_such_column"),), category="stage")
    board = spec.Dashboard("b", "b", "b", "e", (broken,))
    monkeypatch.setattr(spec, "DASHBOARDS", (board,))
    assert spec.validate() == ["b/x: unknown column no_such_column"]


def test_spec_imports_with_the_standard_library_only():
    # -S: no site-packages, so any third-party import in the spec (or analytics/__init__) fails.
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); import analytics.quicksight_spec as s; print(len(s.DATASETS))"
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(spec.DATASETS)


@pytest.mark.parametrize("dataset", spec.DATASETS, ids=lambda d: d.id)
def test_dataset_sql_is_trino_and_targets_a_mart_column_set(dataset):
    sql = dataset.sql()
    assert check_sql(sql) == []
    model = REPO / "dbt" / "models" / "marts" / f"{dataset.mart}.sql"
    assert model.exists(), f"dataset {dataset.id} reads a mart that does not exist: {dataset.mart}"
    text = model.read_text()
    missing = [c.name for c in dataset.columns if c.name not in text]
    assert not missing, f"{dataset.mart} does not produce {missing}"


def test_every_dashboard_has_a_dbt_exposure_on_the_marts_it_reads():
    exposures = yaml.safe_load((REPO / "dbt" / "models" / "marts" / "_exposures.yml").read_text())["exposures"]
    by_name = {e["name"]: e for e in exposures}
    for board in spec.DASHBOARDS:
        assert board.exposure in by_name, f"no exposure for dashboard {board.id}"
        depends = set(by_name[board.exposure]["depends_on"])
        marts = {spec.dataset(v.dataset).mart for v in board.visuals}
        assert {f"ref('{m}')" for m in marts} <= depends


def test_to_dict_renders_sql_for_the_requested_schema():
    rendered = spec.to_dict(schema="analytics_prod_marts")
    assert all(d["sql"].endswith(f"from analytics_prod_marts.{d['mart']}") for d in rendered["datasets"])
    assert {b["id"] for b in rendered["dashboards"]} == {"hiring-funnel", "marketplace-health", "match-quality"}
    funnel = next(v for b in rendered["dashboards"] for v in b["visuals"] if v["id"] == "funnel-by-stage")
    assert list(funnel["measures"]) == [{"numerator": "applications_reached", "denominator": "applications",
                                   "label": "reached / applied", "kind": "ratio",
                                   "expression": "sum({applications_reached}) / sum({applications})"}]

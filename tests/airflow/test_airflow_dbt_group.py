"""match_daily's dbt step: a cosmos task group rendered from a real `dbt parse` manifest, or one task without."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import DAGS_FOLDER, REPO_ROOT

pytestmark = [pytest.mark.integration]

DBT = REPO_ROOT / ".venv" / "dbt" / "bin" / "dbt"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    target = tmp_path_factory.mktemp("dbt_target")
    done = subprocess.run([str(DBT), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt", "--target-path",
                           str(target), "--quiet"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return target / "manifest.json"


def _match_daily(monkeypatch, manifest_path):
    from airflow.dag_processing.dagbag import BundleDagBag

    monkeypatch.setenv("DBT_MANIFEST", str(manifest_path))
    bag = BundleDagBag(dag_folder=str(DAGS_FOLDER / "match_daily.py"), bundle_path=DAGS_FOLDER, bundle_name="dbt")
    assert bag.import_errors == {}
    return bag.dags["match_daily"]


def test_cosmos_renders_one_build_task_per_model_and_seed(monkeypatch, manifest):
    from _platform.dbt import dbt_executable

    dag = _match_daily(monkeypatch, manifest)
    nodes = json.loads(manifest.read_text())["nodes"].values()
    buildable = {n["name"] for n in nodes if n["resource_type"] in ("model", "seed", "snapshot")}
    dbt_tasks = {t.task_id: t for t in dag.tasks if t.task_id.startswith("dbt_build.")}
    assert {tid.split(".", 1)[1].rsplit("_", 2)[0] for tid in dbt_tasks} == buildable
    for task in dbt_tasks.values():
        assert type(task).__name__ == "DbtBuildLocalOperator"
        assert str(task.dbt_executable_path) == dbt_executable()
        assert task.invocation_mode.name == "SUBPROCESS"
        assert task.vars == {"run_date": "{{ data_interval_start | ds }}"}
        assert task.indirect_selection == "buildable"
        assert task.profile_config.target_name == "local"
        assert task.retries >= 2 and task.owner == "data-platform"
    # the dbt graph is kept: a mart builds after the staging model it reads, and all of it after publish
    upstream_of_mart = dag.get_task("dbt_build.fct_candidate_match_coverage_model_build").get_flat_relative_ids(
        upstream=True
    )
    assert "dbt_build.stg_gold__matches_model_build" in upstream_of_mart and "publish" in upstream_of_mart
    assert "refresh_dashboard" in dag.get_task("dbt_build.rpt_skills_gap_model_build").get_flat_relative_ids(
        upstream=False
    )


def test_without_a_manifest_one_plain_dbt_build_task(monkeypatch, tmp_path):
    dag = _match_daily(monkeypatch, tmp_path / "missing" / "manifest.json")
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt_build")]
    assert [t.task_id for t in dbt_tasks] == ["dbt_build"]
    assert dbt_tasks[0].op_kwargs["module"] == "analytics.dbt_runner"
    assert dbt_tasks[0].op_kwargs["function"] == "run_dbt_build"

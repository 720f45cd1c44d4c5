"""DAG integrity: every DAG file imports, parses fast, has owner/retries/tags/callbacks, and no cycles."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DAG_FILES, DAGS_FOLDER, REPO_ROOT

pytestmark = pytest.mark.unit

EXPECTED_DAGS = {"events_landing", "match_daily", "backfill"}
PARSE_BUDGET_S = 1.0
# Tasks allowed fewer than 2 retries, and why: they are deterministic, a retry cannot change the answer.
RETRY_EXEMPT = {"run_summary": "reports the run; fails on purpose when a stage failed", "plan_dates": "validates params"}

PARSE_PROBE = """
import json, sys, time
from pathlib import Path
from airflow.sdk import DAG, Asset, dag, task  # the dag processor has Airflow loaded before parsing
from airflow.dag_processing.dagbag import BundleDagBag
folder, path = Path(sys.argv[1]), sys.argv[2]
bag = BundleDagBag(dag_folder=path, bundle_path=folder, collect_dags=False)
started = time.perf_counter()
bag.process_file(path, only_if_updated=False)
print(json.dumps({"seconds": time.perf_counter() - started, "errors": bag.import_errors, "dags": sorted(bag.dags)}))
"""


def test_dag_files_found():
    assert {p.stem for p in DAG_FILES} == EXPECTED_DAGS


def test_no_import_errors_and_all_dags_loaded(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED_DAGS


def _parse_in_fresh_interpreter(dag_file: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = ""
    done = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(DAGS_FOLDER), str(dag_file)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_each_file_imports_alone_and_parses_under_a_second(dag_file: Path):
    """A fresh interpreter per file, as the dag processor does: import errors and the parse budget.

    The first parse may compile the libraries' bytecode (a fresh venv has none); the steady state the
    dag processor lives in is the second one, which is what the budget applies to.
    """
    first = _parse_in_fresh_interpreter(dag_file)
    assert first["errors"] == {}
    assert first["dags"] == [dag_file.stem]
    seconds = min(_parse_in_fresh_interpreter(dag_file)["seconds"] for _ in range(2))
    assert seconds < PARSE_BUDGET_S, f"{dag_file.name} took {seconds:.2f}s to parse"


def test_tags_owner_and_schedule_basics(dagbag):
    from _platform.defaults import APPROVED_TAGS, OWNER

    for dag in dagbag.dags.values():
        assert dag.tags, dag.dag_id
        assert set(dag.tags) <= APPROVED_TAGS, (dag.dag_id, set(dag.tags) - APPROVED_TAGS)
        assert "marketplace" in dag.tags
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.doc_md, f"{dag.dag_id} has no doc_md"
        for t in dag.tasks:
            assert t.owner == OWNER, (dag.dag_id, t.task_id, t.owner)


def test_retries_backoff_and_failure_callback_on_every_task(dagbag):
    from _platform.defaults import MIN_RETRIES, on_task_failure

    for dag in dagbag.dags.values():
        for t in dag.tasks:
            name = f"{dag.dag_id}.{t.task_id}"
            if t.task_id not in RETRY_EXEMPT:
                assert t.retries >= MIN_RETRIES, name
                assert t.retry_exponential_backoff > 0, name
            callbacks = t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback]
            assert on_task_failure in callbacks, name
            assert t.execution_timeout is not None, name


def test_no_cycles(dagbag):
    """Kahn's algorithm over the task graph: every task gets ordered only if there is no cycle."""
    for dag in dagbag.dags.values():
        indegree = {t.task_id: len(t.upstream_task_ids) for t in dag.tasks}
        ready = [tid for tid, n in indegree.items() if n == 0]
        ordered = []
        while ready:
            tid = ready.pop()
            ordered.append(tid)
            for down in dag.get_task(tid).downstream_task_ids:
                indegree[down] -= 1
                if indegree[down] == 0:
                    ready.append(down)
        assert len(ordered) == len(dag.tasks), f"{dag.dag_id} has a cycle"


def test_stages_are_keyed_on_the_data_interval_never_now(dagbag):
    from _platform.defaults import RUN_DATE

    for dag in dagbag.dags.values():
        for t in dag.tasks:
            kwargs = getattr(t, "op_kwargs", None) or {}
            if "module" in kwargs and dag.dag_id != "backfill" and kwargs["module"] != "analytics.dashboard":
                assert kwargs["run_date"] == RUN_DATE, (dag.dag_id, t.task_id)
    for path in DAG_FILES + sorted((DAGS_FOLDER / "_platform").glob("*.py")):
        text = path.read_text()
        for forbidden in ("datetime.now(", "utcnow(", "date.today(", "Variable.get("):
            if path.name == "defaults.py" and forbidden == "datetime.now(":
                continue  # the failure callback stamps when it fired; no partition depends on it
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_schedules(dagbag):
    hourly = dagbag.dags["events_landing"].timetable
    daily = dagbag.dags["match_daily"].timetable
    assert type(hourly).__name__ == "CronDataIntervalTimetable" and hourly.expression == "0 * * * *"
    assert type(daily).__name__ == "CronDataIntervalTimetable" and daily.expression == "0 0 * * *"
    assert type(dagbag.dags["backfill"].timetable).__name__ == "NullTimetable"  # manual only


def test_match_daily_order_gate_before_publish(dagbag):
    dag = dagbag.dags["match_daily"]
    chain = ["build_profiles", "embed", "match", "quality_gate", "publish"]
    for up, down in zip(chain, chain[1:], strict=False):
        assert dag.get_task(up).downstream_task_ids == {down}, (up, down)
    # publish needs the gate (all_success): a failed gate leaves it upstream_failed, never run.
    assert dag.get_task("publish").trigger_rule == "all_success"
    downstream_of_publish = dag.get_task("publish").get_flat_relative_ids(upstream=False)
    assert "refresh_dashboard" in downstream_of_publish and "run_summary" in downstream_of_publish
    assert any(tid.startswith("dbt_build") for tid in downstream_of_publish)
    assert dag.get_task("run_summary").trigger_rule == "all_done"


def test_silver_assets_are_produced_by_bronze_to_silver(dagbag):
    from _platform.assets import SILVER_TABLES, as_uri

    from common.config import get_settings

    outlets = dagbag.dags["events_landing"].get_task("bronze_to_silver").outlets
    expected = {as_uri(get_settings().table_uri("silver", t)) for t in SILVER_TABLES}
    assert {a.uri for a in outlets} == expected
    assert len(expected) == 10
    inlets = dagbag.dags["match_daily"].get_task("build_profiles").inlets
    assert {a.uri for a in inlets} == expected


def test_backfill_is_manual_with_date_params(dagbag):
    dag = dagbag.dags["backfill"]
    assert set(dag.params.keys()) == {"start_date", "end_date"}
    mapped = [t for t in dag.tasks if t.task_id not in ("plan_dates", "run_summary")]
    assert mapped and all(type(t).__name__.endswith("MappedOperator") for t in mapped)
    assert all(t.max_active_tis_per_dagrun == 1 for t in mapped)


def test_importing_dags_does_no_work(monkeypatch):
    """No subprocess, socket or dbt call at import time (the dag processor re-imports every ~30 s)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    def refuse(*args, **kwargs):
        raise AssertionError(f"work at import time: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    bag = BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER, bundle_name="probe")
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED_DAGS


def test_helpers_are_not_parsed_as_dags():
    ignore = (DAGS_FOLDER / ".airflowignore").read_text()
    assert "_platform/" in ignore
    assert (REPO_ROOT / "dags" / "_platform" / "__init__.py").exists()


def test_match_daily_waits_for_the_last_landing_hour_of_its_day(dagbag):
    """match_daily's run for D and events_landing's 23:00 run of D start at the same moment (00:00 of D+1):
    match_daily's first task waits for that hour's marker, which events_landing writes after silver."""
    from _platform.defaults import RUN_DATE, RUN_HOUR
    from _platform.silver_day import LAST_HOUR

    daily, hourly = dagbag.dags["match_daily"], dagbag.dags["events_landing"]
    wait = daily.get_task("wait_for_silver_day")
    assert wait.upstream_task_ids == set() and wait.downstream_task_ids == {"build_profiles"}
    assert wait.mode == "reschedule" and 0 < wait.timeout <= 6 * 3600
    assert list(wait.op_args) == [RUN_DATE] or wait.op_kwargs.get("run_date") == RUN_DATE
    mark = hourly.get_task("mark_hour_landed")
    assert mark.upstream_task_ids == {"bronze_to_silver"}
    assert list(mark.op_args) == [RUN_DATE, RUN_HOUR] or mark.op_kwargs == {"run_date": RUN_DATE, "hour": RUN_HOUR}

    # The hourly interval that ends when the daily one ends is the one whose marker the daily run awaits.
    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable  # the scheduler's side of the SDK's

    midnight = pendulum.datetime(2026, 11, 4, tz="UTC")  # the scheduler passes pendulum datetimes
    day, hour = (CronDataIntervalTimetable(dag.timetable.expression, "UTC").infer_manual_data_interval(
        run_after=midnight) for dag in (daily, hourly))
    assert day.end == hour.end == midnight
    assert (hour.start.date(), hour.start.hour) == (day.start.date(), LAST_HOUR)


def test_the_wait_passes_only_on_the_marker_of_its_own_days_last_hour(tmp_path, monkeypatch):
    from _platform import silver_day

    from common.config import reset_settings_cache

    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    reset_settings_cache()
    try:
        poke = silver_day.wait_for_silver_day.function
        mark = silver_day.mark_hour_landed.function
        assert poke("2026-11-03").is_done is False  # nothing landed yet
        mark("2026-11-03", "22")
        mark("2026-11-02", "23")  # the day before's last hour is not this day's
        assert poke("2026-11-03").is_done is False
        mark("2026-11-03", "23", {"silver_rows": 10})
        done = poke("2026-11-03")
        assert done.is_done and done.xcom_value.endswith("/silver/_landed_hours/dt=2026-11-03/hour=23.json")
        marker = tmp_path / "lake" / "silver" / "_landed_hours" / "dt=2026-11-03" / "hour=23.json"
        assert json.loads(marker.read_text())["bronze_to_silver"] == {"silver_rows": 10}
    finally:
        reset_settings_cache()


def test_run_dag_says_what_is_missing_instead_of_sitting_in_the_wait(tmp_path, monkeypatch):
    from _platform import run_dag, silver_day

    from common.config import reset_settings_cache

    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    reset_settings_cache()
    try:
        with pytest.raises(SystemExit, match=r"run events_landing for 2026-11-03 first.*--silver-as-is"):
            run_dag._wait_or_skip("match_daily", "2026-11-03", None, silver_as_is=False)
        assert run_dag._wait_or_skip("match_daily", "2026-11-03", "^x$", True) == "(?:^x$)|^wait_for_silver_day$"
        assert run_dag._wait_or_skip("events_landing", "2026-11-03", None, False) is None
        silver_day.write_marker("2026-11-03", 23)
        assert run_dag._wait_or_skip("match_daily", "2026-11-03", "^x$", False) == "^x$"
    finally:
        reset_settings_cache()

"""A real run of the DAGs under Airflow (``airflow dags test``) for one date on small data.

Own ports, lake, state dir and Airflow home, so it never touches a developer's running stack:
1. simulate one day into the local stand-ins (kinesalite, moto) — the test's input;
2. events_landing under Airflow: landing + bronze → silver;
3. match_daily under Airflow: profiles → embed → match → gate → publish → dbt → dashboard;
   asserted independently: DynamoDB items and pointers, the duckdb marts (and no PII in them);
4. match_daily again with the match output corrupted (duplicated rows): the quality gate fails, publish
   never runs and DynamoDB is byte-for-byte what step 3 left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT

pytestmark = [pytest.mark.e2e]

RUN_DATE = "2026-11-03"
# The session's free ports (tests/conftest.py), never the defaults a developer's `make run` / `make airflow` use.
PORTS = {name: os.environ[name] for name in ("KINESIS_PORT", "DYNAMODB_PORT", "MOTO_PORT", "AIRFLOW_PORT")}
JOBS_PY = REPO_ROOT / ".venv" / "jobs" / "bin" / "python"
DBT = REPO_ROOT / ".venv" / "dbt" / "bin" / "dbt"
RUN_DAG = REPO_ROOT / "dags" / "_platform" / "run_dag.py"
STAGE_RUNNER = REPO_ROOT / "dags" / "_platform" / "stage_runner.py"
PII_COLUMNS = {"email", "display_name", "gender", "age_band", "self_reported_gender", "self_reported_age_band"}

# dbt as one `dbt build` task (what a fresh clone runs); E2E_DBT=cosmos renders the cosmos task group from a
# manifest instead (27 tasks, ~4-6 min more on 2 cores; test_airflow_dbt_group.py checks its rendering).
DBT_MODE = os.environ.get("E2E_DBT", "plain")
SCALE = float(os.environ.get("E2E_SCALE", "0.25"))  # of the simulator's "small" day (300 candidates)

RESULTS: dict = {}  # what earlier steps observed, for the later ones


def _jobs(env: dict, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(JOBS_PY), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def stack():
    # Not tmp_path_factory: pytest prunes old basetemp dirs, and a concurrent session could delete this
    # one mid-run. Removed at the end when every step passed; kept (and named in failures) otherwise.
    root = Path(tempfile.mkdtemp(prefix="airflow-e2e-"))
    env = {k: v for k, v in os.environ.items() if k not in ("WAREHOUSE_PATH", "DBT_MANIFEST", "AIRFLOW_HOME")}
    env.update(
        PORTS,
        PLATFORM_ENV="local",
        LAKE_ROOT=str(root / "lake"),
        LOCAL_STATE_DIR=str(root / "state"),
        AIRFLOW_HOME=str(root / "airflow"),
        PYTHONPATH=str(REPO_ROOT),
        EMBEDDING_ENCODER=os.environ.get("E2E_ENCODER", "hashing"),  # no torch model load in CI
        # a path that does not exist selects the plain `dbt build` task, whatever dbt/target holds
        DBT_MANIFEST=str(root / "dbt_target" / "manifest.json"),
    )
    up = _jobs(env, "-m", "common.local_services", "up", timeout=300)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    try:
        if DBT_MODE == "cosmos":  # the manifest cosmos renders the task group from (no dbt call at parse time)
            parse = subprocess.run([str(DBT), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt", "--target-path",
                                    str(root / "dbt_target"), "--quiet"], cwd=REPO_ROOT, env=env,
                                   capture_output=True, text=True, timeout=300)
            assert parse.returncode == 0, parse.stdout[-3000:] + parse.stderr[-2000:]
        sim = _jobs(env, str(STAGE_RUNNER), "--module", "ingestion.simulator", "--function", "run_simulation",
                    "--run-date", RUN_DATE, "--options", json.dumps({"seed": 11, "scale": SCALE}))
        assert sim.returncode == 0, sim.stdout[-2000:] + sim.stderr[-3000:]
        RESULTS["simulated"] = json.loads(sim.stdout.strip().splitlines()[-1].split(" ", 1)[1])
        yield root, env
    finally:
        _jobs(env, "-m", "common.local_services", "down", timeout=120)
        if RESULTS.get("gate_checked"):
            shutil.rmtree(root, ignore_errors=True)


def _run_dag(root: Path, env: dict, dag_id: str, *extra: str) -> tuple[int, str, dict | None]:
    """Run a DAG under Airflow via the same runner `make airflow-dags-test` uses; keep its log."""
    done = subprocess.run([sys.executable, str(RUN_DAG), dag_id, "--date", RUN_DATE, *extra], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=2400)
    output = done.stdout + done.stderr
    log_dir = root / "logs"
    log_dir.mkdir(exist_ok=True)
    (log_dir / f"{dag_id}-{len(list(log_dir.iterdir()))}.log").write_text(output)
    summary_path = root / "state" / "runs" / dag_id / f"{RUN_DATE}.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return done.returncode, output, summary


def _tail(output: str, lines: int = 60) -> str:
    """The error lines of a run's output (the full log is kept under <root>/logs)."""
    interesting = [ln for ln in output.splitlines() if re.search(r"ERROR|error|Error|FAILED|failed|Traceback", ln)]
    return "\n".join(interesting[-lines:])


def _dynamo_items(env: dict) -> list[dict]:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{PORTS['DYNAMODB_PORT']}",
                          region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
    items, kwargs = [], {"TableName": "marketplace-matches"}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _marts(env: dict) -> dict:
    """Row counts and columns of every table dbt built in the warehouse (read with the jobs venv's duckdb)."""
    code = r"""
import json, duckdb
from common.config import get_settings
con = duckdb.connect(str(get_settings().warehouse_path), read_only=True)
tables = con.execute("select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'").fetchall()
out = {}
for schema, name in tables:
    cols = [r[0] for r in con.execute(f"select column_name from information_schema.columns where table_schema='{schema}' and table_name='{name}'").fetchall()]
    out[f"{schema}.{name}"] = {"rows": con.execute(f'select count(*) from "{schema}"."{name}"').fetchall()[0][0], "columns": cols}
print(json.dumps(out))
"""
    done = _jobs(env, "-c", code, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _lake_query(env: dict, code: str) -> dict:
    """Run ``code`` (which prints one JSON line) with the jobs venv's duckdb against the stack's lake."""
    done = _jobs(env, "-c", "import json, duckdb\nfrom common.config import get_settings\ns = get_settings()\n"
                 "con = duckdb.connect()\n" + code, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _lake_ids(env: dict) -> dict:
    """Rows and distinct (tenant, type, event_id) in silver, rows in quarantine: read from the files."""
    return _lake_query(env, f"RUN_DATE_LITERAL = {RUN_DATE!r}\n" + r"""
scan = "read_parquet('{}/**/*.parquet', hive_partitioning=true, union_by_name=true)"
silver = con.sql(f"select event_type, tenant_id, event_id from {scan.format(s.zone_uri('silver') + '/*')}").df()
quarantine = con.sql(f"select count(*) from {scan.format(s.table_uri('quarantine', 'events'))}").fetchall()[0][0]
# Raw lines under a dt after the run date wait for that later day's run (arrival-time routing), counted from files.
import glob, re
later = sum(sum(1 for _ in open(f, "rb")) for f in glob.glob(s.zone_uri("raw").removeprefix("file://") + "/**/dt=*/**/*.json*", recursive=True)
            if re.search(r"dt=(\d{4}-\d{2}-\d{2})", f).group(1) > RUN_DATE_LITERAL)
print(json.dumps({"raw_later_days": later, "silver_rows": len(silver), "silver_distinct": len(silver.drop_duplicates()),
                  "silver_by_table": silver["event_type"].value_counts().to_dict(), "quarantine_rows": quarantine}))
""")


def _profile_keys(env: dict) -> dict:
    """(tenant_id, id) of every candidate and job profile in gold."""
    keys = _lake_query(env, r"""
out = {}
for side in ("candidate", "job"):
    path = s.table_uri("gold", f"{side}_profiles")
    out[side] = con.sql(f"select distinct tenant_id, {side}_id from read_parquet('{path}/**/*.parquet', "
                        "hive_partitioning=true, union_by_name=true)").fetchall()
print(json.dumps(out))
""")
    return {side: {tuple(row) for row in rows} for side, rows in keys.items()}


def test_events_landing_lands_the_day_into_silver(stack):
    root, env = stack
    code, output, summary = _run_dag(root, env, "events_landing")
    assert code == 0, f"{_tail(output)}\nlogs: {root / 'logs'}"
    assert summary["tasks"] == {"land_events": "success", "bronze_to_silver": "success", "mark_hour_landed": "success"}
    # run_dag.py runs the interval ending at RUN_DATE + 1 day: the day's last hour, the one match_daily awaits
    assert (root / "lake" / "silver" / "_landed_hours" / f"dt={RUN_DATE}" / "hour=23.json").exists()
    landed, sim = summary["counts"]["land_events"], RESULTS["simulated"]
    # What the producer sent (its own counts) against what landing read and the lake holds, measured apart.
    assert landed["records_in"] == sim["events"] + sim["duplicate_deliveries"] + sim["bad_records"]
    lake = _lake_ids(env)
    assert lake["silver_rows"] == lake["silver_distinct"], lake  # no duplicate reached silver
    # every event in silver or quarantine (a "bad" record a tolerant contract accepts may move to silver)
    rejected = sum(sim["expected_rejected"].values())
    assert lake["silver_distinct"] + lake["quarantine_rows"] + lake["raw_later_days"] == sim["expected_valid"] + rejected, lake
    assert lake["silver_distinct"] >= sim["expected_valid"], (lake, sim)
    for table in ("candidate_registered", "job_posted", "resume_uploaded"):
        assert lake["silver_by_table"].get(table, 0) > 0, f"no silver rows for {table}"


def test_match_daily_publishes_to_dynamodb_and_builds_the_marts(stack):
    root, env = stack
    code, output, summary = _run_dag(root, env, "match_daily")
    assert code == 0, f"{_tail(output)}\nlogs: {root / 'logs'}"
    states = summary["tasks"]
    for task_id in ("wait_for_silver_day", "build_profiles", "embed", "match", "quality_gate", "publish",
                    "refresh_dashboard"):
        assert states[task_id] == "success", (task_id, states)
    dbt_tasks = {tid: s for tid, s in states.items() if tid.startswith("dbt_build")}
    assert set(dbt_tasks.values()) == {"success"}, dbt_tasks
    assert len(dbt_tasks) > 5 if DBT_MODE == "cosmos" else list(dbt_tasks) == ["dbt_build"]

    publish = summary["counts"]["publish"]
    run_id = publish["run_id"]
    assert run_id.startswith(f"{RUN_DATE}T")
    items = _dynamo_items(env)
    lists = [i for i in items if i["SK"]["S"] == "CURRENT" and i["PK"]["S"].count("#") == 3]  # entities' lists
    written = [i for i in lists if i["generation"]["S"] == publish["generation"]]
    assert written and len(written) == publish["lists_written"]
    assert sum(len(i["entries"]["L"]) for i in written) == publish["entries_written"] > 0
    assert all(i["run_id"]["S"] == run_id for i in lists)
    # Never a match across tenants: both sides of every served pair are joined to the tenant their own
    # profile has (gold profiles), not compared with a field of the same item.
    profiles = _profile_keys(env)
    for item in lists:
        tenant = item["PK"]["S"].split("#")[1]
        owner = "CAND" if "#CAND#" in item["PK"]["S"] else "JOB"  # a candidate's jobs | a job's candidates
        owner_attr, other_attr = ("candidate_id", "job_id") if owner == "CAND" else ("job_id", "candidate_id")
        assert item["PK"]["S"] == f"T#{tenant}#{owner}#{item[owner_attr]['S']}"
        for entry in (e["M"] for e in item["entries"]["L"]):
            pair = {owner_attr: item[owner_attr]["S"], other_attr: entry[other_attr]["S"]}
            assert (tenant, pair["candidate_id"]) in profiles["candidate"], item["PK"]
            assert (tenant, pair["job_id"]) in profiles["job"], (item["PK"], pair)
            if "score" in entry:
                assert 0 <= float(entry["score"]["N"]) <= 1
    assert any("#JOB#" in i["PK"]["S"] and i["entries"]["L"] for i in lists), "no job -> candidates lists"
    RESULTS["dynamo_after_publish"] = sorted(json.dumps(i, sort_keys=True) for i in items)
    RESULTS["run_id"] = run_id

    marts = {name: info for name, info in _marts(env).items() if "mart" in name.split(".")[0] or
             name.split(".")[1].startswith(("fct_", "rpt_", "dim_"))}
    assert marts, "dbt built no marts"
    assert any(info["rows"] > 0 for info in marts.values()), marts
    for name, info in marts.items():
        assert not PII_COLUMNS & set(info["columns"]), f"PII column in mart {name}"
    assert (root / "state" / "dashboard" / "index.html").stat().st_size > 1000


def test_failing_quality_gate_stops_publish(stack):
    """Corrupt the audited match output; re-run the tail of match_daily: the gate blocks, publish never runs."""
    root, env = stack
    run_id = RESULTS["run_id"]
    run_dir = root / "lake" / "gold" / "matches" / f"run_id={run_id}"
    parquet = sorted(run_dir.rglob("*.parquet"))
    assert parquet, f"no match output under {run_dir}"
    shutil.copy(parquet[0], parquet[0].with_name("duplicated-" + parquet[0].name))  # every row of it twice
    alerts = root / "state" / "alerts" / "task_failures.jsonl"
    alerts_before = alerts.read_text().count("\n") if alerts.exists() else 0

    code, output, summary = _run_dag(root, env, "match_daily", "--mark-success-pattern",
                                     "^(build_profiles|embed|match)$")
    assert code != 0, "a run whose quality gate failed must fail"
    states = summary["tasks"]
    assert states["quality_gate"] == "failed"
    assert states["publish"] == "upstream_failed"  # never started
    assert states["refresh_dashboard"] == "upstream_failed"
    assert "QualityGateFailed" in output
    # the gate failed once, without retries: the data will not change by waiting
    new_alerts = [json.loads(line) for line in alerts.read_text().splitlines()[alerts_before:]]
    gate_alerts = [a for a in new_alerts if a["task_id"] == "quality_gate"]
    assert len(gate_alerts) == 1 and "retry cannot fix" in gate_alerts[0]["error"]
    # DynamoDB still serves exactly the previous, audited run
    assert sorted(json.dumps(i, sort_keys=True) for i in _dynamo_items(env)) == RESULTS["dynamo_after_publish"]
    RESULTS["gate_checked"] = True

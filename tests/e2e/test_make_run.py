"""The whole pipeline, end to end, as `make run` runs it — over a two-day history (the second day a
steady day continuing the first), twice, to prove it is idempotent.

Runs on its own ports, lake and state directory so it never touches a developer's running stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]  # a hang guard: two 2-day runs on a loaded CI box

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-02"  # a Monday: the two days fall in two weekly cohorts
FIRST_DAY = "2026-11-01"
EXPECTED_STAGES = [
    "simulate",
    "land",
    "bronze_to_silver",
    "build_profiles",
    "embed",
    "match",
    "quality_gate",
    "publish",
    "dbt_build",
    "dashboard",
]


@pytest.fixture(scope="module")
def e2e_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = dict(os.environ)
    env.update(
        PLATFORM_ENV="local",
        LAKE_ROOT=str(root / "lake"),
        LOCAL_STATE_DIR=str(root / "state"),
        KINESIS_PORT="14567",
        DYNAMODB_PORT="14568",
        MOTO_PORT="14569",
        PYTHONPATH=str(REPO),
        EMBEDDING_ENCODER=os.environ.get("E2E_ENCODER", "hashing"),
    )
    subprocess.run([sys.executable, "-m", "common.local_services", "up"], cwd=REPO, env=env, check=True)
    yield root, env
    subprocess.run([sys.executable, "-m", "common.local_services", "down"], cwd=REPO, env=env, check=False)


def _run_pipeline(env) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "common.run_pipeline", "--run-date", RUN_DATE, "--days", "2", "--gold-every", "1",
         "--encoder", env["EMBEDDING_ENCODER"]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _measure(root: Path, env) -> dict:
    """Independent measurements of every output, not the stages' own counts."""
    code = r"""
import json, duckdb, os
from common.config import get_settings
from common.aws import client
s = get_settings()
con = duckdb.connect()
def count(path):
    try:
        return con.sql(f"select count(*) from read_parquet('{path}/**/*.parquet', hive_partitioning=true, union_by_name=true)").fetchall()[0][0]
    except Exception:
        return 0
silver = {t: count(s.table_uri('silver', t)) for t in sorted(os.listdir(s.zone_uri('silver')))}
dup = con.sql(f"select count(*) - count(distinct event_id) from read_parquet('{s.zone_uri('silver')}/*/**/*.parquet', hive_partitioning=true, union_by_name=true)").fetchall()[0][0]
ddb = client('dynamodb')
items, kwargs = 0, {'TableName': s.dynamodb_table, 'Select': 'COUNT'}
while True:
    page = ddb.scan(**kwargs)
    items += page['Count']
    if 'LastEvaluatedKey' not in page:
        break
    kwargs['ExclusiveStartKey'] = page['LastEvaluatedKey']
wh = duckdb.connect(str(s.warehouse_path), read_only=True)
marts = {r[0] + '.' + r[1]: wh.sql(f'select count(*) from "{r[0]}"."{r[1]}"').fetchall()[0][0]
         for r in wh.sql("select table_schema, table_name from information_schema.tables where table_name like 'fct_%' or table_name like 'rpt_%' or table_name like 'dim_%'").fetchall()}
# Raw lines in partitions after the run date wait for a later day's run (arrival-time routing lands an event
# stamped after the run date under its own dt, valid once its time has come): counted from the files.
import glob, re as _re
later = sum(sum(1 for _ in open(f, 'rb')) for f in glob.glob(s.zone_uri('raw').removeprefix('file://') + '/**/dt=*/**/*.json*', recursive=True)
            if _re.search(r'dt=(\d{4}-\d{2}-\d{2})', f).group(1) > '""" + RUN_DATE + r"""')
trends = {'cohort_weeks': wh.sql("select count(distinct cohort_week) from main_marts.rpt_funnel_conversion").fetchall()[0][0],
          'precision_runs': wh.sql("select count(distinct run_date) from main_marts.rpt_match_precision_at_k").fetchall()[0][0],
          'max_days_in_stage': float(wh.sql("select coalesce(max(days_in_stage), 0) from main_marts.fct_hiring_funnel").fetchall()[0][0])}
print(json.dumps({'trends': trends, 'silver': silver, 'silver_duplicates': dup, 'quarantine': count(s.table_uri('quarantine', 'events')),
                  'raw_later_days': later,
                  'matches': count(s.table_uri('gold', 'matches') + '/run_id=""" + RUN_DATE + r"""T*'),
                  'matches_all_runs': count(s.table_uri('gold', 'matches')), 'dynamodb_items': items, 'marts': marts}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check_first_run(root: Path, env, rc: int, output: str) -> dict:
    """Everything a first run over the two-day history must show; returns the lake's measurements."""
    assert rc == 0, output[-6000:]
    assert "RESULT: ok — every stage ran" in output, output[-3000:]
    outcomes = json.loads((root / "state" / "runs" / f"{RUN_DATE}.json").read_text())
    assert [o["name"] for o in outcomes] == EXPECTED_STAGES
    assert all(o["status"] == "ok" for o in outcomes), outcomes
    first_day = json.loads((root / "state" / "runs" / f"{FIRST_DAY}.json").read_text())
    assert [o["name"] for o in first_day] == EXPECTED_STAGES[:-2]  # marts + dashboard: once, as of the last day
    simulated = [{o["name"]: o["counts"] for o in day}["simulate"] for day in (first_day, outcomes)]
    assert [s["day"] for s in simulated] == ["cold", "steady"]
    assert simulated[1]["events"] < simulated[0]["events"]  # a normal day, not a second marketplace
    # incremental: the steady day redoes what changed and carries the rest forward, and the summary says so
    cold, steady = ({o["name"]: o["counts"] for o in day} for day in (first_day, outcomes))
    for stage, redone, kept in (("build_profiles", "candidates_reprocessed", "candidates_carried_forward"),
                                ("embed", "reprocessed", "carried_forward")):
        assert 0 < steady[stage][redone] < cold[stage][redone] and steady[stage][kept] > 0, (stage, steady[stage])
    assert "What each stage redid and what it carried forward" in output
    # quiet: progress and the summary on the console, the libraries' chatter in the named log file
    assert "History: 2 days" in output
    assert "Calculating Metrics" not in output and " INFO " not in output, output[-3000:]
    log_files = list((root / "state" / "logs").glob(f"run-{RUN_DATE}-*.log"))
    assert len(log_files) == 1 and str(log_files[0]) in output
    assert "RESULT: ok" in log_files[0].read_text()

    first = _measure(root, env)
    assert first["silver_duplicates"] == 0
    for table in ("candidate_registered", "resume_uploaded", "job_posted", "application_submitted"):
        assert first["silver"].get(table, 0) > 0, first["silver"]
    assert first["quarantine"] > 0, "the simulator's deliberately bad records must be quarantined"
    assert first["matches"] > 0 and first["dynamodb_items"] > 0
    # Events in = silver + quarantined (+ duplicates dropped), over every simulated day (the lake holds
    # them all): the producer's own counts of what it sent against the rows measured in the lake, not the
    # pipeline's counters of itself. (A record the simulator calls bad that a tolerant contract accepts,
    # e.g. an additive field, may move from quarantine to silver; none may vanish, and every valid one
    # must reach silver.)
    expected_valid = sum(s["expected_valid"] for s in simulated)
    rejected = sum(sum(s["expected_rejected"].values()) for s in simulated)
    silver_rows = sum(first["silver"].values())
    assert silver_rows + first["quarantine"] + first["raw_later_days"] == expected_valid + rejected, (
        first, simulated)
    assert silver_rows >= expected_valid, (first["silver"], simulated)
    # The history gives every trend chart a trend: two weekly cohorts, a precision point per match run,
    # and applications that have waited in a stage for more than a day.
    assert first["trends"]["cohort_weeks"] >= 2, first["trends"]
    assert first["trends"]["precision_runs"] >= 2, first["trends"]
    assert first["trends"]["max_days_in_stage"] > 1.0, first["trends"]
    assert first["marts"] and sum(first["marts"].values()) > 0
    return first


def test_pipeline_runs_end_to_end_and_is_idempotent(e2e_env):
    root, env = e2e_env
    first = _check_first_run(root, env, *_run_pipeline(env))

    rc, output = _run_pipeline(env)
    assert rc == 0, output[-6000:]
    second = _measure(root, env)
    # raw is the append-only landing zone: the second run's re-delivered record stamped after the run date
    # lands again under its later dt (deduplicated by that day's run); every derived output must be equal.
    assert second.pop("raw_later_days") >= first.pop("raw_later_days")
    # Replaying the history re-runs the first day too, and that day now sees its own late arrivals (events of
    # the first day that landed during the second day's landing), which its first run could not: its
    # matches may grow, never shrink. The run date's inputs are complete both times: its outputs are equal.
    assert second.pop("matches_all_runs") >= first.pop("matches_all_runs")
    assert second == first, "a second run for the same date must give the same outputs"

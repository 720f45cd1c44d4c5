"""dbt marts built by real dbt-duckdb over a contract-shaped sample lake, then the dashboard in
headless Chromium. One build is shared by the module; a second build checks idempotency."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from analytics import quicksight_spec as spec
from analytics.dashboard import render_dashboard
from analytics.dbt_runner import run_dbt_build
from analytics.sample_data import SampleSpec, build_sample, write_sample_lake
from common.config import get_settings, reset_settings_cache

pytestmark = pytest.mark.integration
RUN_DATE = "2026-11-22"
MARTS = {
    "fct_hiring_funnel", "rpt_funnel_conversion", "fct_job_fill_times", "rpt_skills_gap", "rpt_marketplace_balance",
    "fct_candidate_match_coverage", "fct_match_impression_outcomes", "rpt_match_quality_by_rank",
    "rpt_match_precision_at_k", "rpt_fairness_topk_representation",
}
PII_COLUMNS = {"display_name", "email", "phone", "name", "first_name", "last_name", "description", "resume_text",
               "raw_record", "document_uri", "payload_json"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\+?\d[\d ()-]{8,}\d")
CHROMIUM = Path("/usr/bin/chromium")
# One dbt target dir for the module, so dbt's partial parsing is reused between builds.
DBT_TARGET = Path(tempfile.gettempdir()) / f"analytics-tests-dbt-target-{os.getpid()}"


def _isolated_env(mp: pytest.MonkeyPatch, root: Path) -> None:
    mp.setenv("PLATFORM_ENV", "local")
    mp.setenv("LAKE_ROOT", str(root / "lake"))
    mp.setenv("LOCAL_STATE_DIR", str(root / "state"))
    mp.setenv("WAREHOUSE_PATH", str(root / "state" / "warehouse.duckdb"))
    mp.setenv("DBT_TARGET_PATH", str(DBT_TARGET))
    reset_settings_cache()


def _marts(con) -> dict[str, pd.DataFrame]:
    return {name: con.sql(f"select * from main_marts.{name}").df() for name in sorted(MARTS)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("analytics")
    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, root)
        sample = SampleSpec(run_date=RUN_DATE)
        lake_counts = write_sample_lake(sample)
        counts = run_dbt_build(RUN_DATE)
        settings = get_settings()
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            marts = _marts(con)
        yield SimpleNamespace(root=root, sample=sample, lake_counts=lake_counts, counts=counts,
                              settings=settings, marts=marts)
    reset_settings_cache()
    shutil.rmtree(DBT_TARGET, ignore_errors=True)


def test_every_mart_is_built_with_rows_and_all_tests_pass(built):
    rows = {key.removeprefix("rows."): value for key, value in built.counts.items() if key.startswith("rows.")}
    assert set(rows) == MARTS
    assert all(value > 0 for value in rows.values()), rows
    assert built.counts["marts_built"] == len(MARTS)
    assert built.counts["mart_rows"] == sum(rows.values())
    assert built.counts["dbt_test_pass"] >= 100
    assert built.counts["dbt_unit_test_pass"] == 5
    assert not any(key.endswith(("_error", "_fail")) for key in built.counts)


def test_funnel_reconciles_with_silver_applications(built):
    applications = built.lake_counts["silver.application_submitted"]
    funnel = built.marts["fct_hiring_funnel"]
    assert len(funnel) == 5 * applications
    assert funnel["application_id"].nunique() == applications
    conversion = built.marts["rpt_funnel_conversion"]
    assert conversion.loc[conversion["stage"] == "applied", "applications"].sum() == applications
    # a stage can never convert more applications than the one before it
    reached = funnel.groupby("stage_order")["is_stage_reached"].sum().sort_index()
    assert reached.is_monotonic_decreasing


def test_hires_in_marts_match_the_sample_events(built):
    events = build_sample(built.sample)[("silver", "application_status_changed")]
    hired = events.loc[events["to_status"] == "hired", "application_id"].nunique()
    funnel = built.marts["fct_hiring_funnel"]
    assert funnel.loc[(funnel["stage"] == "hired") & funnel["is_stage_entered"], "application_id"].nunique() == hired


def test_marts_hold_no_pii(built):
    tables = build_sample(built.sample)
    registered = tables[("silver", "candidate_registered")]
    secrets = set(registered["email"]) | set(registered["display_name"])
    for name, frame in built.marts.items():
        assert not PII_COLUMNS & set(frame.columns), f"{name} has PII columns"
        for column in frame.select_dtypes(include="object").columns:
            values = frame[column].dropna().astype(str)
            assert not values.isin(secrets).any(), f"{name}.{column} leaks a name or email"
            assert not values.str.contains(EMAIL).any(), f"{name}.{column} holds an email address"
            assert not values.str.fullmatch(PHONE).any(), f"{name}.{column} holds a phone number"


def test_every_mart_row_has_a_tenant(built):
    for name, frame in built.marts.items():
        assert frame["tenant_id"].notna().all(), name
        assert set(frame["tenant_id"]) <= set(built.sample.tenants), name


def test_fairness_uses_opt_in_only_and_suppresses_small_cells(built):
    fairness = built.marts["rpt_fairness_topk_representation"]
    shown = fairness[~fairness["is_suppressed"]]
    assert (shown["qualified_pool_count"] >= 5).all()
    assert fairness.loc[fairness["is_suppressed"], ["qualified_pool_count", "top_k_count"]].isna().all().all()
    registered = build_sample(built.sample)[("silver", "candidate_registered")]
    opted_in = registered[registered["self_reported_opt_in"]].groupby("tenant_id").size()
    pools = (fairness[(fairness["job_family"] == "All job families") & (fairness["attribute_name"] == "gender")]
             .groupby(["tenant_id", "run_id"])["qualified_pool_count"].sum())
    for (tenant, _run), pool in pools.items():
        assert pool <= opted_in[tenant]


def test_match_quality_rates_are_rates(built):
    quality = built.marts["rpt_match_quality_by_rank"]
    assert quality["impressions"].sum() == built.lake_counts["silver.match_impression"]
    assert quality["clicks"].sum() == built.lake_counts["silver.match_clicked"]
    assert quality["click_rate"].between(0, 1).all()
    precision = built.marts["rpt_match_precision_at_k"]
    assert set(precision["k"]) == {1, 5, 10}
    assert precision["precision_at_k_applied"].dropna().between(0, 1).all()


def test_analyst_can_query_marts_by_name(built):
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as con:
        (jobs,) = con.sql("select count(*) from main_marts.fct_job_fill_times").fetchall()[0]
    assert jobs == built.lake_counts["silver.job_posted"]


def test_rebuild_for_the_same_date_is_identical(built):
    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, built.root)
        again = run_dbt_build(RUN_DATE)
        with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as con:
            marts = _marts(con)
    assert {k: v for k, v in again.items() if k.startswith("rows.")} == \
        {k: v for k, v in built.counts.items() if k.startswith("rows.")}
    for name, frame in marts.items():
        key = frame.columns[0]
        pd.testing.assert_frame_equal(frame.sort_values(key).reset_index(drop=True),
                                      built.marts[name].sort_values(key).reset_index(drop=True), obj=name)


def test_dashboard_renders_every_chart_in_headless_chromium(built):
    assert CHROMIUM.exists(), "chromium missing: run `make install-chromium`"
    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, built.root)
        path = render_dashboard()
    assert path == built.root / "state" / "dashboard" / "index.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--virtual-time-budget=15000", "--window-size=1400,4000"]
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        dom = subprocess.run([str(CHROMIUM), *flags, f"--user-data-dir={profile}", "--dump-dom", path.as_uri()],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        screenshot = path.parent / "screenshot.png"
        subprocess.run([str(CHROMIUM), *flags, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
                        path.as_uri()], capture_output=True, timeout=120, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    for board in spec.DASHBOARDS:
        for visual in board.visuals:
            # plotly adds js-plotly-plot and draws an <svg class="main-svg"> only when the chart rendered
            match = re.search(rf'<div id="chart-{visual.id}" class="([^"]*)"', dom)
            assert match and "js-plotly-plot" in match.group(1), f"{visual.id} did not render"
    assert dom.count('class="main-svg"') >= sum(len(b.visuals) for b in spec.DASHBOARDS)
    # trend charts show a trend: some line of each has at least two drawn points
    for visual in (v for b in spec.DASHBOARDS for v in b.visuals if v.kind == "line"):
        chart = dom.split(f'<div id="chart-{visual.id}"', 1)[1].split('<div id="chart-', 1)[0]
        traces = chart.split('class="trace scatter')[1:]
        assert traces and max(t.count('class="point"') for t in traces) >= 2, f"{visual.id} has no trend"
    assert dom.count('class="trace bars"') >= 5 and "No data yet" not in dom
    assert screenshot.stat().st_size > 50_000


def test_first_run_lake_with_missing_tables_still_builds(tmp_path):
    """Day one: only registrations and postings exist (no matches, clicks or applications yet)."""
    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, tmp_path)
        write_sample_lake(SampleSpec(run_date=RUN_DATE, candidates_per_tenant=10, jobs_per_tenant=4))
        lake = Path(get_settings().lake_root)
        keep = {"silver/candidate_registered", "silver/job_posted", "gold/candidate_profiles", "gold/job_profiles"}
        for table in [*lake.glob("silver/*"), *lake.glob("gold/*")]:
            if f"{table.parent.name}/{table.name}" not in keep:
                shutil.rmtree(table)
        counts = run_dbt_build(RUN_DATE)
    assert counts["rows.fct_job_fill_times"] == 8
    assert counts["rows.fct_candidate_match_coverage"] == 20
    assert counts["rows.fct_hiring_funnel"] == 0 and counts["rows.rpt_match_quality_by_rank"] == 0
    assert counts["rows.rpt_skills_gap"] > 0


def test_bad_lake_data_fails_the_build_with_the_failing_test_named(tmp_path):
    """A match score outside [0, 1] must stop the build, naming the test, not flow into the marts."""
    from analytics.dbt_runner import DbtBuildFailed
    from common.lake_client import get_lake_client

    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, tmp_path)
        write_sample_lake(SampleSpec(run_date=RUN_DATE, candidates_per_tenant=8, jobs_per_tenant=3))
        client = get_lake_client()
        matches = client.read_table("gold", "matches")
        matches.loc[matches.index[0], "score"] = 1.5
        client.write_table(matches, "gold", "matches", partition_cols=["run_id"])
        with pytest.raises(DbtBuildFailed, match="between_stg_gold__matches_match_score"):
            run_dbt_build(RUN_DATE, select="+stg_gold__matches")

import datetime as dt
from dataclasses import replace

import pytest

from common import run_pipeline as rp

pytestmark = pytest.mark.unit


def _stage(name, module="tests.unit._fake_stages", function="ok_stage", **kw):
    return rp.Stage(name, module, function, **kw)


def test_missing_module_is_reported_as_not_built_not_faked(isolated_settings):
    outcomes = rp.run_pipeline("2026-11-01", [_stage("ghost", module="spark_jobs.does_not_exist")])
    assert [(o.name, o.status, o.counts) for o in outcomes] == [("ghost", "not built", {})]


def test_failure_blocks_later_stages_and_summary_says_so(isolated_settings):
    stages = [_stage("a"), _stage("b", function="failing_stage"), _stage("c")]
    outcomes = rp.run_pipeline("2026-11-01", stages)
    assert [o.status for o in outcomes] == ["ok", "failed", "skipped"]
    assert outcomes[0].counts == {"run_date": "2026-11-01", "rows": 3}
    assert "QualityGateFailed" in outcomes[1].error
    text = rp.render_summary("2026-11-01", outcomes, 1.0)
    assert "RESULT: FAILED at b" in text


def test_main_exits_non_zero_on_failure_and_writes_run_json(isolated_settings, monkeypatch, capsys):
    monkeypatch.setattr(rp, "default_stages", lambda *a: [_stage("a"), _stage("b", function="failing_stage")])
    assert rp.main(["--run-date", "2026-11-01"]) == 1
    assert (isolated_settings.local_state_dir / "runs" / "2026-11-01.json").exists()
    assert "Run summary" in capsys.readouterr().out


def test_history_runs_daily_stages_each_day_oldest_first_and_as_of_stages_once(isolated_settings):
    from tests.unit import _fake_stages as fake

    fake.CALLS.clear()
    stages = [
        _stage("sim", function="recording_stage", kwargs={"name": "sim"}),
        _stage("match", function="recording_stage", kwargs={"name": "match"}),
        _stage("dbt", function="recording_stage", kwargs={"name": "dbt"}, daily=False),
    ]
    history = rp.run_history(rp.history_dates("2026-11-03", 3), stages)
    assert list(history) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert fake.CALLS == [("sim", "2026-11-01"), ("match", "2026-11-01"), ("sim", "2026-11-02"),
                          ("match", "2026-11-02"), ("sim", "2026-11-03"), ("match", "2026-11-03"),
                          ("dbt", "2026-11-03")]
    text = rp.render_summary("2026-11-03", history["2026-11-03"], 1.0, history)
    assert "History: 3 days, 2026-11-01 → 2026-11-03" in text
    assert "processed processed=2 · carried forward carried_forward=5" in text
    assert text.rstrip().endswith("RESULT: ok — every stage ran")


def test_a_failed_day_stops_the_history_and_fails_the_run(isolated_settings, monkeypatch, capsys):
    calls = []

    def flaky(run_date):
        calls.append(run_date)
        if run_date == "2026-11-02":
            raise RuntimeError("broken day")
        return {"rows": 1}

    monkeypatch.setattr(_fake_stages_module(), "flaky_stage", flaky, raising=False)
    monkeypatch.setattr(rp, "default_stages", lambda *a: [_stage("a", function="flaky_stage")])
    assert rp.main(["--run-date", "2026-11-03", "--days", "3"]) == 1
    assert calls == ["2026-11-01", "2026-11-02"]
    out = capsys.readouterr().out
    assert "RESULT: FAILED at a on 2026-11-02" in out


def _fake_stages_module():
    from tests.unit import _fake_stages

    return _fake_stages


def test_console_gets_progress_and_summary_and_the_log_file_gets_the_library_noise(
    isolated_settings, monkeypatch, capfd
):
    monkeypatch.setattr(rp, "default_stages", lambda *a: [_stage("noisy", function="noisy_stage")])
    assert rp.main(["--run-date", "2026-11-01"]) == 0
    console = capfd.readouterr()
    shown = console.out + console.err
    assert "▶ noisy" in shown and "✓ noisy" in shown and "RESULT: ok — every stage ran" in shown
    for noise in ("Calculating Metrics", "py4j noise", "JVM noise", "child process noise"):
        assert noise not in shown, noise
    logs = list((isolated_settings.local_state_dir / "logs").glob("run-2026-11-01-*.log"))
    assert len(logs) == 1 and str(logs[0]) in shown
    text = logs[0].read_text()
    for noise in ("Calculating Metrics", "py4j noise", "JVM noise", "child process noise", "RESULT: ok"):
        assert noise in text, noise


def test_work_done_reads_processed_and_carried_forward_counts():
    assert rp.work_done({"documents_profiled": 3, "documents_unchanged": 97, "seconds": 1}) == (
        "processed documents_profiled=3 · carried forward documents_unchanged=97")
    assert rp.work_done({"rows": 4}) == ""


def test_history_days_run_each_stage_on_its_cadence_and_whatever_a_due_stage_needs():
    stages = rp.default_stages(42, "small", None, gold_every=7)
    names = {n: [s.name for s in rp.stages_for_day(stages, n)] for n in range(14)}
    everything = [s.name for s in stages]
    assert names[0] == everything  # the last day: every stage, marts and dashboard included
    gold = everything[:8]  # simulate .. publish
    assert names[7] == gold
    # silver only when the match run needs it (its window then spans the days since: see below)
    assert all(names[n] == ["simulate", "land"] for n in range(14) if n % 7)
    daily = rp.default_stages(42, "small", None, gold_every=1)
    assert all([s.name for s in rp.stages_for_day(daily, n)] == gold for n in range(1, 5))


@pytest.mark.parametrize("days,gold_every", [(14, 7), (10, 7), (3, 1), (1, 7), (20, 3)])
def test_every_history_day_and_its_late_arrivals_fall_in_some_silver_window(isolated_settings, days, gold_every):
    """Late events are stamped the evening before the day that delivers them, so each silver run must
    re-read the last day the previous one covered, and the first the evening before the history."""
    from tests.unit import _fake_stages as fake

    fake.CALLS.clear()
    # the real cadence and windows, fake stage functions
    stages = [replace(s, module="tests.unit._fake_stages", function="windowed_stage", kwargs={"name": s.name})
              for s in rp.default_stages(42, "small", None, gold_every=gold_every)
              if s.name in ("simulate", "bronze_to_silver", "match")]
    dates = rp.history_dates("2026-11-30", days)
    rp.run_history(dates, stages)
    windows = [(day, lookback) for name, day, lookback in fake.CALLS if name == "bronze_to_silver"]
    assert windows[-1][0] == dates[-1] and len(windows) == -(-days // gold_every)
    covered = set()
    for day, lookback in windows:
        assert lookback >= 2  # never narrower than the daily run's own window
        end = dt.date.fromisoformat(day)
        covered |= {(end - dt.timedelta(days=back)).isoformat() for back in range(lookback + 1)}
    evening_before = (dt.date.fromisoformat(dates[0]) - dt.timedelta(days=1)).isoformat()
    assert set(dates) | {evening_before} <= covered
    # the day before each run's window ends is re-read by the next run (its late arrivals came after)
    for (earlier, _), (later, lookback) in zip(windows, windows[1:], strict=False):
        start = dt.date.fromisoformat(later) - dt.timedelta(days=lookback)
        assert start <= dt.date.fromisoformat(earlier), (earlier, later, lookback)

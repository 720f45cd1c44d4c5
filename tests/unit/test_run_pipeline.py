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

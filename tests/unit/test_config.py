import pytest

from common.config import ConfigError, get_settings, reset_settings_cache

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _fresh_settings():
    reset_settings_cache()
    yield
    reset_settings_cache()


def test_local_default_points_everything_at_loopback(monkeypatch, tmp_path):
    monkeypatch.delenv("PLATFORM_ENV", raising=False)
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    s = get_settings()
    assert s.env == "local" and s.dbt_target == "local"
    assert s.zone_uri("silver") == str(tmp_path / "lake" / "silver")
    assert s.table_uri("gold", "matches") == str(tmp_path / "lake" / "gold" / "matches")
    assert all(url.startswith("http://127.0.0.1:") for url in s.endpoints.values())
    kwargs = s.boto3_kwargs("kinesis")
    assert kwargs["endpoint_url"] == f"http://127.0.0.1:{s.ports['KINESIS_PORT']}"
    assert kwargs["aws_access_key_id"] == "local"  # a developer's real keys never reach a stand-in


def test_ports_come_from_env(monkeypatch):
    monkeypatch.setenv("DYNAMODB_PORT", "14568")
    assert get_settings().endpoints["dynamodb"] == "http://127.0.0.1:14568"


def test_aws_mode_uses_real_endpoints_and_bucket_per_zone(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.setenv("LAKE_BUCKET_PREFIX", "marketplace-dev-123")
    s = get_settings()
    assert s.zone_uri("raw") == "s3://marketplace-dev-123-raw"
    assert s.boto3_kwargs("dynamodb") == {"region_name": s.region}
    assert s.spark_master is None and s.dbt_target == "athena"


def test_aws_mode_without_bucket_prefix_names_the_fix(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.delenv("LAKE_BUCKET_PREFIX", raising=False)
    with pytest.raises(ConfigError, match="LAKE_BUCKET_PREFIX"):
        get_settings()


def test_unknown_environment_and_zone_are_rejected(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "staging")
    with pytest.raises(ConfigError, match="PLATFORM_ENV"):
        get_settings()
    monkeypatch.setenv("PLATFORM_ENV", "local")
    reset_settings_cache()
    with pytest.raises(ConfigError, match="unknown lake zone"):
        get_settings().zone_uri("platinum")


def test_only_the_config_module_branches_on_the_environment():
    """The seam rule, enforced: no other module reads PLATFORM_ENV or compares settings.env."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in root.glob("*/**/*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".venv", "tests/", "node_modules", "infra/cdk.out", "infra/node_modules")):
            continue
        if rel == "common/config.py":
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        if "PLATFORM_ENV" in text and "environ" in text:
            offenders.append(rel)
    assert offenders == [], f"modules reading PLATFORM_ENV directly: {offenders}"

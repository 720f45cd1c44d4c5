import re
from pathlib import Path

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


# The seam and its adapters: the config itself, the pandas lake client (one backend class per
# environment) and the Airflow operator factory (Spark in a local venv vs EMR Serverless).
SEAM_ADAPTERS = {"common/config.py", "common/lake_client.py", "dags/_platform/tasks.py"}
ENV_DECISION = re.compile(
    r"""(getenv|environ\.get|environ\[)\(?\s*["']PLATFORM_ENV"""  # reading the variable itself
    r"""|\.env\s*(==|!=|\bin\b)"""  # comparing settings.env
    r"""|\.is_local\b|\[\s*\w*settings\w*\.env\s*\]"""  # is_local, or a dispatch on settings.env
)


def test_only_the_seam_branches_on_the_environment():
    """The seam rule, enforced: no module outside the seam reads PLATFORM_ENV or branches on settings.env."""
    root = Path(__file__).resolve().parents[2]
    skip = (".venv", "tests/", "node_modules", "infra/cdk.out", "infra/node_modules", "dist/", "build/")
    offenders = []
    for path in root.glob("*/**/*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(skip) or "/node_modules/" in rel or rel in SEAM_ADAPTERS:
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="ignore").splitlines(), 1):
            code = line.split("#", 1)[0]
            if ENV_DECISION.search(code) and not code.strip().startswith(("\"", "'")):
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert offenders == [], "environment branches outside the seam:\n" + "\n".join(offenders)


def test_the_seam_check_catches_a_branch():
    assert ENV_DECISION.search('if os.environ.get("PLATFORM_ENV") == "aws":')
    assert ENV_DECISION.search("if settings.env == 'aws':")
    assert ENV_DECISION.search("client = _BACKENDS[settings.env]")
    assert not ENV_DECISION.search('env = {"PLATFORM_ENV": "aws"}')  # setting it for a child is fine

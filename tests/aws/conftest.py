"""The aws-mode tier: PLATFORM_ENV=aws against a moto server holding the CDK app's resources.

Run with the jobs venv (`make test-aws`, `.venv/jobs/bin/python -m pytest tests/aws`). Session fixtures:
- ``platform_template``: the Platform stack synthesised by the CDK app (infra venv, once; cached under
  ``.local/aws-tier/`` keyed on the infra sources, so a changed stack is re-synthesised);
- ``moto_endpoint``: moto server on 127.0.0.1:$AWS_TIER_MOTO_PORT (default 4579 — never the 4569 of
  `make services-up`), stopped at the end;
- ``deployed``: the template's resources created in moto (tests/aws/cloud.py);
- ``aws_env``: the environment `infra/outputs_to_env.py` writes from the stack outputs, plus the SDK's own
  AWS_ENDPOINT_URL pointing every client (boto3, awswrangler, pyarrow) at moto — no code path knows it
  is a stand-in;
- ``aws_day``: one small simulated day through the aws path: producers → bus/stream → Firehose (the real
  transform Lambda code and prefix) → S3 raw; Spark stages on a file:// mirror of the buckets
  (LAKE_FILE_MIRROR: Spark cannot read s3:// offline); publish to DynamoDB + MatchesReady on the bus.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_PY = REPO_ROOT / ".venv" / "infra" / "bin" / "python"
AIRFLOW_PY = REPO_ROOT / ".venv" / "airflow" / "bin" / "python"
STACK = "Marketplace-dev-Platform"
RUN_DATE = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()  # as the daily DAG: yesterday
MATCHES_READY_PROBE = "aws-tier-matches-ready"

if importlib.util.find_spec("moto") is None or importlib.util.find_spec("pyspark") is None:
    collect_ignore_glob = ["test_*.py"]  # another venv's pytest: this tier belongs to .venv/jobs


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


def _infra_sources_digest() -> str:
    digest = hashlib.sha256()
    files = sorted((REPO_ROOT / "infra").glob("*.py")) + sorted((REPO_ROOT / "infra" / "stacks").glob("*.py"))
    for path in [*files, REPO_ROOT / "infra" / "cdk.json", REPO_ROOT / "common" / "config.py"]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


SYNTH = """
import json, sys
from pathlib import Path
sys.path[:0] = [sys.argv[2], sys.argv[3]]
from tests.infra.conftest import synthesize
synth = synthesize(Path(sys.argv[1]), quicksight_enabled=False)
print(json.dumps(sorted(synth.templates)))
"""


@pytest.fixture(scope="session")
def platform_template() -> dict:
    """`cdk synth` of the Platform stack (dev), as the infra tier synthesises it (cdk-nag included)."""
    cache = REPO_ROOT / ".local" / "aws-tier" / f"synth-{_infra_sources_digest()}"
    template = cache / f"{STACK}.template.json"
    if not template.exists():
        assert INFRA_PY.exists(), "the infra venv is missing: run `make install-infra`"
        shutil.rmtree(cache.parent, ignore_errors=True)  # older syntheses
        env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "PLATFORM_ENV": "local"}
        env.pop("CDK_DEFAULT_ACCOUNT", None)
        with tempfile.TemporaryDirectory(prefix="aws-tier-synth-") as outdir:
            result = subprocess.run([str(INFRA_PY), "-c", SYNTH, outdir, str(REPO_ROOT / "infra"), str(REPO_ROOT)],
                                    cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, env=env)
            assert result.returncode == 0, f"cdk synth failed:\n{result.stderr[-4000:]}"
            cache.mkdir(parents=True)  # only the template: the staged assets (code copies) stay out of the repo
            shutil.copy(Path(outdir) / template.name, template)
    return json.loads(template.read_text())


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    from tests.aws.cloud import patch_moto_release_labels

    patch_moto_release_labels()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per API call otherwise
    port = _free_port(int(os.environ.get("AWS_TIER_MOTO_PORT", "4579")))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tier_dir():
    path = Path(tempfile.mkdtemp(prefix="aws-tier-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


SDK_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
           "AWS_SESSION_TOKEN", "AWS_PROFILE")


@pytest.fixture(scope="session")
def sdk_env(moto_endpoint) -> dict[str, str]:
    """What a developer's shell would have for real AWS, except the endpoint (the SDKs' standard variable)."""
    return {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="session")
def boto_session(sdk_env):
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture(scope="session")
def deployed(platform_template, sdk_env, boto_session):
    from tests.aws.cloud import deploy

    saved = {k: os.environ.get(k) for k in sdk_env}
    os.environ.update(sdk_env)
    try:
        return deploy(platform_template, boto_session)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _plain_shell_env() -> dict[str, str]:
    """A user's shell running a documented command: no make-exported PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}


@pytest.fixture(scope="session")
def outputs_env(deployed, tier_dir) -> dict[str, str]:
    """`make deploy`'s last step: the stack outputs → infra/outputs_to_env.py → the env file, parsed."""
    outputs = tier_dir / "cdk-outputs-dev.json"
    outputs.write_text(json.dumps({STACK: deployed.outputs()}))
    result = subprocess.run([str(INFRA_PY), str(REPO_ROOT / "infra" / "outputs_to_env.py"), str(outputs), "dev"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=_plain_shell_env())
    assert result.returncode == 0, result.stderr
    import shlex

    return dict(shlex.split(line)[0].split("=", 1) for line in result.stdout.splitlines() if line.strip())


@pytest.fixture(scope="session")
def aws_env(outputs_env, sdk_env, tier_dir):
    """The process environment of the whole tier: PLATFORM_ENV=aws exactly as a deployed user has it."""
    from common.config import get_settings, reset_settings_cache

    env = {**outputs_env, **sdk_env, "LOCAL_STATE_DIR": str(tier_dir / "state"), "EMBEDDING_ENCODER": "hashing",
           # moto's in-memory Kinesis has no lock around a shard's sequence numbers: concurrent PutRecords
           # (the producers' lanes) lost 1 of 329 records once. AWS serialises per shard; moto needs one lane.
           "PRODUCER_CONCURRENCY": "1"}
    saved = dict(os.environ)
    for key in ("LAKE_ROOT", "LAKE_FILE_MIRROR", "KINESIS_ENDPOINT", "DYNAMODB_ENDPOINT", "MOTO_ENDPOINT",
                "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update(env)
    reset_settings_cache()
    assert get_settings().env == "aws"
    try:
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings_cache()


class mirrored:
    """Within the block, the lake is the file:// mirror (what Spark runs on); outside it, S3 (moto)."""

    def __init__(self, mirror: Path):
        self.mirror = mirror

    def __enter__(self):
        from common.config import reset_settings_cache

        os.environ["LAKE_FILE_MIRROR"] = str(self.mirror)
        reset_settings_cache()
        return self

    def __exit__(self, *exc):
        from common.config import reset_settings_cache

        os.environ.pop("LAKE_FILE_MIRROR", None)
        reset_settings_cache()


@pytest.fixture(scope="session")
def spark(aws_env):
    """One local[1] session, created under the aws environment (its Python workers inherit it)."""
    from spark_jobs.session import get_spark, stop_spark

    session = get_spark("aws-tier", master="local[1]", shuffle_partitions=1)
    yield session
    stop_spark()


AWS_TIER_SCALE = 0.1


def _covering_seed(before: str, run_date: str) -> int:
    """The first seed whose two simulated days emit every event type: at this small scale a pair of days
    can pass without, say, a single job closing — and then the Glue-schema test has no Parquet to check
    for that table."""
    from ingestion.contracts import EVENT_TYPES
    from tests.simulated_days import first_seed

    return first_seed([before, run_date], AWS_TIER_SCALE, first=11, accept=lambda plans: {
        e["event_type"] for plan in plans for e in plan.events} >= set(EVENT_TYPES))


def _simulate(run_date: str) -> dict:
    """The day before (cold) then the run date (steady: application status changes need a history)."""
    from ingestion.simulator import run_simulation

    before = (dt.date.fromisoformat(run_date) - dt.timedelta(days=1)).isoformat()
    seed = _covering_seed(before, run_date)
    days = [run_simulation(day, seed=seed, scale=AWS_TIER_SCALE) for day in (before, run_date)]
    return {k: sum(d[k] for d in days) for k in ("kinesis_records", "eventbridge_entries", "events", "bad_records")}


@pytest.fixture(scope="session")
def aws_day(aws_env, deployed, boto_session, spark, tier_dir):
    """One day through the aws path; returns every stage's counts (tests assert on them and on the stores)."""
    from common.config import get_settings
    from tests.aws.cloud import bridge_rule_to_stream, run_firehose, sync_down, sync_up

    settings = get_settings()
    events = boto_session.client("events")
    sqs = boto_session.client("sqs")
    # A subscriber to MatchesReady (the notification service is not part of the CDK app): a test-only rule.
    probe_url = sqs.create_queue(QueueName=MATCHES_READY_PROBE)["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=MATCHES_READY_PROBE, EventBusName=settings.event_bus,
                    EventPattern=json.dumps({"detail-type": ["MatchesReady"]}))
    events.put_targets(Rule=MATCHES_READY_PROBE, EventBusName=settings.event_bus,
                       Targets=[{"Id": "probe", "Arn": probe_arn}])

    day: dict = {"run_date": RUN_DATE, "probe_url": probe_url, "arrival_date": dt.datetime.now(dt.UTC).date().isoformat()}
    day["simulate"] = _simulate(RUN_DATE)
    day["bridged"] = bridge_rule_to_stream(deployed, boto_session)
    day["firehose"] = run_firehose(deployed, boto_session)

    mirror = tier_dir / "mirror"
    buckets = [f"{settings.lake_root}-{zone}" for zone in ("raw", "bronze", "silver", "gold", "quarantine")]
    day["mirrored_down"] = sum(sync_down(boto_session, b, mirror / b) for b in buckets)
    from spark_jobs import bronze_to_silver, build_profiles, embed, match, publish, quality_gate

    seconds = day["seconds"] = {}
    with mirrored(mirror):
        for stage in (bronze_to_silver, build_profiles, embed, match, quality_gate, publish):
            name = stage.__name__.rsplit(".", 1)[1]
            started = time.perf_counter()
            day[name] = stage.run(RUN_DATE, spark=spark)
            seconds[name] = round(time.perf_counter() - started, 1)
    print(f"aws tier: stage seconds {seconds}")
    day["mirrored_up"] = sum(sync_up(boto_session, mirror / b, b) for b in buckets[1:])
    day["mirror"] = mirror
    return day

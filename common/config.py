"""The one configuration seam between the local default and AWS.

Everything that differs between a laptop and the AWS deployment is decided here, from one
environment variable, ``PLATFORM_ENV`` (``local`` | ``aws``). No other module branches on the
environment: they ask ``get_settings()`` for a URI, an endpoint or a name and use it.

Local: the lake is a directory (``./lake`` by default), AWS APIs are served by stand-ins on
127.0.0.1 (kinesalite, dynalite, moto server), Spark runs ``local[*]`` and dbt uses duckdb.
AWS: the lake is S3 (one bucket per zone), endpoints are the real ones (``None``), Spark runs on
EMR Serverless and dbt targets Athena. Names come from env vars that infra/ exports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("local", "aws")
LAKE_ZONES = ("raw", "bronze", "silver", "gold", "quarantine", "artefacts", "athena-results")

# EventBridge source convention: every app event is published as ``marketplace.<producer>``; the rule that
# takes events into the lake matches this prefix (local: bus → landing queue; AWS: bus → stream), and
# platform notifications (``platform.matching`` MatchesReady) deliberately do not carry it.
EVENT_SOURCE_PREFIX = "marketplace."

# Local stand-in ports (all bound to 127.0.0.1). Override with the env vars of the same name.
DEFAULT_PORTS = {"KINESIS_PORT": 4567, "DYNAMODB_PORT": 4568, "MOTO_PORT": 4569, "AIRFLOW_PORT": 8080}


class ConfigError(RuntimeError):
    """A configuration value is missing or invalid; the message names the fix."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _port(name: str) -> int:
    raw = _env(name, str(DEFAULT_PORTS[name]))
    try:
        return int(raw)
    except ValueError as exc:  # pragma: no cover - message path
        raise ConfigError(f"{name}={raw!r} is not a port number") from exc


@dataclass(frozen=True)
class Settings:
    env: str
    region: str
    lake_root: str  # local: absolute directory; aws: s3 bucket name prefix ("s3://<prefix>-<zone>")
    local_state_dir: Path  # pid files, service data, Airflow home, warehouse (local only)
    endpoints: dict[str, str | None] = field(default_factory=dict)  # boto3 service name -> endpoint_url
    ports: dict[str, int] = field(default_factory=dict)
    spark_master: str | None = "local[*]"
    dbt_target: str = "local"
    kinesis_stream: str = "marketplace-events"
    event_bus: str = "marketplace-events"
    landing_queue: str = "marketplace-events-landing"
    # Landing leases + Kinesis checkpoints (DynamoDB): durable across workers, never a worker's /tmp.
    ingestion_state_table: str = "marketplace-ingestion-state"
    # AWS: Firehose consumes the stream into raw/ (infra/stacks/streaming.py), so the landing step only
    # reports what it delivered; locally the landing consumer stands in for it.
    firehose_lands_stream: bool = False
    # PutRecords / PutEvents requests the producers keep in flight at once (ingestion/producers.py lanes).
    producer_concurrency: int = 4
    dynamodb_table: str = "marketplace-matches"
    glue_database: str = "marketplace"
    athena_workgroup: str = "marketplace-analysts"
    warehouse_path: Path | None = None  # duckdb file (local only)
    emr_application_id: str | None = None
    emr_execution_role_arn: str | None = None
    # aws only: a directory standing in for the S3 lake (one subdirectory per bucket, same keys), for Spark
    # offline — reading s3:// needs hadoop-aws jars. Only the filesystem differs: ``file://<dir>/<bucket>``.
    lake_mirror: str | None = None

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    def zone_uri(self, zone: str) -> str:
        """Root URI of a lake zone: ``<lake>/silver`` locally, ``s3://<prefix>-silver`` in AWS."""
        if zone not in LAKE_ZONES:
            raise ConfigError(f"unknown lake zone {zone!r}; expected one of {LAKE_ZONES}")
        if self.env == "aws":
            if self.lake_mirror:
                return f"file://{self.lake_mirror}/{self.lake_root}-{zone}"
            return f"s3://{self.lake_root}-{zone}"
        return str(Path(self.lake_root) / zone)

    def table_uri(self, zone: str, table: str) -> str:
        """URI of one table (a directory of Parquet/JSON files) inside a zone."""
        return f"{self.zone_uri(zone)}/{table}"

    def boto3_kwargs(self, service: str) -> dict:
        """Keyword arguments for ``boto3.client(service, **kwargs)`` in this environment."""
        kwargs: dict = {"region_name": self.region}
        endpoint = self.endpoints.get(service)
        if endpoint:
            kwargs["endpoint_url"] = endpoint
            # The stand-ins accept any credentials; never let a developer's real keys leak to them.
            kwargs["aws_access_key_id"] = "local"
            kwargs["aws_secret_access_key"] = "local"
        return kwargs


def _local_settings() -> Settings:
    ports = {name: _port(name) for name in DEFAULT_PORTS}
    # Endpoint overrides exist for docker-compose, where the stand-ins are other containers.
    kinesis = _env("KINESIS_ENDPOINT", f"http://127.0.0.1:{ports['KINESIS_PORT']}")
    dynamodb = _env("DYNAMODB_ENDPOINT", f"http://127.0.0.1:{ports['DYNAMODB_PORT']}")
    moto = _env("MOTO_ENDPOINT", f"http://127.0.0.1:{ports['MOTO_PORT']}")
    state = Path(_env("LOCAL_STATE_DIR", str(REPO_ROOT / ".local"))).resolve()
    lake = Path(_env("LAKE_ROOT", str(REPO_ROOT / "lake"))).resolve()
    return Settings(
        env="local",
        region=_env("AWS_REGION", "us-east-1"),
        lake_root=str(lake),
        local_state_dir=state,
        endpoints={
            "kinesis": kinesis,
            "dynamodb": dynamodb,
            "events": moto,
            "sqs": moto,
            "glue": moto,
            "s3": moto,
            "sts": moto,
        },
        ports=ports,
        spark_master=_env("SPARK_MASTER", "local[*]"),
        dbt_target="local",
        warehouse_path=Path(_env("WAREHOUSE_PATH", str(state / "warehouse.duckdb"))).resolve(),
        producer_concurrency=_positive_int("PRODUCER_CONCURRENCY", 4),
    )


def _aws_settings() -> Settings:
    prefix = _env("LAKE_BUCKET_PREFIX")
    if not prefix:
        raise ConfigError(
            "PLATFORM_ENV=aws needs LAKE_BUCKET_PREFIX (the lake bucket prefix exported by `make deploy`, "
            "e.g. marketplace-dev-123456789012)"
        )
    return Settings(
        env="aws",
        region=_env("AWS_REGION", "us-east-1"),
        lake_root=prefix,
        local_state_dir=Path(_env("LOCAL_STATE_DIR", "/tmp/marketplace")),
        endpoints={},
        ports={},
        spark_master=None,  # EMR Serverless provides the master
        dbt_target="athena",
        firehose_lands_stream=True,
        kinesis_stream=_env("KINESIS_STREAM", "marketplace-events"),
        event_bus=_env("EVENT_BUS", "marketplace-events"),
        landing_queue=_env("LANDING_QUEUE", "marketplace-events-landing"),
        dynamodb_table=_env("DYNAMODB_TABLE", "marketplace-matches"),
        glue_database=_env("GLUE_DATABASE", "marketplace"),
        athena_workgroup=_env("ATHENA_WORKGROUP", "marketplace-analysts"),
        emr_application_id=_env("EMR_APPLICATION_ID"),
        emr_execution_role_arn=_env("EMR_EXECUTION_ROLE_ARN"),
        lake_mirror=_mirror_dir(_env("LAKE_FILE_MIRROR")),
        producer_concurrency=_positive_int("PRODUCER_CONCURRENCY", 4),
    )


def _positive_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r} must be a positive integer")
    return int(raw)


def _mirror_dir(raw: str | None) -> str | None:
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_absolute():
        raise ConfigError(f"LAKE_FILE_MIRROR={raw!r} must be an absolute directory")
    return str(path)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = (_env("PLATFORM_ENV", "local") or "local").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"PLATFORM_ENV={env!r} is not one of {ENVIRONMENTS}")
    return _local_settings() if env == "local" else _aws_settings()


def reset_settings_cache() -> None:
    """For tests that change the environment variables."""
    get_settings.cache_clear()

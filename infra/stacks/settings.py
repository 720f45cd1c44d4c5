"""Per-environment deployment settings, read from CDK context (cdk.json "environments").

`cdk synth -c env=prod` picks the prod block; any single key can be overridden on the command line
with `-c <key>=<value>` (e.g. `-c alert_email=oncall@example.com`). Resource *names* are not settings:
they are fixed by docs/contracts.md and common/config.py and live in `names.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

ENVIRONMENT_NAMES = ("dev", "prod")


class InfraConfigError(ValueError):
    """The CDK context does not describe a valid environment; the message names the fix."""


@dataclass(frozen=True)
class EnvSettings:
    name: str
    removal_policy: str = "destroy"  # destroy | retain (data buckets, keys, table)
    log_retention_days: int = 30
    kinesis_shards: int = 1
    firehose_buffer_seconds: int = 60
    athena_bytes_cutoff: dict[str, int] = field(default_factory=dict)  # workgroup audience -> bytes
    event_archive_retention_days: int = 30
    raw_noncurrent_version_days: int = 30
    quarantine_expiry_days: int = 90
    athena_results_expiry_days: int = 7
    emr_max_capacity: dict[str, str] = field(default_factory=dict)
    emr_idle_minutes: int = 15
    mwaa_enabled: bool = True
    mwaa_airflow_version: str = "3.0.6"
    mwaa_environment_class: str = "mw1.small"
    mwaa_max_workers: int = 2
    nat_gateways: int = 1
    alarm_iterator_age_ms: int = 600_000
    alarm_quarantine_rate: float = 0.05
    alert_email: str = ""
    quicksight_enabled: bool = True
    quicksight_principal_arn: str = ""
    tenants: tuple[str, ...] = ()

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"


def _coerce(value: Any, like: Any) -> Any:
    """Context values given with -c arrive as strings; convert them to the default's type."""
    if not isinstance(value, str) or isinstance(like, str):
        return value
    if isinstance(like, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return json.loads(value)  # dicts / lists passed as JSON


def settings_from_context(try_get_context) -> EnvSettings:
    """Build the settings for `-c env=<name>` from an App/Node's try_get_context."""
    env_name = try_get_context("env") or "dev"
    if env_name not in ENVIRONMENT_NAMES:
        raise InfraConfigError(f"context env={env_name!r} is not one of {ENVIRONMENT_NAMES} (cdk synth -c env=dev)")
    environments = try_get_context("environments") or {}
    block = dict(environments.get(env_name) or {})
    defaults = EnvSettings(name=env_name)
    known = {f.name for f in fields(EnvSettings)} - {"name"}
    unknown = set(block) - known
    if unknown:
        raise InfraConfigError(f"unknown settings {sorted(unknown)} in cdk.json environments.{env_name}")
    for key in known:  # command-line overrides win over the environment block
        override = try_get_context(key)
        if override is not None:
            block[key] = override
    values = {key: _coerce(value, getattr(defaults, key)) for key, value in block.items()}
    if "tenants" in values:
        values["tenants"] = tuple(values["tenants"])
    settings = EnvSettings(name=env_name, **values)
    if settings.removal_policy not in ("destroy", "retain"):
        raise InfraConfigError(f"removal_policy must be destroy|retain, got {settings.removal_policy!r}")
    return settings

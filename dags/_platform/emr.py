"""AWS execution of a stage: EMR Serverless job on the long-lived application that infra/ deploys.

Imported only by the operator factory in AWS mode (the amazon provider costs ~0.4 s to import).
Artefacts come from ``make package-spark`` (spark_jobs/package.py), uploaded under ``EMR_ARTEFACTS_URI``
(default ``<artefacts zone>/emr``):
- ``entrypoint.py``: runs a module's CLI (``entrypoint.py spark_jobs.match --run-date D``), the same CLI
  the contract gives every stage (docs/contracts.md);
- ``code.zip``: the repo's packages, unpacked as ``./code`` on the driver and the executors
  (``spark.archives=…#code`` + ``PYTHONPATH``; common/emr_artefacts.py is the one home of these parameters);
- ``pyspark_deps.tar.gz``: the relocatable venv (``spark.archives=…#environment``); set
  ``EMR_DEPS_ARCHIVE=none`` when the application uses a custom image that already has the dependencies.
Logs go to ``EMR_LOG_URI`` (default ``s3://<lake prefix>-emr-logs/applications/``, the bucket and prefix the
EMR execution role may write, infra/stacks/compute.py).
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator

from common import emr_artefacts
from common.config import ConfigError, get_settings

# Settings the job's driver needs to build the same Settings object inside EMR (names from common.config).
_FORWARDED_SETTINGS = {
    "LAKE_BUCKET_PREFIX": "lake_root",
    "AWS_REGION": "region",
    "KINESIS_STREAM": "kinesis_stream",
    "EVENT_BUS": "event_bus",
    "DYNAMODB_TABLE": "dynamodb_table",
    "GLUE_DATABASE": "glue_database",
    "ATHENA_WORKGROUP": "athena_workgroup",
    "PRODUCER_CONCURRENCY": "producer_concurrency",
}


def forwarded_settings() -> dict[str, str]:
    """The configuration seam's variables as the driver and executors need them to rebuild the Settings."""
    settings = get_settings()
    return {"PLATFORM_ENV": "aws", **{k: str(getattr(settings, attr)) for k, attr in _FORWARDED_SETTINGS.items()}}


def artefact_locations() -> dict[str, str | None]:
    settings = get_settings()
    root = os.environ.get("EMR_ARTEFACTS_URI") or f"{settings.zone_uri('artefacts')}/emr"
    deps = os.environ.get("EMR_DEPS_ARCHIVE") or f"{root}/{emr_artefacts.DEPS_ARCHIVE}"
    return {
        "root": root,
        "deps": None if deps.lower() == "none" else deps,
        "logs": os.environ.get("EMR_LOG_URI") or f"s3://{settings.lake_root}-emr-logs/applications/",
    }


def cli_arguments(module: str, run_date: str | None, options: dict | None) -> list[str]:
    """``entrypoint.py`` arguments: the module, then its CLI flags (``--run-date``, ``--<option> value``)."""
    arguments = [module]
    if run_date:
        arguments += ["--run-date", run_date]
    for key, value in sorted((options or {}).items()):
        arguments += [f"--{key.replace('_', '-')}", str(value)]
    return arguments


def job_driver(module: str, function: str, run_date: str | None, options: dict | None) -> dict:
    """``jobDriver`` for StartJobRun. ``function`` is implied by the module's CLI (kept for symmetry)."""
    where = artefact_locations()
    return {
        "sparkSubmit": {
            "entryPoint": f"{where['root']}/{emr_artefacts.ENTRYPOINT}",
            "entryPointArguments": cli_arguments(module, run_date, options),
            "sparkSubmitParameters": emr_artefacts.spark_submit_parameters(
                where["root"], where["deps"], forwarded_settings()),
        }
    }


def client_token(context) -> str:
    """Idempotency token: the same task try never starts two job runs; a retry starts a fresh one."""
    ti = context["ti"]
    key = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}/{ti.try_number}"
    return hashlib.sha256(key.encode()).hexdigest()[:64]


class StageEmrServerlessOperator(EmrServerlessStartJobOperator):
    """EmrServerlessStartJobOperator whose clientToken derives from dag/run/task ids (not a random uuid)."""

    def execute(self, context, event=None):
        self.client_request_token = client_token(context)
        return super().execute(context, event)


class _DriverFor:
    """Picklable ``run_date -> jobDriver`` mapping for dynamically mapped (backfill) stages."""

    def __init__(self, module: str, function: str, options: dict | None):
        self.module, self.function, self.options = module, function, options

    def __call__(self, run_date: str) -> dict:
        return job_driver(self.module, self.function, run_date, self.options)


def _common_arguments(task_id: str, execution_timeout: timedelta) -> dict:
    settings = get_settings()
    if not settings.emr_application_id or not settings.emr_execution_role_arn:
        raise ConfigError(
            "PLATFORM_ENV=aws needs EMR_APPLICATION_ID and EMR_EXECUTION_ROLE_ARN (exported by `make deploy`)"
        )
    minutes = max(1, int(execution_timeout.total_seconds() // 60))
    return {
        "task_id": task_id,
        "application_id": settings.emr_application_id,
        "execution_role_arn": settings.emr_execution_role_arn,
        "region_name": settings.region,
        "configuration_overrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": artefact_locations()["logs"]}}
        },
        # The job stops itself a little before Airflow would kill the (deferred) task.
        "config": {"executionTimeoutMinutes": minutes},
        "execution_timeout": execution_timeout + timedelta(minutes=5),
        "deferrable": True,
        "wait_for_completion": True,
        "waiter_delay": 30,
        "waiter_max_attempts": max(1, minutes * 2),
        "name": f"{{{{ dag.dag_id }}}}.{task_id}.{{{{ data_interval_start | ds }}}}",
    }


def emr_stage(task_id, module, function, *, run_date, options, inlets, outlets, execution_timeout, **kwargs):
    return StageEmrServerlessOperator(
        job_driver=job_driver(module, function, run_date, options),
        inlets=inlets or [],
        outlets=outlets or [],
        **_common_arguments(task_id, execution_timeout),
        **kwargs,
    )


def mapped_emr_stage(task_id, module, function, run_dates, *, options, execution_timeout):
    return StageEmrServerlessOperator.partial(
        max_active_tis_per_dagrun=1, **_common_arguments(task_id, execution_timeout)
    ).expand(job_driver=run_dates.map(_DriverFor(module, function, options)))

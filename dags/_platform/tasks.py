"""The one place that decides *how* a stage runs; DAG files only say *which* stage and in what order.

``stage(task_id, module)`` returns, from ``common.config.get_settings()``:
- local: a task that runs ``stage_runner.py`` with the jobs venv's python (Spark ``local[*]``, torch, duckdb…);
- aws: an ``EmrServerlessStartJobOperator`` on the long-lived application from infra/ (see ``_platform.emr``).
So the DAG files are byte-identical in both environments.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from datetime import timedelta
from pathlib import Path

from airflow.sdk import task

from _platform import REPO_ROOT
from _platform.defaults import RUN_DATE
from common.config import get_settings
from common.emr_artefacts import runs_on_emr

log = logging.getLogger("marketplace.orchestration")

STAGE_RUNNER = Path(__file__).resolve().with_name("stage_runner.py")
DEFAULT_STAGE_TIMEOUT = timedelta(hours=1)


def jobs_python() -> str:
    """The jobs venv interpreter (pyspark, torch, …); overridable for unusual layouts."""
    return os.environ.get("JOBS_PYTHON") or str(REPO_ROOT / ".venv" / "jobs" / "bin" / "python")


def _stage_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    for name, value in (("SPARK_LOCAL_IP", "127.0.0.1"), ("OPENBLAS_NUM_THREADS", "1")):
        env.setdefault(name, value)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Spark's console progress bars are carriage-return art; in a task log they are thousands of lines.
    env.setdefault("PYSPARK_SUBMIT_ARGS", "--conf spark.ui.showConsoleProgress=false pyspark-shell")
    return env


def run_stage_subprocess(module: str, function: str, run_date: str | None, options: dict | None) -> dict:
    """Run one stage with the jobs python, stream its output into the task log, return its counts.

    Exit code 3 (a quality gate said no, bad config) fails the task without retries: retrying cannot fix
    data. Any other failure raises a retryable error.
    """
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    from _platform.stage_runner import EXIT_FINAL, RESULT_MARKER

    command = [jobs_python(), str(STAGE_RUNNER), "--module", module, "--function", function]
    if run_date:
        command += ["--run-date", run_date]
    command += ["--options", json.dumps(options or {})]
    if not Path(command[0]).exists():
        raise AirflowFailException(f"jobs venv python not found at {command[0]}; run `make install-jobs`")
    log.info("running %s", " ".join(command))
    result: dict | None = None
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=_stage_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    try:
        for line in process.stdout:
            line = line.rstrip("\n")
            if line.startswith(RESULT_MARKER):
                result = json.loads(line[len(RESULT_MARKER) :])
            else:
                log.info("%s", line)
        returncode = process.wait()
    finally:
        if process.poll() is None:  # timeout or kill of the task: never leave a Spark driver behind
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    if returncode == EXIT_FINAL:
        raise AirflowFailException(f"{module}.{function} failed for a reason a retry cannot fix (see log)")
    if returncode != 0 or result is None:
        raise AirflowException(f"{module}.{function} exited with {returncode} (retryable)")
    log.info("%s.%s summary: %s", module, function, result)
    return result


@task
def run_stage_in_worker(module: str, function: str, run_date: str | None = None, options: dict | None = None):
    """AWS, stages that are not Spark jobs (dbt, the dashboard): the Airflow worker runs them itself — EMR
    gets only the packages of code.zip (common/emr_artefacts.py), MWAA has the dbt venv (startup.sh)."""
    import importlib

    fn = getattr(importlib.import_module(module), function)
    result = fn(run_date, **(options or {})) if run_date else fn(**(options or {}))
    return result if isinstance(result, dict) else {"output": str(result)}


@task
def run_stage_locally(module: str, function: str, run_date: str | None = None, options: dict | None = None):
    """Airflow task body for local mode (thin: everything happens in the jobs venv)."""
    return run_stage_subprocess(module, function, run_date, options)


def stage(
    task_id: str,
    module: str,
    function: str = "run",
    *,
    run_date: str | None = RUN_DATE,
    options: dict | None = None,
    inlets: list | None = None,
    outlets: list | None = None,
    execution_timeout: timedelta = DEFAULT_STAGE_TIMEOUT,
    **task_kwargs,
):
    """One stage task for the current environment. ``run_date=None`` for stages without a date."""
    settings = get_settings()
    if settings.is_local or not runs_on_emr(module):
        runner = run_stage_locally if settings.is_local else run_stage_in_worker
        return runner.override(
            task_id=task_id,
            inlets=inlets or [],
            outlets=outlets or [],
            execution_timeout=execution_timeout,
            **task_kwargs,
        )(module=module, function=function, run_date=run_date, options=options or {})
    from _platform.emr import emr_stage

    return emr_stage(
        task_id,
        module,
        function,
        run_date=run_date,
        options=options,
        inlets=inlets,
        outlets=outlets,
        execution_timeout=execution_timeout,
        **task_kwargs,
    )


def mapped_stage(task_id: str, module: str, run_dates, function: str = "run", *, options: dict | None = None,
                 execution_timeout: timedelta = DEFAULT_STAGE_TIMEOUT):
    """The same stage once per date of ``run_dates`` (an XComArg list), one date at a time, in order."""
    settings = get_settings()
    if settings.is_local or not runs_on_emr(module):
        runner = run_stage_locally if settings.is_local else run_stage_in_worker
        return (
            runner.override(
                task_id=task_id, execution_timeout=execution_timeout, max_active_tis_per_dagrun=1
            )
            .partial(module=module, function=function, options=options or {})
            .expand(run_date=run_dates)
        )
    from _platform.emr import mapped_emr_stage

    return mapped_emr_stage(task_id, module, function, run_dates, options=options,
                            execution_timeout=execution_timeout)



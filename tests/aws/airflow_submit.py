"""Airflow venv helper of the aws tier: execute every DAG task's EMR Serverless operator against the endpoint.

    .venv/airflow/bin/python tests/aws/airflow_submit.py <dags folder> <interval start ISO> > jobs.json

The environment is the tier's (PLATFORM_ENV=aws, the stack outputs, AWS_ENDPOINT_URL → moto). Each
operator's template fields are rendered with the context of a run whose data interval starts at the
given instant, then ``execute`` runs: GetApplication, StartJobRun (the real request the provider sends),
and the deferral (TaskDeferred) that hands the wait to the triggerer — where this stops. A mapped
(backfill) task is expanded for the interval's date the way the mapped operator would. Prints one JSON
document: the job runs started and every task that is not an EMR job (they run elsewhere in AWS).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace


def _context(dag, task, start):
    ti = SimpleNamespace(dag_id=dag.dag_id, run_id=f"scheduled__{start.isoformat()}", task_id=task.task_id,
                         map_index=-1, try_number=1, xcom_push=lambda *a, **k: None)
    return {"dag": dag, "task": task, "ti": ti, "task_instance": ti, "data_interval_start": start,
            "data_interval_end": start.add(hours=1), "logical_date": start, "ds": start.to_date_string(),
            "run_id": ti.run_id, "params": {}, "conf": None, "macros": None}


def _operator_for(task, start):
    """The operator a task instance would run: a mapped task expanded for the interval's date."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    if not isinstance(task, MappedOperator) or "job_driver" not in task.expand_input.value:
        return task
    driver_map = task.expand_input.value["job_driver"]
    (driver_for,) = driver_map.callables
    kwargs = {k: v for k, v in task.partial_kwargs.items() if k in (
        "application_id", "execution_role_arn", "region_name", "configuration_overrides", "config", "name",
        "deferrable", "wait_for_completion", "waiter_delay", "waiter_max_attempts", "execution_timeout")}
    return task.operator_class(task_id=task.task_id, job_driver=driver_for(start.to_date_string()), **kwargs)


def main(argv: list[str]) -> int:
    import pendulum
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator
    from airflow.providers.common.compat.sdk import TaskDeferred

    folder, start = Path(argv[1]), pendulum.parse(argv[2])
    bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="aws-tier")
    report: dict = {"import_errors": bag.import_errors, "jobs": [], "other_tasks": []}
    for dag in bag.dags.values():
        for task in dag.tasks:
            operator = _operator_for(task, start)
            if not isinstance(operator, EmrServerlessStartJobOperator):
                report["other_tasks"].append({"dag": dag.dag_id, "task": task.task_id, "type": type(task).__name__})
                continue
            context = _context(dag, operator, start)
            operator.render_template_fields(context, jinja_env=dag.get_template_env())
            try:
                operator.execute(context)
                deferred = False
            except TaskDeferred:
                deferred = True
            report["jobs"].append({"dag": dag.dag_id, "task": task.task_id, "application_id": operator.application_id,
                                   "job_run_id": operator.job_id, "deferred": deferred,
                                   "client_token": operator.client_request_token})
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

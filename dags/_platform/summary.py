"""The end-of-run summary task: one table of every stage's state and counts, in the log and as JSON.

It runs whatever happened upstream (``all_done``) so a failed run still gets its summary, and then fails
itself when any stage did not succeed — otherwise this last task's success would mark the run green.
"""

from __future__ import annotations

import json
import logging

from airflow.sdk import TriggerRule, task

from _platform import REPO_ROOT  # noqa: F401  (puts the repo root on sys.path)
from common.config import get_settings

log = logging.getLogger("marketplace.orchestration")

OK_STATES = {"success", "skipped"}


def _flatten_states(raw, run_id: str) -> dict[str, str]:
    """``get_task_states`` answers ``{run_id: {task_id: state}}``; mapped tasks appear once per index."""
    states = raw.get(run_id, raw) if isinstance(raw, dict) else {}
    return {str(k): str(v) for k, v in states.items()}


def render_table(rows: list[tuple[str, str, str]]) -> str:
    width = max([len(r[0]) for r in rows] + [4])
    lines = [f"{'task':<{width}}  {'state':<16}  counts", f"{'-' * width}  {'-' * 16}  ------"]
    lines += [f"{name:<{width}}  {state:<16}  {counts}" for name, state, counts in rows]
    return "\n".join(lines)


@task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
def run_summary(stage_task_ids: list[str], **context) -> dict:
    """Collect states + XCom counts of the run's tasks, log a table, write ``runs/<dag>/<run_date>.json``."""
    from airflow.sdk.exceptions import AirflowFailException

    ti = context["ti"]
    run_id = context["run_id"]
    dag_id = ti.dag_id
    run_date = context["data_interval_start"].strftime("%Y-%m-%d") if context.get("data_interval_start") else None
    states = _flatten_states(ti.get_task_states(dag_id=dag_id, run_ids=[run_id]), run_id)
    states.pop(ti.task_id, None)
    counts = {tid: ti.xcom_pull(task_ids=tid) for tid in stage_task_ids}
    rows = [(tid, states.get(tid, "unknown"), json.dumps(counts.get(tid)) if counts.get(tid) else "") for tid in
            sorted(states)]
    log.info("run summary %s %s (run_date=%s)\n%s", dag_id, run_id, run_date, render_table(rows))
    summary = {"dag_id": dag_id, "run_id": run_id, "run_date": run_date, "tasks": states, "counts": counts}
    path = get_settings().local_state_dir / "runs" / dag_id / f"{run_date or 'manual'}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str), encoding="utf-8")
    not_ok = sorted(tid for tid, state in states.items() if state not in OK_STATES)
    if not_ok:
        raise AirflowFailException(f"run did not complete; tasks not successful: {', '.join(not_ok)}")
    return summary

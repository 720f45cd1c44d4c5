"""dbt as part of a DAG: an astronomer-cosmos task group when the manifest exists, else one ``dbt build``.

Cosmos renders one task per model from ``dbt/target/manifest.json`` (``LoadMode.DBT_MANIFEST``: no dbt call
at parse time). dbt lives in its own venv, so it is invoked as a subprocess (``InvocationMode.SUBPROCESS``).
On a fresh clone the manifest does not exist until ``dbt parse`` has run (``make airflow-dbt-manifest``);
then the DAG still imports and falls back to ``analytics.dbt_runner.run_dbt_build`` as a single task.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from _platform import REPO_ROOT
from _platform.defaults import RUN_DATE
from _platform.tasks import stage
from common.config import get_settings
from common.dbt_env import dbt_environment

log = logging.getLogger("marketplace.orchestration")

DBT_PROJECT_DIR = REPO_ROOT / "dbt"
DBT_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_manifest() -> Path:
    """``DBT_MANIFEST`` (e.g. a manifest parsed into another target path) or dbt/target/manifest.json."""
    return Path(os.environ.get("DBT_MANIFEST") or DBT_MANIFEST)


def dbt_executable() -> str:
    return os.environ.get("DBT_EXECUTABLE") or str(REPO_ROOT / ".venv" / "dbt" / "bin" / "dbt")


def dbt_profile_name(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """The ``profile:`` of dbt_project.yml (read as text: a file read, not a dbt call)."""
    import yaml

    with (project_dir / "dbt_project.yml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)["profile"]


def dbt_build(group_id: str = "dbt_build", run_date: str = RUN_DATE, manifest: Path | None = None):
    """The dbt step of a DAG: a cosmos DbtTaskGroup, or a plain ``dbt build`` task without a manifest."""
    manifest = manifest or dbt_manifest()
    if not manifest.exists():
        log.info(
            "no dbt manifest at %s: using one plain `dbt build` task (run `make airflow-dbt-manifest` "
            "for one Airflow task per model)",
            manifest,
        )
        return stage(group_id, "analytics.dbt_runner", "run_dbt_build", run_date=run_date)

    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    settings = get_settings()
    project = ProjectConfig(
        dbt_project_path=DBT_PROJECT_DIR,
        manifest_path=manifest,
        install_dbt_deps=False,
        env_vars=dbt_environment(get_settings()),
    )
    # The manifest ships with the DAGs as a local file: read it as a plain Path. Cosmos' ObjectStoragePath
    # wrapper pulls in fsspec and provider discovery, 0.7 s of the 1 s parse budget.
    project.manifest_path = Path(manifest)
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=ProfileConfig(
            profile_name=dbt_profile_name(),
            target_name=settings.dbt_target,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            dbt_executable_path=dbt_executable(),
            invocation_mode=InvocationMode.SUBPROCESS,
            # A test with several parents (relationships) runs with its last-built parent, not the first:
            # eager selection would run it before the other parent's table exists.
            test_indirect_selection=TestIndirectSelection.BUILDABLE,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # `dbt build` per model: its tests run with it and a failing test stops the downstream models.
            test_behavior=TestBehavior.BUILD,
            emit_datasets=False,
        ),
        operator_args={"vars": {"run_date": run_date}, "install_deps": False},
    )

#!/usr/bin/env python3
"""CDK app for the talent marketplace platform: `cdk synth -c env=dev|prod` (run from infra/).

Stacks: Marketplace-<env>-Platform (lake, catalog, ingestion, serving, Spark, MWAA, monitoring) and
Marketplace-<env>-Analytics (QuickSight, generated from analytics/quicksight_spec.py). cdk-nag's
AwsSolutions pack runs on every synth; an unacknowledged finding fails the synth.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent
for path in (str(INFRA_DIR), str(REPO_ROOT)):  # `stacks` package + the repo's dependency-free modules
    if path not in sys.path:
        sys.path.insert(0, path)

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from stacks.analytics_stack import AnalyticsStack  # noqa: E402
from stacks.platform_stack import PlatformStack  # noqa: E402
from stacks.settings import settings_from_context  # noqa: E402

log = logging.getLogger("infra")


def load_quicksight_spec() -> Any | None:
    """analytics/quicksight_spec.py if the analytics area has written it, else None (stack skipped)."""
    try:
        return importlib.import_module("analytics.quicksight_spec")
    except ModuleNotFoundError as exc:
        if exc.name not in ("analytics.quicksight_spec", "analytics"):
            raise  # the spec exists but imports something missing: a real error
        return None


def build_app(context: dict | None = None, outdir: str | None = None, quicksight_spec: Any | None = None,
              nag: bool = True) -> cdk.App:
    app = cdk.App(context=context or None, outdir=outdir)
    settings = settings_from_context(app.node.try_get_context)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = cdk.Environment(account=account, region=region) if account and region else None
    platform = PlatformStack(app, f"Marketplace-{settings.name}-Platform", settings=settings, env=env,
                             description=f"Talent marketplace data platform ({settings.name})",
                             termination_protection=settings.retain_data)
    spec = quicksight_spec if quicksight_spec is not None else load_quicksight_spec()
    if settings.quicksight_enabled and spec is not None:
        analytics = AnalyticsStack(
            app, f"Marketplace-{settings.name}-Analytics", settings=settings, spec=spec, env=env,
            description=f"Talent marketplace QuickSight dashboards ({settings.name})",
        )
        analytics.add_stack_dependency(platform)
    elif settings.quicksight_enabled:
        log.warning("analytics/quicksight_spec.py not found: the QuickSight stack is not synthesized")
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    return app


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    build_app().synth()

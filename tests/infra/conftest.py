"""Infra test fixtures: the CDK app is synthesized once per session (dev, and a lean prod) into a temp dir.

These tests run with the infra venv (`.venv/infra/bin/python -m pytest tests/infra`, `make test-infra`).
The jobs/airflow venvs have no aws-cdk-lib, so if this directory is collected there it is ignored
rather than failing on import — it is exercised by its own venv, never skipped inside it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"

if importlib.util.find_spec("aws_cdk") is None:  # wrong venv: this tier belongs to .venv/infra
    collect_ignore_glob = ["test_*.py"]
else:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    for path in (str(INFRA_DIR), str(REPO_ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)


def cdk_context(**overrides) -> dict:
    """The context `cdk synth` would see: cdk.json's context plus command-line style overrides."""
    context = json.loads((INFRA_DIR / "cdk.json").read_text())["context"]
    context.update(overrides)
    return context


@dataclass
class Synth:
    outdir: Path
    templates: dict[str, dict]  # stack name -> template

    def template(self, stack: str) -> dict:
        return self.templates[stack]

    def resources(self, stack: str, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == cfn_type}


def synthesize(outdir: Path, **context) -> Synth:
    import app as infra_app

    app = infra_app.build_app(context=cdk_context(**context), outdir=str(outdir))
    app.synth()  # raises if cdk-nag reports an unacknowledged finding
    templates = {p.name.removesuffix(".template.json"): json.loads(p.read_text())
                 for p in outdir.glob("*.template.json")}
    return Synth(outdir, templates)


@pytest.fixture(scope="session")
def dev_synth(tmp_path_factory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod_synth(tmp_path_factory) -> Synth:
    """prod through the real entry point: the repo-local CDK CLI runs app.py via cdk.json (MWAA off: dev has it)."""
    import subprocess

    cli = INFRA_DIR / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "CDK CLI missing: run `npm ci --prefix infra` (make infra-install)"
    outdir = tmp_path_factory.mktemp("cdk-prod")
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "CDK_DISABLE_VERSION_CHECK": "1"}
    env.pop("CDK_DEFAULT_ACCOUNT", None)  # environment-agnostic, like the dev synth
    result = subprocess.run([str(cli), "synth", "--quiet", "-c", "env=prod", "-c", "mwaa_enabled=false",
                             "-o", str(outdir)], cwd=INFRA_DIR, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, f"cdk synth failed:\n{result.stderr[-4000:]}"
    templates = {p.name.removesuffix(".template.json"): json.loads(p.read_text())
                 for p in outdir.glob("*.template.json")}
    return Synth(outdir, templates)


@pytest.fixture(scope="session")
def platform(dev_synth) -> dict:
    return dev_synth.template("Marketplace-dev-Platform")


@pytest.fixture(scope="session")
def platform_assertions(platform):
    from aws_cdk.assertions import Template

    return Template.from_json(platform)


def resources_of(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def one(template: dict, cfn_type: str, **props) -> dict:
    """The single resource of a type whose Properties contain `props` (top-level equality)."""
    found = [r for r in resources_of(template, cfn_type).values()
             if all(r["Properties"].get(k) == v for k, v in props.items())]
    assert len(found) == 1, f"expected one {cfn_type} with {props}, found {len(found)}"
    return found[0]


def logical_id_of(template: dict, cfn_type: str, **props) -> str:
    found = [k for k, r in resources_of(template, cfn_type).items()
             if all(r["Properties"].get(k2) == v for k2, v in props.items())]
    assert len(found) == 1, f"expected one {cfn_type} with {props}, found {found}"
    return found[0]


def render(value, template: dict | None = None) -> str:
    """A CloudFormation string value as text: Fn::Join flattened, Refs shown as ${Name}, GetAtt as ${Id.Attr}.

    With `template`, a Ref to a resource that has a literal name (BucketName, …) shows that name instead.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(render(p, template) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        resource = (template or {}).get("Resources", {}).get(value["Ref"])
        for name_key in ("BucketName", "TableName", "Name", "StreamName"):
            if resource and name_key in resource.get("Properties", {}):
                return render(resource["Properties"][name_key], template)
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        resource = (template or {}).get("Resources", {}).get(logical)
        if resource and resource["Type"] == "AWS::S3::Bucket" and attribute == "Arn":
            return "arn:aws:s3:::" + render(resource["Properties"]["BucketName"], template)
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value, sort_keys=True)

"""Security gates: cdk-nag (AwsSolutions), IAM scoping, cfn-lint and checkov on every synthesized template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import REPO_ROOT, logical_id_of, render, resources_of

CHECKOV = REPO_ROOT / ".venv" / "checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def _all_templates(dev_synth, prod_synth) -> dict[str, dict]:
    return {**dev_synth.templates, **prod_synth.templates}


def _template_files(dev_synth, prod_synth) -> list[Path]:
    return sorted([*dev_synth.outdir.glob("*.template.json"), *prod_synth.outdir.glob("*.template.json")])


@pytest.mark.unit
def test_cdk_nag_gate_fails_an_insecure_stack():
    """The same plugin wiring as app.py rejects a default (unencrypted, unlogged, http-allowed) bucket."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App()
    s3.Bucket(cdk.Stack(app, "Insecure"), "Bucket")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match=r"ValidationFailed[\s\S]*AwsSolutions-S10"):
        app.synth()


@pytest.mark.integration
def test_platform_and_analytics_synthesize_with_zero_unacknowledged_findings(dev_synth, prod_synth):
    # synth raises on any unacknowledged AwsSolutions error, so reaching here means zero; check the report too
    assert set(dev_synth.templates) == {"Marketplace-dev-Platform", "Marketplace-dev-Analytics"}
    assert set(prod_synth.templates) == {"Marketplace-prod-Platform", "Marketplace-prod-Analytics"}  # via the CLI
    for synth in (dev_synth, prod_synth):
        report = synth.outdir / "validation-report.json"
        if report.exists():
            for plugin in json.loads(report.read_text())["pluginReports"]:
                errors = [v for v in plugin["violations"] if v["severity"] == "error"]
                assert not errors, errors


@pytest.mark.integration
def test_every_suppression_carries_a_specific_reason(dev_synth, prod_synth):
    count = 0
    for name, template in _all_templates(dev_synth, prod_synth).items():
        for logical_id, resource in template["Resources"].items():
            metadata = resource.get("Metadata", {})
            for rule in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
                assert len(rule.get("reason", "")) >= 20, f"{name}/{logical_id}: {rule}"
                # v3 needs the exact finding for IAM4/IAM5, so a blanket IAM5 would silently not apply
                assert rule["id"] not in ("AwsSolutions-IAM4", "AwsSolutions-IAM5"), f"{name}/{logical_id}"
                count += 1
            for skip in metadata.get("checkov", {}).get("skip", []):
                assert skip["id"].startswith("CKV") and len(skip.get("comment", "")) >= 20, f"{logical_id}: {skip}"
    assert count > 10


def _iam_documents(template: dict):
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, resource, props["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield logical_id, resource, policy["PolicyDocument"]


@pytest.mark.integration
def test_no_admin_actions_and_no_unexplained_wildcard_resources(dev_synth, prod_synth):
    for name, template in _all_templates(dev_synth, prod_synth).items():
        for logical_id, resource, document in _iam_documents(template):
            acknowledged = {r["id"] for r in resource.get("Metadata", {}).get("cdk_nag", {}).get(
                "rules_to_suppress", [])}
            for statement in document["Statement"]:
                actions = statement.get("Action", [])
                actions = actions if isinstance(actions, list) else [actions]
                assert "*" not in actions and not any(a.endswith(":*") for a in actions), f"{logical_id}: {actions}"
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                if "*" in resources and statement["Effect"] == "Allow":
                    assert "AwsSolutions-IAM5[Resource::*]" in acknowledged, (
                        f"{name}/{logical_id} allows {actions} on * without a written reason")


@pytest.mark.integration
def test_cfn_lint_reports_no_errors(dev_synth, prod_synth):
    files = _template_files(dev_synth, prod_synth)
    result = subprocess.run([str(CFN_LINT), "--format", "json", *map(str, files)], capture_output=True, text=True,
                            timeout=300)
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, json.dumps(errors, indent=1)[:4000]
    assert result.returncode & ~12 == 0, result.stderr  # only warnings/informational may remain


@pytest.mark.integration
def test_checkov_reports_no_failed_checks(dev_synth, prod_synth):
    assert CHECKOV.exists(), "checkov venv missing: run `make install-checkov`"
    files = _template_files(dev_synth, prod_synth)
    args = [str(CHECKOV), "--framework", "cloudformation", "--quiet", "--compact", "--skip-download", "-o", "json"]
    for file in files:
        args += ["-f", str(file)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = {k: sum(r["summary"][k] for r in reports) for k in ("passed", "failed", "skipped")}
    failed = [(c["check_id"], c["resource"]) for r in reports for c in r["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 200


@pytest.mark.integration
def test_prod_retains_data_and_protects_the_table(prod_synth):
    template = prod_synth.template("Marketplace-prod-Platform")
    table_id = logical_id_of(template, "AWS::DynamoDB::Table", TableName="marketplace-matches")
    assert template["Resources"][table_id]["Properties"]["DeletionProtectionEnabled"] is True
    assert template["Resources"][table_id]["DeletionPolicy"] == "Retain"
    for bucket in resources_of(template, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    for key in resources_of(template, "AWS::KMS::Key").values():
        if "lake" in render(key["Properties"].get("Description", "")).lower():
            assert key["DeletionPolicy"] == "Retain"
    assert not resources_of(template, "AWS::MWAA::Environment")  # disabled by -c mwaa_enabled=false
    assert template["Resources"] and prod_synth.template("Marketplace-prod-Analytics")["Resources"]

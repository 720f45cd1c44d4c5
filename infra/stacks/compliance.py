"""Recording *why* a scanner finding is accepted, next to the resource it concerns.

- cdk-nag (v3) findings are acknowledged through CDK's Validations API; the reason is written to the
  template's `Metadata.cdk_nag.rules_to_suppress`, where tests check every entry has one.
- checkov findings are skipped with `Metadata.checkov.skip[{id, comment}]` on the resource itself,
  never with a global --skip-check, so each skip is scoped and documented.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on a construct and its children."""
    if not reason or len(reason) < 20:
        raise ValueError(f"a suppression of {rule_id} needs a real reason, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def checkov_skip(construct: IConstruct, check_id: str, comment: str) -> None:
    """Skip one checkov check on the CloudFormation resource behind `construct`, with the reason."""
    if not comment or len(comment) < 20:
        raise ValueError(f"a checkov skip of {check_id} needs a real comment, got {comment!r}")
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    existing = resource.get_metadata("checkov") or {"skip": []}
    skips = [s for s in existing.get("skip", []) if s["id"] != check_id]
    skips.append({"id": check_id, "comment": comment})
    resource.add_metadata("checkov", {"skip": skips})


def acknowledge_all(construct: IConstruct, rule_ids: list[str], reason: str) -> None:
    """cdk-nag v3 needs one acknowledgment per finding (e.g. each wildcard resource of an IAM5)."""
    for rule_id in rule_ids:
        acknowledge(construct, rule_id, reason)


def arn_of(construct: IConstruct) -> str:
    """How cdk-nag spells a resource's `Fn::GetAtt Arn` in an IAM5 finding: `<LogicalId.Arn>`."""
    from aws_cdk import Stack

    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    return f"<{Stack.of(construct).resolve(Stack.of(construct).get_logical_id(resource))}.Arn>"


def wildcard_resources(*resources: str) -> list[str]:
    return [f"AwsSolutions-IAM5[Resource::{resource}]" for resource in resources]


def wildcard_actions(*actions: str) -> list[str]:
    return [f"AwsSolutions-IAM5[Action::{action}]" for action in actions]

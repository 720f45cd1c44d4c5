"""DynamoDB serving table for top-K matches (docs/contracts.md, "DynamoDB serving table").

Every key starts with `T#<tenant>#` (entity lists and pointers, the tenant's run pointer), so a
tenant-facing reader is confined to its own tenant by IAM alone: one managed policy per configured
tenant allows reads only where `dynamodb:LeadingKeys` matches `T#<tenant>#*`. That is sound because
publish and the read API refuse '#' in tenant and entity ids (a tenant `a` can never read `a#b`'s keys:
the separator right after the tenant id ends the match).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks import names
from stacks.lake import LakeStorage
from stacks.settings import EnvSettings

TENANT_READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]


def tenant_key_prefix(tenant: str) -> str:
    """The leading-key pattern of one tenant's items (spark_jobs._dynamo.entity_pk / tenant_run_pk)."""
    if "#" in tenant or not tenant:
        raise ValueError(f"tenant {tenant!r} cannot be a serving key prefix ('#' separates key parts)")
    return f"T#{tenant}#*"


class MatchServing(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, lake: LakeStorage) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "MatchTable",
            table_name=names.DYNAMODB_TABLE,
            partition_key=dynamodb.Attribute(name="PK", type=string),  # T#<tenant>#CAND|JOB#<id> | T#<tenant>#RUN
            sort_key=dynamodb.Attribute(name="SK", type=string),  # CURRENT (a whole list, docs/contracts.md) | SEQUENCE
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,  # nightly bursts, idle in between
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=lake.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=names.TTL_ATTRIBUTE,
            deletion_protection=settings.retain_data,
            removal_policy=RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY,
        )
        # Kept (empty) so deployed tables need no index migration; lists no longer use it: a job's list
        # lives under the job's own key, read with a strongly consistent Query.
        self.table.add_global_secondary_index(
            index_name=names.GSI1,
            partition_key=dynamodb.Attribute(name="GSI1PK", type=string),
            sort_key=dynamodb.Attribute(name="GSI1SK", type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.tenant_reader_policies = {
            tenant: self._tenant_reader_policy(settings, lake, tenant) for tenant in settings.tenants
        }

    def _tenant_reader_policy(self, settings: EnvSettings, lake: LakeStorage, tenant: str) -> iam.ManagedPolicy:
        """Read-only access to one tenant's serving items (attach to that tenant's API/app role)."""
        return iam.ManagedPolicy(
            self,
            f"TenantServingReader-{tenant}",
            managed_policy_name=f"marketplace-{settings.name}-{tenant}-serving-reader",
            description=f"Read only tenant {tenant}'s matches from the serving table (leading key T#{tenant}#)",
            statements=[
                iam.PolicyStatement(
                    sid="ReadOwnTenantKeysOnly",
                    actions=TENANT_READ_ACTIONS,
                    resources=[self.table.table_arn],  # the table only: no index, no Scan
                    conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [tenant_key_prefix(tenant)]}},
                ),
                iam.PolicyStatement(
                    sid="DecryptThroughDynamoDB",
                    actions=["kms:Decrypt"],
                    resources=[lake.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"}},
                ),
            ],
        )

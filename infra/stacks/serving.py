"""DynamoDB serving table for top-K matches (docs/contracts.md, "DynamoDB serving table")."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks import names
from stacks.lake import LakeStorage
from stacks.settings import EnvSettings


class MatchServing(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, lake: LakeStorage) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "MatchTable",
            table_name=names.DYNAMODB_TABLE,
            partition_key=dynamodb.Attribute(name="PK", type=string),  # T#<tenant>#CAND#<id>
            sort_key=dynamodb.Attribute(name="SK", type=string),  # RUN#<run>#S#<inv>#JOB#<id> | CURRENT
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,  # nightly bursts, idle in between
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=lake.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=names.TTL_ATTRIBUTE,
            deletion_protection=settings.retain_data,
            removal_policy=RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY,
        )
        # Job → candidates: GSI1PK = T#<tenant>#JOB#<job>, GSI1SK = RUN#<run>#S#<inv>#CAND#<cand>.
        self.table.add_global_secondary_index(
            index_name=names.GSI1,
            partition_key=dynamodb.Attribute(name="GSI1PK", type=string),
            sort_key=dynamodb.Attribute(name="GSI1SK", type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )

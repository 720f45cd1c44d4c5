"""The platform stack: lake, catalog, ingestion, serving, Spark, orchestration and monitoring.

Its outputs are exactly the environment variables common/config.py reads when PLATFORM_ENV=aws
(`make deploy` writes them to infra/outputs-<env>.env; see infra/README.md).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, CfnResource, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks import names
from stacks.catalog import LakeCatalog
from stacks.compliance import (
    acknowledge,
    acknowledge_all,
    arn_of,
    checkov_skip,
    wildcard_actions,
    wildcard_resources,
)
from stacks.compute import SparkCompute
from stacks.lake import LakeStorage
from stacks.monitoring import PipelineMonitoring
from stacks.orchestration import Orchestration
from stacks.serving import MatchServing
from stacks.settings import EnvSettings
from stacks.streaming import EventIngestion

# What common/config.py reads in aws mode (LANDING_QUEUE is not exported: in AWS, Firehose replaces the
# local landing consumer, so there is no landing queue; LOCAL_STATE_DIR is a local path, not a resource).
CONFIG_ENV_VARS = ("PLATFORM_ENV", "AWS_REGION", "LAKE_BUCKET_PREFIX", "KINESIS_STREAM", "EVENT_BUS", "DYNAMODB_TABLE",
                   "GLUE_DATABASE", "ATHENA_WORKGROUP", "EMR_APPLICATION_ID", "EMR_EXECUTION_ROLE_ARN")


def output_id(env_var: str) -> str:
    """CloudFormation output ids are alphanumeric: LAKE_BUCKET_PREFIX -> LAKEBUCKETPREFIX."""
    return env_var.replace("_", "")


class PlatformStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add("project", "talent-marketplace")
        Tags.of(self).add("environment", settings.name)
        self.settings = settings

        self.lake = LakeStorage(self, "Lake", settings=settings)
        self._allow_log_encryption()
        self.tenant_policies = self.lake.tenant_document_policies()
        self.catalog = LakeCatalog(self, "Catalog", settings=settings, lake=self.lake)
        self.ingestion = EventIngestion(self, "Ingestion", settings=settings, lake=self.lake)
        self.serving = MatchServing(self, "Serving", settings=settings, lake=self.lake)
        self.spark = SparkCompute(self, "Spark", settings=settings, lake=self.lake, serving=self.serving,
                                  event_bus_arn=self.ingestion.bus.event_bus_arn)
        self.outputs = {
            "PLATFORM_ENV": "aws",
            "AWS_REGION": self.region,
            "LAKE_BUCKET_PREFIX": names.lake_bucket_prefix(settings.name),
            "KINESIS_STREAM": self.ingestion.stream.stream_name,
            "EVENT_BUS": self.ingestion.bus.event_bus_name,
            "DYNAMODB_TABLE": self.serving.table.table_name,
            "GLUE_DATABASE": names.GLUE_DATABASE,
            "ATHENA_WORKGROUP": names.workgroup_name("analysts"),
            "EMR_APPLICATION_ID": self.spark.application.attr_application_id,
            "EMR_EXECUTION_ROLE_ARN": self.spark.execution_role.role_arn,
        }
        self.orchestration = None
        if settings.mwaa_enabled:
            # Inside MWAA the DAGs run dbt through the dbt workgroup.
            mwaa_env = {**self.outputs, "ATHENA_WORKGROUP": names.workgroup_name("dbt")}
            self.orchestration = Orchestration(self, "Orchestration", settings=settings, lake=self.lake,
                                               spark=self.spark, platform_env=mwaa_env)
        self.monitoring = PipelineMonitoring(self, "Monitoring", settings=settings, ingestion=self.ingestion,
                                             serving=self.serving)
        self._acknowledge_cdk_handlers()
        if tuple(self.outputs) != CONFIG_ENV_VARS:  # one output per config variable, same order
            raise ValueError(f"stack outputs {tuple(self.outputs)} drifted from CONFIG_ENV_VARS")
        for key, value in self.outputs.items():
            CfnOutput(self, output_id(key), value=value, description=f"{key} for common/config.py (PLATFORM_ENV=aws)")

    def _allow_log_encryption(self) -> None:
        """CloudWatch Logs (MWAA, EMR Serverless log groups) encrypts with the lake key via its service principal."""
        self.lake.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": self.format_arn(
                service="logs", resource="log-group", resource_name="*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME)}},
        ))

    def _acknowledge_cdk_handlers(self) -> None:
        """Findings on the Lambda handlers CDK itself adds (BucketDeployment, default-SG restriction)."""
        for construct in self.node.find_all():
            if (isinstance(construct, CfnResource) and construct.cfn_resource_type == "AWS::Lambda::Function"
                    and "/Custom::" in construct.node.path):
                for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"):
                    checkov_skip(construct, check, "Deployment-time custom-resource handler generated by aws-cdk-lib "
                                 "(not our code): invoked only by CloudFormation, no data, no VPC resources.")
        for child in self.node.children:
            if not child.node.id.startswith("Custom::CDKBucketDeployment"):
                continue
            acknowledge(child, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole]",
                        "CDK's BucketDeployment handler: the basic execution policy only lets it write its logs.")
            acknowledge(child, "AwsSolutions-L1", "The BucketDeployment handler's runtime is chosen by aws-cdk-lib "
                        "and moves forward with CDK upgrades.")
            acknowledge_all(child, [
                *wildcard_actions("kms:GenerateDataKey*", "kms:ReEncrypt*", "s3:Abort*", "s3:DeleteObject*",
                                  "s3:GetBucket*", "s3:GetObject*", "s3:List*"),
                *wildcard_resources(f"{arn_of(self.lake.buckets['artefacts'])}/*",
                                    "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*"),
            ], "CDK's BucketDeployment handler copies the DAG bundle from the CDK asset bucket into the "
               "artefacts bucket (grantRead/grantReadWrite on exactly those two buckets and the lake key).")

"""EMR Serverless: one long-lived Spark application and the job execution role.

The DAGs submit every Spark stage (bronze/silver, profiles, embed, match, quality gate, publish) to
this application with EmrServerlessStartJobOperator; it is never created or deleted per run.
The execution role can read the zones a job reads and write only the zones a job writes.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_emrserverless as emrs
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks import names
from stacks.catalog import glue_table_arn
from stacks.compliance import acknowledge_all, arn_of, wildcard_resources
from stacks.lake import LakeStorage
from stacks.serving import MatchServing
from stacks.settings import EnvSettings

READ_ZONES = ("raw", "bronze", "silver", "gold", "quarantine", "artefacts")
WRITE_ZONES = ("bronze", "silver", "gold", "quarantine")


class SparkCompute(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, lake: LakeStorage,
                 serving: MatchServing, event_bus_arn: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        capacity = settings.emr_max_capacity or {"cpu": "16 vCPU", "memory": "64 GB", "disk": "200 GB"}
        self.application = emrs.CfnApplication(
            self,
            "SparkApplication",
            name=names.EMR_APPLICATION,
            release_label=names.EMR_RELEASE_LABEL,
            type="SPARK",
            architecture="X86_64",  # the venv-pack archive is built on x86_64 (faiss/torch wheels)
            auto_start_configuration=emrs.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrs.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=settings.emr_idle_minutes),
            maximum_capacity=emrs.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=capacity["cpu"], memory=capacity["memory"], disk=capacity["disk"]),
            monitoring_configuration=emrs.CfnApplication.MonitoringConfigurationProperty(
                s3_monitoring_configuration=emrs.CfnApplication.S3MonitoringConfigurationProperty(
                    log_uri=f"s3://{lake.emr_logs.bucket_name}/applications/",
                    encryption_key_arn=lake.key.key_arn),
                cloud_watch_logging_configuration=emrs.CfnApplication.CloudWatchLoggingConfigurationProperty(
                    enabled=True, log_group_name=f"/marketplace/{settings.name}/emr-serverless",
                    encryption_key_arn=lake.key.key_arn),
            ),
        )

        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            role_name=f"marketplace-{settings.name}-emr-execution",
            description="EMR Serverless job runtime role for the marketplace Spark jobs",
            assumed_by=iam.ServicePrincipal(
                "emr-serverless.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account},
                            "ArnLike": {"aws:SourceArn": stack.format_arn(
                                service="emr-serverless", resource="/applications", resource_name="*")}},
            ),
        )
        role = self.execution_role
        read_buckets = [lake.buckets[z] for z in READ_ZONES]
        role.add_to_policy(iam.PolicyStatement(
            sid="ListLakeZones", actions=["s3:ListBucket", "s3:GetBucketLocation"],
            resources=[b.bucket_arn for b in read_buckets]))
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadLakeZones", actions=["s3:GetObject"], resources=[b.arn_for_objects("*") for b in read_buckets]))
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteDerivedZones", actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[lake.buckets[z].arn_for_objects("*") for z in WRITE_ZONES]))
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteJobLogs", actions=["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
            resources=[lake.emr_logs.bucket_arn, lake.emr_logs.arn_for_objects("applications/*")]))
        role.add_to_policy(iam.PolicyStatement(
            sid="UseLakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[lake.key.key_arn]))
        role.add_to_policy(iam.PolicyStatement(
            sid="LakeCatalog",
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                     "glue:GetPartitions", "glue:BatchGetPartition", "glue:UpdateTable",
                     "glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition"],
            resources=[stack.format_arn(service="glue", resource="catalog"),
                       stack.format_arn(service="glue", resource="database", resource_name=names.GLUE_DATABASE),
                       glue_table_arn(self)]))
        role.add_to_policy(iam.PolicyStatement(
            sid="PublishMatches",
            # one conditional put per list; the diff's BatchGetItem; the tenant pointers; the sequence counter
            actions=["dynamodb:PutItem", "dynamodb:DescribeTable", "dynamodb:BatchGetItem", "dynamodb:GetItem",
                     "dynamodb:UpdateItem"],
            resources=[serving.table.table_arn, f"{serving.table.table_arn}/index/{names.GSI1}"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="AnnounceMatchesReady", actions=["events:PutEvents"], resources=[event_bus_arn]))
        role.add_to_policy(iam.PolicyStatement(
            sid="JobLogsToCloudWatch",
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[stack.format_arn(service="logs", resource="log-group",
                                        resource_name=f"/marketplace/{settings.name}/emr-serverless:*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)]))
        acknowledge_all(role, wildcard_resources(
            *[f"{arn_of(lake.buckets[z])}/*" for z in sorted({*READ_ZONES, *WRITE_ZONES})],
            f"{arn_of(lake.emr_logs)}/applications/*",
            f"arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{names.GLUE_DATABASE}/*",
            f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/marketplace/{settings.name}"
            "/emr-serverless:*"),
            "Spark jobs read and write whole lake zones by design (each zone is its own bucket, and object keys "
            "are partition paths unknown in advance); catalog access is limited to the marketplace database's "
            "tables and logs to the application's own log group.")

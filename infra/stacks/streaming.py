"""Event ingestion: Kinesis stream → Firehose (+ transformation Lambda) → raw zone; EventBridge bus → stream.

Firehose partitions on the event's *own* time using the keys the Lambda returns
(`metadata.partitionKeys` {event_type, dt, hour}), so the raw layout is the contract's
`events/event_type=…/dt=…/hour=…/` — `!{timestamp:…}` would be arrival time. Records the Lambda
cannot route (`ProcessingFailed`) land under `errors/dt=…/<error-output-type>/`.

The bus forwards the app's events (detail-type = event_type) to the same stream, so there is one
path into the lake; its archive allows replay (unordered — consumers dedupe on event_id).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from common.config import EVENT_SOURCE_PREFIX
from stacks import names
from stacks.assets import stage_transform_lambda
from stacks.compliance import (
    acknowledge,
    acknowledge_all,
    arn_of,
    checkov_skip,
    wildcard_actions,
    wildcard_resources,
)
from stacks.lake import LakeStorage
from stacks.lake_tables import EVENT_TYPES
from stacks.settings import EnvSettings

RAW_EVENTS_PREFIX = (
    "events/event_type=!{partitionKeyFromLambda:event_type}/"
    "dt=!{partitionKeyFromLambda:dt}/hour=!{partitionKeyFromLambda:hour}/"
)
# Firehose requires !{firehose:error-output-type} in the error prefix when dynamic partitioning is on.
RAW_ERRORS_PREFIX = "errors/dt=!{timestamp:yyyy-MM-dd}/!{firehose:error-output-type}/"
TRANSFORM_HANDLER = "ingestion.lambda_transform.handler"
_RETENTION = {7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
              90: logs.RetentionDays.THREE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS,
              365: logs.RetentionDays.ONE_YEAR}


def log_retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"log_retention_days must be one of {sorted(_RETENTION)}, got {days}")
    return _RETENTION[days]


class EventIngestion(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, lake: LakeStorage) -> None:
        super().__init__(scope, construct_id)
        retention = log_retention(settings.log_retention_days)
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=names.KINESIS_STREAM,
            shard_count=settings.kinesis_shards,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=lake.key,
            retention_period=Duration.hours(48),  # two days to recover a stalled consumer
        )
        self.stream.apply_removal_policy(RemovalPolicy.DESTROY)
        acknowledge(self.stream, "AwsSolutions-KDS3",
                    "Deliberately a customer-managed key (the lake key) rather than aws/kinesis, for key-policy "
                    "control and rotation under our ownership.")

        # -- transformation Lambda (ingestion/lambda_transform.py) ---------------------------------
        self.transform_logs = logs.LogGroup(self, "TransformLogs",
                                            log_group_name=f"/marketplace/{settings.name}/firehose-transform",
                                            retention=retention, removal_policy=RemovalPolicy.DESTROY,
                                            encryption_key=lake.key)
        self.transform_role = iam.Role(
            self, "TransformRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Firehose transformation Lambda: writes its own logs, nothing else")
        self.transform_logs.grant_write(self.transform_role)
        self.transform = lambda_.Function(
            self,
            "TransformFunction",
            function_name=f"marketplace-{settings.name}-firehose-transform",
            description="Routes raw events to event-time partitions (ingestion.routing); the rest to errors/",
            # 3.11: the asset vendors cp311 pydantic-core from the jobs venv (same Python as the repo).
            runtime=lambda_.Runtime.PYTHON_3_11,
            architecture=lambda_.Architecture.X86_64,
            handler=TRANSFORM_HANDLER,
            code=lambda_.Code.from_asset(str(stage_transform_lambda())),
            role=self.transform_role,
            memory_size=512,
            timeout=Duration.minutes(1),
            log_group=self.transform_logs,
            environment={"LOG_LEVEL": "INFO"},
            environment_encryption=lake.key,
        )
        checkov_skip(self.transform, "CKV_AWS_116", "Firehose invokes the transform synchronously; a Lambda DLQ "
                     "only catches async invocations. Failed records go to the raw errors/ prefix instead.")
        checkov_skip(self.transform, "CKV_AWS_115", "No reserved concurrency: Firehose already bounds invocations "
                     "(per shard), and reserving capacity fails in new accounts whose limit is 10.")
        checkov_skip(self.transform, "CKV_AWS_117", "The transform touches no VPC resource (pure function of "
                     "the Firehose batch); a VPC would add NAT cost and cold-start latency for nothing.")

        # -- Firehose → raw zone ---------------------------------------------------------------------
        raw = lake.buckets["raw"]
        firehose_logs = logs.LogGroup(self, "FirehoseLogs",
                                      log_group_name=f"/marketplace/{settings.name}/firehose",
                                      retention=retention, removal_policy=RemovalPolicy.DESTROY,
                                      encryption_key=lake.key)
        delivery_log_stream = firehose_logs.add_stream("DeliveryErrors", log_stream_name="S3Delivery")
        self.firehose_role = iam.Role(self, "FirehoseRole",
                                      assumed_by=iam.ServicePrincipal(  # confused-deputy guard
                                          "firehose.amazonaws.com",
                                          conditions={"StringEquals": {"sts:ExternalId": Stack.of(self).account}}),
                                      description="Firehose: read the event stream, write raw/events + raw/errors")
        self.stream.grant_read(self.firehose_role)
        self.firehose_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[raw.arn_for_objects("events/*"), raw.arn_for_objects("errors/*")]))
        self.firehose_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resources=[raw.bucket_arn]))
        self.firehose_role.add_to_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[lake.key.key_arn]))
        self.firehose_role.add_to_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
            resources=[self.transform.function_arn]))
        self.firehose_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:PutLogEvents"], resources=[firehose_logs.log_group_arn + ":log-stream:*"]))

        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=names.FIREHOSE_STREAM,
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=self.stream.stream_arn, role_arn=self.firehose_role.role_arn),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=raw.bucket_arn,
                role_arn=self.firehose_role.role_arn,
                prefix=RAW_EVENTS_PREFIX,
                error_output_prefix=RAW_ERRORS_PREFIX,
                file_extension=".jsonl",
                compression_format="UNCOMPRESSED",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    # dynamic partitioning needs >= 64 MB buffers; the interval bounds latency.
                    interval_in_seconds=settings.firehose_buffer_seconds, size_in_m_bs=64),
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=lake.key.key_arn)),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True, log_group_name=firehose_logs.log_group_name,
                    log_stream_name=delivery_log_stream.log_stream_name),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=300)),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[firehose.CfnDeliveryStream.ProcessorProperty(
                        type="Lambda",
                        parameters=[
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="LambdaArn", parameter_value=self.transform.function_arn),
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="BufferSizeInMBs", parameter_value="1"),
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="BufferIntervalInSeconds", parameter_value="60"),
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="NumberOfRetries", parameter_value="3"),
                        ],
                    )],
                ),
                s3_backup_mode="Disabled",
            ),
        )
        acknowledge(self.delivery_stream, "AwsSolutions-KDF1",
                    "Firehose server-side encryption applies only to DirectPut streams; this one reads a Kinesis "
                    "stream encrypted with the lake CMK and writes SSE-KMS objects with the same key.")
        acknowledge_all(self.firehose_role, wildcard_resources(
            f"{arn_of(raw)}/events/*", f"{arn_of(raw)}/errors/*", f"{arn_of(firehose_logs)}:log-stream:*"),
            "Firehose writes objects under its two raw-zone prefixes only (events/, errors/) and log events "
            "to its own log group's streams.")
        acknowledge(self.transform, "AwsSolutions-L1",
                    "Pinned to python3.11: the asset vendors pydantic-core built for CPython 3.11 from the jobs "
                    "venv (the repo's Python), so a newer runtime could not import it.")
        # The role's policy must exist before Firehose validates access to the stream and bucket.
        self.delivery_stream.node.add_dependency(self.firehose_role)

        # -- EventBridge bus, archive, routing rule, DLQ ----------------------------------------------
        self.bus = events.EventBus(self, "Bus", event_bus_name=names.EVENT_BUS)
        self.archive = self.bus.archive(
            "Archive",
            archive_name=f"marketplace-{settings.name}-events",
            description="All marketplace events, for replay (unordered; consumers dedupe on event_id)",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=Duration.days(settings.event_archive_retention_days),
        )
        self.dlq = sqs.Queue(
            self,
            "EventsDlq",
            queue_name=names.EVENTS_DLQ,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(self.dlq, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter queue of the bus→stream rule; it has no DLQ.")
        checkov_skip(self.dlq, "CKV_AWS_27",
                     "SQS-managed SSE: EventBridge delivers to it without a KMS key policy grant.")
        self.to_lake_rule = events.Rule(
            self,
            "EventsToLake",
            rule_name="marketplace-events-to-lake",
            description="Route the app's events (detail-type = event_type) into the lake via the stream",
            event_bus=self.bus,
            # The same source convention as the local bus → landing-queue rule (common.config).
            event_pattern=events.EventPattern(source=events.Match.prefix(EVENT_SOURCE_PREFIX),
                                              detail_type=list(EVENT_TYPES), account=[Stack.of(self).account]),
            targets=[
                targets.KinesisStream(
                    self.stream,
                    message=events.RuleTargetInput.from_event_path("$.detail"),  # the event itself
                    partition_key_path="$.detail.tenant_id",
                    dead_letter_queue=self.dlq,
                    retry_attempts=20,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        events_role = self.stream.node.try_find_child("EventsRole")
        if events_role is not None:  # created by the KinesisStream target for EventBridge
            acknowledge_all(events_role, wildcard_actions("kms:GenerateDataKey*", "kms:ReEncrypt*"),
                            "CDK's stream.grantWrite for the EventBridge target: the KMS actions are limited "
                            "to the single lake key that encrypts the stream.")

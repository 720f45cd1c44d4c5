"""Alarms → SNS, and one CloudWatch dashboard for the pipeline.

AWS metrics: Kinesis iterator age, Firehose delivery/transformation success, DLQ depth, DynamoDB
throttles. Pipeline metrics (namespace Marketplace/Pipeline, dimension Environment=<env>) are
published by the platform code in aws mode: `QuarantinedRecords` / `ProcessedRecords` by the
bronze→silver job, `DagRunFailed` by the DAGs' failure callback.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks import names
from stacks.serving import MatchServing
from stacks.settings import EnvSettings
from stacks.streaming import EventIngestion


class PipelineMonitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvSettings, ingestion: EventIngestion,
                 serving: MatchServing) -> None:
        super().__init__(scope, construct_id)
        self.env_name = settings.name
        # Alarms publish through CloudWatch's service principal, which needs the key in the key policy.
        self.alerts_key = kms.Key(self, "AlertsKey", enable_key_rotation=True,
                                  alias=f"alias/marketplace-{settings.name}-alerts",
                                  description="Encrypts the marketplace alerts topic",
                                  removal_policy=RemovalPolicy.DESTROY)
        self.alerts_key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"]))
        self.topic = sns.Topic(self, "Alerts", topic_name=f"marketplace-{settings.name}-alerts",
                               display_name="Marketplace pipeline alerts", master_key=self.alerts_key,
                               enforce_ssl=True)
        if settings.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alert_email))
        self.alarms: dict[str, cw.Alarm] = {}
        dims = {"Environment": settings.name}
        five_min = Duration.minutes(5)

        firehose = {"DeliveryStreamName": names.FIREHOSE_STREAM}
        self._alarm("KinesisIteratorAge", ingestion.stream.metric_get_records_iterator_age_milliseconds(
            statistic="Maximum", period=five_min), settings.alarm_iterator_age_ms, "Firehose is falling behind the "
            "event stream (records age before being read)", evaluation_periods=3)
        self._alarm("FirehoseDeliveryFailures", cw.Metric(namespace="AWS/Firehose", metric_name="DeliveryToS3.Success",
                                                          dimensions_map=firehose, statistic="Average", period=five_min),
                    1, "Firehose failed to deliver some records to the raw zone", evaluation_periods=2,
                    comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)
        self._alarm("FirehoseTransformFailures", cw.Metric(namespace="AWS/Firehose",
                                                           metric_name="ExecuteProcessing.Success",
                                                           dimensions_map=firehose, statistic="Average",
                                                           period=five_min),
                    1, "The transformation Lambda failed on some batches", evaluation_periods=2,
                    comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD)
        quarantined = cw.Metric(namespace=names.METRICS_NAMESPACE, metric_name="QuarantinedRecords",
                                dimensions_map=dims, statistic="Sum", period=Duration.hours(1))
        processed = cw.Metric(namespace=names.METRICS_NAMESPACE, metric_name="ProcessedRecords",
                              dimensions_map=dims, statistic="Sum", period=Duration.hours(1))
        self._alarm("QuarantineRate", cw.MathExpression(
            expression="IF(processed > 0, quarantined / processed, 0)", label="Quarantine rate",
            using_metrics={"quarantined": quarantined, "processed": processed}, period=Duration.hours(1)),
            settings.alarm_quarantine_rate, "Share of records quarantined by bronze→silver is above threshold")
        self._alarm("EventsDlqDepth", ingestion.dlq.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=five_min), 0, "Events the bus could not deliver to the stream are waiting "
            "in the DLQ")
        self._alarm("DagRunFailures", cw.Metric(namespace=names.METRICS_NAMESPACE, metric_name="DagRunFailed",
                                                dimensions_map=dims, statistic="Sum", period=five_min),
                    0, "An Airflow DAG run failed")
        throttles = cw.MathExpression(
            expression="reads + writes", label="DynamoDB throttled requests",
            using_metrics={"reads": serving.table.metric("ReadThrottleEvents", statistic="Sum", period=five_min),
                           "writes": serving.table.metric("WriteThrottleEvents", statistic="Sum", period=five_min)},
            period=five_min)
        self._alarm("DynamoDbThrottles", throttles, 0, "The serving table is throttling reads or writes",
                    evaluation_periods=2)

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"marketplace-{settings.name}-pipeline")
        self.dashboard.add_widgets(
            cw.TextWidget(markdown=f"# Marketplace pipeline ({settings.name})", width=24, height=1),
            cw.AlarmStatusWidget(alarms=list(self.alarms.values()), width=24, height=3, title="Alarms"),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Kinesis iterator age (ms)", left=[self.alarms["KinesisIteratorAge"].metric]),
            cw.GraphWidget(title="Firehose success ratio", left=[
                self.alarms["FirehoseDeliveryFailures"].metric, self.alarms["FirehoseTransformFailures"].metric]),
            cw.GraphWidget(title="Quarantine rate", left=[self.alarms["QuarantineRate"].metric]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Events DLQ depth", left=[self.alarms["EventsDlqDepth"].metric]),
            cw.GraphWidget(title="Failed DAG runs", left=[self.alarms["DagRunFailures"].metric]),
            cw.GraphWidget(title="DynamoDB throttles", left=[throttles]),
        )

    def _alarm(self, name: str, metric: cw.IMetric, threshold: float, description: str, *,
               evaluation_periods: int = 1,
               comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            name,
            alarm_name=f"marketplace-{self.env_name}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms[name] = alarm
        return alarm

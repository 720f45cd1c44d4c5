"""Resource names, taken from the configuration seam so AWS and the code can never disagree.

common/config.py is dependency-free, so the CDK app imports its defaults directly: the Kinesis stream,
bus, table, Glue database and lake zones are whatever the platform code expects in `PLATFORM_ENV=aws`.
"""

from __future__ import annotations

from dataclasses import fields

from aws_cdk import Aws

from common.config import LAKE_ZONES, Settings

_DEFAULTS = {f.name: f.default for f in fields(Settings)}

KINESIS_STREAM = _DEFAULTS["kinesis_stream"]
EVENT_BUS = _DEFAULTS["event_bus"]
LANDING_QUEUE = _DEFAULTS["landing_queue"]
DYNAMODB_TABLE = _DEFAULTS["dynamodb_table"]
GLUE_DATABASE = _DEFAULTS["glue_database"]
DEFAULT_ATHENA_WORKGROUP = _DEFAULTS["athena_workgroup"]
ZONES = LAKE_ZONES  # raw, bronze, silver, gold, quarantine, artefacts, athena-results

ATHENA_AUDIENCES = ("analysts", "dbt", "quicksight")
GSI1 = "gsi1"
TTL_ATTRIBUTE = "expires_at"
EMR_APPLICATION = "marketplace-spark"
# AWS runtime for Apache Spark 8.0.0 ships Spark 4.0.2, the same line as the local pyspark 4.0.2.
EMR_RELEASE_LABEL = "emr-spark-8.0.0"
FIREHOSE_STREAM = "marketplace-events-to-raw"
EVENTS_DLQ = "marketplace-events-dlq"
METRICS_NAMESPACE = "Marketplace/Pipeline"  # custom metrics the pipeline publishes (quarantine, DAG runs)


def workgroup_name(audience: str) -> str:
    return f"marketplace-{audience}"


def lake_bucket_prefix(env_name: str) -> str:
    """`marketplace-<env>-<account>`: LAKE_BUCKET_PREFIX in common/config.py (account resolved at deploy)."""
    return f"marketplace-{env_name}-{Aws.ACCOUNT_ID}"


def bucket_name(env_name: str, zone: str) -> str:
    """One bucket per zone: `<LAKE_BUCKET_PREFIX>-<zone>` (settings.zone_uri in aws mode)."""
    return f"{lake_bucket_prefix(env_name)}-{zone}"

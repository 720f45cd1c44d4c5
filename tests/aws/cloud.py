"""The CDK app's resources, created in a moto server from the synthesised template (not a second list).

``deploy(template, ...)`` walks the Platform stack's template and creates, with boto3 against moto, every
resource of the types the platform code talks to (buckets, stream, bus + archive + rule, queue, table,
Glue database + tables, Athena workgroups, IAM roles, EMR Serverless application, Firehose). Names,
key schemas, table columns, prefixes and patterns are the template's own values, intrinsic functions
resolved with moto's account and region. The result maps logical ids to physical names/ARNs and gives
the stack outputs as ``cdk deploy --outputs-file`` would write them.

Two things moto cannot do are emulated here with the template's own configuration (and listed in
docs/aws_mode.md): an EventBridge target that is a Kinesis stream (``bridge_rule_to_stream``), and a
Firehose delivery stream that reads a Kinesis stream through a transformation Lambda
(``run_firehose``: the real ``ingestion.lambda_transform.handler``, the real dynamic-partitioning prefix).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"  # moto's default account
PROBE_QUEUE = "aws-tier-rule-probe"  # stands in for a Kinesis target moto cannot deliver to


class TemplateError(AssertionError):
    """The template holds something this deployer does not understand (a new intrinsic, a missing name)."""


@dataclass
class Deployed:
    template: dict
    account: str
    region: str
    physical: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {"Ref": …, "Arn": …}

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == cfn_type}

    def resolve(self, value: Any) -> Any:
        """Intrinsic functions → values (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::Sub)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {k: self.resolve(v) for k, v in value.items()}
        (fn, arg), = value.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            try:
                return self.physical[logical][attribute]
            except KeyError:
                raise TemplateError(f"{logical}.{attribute} is not deployed (type "
                                    f"{self.template['Resources'].get(logical, {}).get('Type')})") from None
        if fn == "Fn::Join":
            sep, parts = arg
            return sep.join(str(self.resolve(p)) for p in parts)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(index)]
        if fn == "Fn::Split":
            sep, text = arg
            return self.resolve(text).split(sep)
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(names.get(m.group(1)) or self._sub_name(m.group(1))), text)
        raise TemplateError(f"intrinsic {fn} is not supported by the aws tier's deployer")

    def _sub_name(self, name: str) -> str:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.physical[logical][attribute]
        return self._ref(name)

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "Marketplace-dev-Platform",
                  "AWS::NoValue": None}
        if name in pseudo:
            return pseudo[name]
        try:
            return self.physical[name]["Ref"]
        except KeyError:
            raise TemplateError(f"Ref {name} is not deployed") from None

    def props(self, logical: str) -> dict:
        return self.resolve(self.template["Resources"][logical].get("Properties", {}))

    def one(self, cfn_type: str) -> tuple[str, dict]:
        found = self.of_type(cfn_type)
        if len(found) != 1:
            raise TemplateError(f"expected one {cfn_type} in the template, found {sorted(found)}")
        logical = next(iter(found))
        return logical, self.props(logical)

    def outputs(self) -> dict[str, str]:
        return {key: str(self.resolve(out["Value"])) for key, out in self.template.get("Outputs", {}).items()}


def _camel(value: dict) -> dict:
    """CloudFormation's PascalCase property keys → the EMR Serverless API's camelCase."""
    return {k[:1].lower() + k[1:]: _camel(v) if isinstance(v, dict) else v for k, v in value.items()}


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def deploy(template: dict, session, account: str = ACCOUNT) -> Deployed:
    """Create the template's platform resources in moto; returns the deployed names and ARNs."""
    region = session.region_name
    d = Deployed(template, account, region)
    c = session.client

    # Names that need no API call first (log groups, KMS keys and Lambda ARNs are only referenced).
    for logical, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::KMS::Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, logical))
            d.physical[logical] = {"Ref": key_id, "Arn": _arn("kms", region, account, f"key/{key_id}")}
        elif kind == "AWS::Logs::LogGroup":
            name = resource["Properties"].get("LogGroupName", logical)
            d.physical[logical] = {"Ref": name, "Arn": _arn("logs", region, account, f"log-group:{name}:*")}
        elif kind == "AWS::Logs::LogStream":
            d.physical[logical] = {"Ref": resource["Properties"].get("LogStreamName", logical)}
        elif kind == "AWS::Lambda::Function":
            name = resource["Properties"].get("FunctionName", logical)
            d.physical[logical] = {"Ref": name, "Arn": _arn("lambda", region, account, f"function:{name}")}

    s3 = c("s3")
    for logical, resource in d.of_type("AWS::S3::Bucket").items():
        name = d.resolve(resource["Properties"]["BucketName"])
        s3.create_bucket(Bucket=name)
        d.physical[logical] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}

    iam = c("iam")
    for logical, resource in d.of_type("AWS::IAM::Role").items():
        props = resource["Properties"]
        name = props.get("RoleName") or f"{logical[:48]}-{uuid.uuid5(uuid.NAMESPACE_DNS, logical).hex[:8]}"
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(d.resolve(
            props["AssumeRolePolicyDocument"])))["Role"]
        d.physical[logical] = {"Ref": name, "Arn": role["Arn"]}

    kinesis = c("kinesis")
    for logical, resource in d.of_type("AWS::Kinesis::Stream").items():
        props = resource["Properties"]
        kinesis.create_stream(StreamName=props["Name"], ShardCount=int(props.get("ShardCount", 1)))
        kinesis.get_waiter("stream_exists").wait(StreamName=props["Name"], WaiterConfig={"Delay": 0.2})
        d.physical[logical] = {"Ref": props["Name"],
                               "Arn": _arn("kinesis", region, account, f"stream/{props['Name']}")}

    sqs = c("sqs")
    for logical, resource in d.of_type("AWS::SQS::Queue").items():
        name = resource["Properties"]["QueueName"]
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        d.physical[logical] = {"Ref": url, "QueueName": name, "Arn": _arn("sqs", region, account, name)}
    probe_url = sqs.create_queue(QueueName=PROBE_QUEUE)["QueueUrl"]

    dynamodb = c("dynamodb")
    for logical, resource in d.of_type("AWS::DynamoDB::Table").items():
        props = d.resolve(resource["Properties"])
        kwargs = {k: props[k] for k in ("TableName", "KeySchema", "AttributeDefinitions", "BillingMode")}
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**kwargs)
        if props.get("TimeToLiveSpecification"):
            dynamodb.update_time_to_live(TableName=props["TableName"],
                                         TimeToLiveSpecification=props["TimeToLiveSpecification"])
        d.physical[logical] = {"Ref": props["TableName"],
                               "Arn": _arn("dynamodb", region, account, f"table/{props['TableName']}")}

    events = c("events")
    for logical, resource in d.of_type("AWS::Events::EventBus").items():
        name = resource["Properties"]["Name"]
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        d.physical[logical] = {"Ref": name, "Arn": arn, "Name": name}
    for logical in d.of_type("AWS::Events::Archive"):
        props = d.props(logical)
        events.create_archive(ArchiveName=props["ArchiveName"], EventSourceArn=props["SourceArn"],
                              EventPattern=json.dumps(props["EventPattern"]),
                              RetentionDays=int(props.get("RetentionDays", 0)))
        d.physical[logical] = {"Ref": props["ArchiveName"]}
    for logical in d.of_type("AWS::Events::Rule"):
        props = d.props(logical)
        events.put_rule(Name=props["Name"], EventBusName=props["EventBusName"],
                        EventPattern=json.dumps(props["EventPattern"]), State=props.get("State", "ENABLED"))
        targets = []
        for target in props.get("Targets", []):
            arn = target["Arn"]
            if ":kinesis:" in arn:  # moto delivers to SQS, not Kinesis: the probe queue catches it for the bridge
                arn = _arn("sqs", region, account, PROBE_QUEUE)
            targets.append({"Id": target["Id"], "Arn": arn})
        events.put_targets(Rule=props["Name"], EventBusName=props["EventBusName"], Targets=targets)
        d.physical[logical] = {"Ref": props["Name"], "ProbeQueueUrl": probe_url}

    glue = c("glue")
    for logical in d.of_type("AWS::Glue::Database"):
        props = d.props(logical)
        glue.create_database(DatabaseInput=props["DatabaseInput"])
        d.physical[logical] = {"Ref": props["DatabaseInput"]["Name"]}
    for logical in d.of_type("AWS::Glue::Table"):
        props = d.props(logical)
        glue.create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
        d.physical[logical] = {"Ref": props["TableInput"]["Name"]}

    athena = c("athena")
    for logical in d.of_type("AWS::Athena::WorkGroup"):
        props = d.props(logical)
        config = props.get("WorkGroupConfiguration", {})
        athena.create_work_group(Name=props["Name"], Configuration={
            "ResultConfiguration": {"OutputLocation": config["ResultConfiguration"]["OutputLocation"]},
            "EnforceWorkGroupConfiguration": bool(config.get("EnforceWorkGroupConfiguration")),
        })
        d.physical[logical] = {"Ref": props["Name"]}

    emr = c("emr-serverless")
    for logical in d.of_type("AWS::EMRServerless::Application"):
        props = d.props(logical)
        app = emr.create_application(name=props["Name"], releaseLabel=props["ReleaseLabel"], type=props["Type"],
                                     autoStartConfiguration=_camel(props.get("AutoStartConfiguration", {})),
                                     autoStopConfiguration=_camel(props.get("AutoStopConfiguration", {})))
        d.physical[logical] = {"Ref": app["applicationId"], "ApplicationId": app["applicationId"],
                               "Arn": app["arn"]}

    firehose = c("firehose")
    for logical in d.of_type("AWS::KinesisFirehose::DeliveryStream"):
        props = d.props(logical)
        destination = props["ExtendedS3DestinationConfiguration"]
        firehose.create_delivery_stream(
            DeliveryStreamName=props["DeliveryStreamName"],
            DeliveryStreamType=props["DeliveryStreamType"],
            KinesisStreamSourceConfiguration={
                "KinesisStreamARN": props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"],
                "RoleARN": props["KinesisStreamSourceConfiguration"]["RoleARN"]},
            ExtendedS3DestinationConfiguration={
                k: destination[k] for k in ("RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "FileExtension",
                                            "CompressionFormat", "BufferingHints", "DynamicPartitioningConfiguration",
                                            "ProcessingConfiguration") if k in destination},
        )
        d.physical[logical] = {"Ref": props["DeliveryStreamName"],
                               "Arn": _arn("firehose", region, account, f"deliverystream/{props['DeliveryStreamName']}")}
    return d


def patch_moto_release_labels() -> None:
    """moto (5.2) only knows `emr-X.Y.0` labels; the AWS runtime for Apache Spark (`emr-spark-8.0.0`) is real
    (EMR Serverless user guide, April 2026). Accept it, keep the label as given."""
    from moto.emrserverless import models

    original = models.EMRServerlessBackend.create_application
    if getattr(original, "_aws_tier_patched", False):
        return

    def create_application(self, name, release_label, *args, **kwargs):
        stand_in = "emr-7.0.0" if re.fullmatch(r"emr-spark-\d+\.\d+\.\d+", release_label) else release_label
        application = original(self, name, stand_in, *args, **kwargs)
        application.release_label = release_label
        return application

    create_application._aws_tier_patched = True
    models.EMRServerlessBackend.create_application = create_application


# ------------------------------------------------------------------ what moto cannot deliver, emulated


def _json_path(document: dict, path: str):
    """The tiny JSONPath subset EventBridge targets use here: `$.a.b`."""
    value: Any = document
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value[part]
    return value


def bridge_rule_to_stream(deployed: Deployed, session) -> int:
    """Deliver what the bus rule matched (caught by the probe queue) to the rule's Kinesis target, applying
    the target's InputPath and PartitionKeyPath exactly as the template says. Returns records delivered."""
    logical, rule = deployed.one("AWS::Events::Rule")
    target = next(t for t in rule["Targets"] if ":kinesis:" in t["Arn"])
    stream = target["Arn"].rsplit("/", 1)[1]
    sqs, kinesis = session.client("sqs"), session.client("kinesis")
    url = deployed.physical[logical]["ProbeQueueUrl"]
    delivered = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return delivered
        records = []
        for message in messages:
            event = json.loads(message["Body"])
            body = _json_path(event, target.get("InputPath", "$"))
            key = _json_path(event, target["KinesisParameters"]["PartitionKeyPath"])
            records.append({"Data": json.dumps(body, separators=(",", ":")).encode(), "PartitionKey": str(key)})
        response = kinesis.put_records(StreamName=stream, Records=records)
        assert not response.get("FailedRecordCount"), response
        delivered += len(records)
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(messages)])


def render_prefix(prefix: str, partition_keys: dict[str, str], now: dt.datetime,
                  error_output_type: str | None = None) -> str:
    """A Firehose S3 prefix expression with its namespaces filled in (partitionKeyFromLambda, timestamp,
    firehose:error-output-type); an unknown expression is an error, as it is for Firehose."""
    java_to_strftime = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}

    def expand(match: re.Match) -> str:
        namespace, _, key = match.group(1).partition(":")
        if namespace == "partitionKeyFromLambda":
            return partition_keys[key]
        if namespace == "timestamp":
            return now.strftime(re.sub("yyyy|MM|dd|HH", lambda m: java_to_strftime[m.group(0)], key))
        if namespace == "firehose" and key == "error-output-type" and error_output_type:
            return error_output_type
        raise TemplateError(f"Firehose prefix expression !{{{match.group(1)}}} is not supported here")

    return re.sub(r"!\{([^}]+)\}", expand, prefix)


def run_firehose(deployed: Deployed, session, now: dt.datetime | None = None) -> dict[str, int]:
    """One Firehose flush: read the delivery stream's source stream from TRIM_HORIZON, run the configured
    transformation (ingestion.lambda_transform.handler, the code the Lambda asset ships), then write each
    Ok record under the dynamic-partitioning prefix and each failed one under the error prefix, as
    objects named like Firehose's (`<stream>-<version>-<time>-<uuid><extension>`)."""
    from ingestion import lambda_transform

    logical, props = deployed.one("AWS::KinesisFirehose::DeliveryStream")
    firehose = session.client("firehose")
    description = firehose.describe_delivery_stream(DeliveryStreamName=props["DeliveryStreamName"])
    destination = description["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    bucket = destination["BucketARN"].split(":::", 1)[1]
    stream = props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"].rsplit("/", 1)[1]
    kinesis, s3 = session.client("kinesis"), session.client("s3")
    now = now or dt.datetime.now(dt.UTC)
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += response["Records"]
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    batch = {"records": [{"recordId": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                          "approximateArrivalTimestamp": int(r["ApproximateArrivalTimestamp"].timestamp() * 1000)}
                         for r in records]}
    result = lambda_transform.handler(batch)
    objects: dict[str, list[bytes]] = {}
    for out, original in zip(result["records"], batch["records"], strict=True):
        if out["result"] == "Ok":
            key = render_prefix(destination["Prefix"], out["metadata"]["partitionKeys"], now)
            objects.setdefault(key, []).append(base64.b64decode(out["data"]))
        else:
            key = render_prefix(destination["ErrorOutputPrefix"], {}, now, "processing-failed")
            error = {"attemptsMade": 1, "arrivalTimestamp": original["approximateArrivalTimestamp"],
                     "errorCode": "Lambda.FunctionError", "errorMessage": "ProcessingFailed",
                     "attemptEndingTimestamp": int(time.time() * 1000), "rawData": original["data"],
                     "lambdaArn": deployed.physical.get("IngestionTransformFunction", {}).get("Arn", "")}
            objects.setdefault(key, []).append((json.dumps(error) + "\n").encode())
    extension = destination.get("FileExtension", "")
    for prefix, lines in objects.items():
        name = f"{props['DeliveryStreamName']}-1-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{extension}"
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=b"".join(lines))
    ok = sum(r["result"] == "Ok" for r in result["records"])
    distinct_failed = len({o["data"] for o in batch["records"] if o["recordId"] in
                           {r["recordId"] for r in result["records"] if r["result"] != "Ok"}})
    return {"records": len(records), "ok": ok, "failed": len(records) - ok, "distinct_failed": distinct_failed,
            "objects": len(objects)}


def sync_down(session, bucket: str, target_dir) -> int:
    """Copy a bucket into ``target_dir`` (the file:// mirror Spark reads); returns files copied."""
    from pathlib import Path

    s3 = session.client("s3")
    copied = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/"):
                continue  # a directory marker (pyarrow's S3 create_dir), not a file
            path = Path(target_dir) / obj["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            copied += 1
    return copied


def sync_up(session, source_dir, bucket: str) -> int:
    """Copy the mirror of a bucket back up (Spark's output, so S3 readers see what the jobs wrote)."""
    from pathlib import Path

    s3 = session.client("s3")
    copied = 0
    root = Path(source_dir)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(p.startswith((".", "_")) for p in rel.parts):
            s3.put_object(Bucket=bucket, Key=str(rel), Body=path.read_bytes())
            copied += 1
    return copied

"""One small day through PLATFORM_ENV=aws: producers, bus, stream, Firehose, lake, Spark, DynamoDB, MatchesReady.

Everything talks to moto through the SDKs' own AWS_ENDPOINT_URL; the resources are the CDK app's. Spark runs
on the file:// mirror of the same buckets (LAKE_FILE_MIRROR), so what it reads and writes is byte for byte
what S3 holds before and after (conftest.aws_day syncs the mirror down before and up after the jobs).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(900)


def _stream_records(session, stream: str) -> list[dict]:
    kinesis = session.client("kinesis")
    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it)
            out += page["Records"]
            it = page.get("NextShardIterator") if page["Records"] else None
    return out


def test_producers_deliver_every_event_to_the_stacks_stream_directly_or_through_the_bus(aws_day, boto_session):
    from common.config import get_settings

    simulated = aws_day["simulate"]
    records = _stream_records(boto_session, get_settings().kinesis_stream)
    sent = simulated["kinesis_records"] + simulated["eventbridge_entries"]
    assert simulated["eventbridge_entries"] > 0 and aws_day["bridged"] == simulated["eventbridge_entries"]
    assert len(records) == sent  # every EventBridge event matched the stack's rule and reached the stream
    bridged = [json.loads(r["Data"]) for r in records[-aws_day["bridged"]:]]
    assert all(e["event_type"].startswith("job_") and e["tenant_id"] for e in bridged)  # `$.detail`: the event


def test_firehose_lands_every_record_where_bronze_to_silver_reads_it(aws_day):
    firehose, bronze = aws_day["firehose"], aws_day["bronze_to_silver"]
    assert firehose["records"] == firehose["ok"] + firehose["failed"] and firehose["ok"] > 0
    assert bronze["raw_lines"] == firehose["ok"], (firehose, bronze)
    assert bronze["reconciled"] is True


def test_firehose_error_records_are_quarantined_with_a_reason_by_the_run_of_their_arrival_date(aws_day, spark):
    """Firehose files errors by processing time (`errors/dt=!{timestamp:yyyy-MM-dd}`): the run whose window
    holds that date re-derives each reason from the raw record (routing.normalise_error_line)."""
    from common.config import get_settings
    from spark_jobs import bronze_to_silver
    from tests.aws.conftest import mirrored

    failed = aws_day["firehose"]["failed"]
    assert failed > 0  # the simulator's bad records
    with mirrored(aws_day["mirror"]):
        raw = get_settings().zone_uri("raw")
        files = bronze_to_silver._window_files(raw, bronze_to_silver.window_dates(aws_day["arrival_date"]), errors=True)
        rows = bronze_to_silver.quarantine_from_landing_errors(bronze_to_silver._read_lines(spark, files)).collect()
    assert len(rows) == aws_day["firehose"]["distinct_failed"]  # an identical bad record twice is one row
    assert all(r["stage"] == "landing" and r["reason"] for r in rows)


def test_spark_stages_run_under_aws_settings_and_their_output_reaches_s3(aws_day, boto_session):
    from common.config import get_settings

    settings = get_settings()
    assert aws_day["match"]["candidates"] > 0 and aws_day["match"]["candidate_to_job_rows"] > 0
    s3 = boto_session.client("s3")
    for zone, prefix in (("silver", "job_posted/"), ("gold", "matches/"), ("gold", "match_runs/")):
        listed = s3.list_objects_v2(Bucket=f"{settings.lake_root}-{zone}", Prefix=prefix).get("Contents", [])
        assert any(o["Key"].endswith(".parquet") for o in listed), f"{zone}/{prefix} is empty on S3"


def test_publish_writes_dynamodb_and_the_serving_path_reads_it_back(aws_day):
    from spark_jobs import serving

    published = aws_day["publish"]
    assert published["entries_written"] > 0 and published["lists_written"] > 0
    from common.lake_client import get_lake_client

    items = get_lake_client().read_dynamodb()  # awswrangler's DynamoDB scan, through the lake client
    pointers = items[(items["SK"] == "CURRENT") & items["PK"].str.contains("#CAND#")]
    assert len(pointers) == aws_day["match"]["candidates"]
    candidate = pointers.iloc[0]
    tenant, candidate_id = candidate["PK"].split("#")[1], candidate["PK"].split("#CAND#")[1]
    top = serving.top_jobs_for_candidate(tenant, candidate_id, k=5)
    assert top.run_id == published["run_id"]
    scores = [m.score for m in top.matches]
    assert scores == sorted(scores, reverse=True)
    assert all(m.candidate_id == candidate_id for m in top.matches)


def test_matches_ready_reaches_the_bus_with_the_published_run(aws_day, boto_session):
    from spark_jobs.publish import EVENT_DETAIL_TYPE, EVENT_SOURCE

    sqs = boto_session.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws_day["probe_url"], MaxNumberOfMessages=10).get("Messages", [])
    events = [json.loads(m["Body"]) for m in messages]
    assert len(events) == 1, events
    event = events[0]
    assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    assert event["detail"]["run_id"] == aws_day["publish"]["run_id"]
    tenants = set(event["detail"]["matches_by_tenant"])
    assert tenants and len(tenants) == aws_day["publish"]["tenants"]
    assert all(n > 0 for n in event["detail"]["matches_by_tenant"].values())


def test_the_hourly_landing_step_reports_what_firehose_delivered_on_s3(aws_day, boto_session):
    """In AWS, land_events (`ingestion.landing --run-date D --hour HH`) must not consume the stream a second
    time: it reports Firehose's objects, read from the raw bucket through pyarrow's S3 filesystem."""
    from common.config import get_settings
    from ingestion import landing

    raw = f"{get_settings().lake_root}-raw"
    keys = [o["Key"] for page in boto_session.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=raw, Prefix="events/") for o in page.get("Contents", [])]
    on_day = [k for k in keys if f"/dt={aws_day['run_date']}/" in k and k.endswith(".jsonl")]
    assert on_day
    report = landing.run_landing(aws_day["run_date"])
    assert report["landed_by"] == "firehose" and report["files_delivered"] == len(on_day)
    hour = on_day[0].split("/hour=")[1][:2]
    by_hour = landing.run_landing(aws_day["run_date"], hour=hour)
    assert by_hour["files_delivered"] == sum(f"/hour={hour}/" in k for k in on_day)


def test_lake_client_reads_what_spark_wrote_and_round_trips_a_table_on_s3(aws_day, boto_session):
    """awswrangler against the stack's buckets and Glue, with no endpoint in the settings (the SDK variable)."""
    import pandas as pd

    from common.config import get_settings
    from common.lake_client import AwsLakeClient, get_lake_client

    settings = get_settings()
    assert settings.endpoints == {}  # aws mode exactly as deployed
    client = get_lake_client()
    assert isinstance(client, AwsLakeClient)
    for event_type, rows in aws_day["bronze_to_silver"]["silver_by_type"].items():
        frame = client.read_table("silver", event_type)
        assert len(frame) == rows, event_type
    glue = boto_session.client("glue").get_table(DatabaseName=settings.glue_database, Name="job_posted")["Table"]
    declared = [c["Name"] for c in glue["StorageDescriptor"]["Columns"]]
    assert set(declared) <= set(client.read_table("silver", "job_posted").columns)
    scratch = pd.DataFrame({"tenant_id": ["acme", "acme"], "n": [1, 2], "dt": ["2026-11-21", "2026-11-22"]})
    uri = client.write_table(scratch, "gold", "aws_tier_scratch", partition_cols=["dt"])
    assert uri == f"s3://{settings.lake_root}-gold/aws_tier_scratch/"
    client.write_table(scratch.iloc[[1]].assign(n=20), "gold", "aws_tier_scratch", partition_cols=["dt"],
                       mode="overwrite_partitions")
    assert sorted(client.read_table("gold", "aws_tier_scratch")["n"].tolist()) == [1, 20]

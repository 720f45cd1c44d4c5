"""Publish an audited match run to the DynamoDB serving table, then announce it on EventBridge.

Order matters (readers never see half a run): (1) every match item of the run, written from the
Spark executors with BatchWriteItem + UnprocessedItems retry and bounded concurrency; (2) only then
the CURRENT pointer of every candidate and job of the run (also those left without matches, so a
closed job stops showing stale candidates); (3) one "MatchesReady" event; (4) the ledger says published.
Only a run the quality gate marked `audited` is published (write-audit-publish). Re-publishing a run
rewrites the same keys: idempotent.

CLI: python -m spark_jobs.publish --run-date 2026-11-22
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import logging
import time

from common.config import get_settings
from spark_jobs import _runs
from spark_jobs._dynamo import BatchWriter, WriteStats, match_item, pointer_item
from spark_jobs._lake import check_run_date, read_profiles, utc_now

log = logging.getLogger(__name__)

DEFAULT_TTL_DAYS = 30
DEFAULT_CONCURRENCY = 4
# Not "marketplace.*": that prefix is routed to the ingestion landing queue (domain events only).
EVENT_SOURCE = "platform.matching"
EVENT_DETAIL_TYPE = "MatchesReady"


class PublishBlocked(RuntimeError):
    """The run was not audited by the quality gate (missing, pending or blocked)."""


def expires_at_for(run_date: str, ttl_days: int) -> int:
    """TTL epoch seconds: the run's items expire `ttl_days` after the run date (old runs age out)."""
    day = dt.date.fromisoformat(run_date) + dt.timedelta(days=ttl_days)
    return calendar.timegm(day.timetuple())


def pairs_from_matches(matches):
    """Both directions' rows → one row per (tenant, candidate, job) with each direction's rank."""
    from pyspark.sql import functions as F

    c2j = F.col("direction") == "candidate_to_job"
    j2c = F.col("direction") == "job_to_candidate"
    carried = [
        "score", "semantic", "skills", "experience", "location", "salary", "matched_skills",
        "missing_essential", "missing_optional", "weights_version", "model_version",
    ]  # fmt: skip
    return matches.groupBy("tenant_id", "candidate_id", "job_id").agg(
        F.min(F.when(c2j, F.col("rank"))).alias("candidate_rank"),
        F.min(F.when(j2c, F.col("rank"))).alias("job_rank"),
        *[F.first(F.col(c), ignorenulls=True).alias(c) for c in carried],
    )


def _dynamodb_client(client_kwargs: dict):
    """Executor-side client from the driver's settings (executors may not share the driver's env)."""
    import boto3
    from botocore.config import Config

    retry = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)
    return boto3.client("dynamodb", config=retry, **client_kwargs)


def _write_partition(
    rows, *, table: str, run_id: str, expires_at: int | None, concurrency: int, kind: str, client_kwargs: dict
):
    """Runs on an executor: write one partition's items and yield its stats."""
    published_at = utc_now().isoformat()
    if kind == "match":
        items = (match_item(row.asDict(), run_id, expires_at) for row in rows)
    else:
        items = (pointer_item(row.tenant_id, row.kind, row.entity_id, run_id, published_at) for row in rows)
    stats = BatchWriter(_dynamodb_client(client_kwargs), table, concurrency=concurrency).write_all(items)
    yield stats.as_dict()


def _write_with_spark(df, **kwargs) -> WriteStats:
    total = WriteStats()
    for part in df.rdd.mapPartitions(lambda rows: _write_partition(rows, **kwargs)).collect():
        total.add(WriteStats(**part))
    return total


def announce(run: dict, tenants: dict[str, int], event_client=None) -> str:
    """Put one MatchesReady event on the bus for the notification service; returns the event id."""
    import boto3

    detail = {
        "run_id": run["run_id"],
        "run_date": run["run_date"],
        "weights_version": run.get("weights_version"),
        "model_version": run.get("model_version"),
        "matches_by_tenant": tenants,
    }
    events = event_client or boto3.client("events", **get_settings().boto3_kwargs("events"))
    response = events.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail, sort_keys=True),
                "EventBusName": get_settings().event_bus,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"EventBridge refused the MatchesReady event: {response['Entries']}")
    return response["Entries"][0].get("EventId", "")


def run(
    run_date: str,
    weights_version: str | None = None,
    ttl_days: int = DEFAULT_TTL_DAYS,
    concurrency: int = DEFAULT_CONCURRENCY,
    spark=None,
) -> dict:
    """Publish the audited run of ``run_date``; returns counts for the run summary."""
    from pyspark.sql import functions as F

    from spark_jobs.session import get_spark

    check_run_date(run_date)
    spark = spark or get_spark("publish")
    settings = get_settings()
    run_id = _runs.make_run_id(run_date, weights_version or _runs.default_weights_version())
    ledger = _runs.read_run(spark, run_id)
    if ledger is None or ledger["status"] not in ("audited", "published"):
        status = ledger["status"] if ledger else "missing"
        raise PublishBlocked(f"run {run_id} is {status}; only a run the quality gate audited is published")

    started = time.perf_counter()
    matches = _runs.read_run_matches(spark, run_id)
    pairs = pairs_from_matches(matches).cache()
    common = {
        "table": settings.dynamodb_table,
        "run_id": run_id,
        "concurrency": concurrency,
        "client_kwargs": settings.boto3_kwargs("dynamodb"),
    }
    item_stats = _write_with_spark(
        pairs, expires_at=expires_at_for(run_date, ttl_days), kind="match", **common
    )
    log.info("wrote %d match items for run %s", item_stats.items, run_id)

    # Pointers go last, for every entity of the run's input, matched or not.
    candidates = read_profiles(spark, "candidate", run_date).select(
        "tenant_id", F.lit("CAND").alias("kind"), F.col("candidate_id").alias("entity_id")
    )
    jobs = read_profiles(spark, "job", run_date).select(
        "tenant_id", F.lit("JOB").alias("kind"), F.col("job_id").alias("entity_id")
    )
    entities = candidates.unionByName(jobs).distinct()
    pointer_stats = _write_with_spark(entities, expires_at=None, kind="pointer", **common)

    by_tenant = {r.tenant_id: r.n for r in pairs.groupBy("tenant_id").agg(F.count("*").alias("n")).collect()}
    event_id = announce(ledger, by_tenant)
    _runs.set_status(spark, run_id, "published", f"{item_stats.items} items, event {event_id}")
    seconds = time.perf_counter() - started
    pairs.unpersist()
    return {
        "run_id": run_id,
        "match_rows": matches.count(),
        "items_written": item_stats.items,
        "pointers_written": pointer_stats.items,
        "batch_calls": item_stats.batches + pointer_stats.batches,
        "unprocessed_retries": item_stats.retries + pointer_stats.retries,
        "tenants": len(by_tenant),
        "items_per_s": round(item_stats.items / seconds, 1) if seconds else None,
        "event_id": event_id,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--ttl-days", type=int, default=DEFAULT_TTL_DAYS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counts = run(args.run_date, ttl_days=args.ttl_days, concurrency=args.concurrency)
    print(json.dumps(counts, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

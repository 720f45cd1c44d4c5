"""Publish an audited match run to the DynamoDB serving table, then announce it on EventBridge.

Every entity (candidate, job) of the run owns one ranked list, held whole in its CURRENT item
(docs/contracts.md). A publish:
1. refuses a run the quality gate did not audit, and keys serving cannot hold ('#', an empty id, a
   tenant that is not a slug, a match whose candidate or job is not in the run's tenant profiles); the
   tenants are checked once more in Python before the first write (`checked_tenants`);
2. takes the next publish sequence (an atomic counter): generation `<run_id>.p<seq>`, run order
   `<run_date>#<seq>`; moves each tenant's run pointer forward — conditionally, so a backfill of an
   older date finds a newer run served and leaves that tenant alone (nothing written);
3. per Spark partition, diffs each entity's new list against its CURRENT item's digest and replaces
   only the changed ones: one conditional put per list (it only moves forward in run order), a
   bounded number in flight; a tenant a newer publish took over meanwhile is left to it;
4. one MatchesReady event; the ledger says published. The counts say what was written and kept.
A reader sees an entity's old list or its new one, never a mix (one item). Lists of entities that
leave the marketplace expire by TTL; the lists of every entity of a run are refreshed before then.

CLI: python -m spark_jobs.publish --run-date 2026-11-22
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import logging
import time
from functools import partial

from common.config import get_settings
from spark_jobs import _runs
from spark_jobs._dynamo import (
    COMPONENTS,
    ENTITY_PATTERN,
    TENANT_PATTERN,
    EntityList,
    ServingKeyError,
    advance_tenant_run,
    dynamodb_client,
    make_generation,
    make_run_order,
    next_publish_sequence,
    tenant_run,
)
from spark_jobs._lake import check_run_date, read_profiles, utc_now
from spark_jobs._publish_lists import ListStats, PublishPlan, checked_tenants, write_changed_lists

log = logging.getLogger(__name__)

DEFAULT_TTL_DAYS = 30
# A kept list is rewritten once it has fewer days to live than this (TTL must never catch it).
REFRESH_DAYS = 7
DEFAULT_CONCURRENCY = 8  # conditional puts in flight per Spark task
# Not "marketplace.*": that prefix is routed to the ingestion landing queue (domain events only).
EVENT_SOURCE = "platform.matching"
EVENT_DETAIL_TYPE = "MatchesReady"
ENTRY_FIELDS = ("rank", "other_id", "score", *COMPONENTS, "matched_skills", "missing_essential", "missing_optional")
SIDES = (("candidate_to_job", "CAND", "candidate_id", "job_id"), ("job_to_candidate", "JOB", "job_id", "candidate_id"))


class PublishBlocked(RuntimeError):
    """The run was not audited by the quality gate (missing, pending or blocked)."""


def expires_at_for(run_date: str, ttl_days: int) -> int:
    """TTL epoch seconds: the run's items expire `ttl_days` after the run date (old runs age out)."""
    day = dt.date.fromisoformat(run_date) + dt.timedelta(days=ttl_days)
    return calendar.timegm(day.timetuple())


def run_entities(candidates, jobs):
    """(tenant_id, kind, entity_id) of every profile of the run, matched or not."""
    from pyspark.sql import functions as F

    return (
        candidates.select("tenant_id", F.lit("CAND").alias("kind"), F.col("candidate_id").alias("entity_id"))
        .unionByName(jobs.select("tenant_id", F.lit("JOB").alias("kind"), F.col("job_id").alias("entity_id")))
        .distinct()
    )


def entity_lists(matches, entities):
    """One row per entity: its ranked entries (array of structs, rank ascending; empty when unmatched).

    Each direction's rows become the owner's list: a candidate's jobs, a job's candidates. Entities of
    the run without a match get an empty list, so a closed job's CURRENT item becomes an empty list.
    """
    from pyspark.sql import functions as F

    sides = [
        matches.where(F.col("direction") == direction).select(
            "tenant_id", F.lit(kind).alias("kind"), F.col(owner).alias("entity_id"),
            F.col("rank").cast("int").alias("rank"), F.col(other).alias("other_id"),
            *ENTRY_FIELDS[2:],
        )
        for direction, kind, owner, other in SIDES
    ]  # fmt: skip
    entries = (
        sides[0]
        .unionByName(sides[1])
        .groupBy("tenant_id", "kind", "entity_id")
        .agg(F.array_sort(F.collect_list(F.struct(*ENTRY_FIELDS))).alias("entries"))
    )
    lists = entities.join(entries, ["tenant_id", "kind", "entity_id"], "full_outer")
    return lists.withColumn("entries", F.coalesce("entries", F.array().cast(entries.schema["entries"].dataType)))


def invalid_serving_keys(matches, entities, limit: int = 5) -> list[str]:
    """Problems that keep a run out of serving, with examples (empty: every key is servable).

    A tenant id must be a slug and no id may hold '#' (the key separator); every match's candidate and
    job must be a profile of the same tenant in this run (an unknown tenant or a cross-tenant pair).
    """
    from pyspark.sql import functions as F

    def bad(column, pattern):
        return F.col(column).isNull() | ~F.col(column).rlike(f"^{pattern}$")

    problems = []
    checks = [
        ("tenant ids", entities.unionByName(matches.select("tenant_id", F.lit("-").alias("kind"),
                                                           F.lit("-").alias("entity_id"))),
         bad("tenant_id", TENANT_PATTERN), "tenant_id"),
        ("entity ids", entities, bad("entity_id", ENTITY_PATTERN), "entity_id"),
        ("matched candidate ids", matches, bad("candidate_id", ENTITY_PATTERN), "candidate_id"),
        ("matched job ids", matches, bad("job_id", ENTITY_PATTERN), "job_id"),
    ]  # fmt: skip
    for what, df, condition, column in checks:
        examples = [r[0] for r in df.where(condition).select(column).distinct().limit(limit).collect()]
        if examples:
            problems.append(f"{what} that cannot be serving keys: {examples}")
    for kind, column in (("CAND", "candidate_id"), ("JOB", "job_id")):
        known = entities.where(F.col("kind") == kind).select("tenant_id", F.col("entity_id").alias(column))
        unknown = matches.select("tenant_id", column).distinct().join(known, ["tenant_id", column], "left_anti")
        examples = [f"{r.tenant_id}/{r[column]}" for r in unknown.limit(limit).collect()]
        if examples:
            problems.append(f"matched {column}s that are not profiles of their tenant in this run: {examples}")
    return problems


def _entity(row, weights_version, model_version) -> EntityList:
    return EntityList(row.tenant_id, row.kind, row.entity_id, [e.asDict() for e in row.entries],
                      weights_version, model_version)  # fmt: skip


def _publish_partition(rows, *, plan: PublishPlan, client_kwargs: dict, versions: tuple):
    """Runs on an executor: replace this partition's changed lists; yield its stats."""
    client = dynamodb_client(client_kwargs)
    yield write_changed_lists(client, plan, (_entity(row, *versions) for row in rows)).as_dict()


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
    matches = _runs.read_run_matches(spark, run_id).cache()
    entities = run_entities(read_profiles(spark, "candidate", run_date), read_profiles(spark, "job", run_date))
    problems = invalid_serving_keys(matches, entities)
    if problems:
        raise ServingKeyError(f"run {run_id} cannot be published: " + "; ".join(problems))

    # Re-checked in Python before anything is written (the sequence counter included), see checked_tenants.
    tenants = checked_tenants([r.tenant_id for r in entities.select("tenant_id").distinct().collect()],
                              [r.tenant_id for r in matches.select("tenant_id").distinct().collect()])
    table, client_kwargs = settings.dynamodb_table, settings.boto3_kwargs("dynamodb")
    client = dynamodb_client(client_kwargs)
    sequence = next_publish_sequence(client, table)
    published_at = utc_now().isoformat()
    plan = PublishPlan(
        table=table, run_id=run_id, generation=make_generation(run_id, sequence),
        run_order=make_run_order(run_date, sequence), expires_at=expires_at_for(run_date, ttl_days),
        refresh_before=expires_at_for(run_date, REFRESH_DAYS), published_at=published_at, concurrency=concurrency,
    )  # fmt: skip
    # A tenant whose run pointer is already at a newer run is not touched at all: a backfill never
    # rolls serving back, also for entities whose kept lists were written before the backfilled date.
    served = [t for t in tenants if advance_tenant_run(client, table, t, run_id=run_id, run_order=plan.run_order,
                                                       published_at=published_at)]  # fmt: skip
    superseded_tenants = [t for t in tenants if t not in served]
    if superseded_tenants:
        log.warning("run %s: a newer run is served for tenants %s; left alone", run_id, superseded_tenants)

    stats = ListStats()
    if served:
        lists = entity_lists(matches, entities.where(F.col("tenant_id").isin(served)))
        lists = lists.where(F.col("tenant_id").isin(served)).repartition(spark.sparkContext.defaultParallelism)
        versions = (ledger.get("weights_version"), ledger.get("model_version"))
        for part in lists.rdd.mapPartitions(
            partial(_publish_partition, plan=plan, client_kwargs=client_kwargs, versions=versions)
        ).collect():
            stats.add(part)
        log.info("run %s: %s", run_id, stats.as_dict())
        # A newer publish that started meanwhile owns the tenant now (the writers stopped writing for it).
        overtaken = [t for t in served if tenant_run(client, table, t)["run_order"]["S"] != plan.run_order]
        if overtaken:
            log.warning("run %s: a newer publish took over tenants %s; their lists are left to it", run_id, overtaken)
            superseded_tenants += overtaken
    seconds = time.perf_counter() - started

    pairs = matches.where(F.col("tenant_id").isin(served)).select("tenant_id", "candidate_id", "job_id").distinct()
    by_tenant = {r.tenant_id: r.n for r in pairs.groupBy("tenant_id").agg(F.count("*").alias("n")).collect()}
    event_id = announce(ledger, by_tenant) if served else None
    detail = (f"generation {plan.generation}: {stats.lists_written} lists written, {stats.lists_kept} kept"
              + (f"; newer run served for {superseded_tenants}" if superseded_tenants else "")
              + (f", event {event_id}" if event_id else ""))  # fmt: skip
    _runs.set_status(spark, run_id, "published", detail)
    match_rows = matches.count()
    matches.unpersist()
    return {
        "run_id": run_id,
        "generation": plan.generation,
        "match_rows": match_rows,
        **stats.as_dict(),
        "tenants": len(served),
        "tenants_superseded": superseded_tenants,
        "lists_per_s": round(stats.lists_written / seconds, 1) if seconds else None,
        "entries_per_s": round(stats.entries_written / seconds, 1) if seconds else None,
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

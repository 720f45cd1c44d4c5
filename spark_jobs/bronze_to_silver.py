"""raw → bronze → silver (+ quarantine), for the event-time window of one run date.

Window: ``dt ∈ [run_date - LOOKBACK_DAYS, run_date]``; landing refuses anything older (routing.py),
so late and out-of-order events always fall inside a window that a run re-reads. Each run rebuilds
those partitions completely from raw (append-only), so re-running gives the same rows and late
arrivals simply join their event-date partition (idempotent dynamic partition overwrite).

- bronze/events: every routable raw line, envelope columns as text + ``payload_json`` +
  ``_raw_record`` (the line itself, so silver validates exactly what arrived), ``_source_file``,
  ``_ingested_at``; partitioned by ``event_type``, ``dt``.
- silver/<event_type>: records valid against their contract (ingestion.contracts — the same code
  the producers' services use), payload flattened (fields the contract does not know kept as JSON
  in ``extra``), partitioned by ``dt``. Deduped on (tenant_id, event_type, event_id) — within the
  window and against every older silver partition, so a retry re-stamped days later is still a
  duplicate; the copy with the earliest event date wins, so every run makes the same choice.
- quarantine/events: one row per rejected record with ``stage`` and ``reason``: contract
  violations and ``payload_conflict`` (same key, different payload: stage ``silver``) and the
  landing errors from ``raw/errors`` (stage ``landing``).

Counts reconcile: raw lines = silver + quarantined(silver) + duplicates removed.
CLI: ``python -m spark_jobs.bronze_to_silver --run-date YYYY-MM-DD``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from common.config import get_settings
from ingestion import lake_io
from ingestion.contracts import ENVELOPE_FIELDS, EVENT_TYPES, flat_columns, flatten_payload, validate_event
from ingestion.routing import LOOKBACK_DAYS, normalise_error_line
from spark_jobs._lake import write_partitions
from spark_jobs.session import get_spark

log = logging.getLogger(__name__)

SPARK_TYPES = {"string": T.StringType(), "long": T.LongType(), "double": T.DoubleType(), "boolean": T.BooleanType()}
RAW_PATH_PATTERN = r"event_type=([^/]+)/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/"
ERRORS_DT_PATTERN = r"/errors/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/"
BRONZE_ENVELOPE = T.StructType([T.StructField(name, T.StringType()) for name in ENVELOPE_FIELDS] +
                               [T.StructField("payload", T.StringType())])
KEY_SEPARATOR = "\x1f"  # (tenant_id, event_type, event_id) joined; a control character no id contains
VALIDATED_SCHEMA = T.StructType(
    [
        T.StructField("_key", T.StringType()),
        T.StructField("_payload_sha256", T.StringType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("tenant_id", T.StringType()),
        T.StructField("ok", T.BooleanType()),
        T.StructField("reason", T.StringType()),
        T.StructField("detail", T.StringType()),
        T.StructField("flat_json", T.StringType()),
        T.StructField("_raw_record", T.StringType()),
        T.StructField("_source_file", T.StringType()),
        T.StructField("_ingested_at", T.TimestampType()),
        T.StructField("dt", T.StringType()),
    ]
)
QUARANTINE_COLUMNS = ["event_id", "event_type", "tenant_id", "stage", "reason", "detail", "raw_record",
                      "quarantined_at", "dt"]
ERROR_SCHEMA = T.StructType([T.StructField(name, T.StringType()) for name in
                             ("reason", "detail", "raw_record", "source", "arrived_at")])


def window_dates(run_date: str, lookback_days: int = LOOKBACK_DAYS) -> list[str]:
    day = dt.date.fromisoformat(run_date)
    return [(day - dt.timedelta(days=back)).isoformat() for back in range(lookback_days, -1, -1)]


# ---------------------------------------------------------------- pure DataFrame functions


def raw_lines_to_bronze(lines: DataFrame, ingested_at: F.Column | None = None) -> DataFrame:
    """Raw text lines (``value``, ``_source_file``) -> bronze rows. Parses only the envelope, as text."""
    parsed = lines.where(F.length(F.trim("value")) > 0).select(
        F.col("value").alias("_raw_record"),
        "_source_file",
        F.from_json("value", BRONZE_ENVELOPE).alias("env"),
        F.regexp_extract("_source_file", RAW_PATH_PATTERN, 1).alias("_path_event_type"),
        F.regexp_extract("_source_file", RAW_PATH_PATTERN, 2).alias("dt"),
    )
    return parsed.select(
        *[F.col(f"env.{name}").alias(name) for name in ENVELOPE_FIELDS if name != "event_type"],
        F.coalesce(F.col("env.event_type"), F.col("_path_event_type")).alias("event_type"),
        F.col("env.payload").alias("payload_json"),
        "_raw_record",
        "_source_file",
        (ingested_at if ingested_at is not None else F.current_timestamp()).alias("_ingested_at"),
        "dt",
    )


def event_key(tenant_id: str, event_type: str, event_id: str) -> str:
    """The dedupe key: one tenant's or one type's id never suppresses another's."""
    return KEY_SEPARATOR.join((tenant_id, event_type, event_id))


def _validate_batches(batches: Iterator) -> Iterator:
    import hashlib

    import pandas as pd

    for frame in batches:
        rows = []
        for raw, source, ingested, partition_dt in zip(
            frame["_raw_record"], frame["_source_file"], frame["_ingested_at"], frame["dt"], strict=True
        ):
            verdict = validate_event(raw)
            flat = payload_sha = None
            if verdict.ok:
                event = dict(verdict.event)
                flat = json.dumps({**{k: event[k] for k in ENVELOPE_FIELDS}, **flatten_payload(event["payload"]),
                                   "extra": json.dumps(verdict.extra, sort_keys=True) if verdict.extra else None})
                payload_sha = hashlib.sha256(json.dumps(event["payload"], sort_keys=True).encode()).hexdigest()
            if verdict.event_id and verdict.event_type and verdict.tenant_id:
                key = event_key(verdict.tenant_id, verdict.event_type, verdict.event_id)
            else:
                key = "sha256:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
            rows.append((key, payload_sha, verdict.event_id, verdict.event_type, verdict.tenant_id, verdict.ok,
                         verdict.reason, verdict.detail, flat, raw, source, ingested, partition_dt))
        yield pd.DataFrame(rows, columns=VALIDATED_SCHEMA.fieldNames())


def validate(bronze: DataFrame) -> DataFrame:
    """Run every bronze row through its contract (ingestion.contracts.validate_event)."""
    return bronze.select("_raw_record", "_source_file", "_ingested_at", "dt").mapInPandas(
        _validate_batches, VALIDATED_SCHEMA
    )


def dedupe(validated: DataFrame, history: DataFrame | None = None) -> DataFrame:
    """One row per (tenant_id, event_type, event_id) (or per identical raw record without them).

    Prefers a valid copy, then the earliest event date (``dt``), then file name, so the choice is
    stable across re-runs and agrees with ``history`` (``_key``, ``_payload_sha256`` of the silver rows
    in partitions older than the window): a key already there is a duplicate too. A valid copy whose
    payload differs from the kept one (or the one in history) is not a duplicate but a conflict: it
    becomes a reject with reason ``payload_conflict``. Adds ``_is_duplicate``."""
    order = Window.partitionBy("_key").orderBy(F.col("ok").desc(), "dt", "_source_file", "_raw_record")
    ranked = validated.withColumn("_rank", F.row_number().over(order)).withColumn(
        "_kept_sha256", F.first("_payload_sha256").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    if history is None:
        ranked = ranked.withColumn("_history_sha256", F.lit(None).cast("string")).withColumn(
            "_in_history", F.lit(False))
    else:
        known = history.groupBy("_key").agg(F.first("_payload_sha256", ignorenulls=True).alias("_history_sha256"))
        ranked = ranked.join(known.withColumn("_in_history", F.lit(True)), "_key", "left").fillna(
            {"_in_history": False})
    reference = F.when(F.col("_in_history"), F.col("_history_sha256")).otherwise(F.col("_kept_sha256"))
    repeated = F.col("_in_history") | (F.col("_rank") > 1)
    conflict = (F.col("ok") & repeated & reference.isNotNull()
                & (F.col("_payload_sha256") != reference))
    where = F.when(F.col("_in_history"), F.lit("an older silver partition")).otherwise(F.lit("another copy in the window"))
    return ranked.select(
        *[c for c in validated.columns if c not in ("ok", "reason", "detail")],
        (F.col("ok") & ~conflict).alias("ok"),
        F.when(conflict, F.lit("payload_conflict")).otherwise(F.col("reason")).alias("reason"),
        F.when(conflict, F.concat(F.lit("same (tenant_id, event_type, event_id) as "), where,
                                  F.lit(" with a different payload"))).otherwise(F.col("detail")).alias("detail"),
        (repeated & ~conflict).alias("_is_duplicate"),
    )


def silver_for(valid: DataFrame, event_type: str) -> DataFrame:
    """Valid, deduped rows of one event type -> the flattened silver table."""
    payload_columns = flat_columns(event_type)
    schema = T.StructType(
        [T.StructField(name, T.StringType() if name == "occurred_at" else
                       (T.LongType() if name == "schema_version" else T.StringType())) for name in ENVELOPE_FIELDS]
        + [T.StructField(name, SPARK_TYPES[kind]) for name, kind in payload_columns]
        + [T.StructField("extra", T.StringType())]
    )
    parsed = valid.where(F.col("event_type") == event_type).select(
        F.from_json("flat_json", schema).alias("e"), "_payload_sha256", "_ingested_at", "dt"
    )
    return parsed.select(
        *[F.col(f"e.{name}").alias(name) for name in ENVELOPE_FIELDS if name != "occurred_at"],
        F.to_timestamp(F.col("e.occurred_at")).alias("occurred_at"),
        *[F.col(f"e.{name}").alias(name) for name, _ in payload_columns],
        F.col("e.extra").alias("extra"),  # JSON of the fields the contract does not know (additive), or null
        "_payload_sha256",
        "_ingested_at",
        "dt",
    )


def quarantine_from_rejects(rejected: DataFrame, quarantined_at: F.Column | None = None) -> DataFrame:
    return rejected.select(
        "event_id", "event_type", "tenant_id",
        F.lit("silver").alias("stage"),
        "reason", "detail",
        F.col("_raw_record").alias("raw_record"),
        (quarantined_at if quarantined_at is not None else F.current_timestamp()).alias("quarantined_at"),
        "dt",
    )


def quarantine_from_landing_errors(error_lines: DataFrame, quarantined_at: F.Column | None = None) -> DataFrame:
    """``raw/errors`` lines (local or Firehose format) -> quarantine rows with stage ``landing``."""

    @F.udf(ERROR_SCHEMA)
    def normalise(line: str):
        return normalise_error_line(line)

    parsed = error_lines.where(F.length(F.trim("value")) > 0).select(
        normalise("value").alias("err"), F.regexp_extract("_source_file", ERRORS_DT_PATTERN, 1).alias("dt")
    )
    # A record delivered twice fails twice; keep one (same bytes, same reason, same day).
    parsed = parsed.select(
        "err", "dt", F.col("err.raw_record").alias("_raw"), F.col("err.reason").alias("_reason")
    ).dropDuplicates(["_raw", "_reason", "dt"])
    envelope = F.from_json("err.raw_record", BRONZE_ENVELOPE)
    return parsed.select(
        envelope.event_id.alias("event_id"),
        envelope.event_type.alias("event_type"),
        envelope.tenant_id.alias("tenant_id"),
        F.lit("landing").alias("stage"),
        F.col("err.reason").alias("reason"),
        F.col("err.detail").alias("detail"),
        F.col("err.raw_record").alias("raw_record"),
        (quarantined_at if quarantined_at is not None else F.current_timestamp()).alias("quarantined_at"),
        "dt",
    )


# ---------------------------------------------------------------- I/O around the functions


# Given the window's ~3k raw files by name, Spark lists them with a Spark job of one task per file (more
# than spark.sql.sources.parallelPartitionDiscovery.threshold = 32 paths): 46 s of the 47 s bronze phase at
# medium. So the read names the window's partition directories instead (≤ 10 event types × window days),
# listed recursively on the driver (one LIST per directory here and on S3).
PARTITION_DIR = re.compile(r"^(.*/dt=[0-9]{4}-[0-9]{2}-[0-9]{2})/")
DRIVER_LISTING_MAX_PATHS = 1024
# Spark also packs small files into read tasks as if each cost 4 MB to open (spark.sql.files.openCostInBytes), so
# a window of ~3k raw files of a few KB became ~90 tasks, each writing its own tiny bronze Parquet file per
# (event_type, dt) it touched: the many tasks and files, not the bytes, were most of the bronze phase.
# Opening a small local or S3 object costs about as much as reading ~64 KB of it, so that is what we count;
# the split size then follows the bytes (total / cores), and a big cluster still gets one task per core.
RAW_FILE_OPEN_COST_BYTES = 64 * 1024


@contextmanager
def _small_file_packing(spark: SparkSession):
    """Plan and run the raw reads inside with the small-file open cost; the session's value is restored."""
    settings = {"spark.sql.files.openCostInBytes": str(RAW_FILE_OPEN_COST_BYTES),
                "spark.sql.sources.parallelPartitionDiscovery.threshold": str(DRIVER_LISTING_MAX_PATHS)}
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def _partition_dirs(files: list[str]) -> list[str]:
    """The ``.../dt=YYYY-MM-DD`` directories holding ``files`` (a file outside one is named as it is)."""
    dirs = set()
    for name in files:
        match = PARTITION_DIR.match(name)
        dirs.add(match.group(1) if match else name)
    return sorted(dirs)


def _read_lines(spark: SparkSession, files: list[str], suffix: str = "") -> DataFrame:
    """The lines of ``files`` (listed by ``_window_files``), read through their partition directories:
    every file under them ending in ``suffix`` (hidden ones excluded, as in the listing)."""
    if not files:
        schema = T.StructType([T.StructField("value", T.StringType()), T.StructField("_source_file", T.StringType())])
        return spark.createDataFrame([], schema)
    reader = spark.read.option("recursiveFileLookup", "true")
    if suffix:
        reader = reader.option("pathGlobFilter", f"*{suffix}")
    return reader.text(_partition_dirs(files)).withColumn("_source_file", F.input_file_name())


def _window_files(root: str, dts: list[str], errors: bool) -> list[str]:
    files: list[str] = []
    if errors:
        for day in dts:
            files += lake_io.list_files(f"{root}/errors/dt={day}", suffix="")
        return files
    for event_type in EVENT_TYPES:
        for day in dts:
            files += lake_io.list_files(f"{root}/events/event_type={event_type}/dt={day}", suffix=".jsonl")
    return files


def silver_history(spark: SparkSession, silver_root: str, before: str) -> DataFrame | None:
    """(``_key``, ``_payload_sha256``) of every silver row in partitions older than ``before``."""
    parts = []
    for event_type in EVENT_TYPES:
        uri = f"{silver_root}/{event_type}"
        if not lake_io.list_files(uri, ".parquet"):
            continue
        table = spark.read.parquet(uri).where(F.col("dt") < before)
        sha = F.col("_payload_sha256") if "_payload_sha256" in table.columns else F.lit(None).cast("string")
        parts.append(table.select(
            F.concat_ws(KEY_SEPARATOR, "tenant_id", "event_type", "event_id").alias("_key"), sha.alias("_payload_sha256")))
    if not parts:
        return None
    history = parts[0]
    for part in parts[1:]:
        history = history.unionByName(part)
    return history


def run(run_date: str, *, lookback_days: int = LOOKBACK_DAYS, spark: SparkSession | None = None) -> dict:
    """Rebuild bronze, silver and quarantine for the run's event-time window. Returns counts."""
    settings = get_settings()
    started = time.perf_counter()
    spark = spark or get_spark("bronze_to_silver")
    dts = window_dates(run_date, lookback_days)
    raw_root = settings.zone_uri("raw")
    bronze_uri = settings.table_uri("bronze", "events")
    event_files = _window_files(raw_root, dts, errors=False)
    error_files = _window_files(raw_root, dts, errors=True)
    log.info("bronze_to_silver %s: window %s..%s, %d raw files, %d error files",
             run_date, dts[0], dts[-1], len(event_files), len(error_files))

    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 2)
        mark = now

    phase("list_files")
    # Persisted so the raw files are read once: the bronze rows written are the rows validated. The cache
    # is filled by the write, inside the packing scope (the read's splits are planned when it first runs).
    raw_lines = 0
    with _small_file_packing(spark):  # the listing runs when the read is defined, the splits when it first runs
        bronze = raw_lines_to_bronze(_read_lines(spark, event_files, ".jsonl")).persist()
        if event_files:
            write_partitions(bronze, bronze_uri, ["event_type", "dt"])
            raw_lines = bronze.count()
    phase("bronze")

    history = silver_history(spark, settings.zone_uri("silver"), dts[0])
    if history is not None:
        # Cut the lineage to the silver files. A write to a path makes Spark re-cache every cached plan
        # that reads that path (CacheManager.recacheByPath), so with `validated` reading silver history
        # each silver write below re-ran the whole validation and history join once more (≈ 6 s per table
        # on a medium lake with history, 48 of 83 s of the stage).
        history = history.localCheckpoint()
    validated = dedupe(validate(bronze), history).persist()
    stats = validated.groupBy("ok", "_is_duplicate", "event_type").agg(F.count("*").alias("n")).collect()
    duplicates = sum(row["n"] for row in stats if row["_is_duplicate"])
    silver_counts = {row["event_type"]: row["n"] for row in stats if row["ok"] and not row["_is_duplicate"]}
    unique = validated.where(~F.col("_is_duplicate"))
    phase("validate_dedupe")
    # One table after another. Writing them from a thread pool (to overlap their fixed per-job costs) failed
    # intermittently when a run followed other stages in the same session (make run's day loop, the e2e
    # test): a task reopened a partition file it had closed (FileAlreadyExistsException). Likely the
    # re-cache above (each write re-planned `validated` while other writes read it), not proven: serial
    # writes never failed, so they stay.
    for event_type in sorted(silver_counts):
        write_partitions(silver_for(unique.where("ok"), event_type), settings.table_uri("silver", event_type), ["dt"])
    phase("silver")

    with _small_file_packing(spark):
        quarantine = quarantine_from_rejects(unique.where(~F.col("ok"))).unionByName(
            quarantine_from_landing_errors(_read_lines(spark, error_files))
        ).persist()
        by_reason = {(row["stage"], row["reason"]): row["n"] for row in
                     quarantine.groupBy("stage", "reason").agg(F.count("*").alias("n")).collect()}
    quarantined_silver = sum(n for (stage, _), n in by_reason.items() if stage == "silver")
    quarantined_landing = sum(n for (stage, _), n in by_reason.items() if stage == "landing")
    if by_reason:
        write_partitions(quarantine.select(*QUARANTINE_COLUMNS), settings.table_uri("quarantine", "events"), ["dt"])
    validated.unpersist()
    quarantine.unpersist()
    bronze.unpersist()
    phase("quarantine")

    silver_rows = sum(silver_counts.values())
    result = {
        "window": f"{dts[0]}..{dts[-1]}",
        "raw_files": len(event_files),
        "raw_lines": raw_lines,
        "duplicates_removed": duplicates,
        "silver_rows": silver_rows,
        "silver_by_type": silver_counts,
        "quarantined": quarantined_silver + quarantined_landing,
        "quarantined_silver": quarantined_silver,
        "quarantined_landing": quarantined_landing,
        "quarantine_by_reason": {f"{stage}:{reason}": n for (stage, reason), n in sorted(by_reason.items())},
        "reconciled": raw_lines == silver_rows + quarantined_silver + duplicates,
        "seconds": round(time.perf_counter() - started, 1),
        "phase_seconds": phases,
    }
    if not result["reconciled"]:
        raise RuntimeError(f"bronze_to_silver counts do not reconcile: {result}")
    log.info("bronze_to_silver %s: %s", run_date, result)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="raw → bronze → silver + quarantine for one run date")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--lookback-days", type=int, default=LOOKBACK_DAYS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(run(args.run_date, lookback_days=args.lookback_days), indent=2))


if __name__ == "__main__":
    main()

"""Gold profile texts → gold/embeddings, incrementally: a document is embedded once per
(entity_id, content_hash, model_version) — an unchanged resume or job is never re-embedded.

The encoder runs in an iterator pandas UDF, so each Python worker loads the model once (and keeps it
across tasks: `get_encoder` is cached per process). New vectors are appended to
`gold/embeddings/entity_type=<candidate|job>/`; readers take the newest row per key, so a re-run
(or a half-finished earlier run) never yields duplicates downstream.

Encoder: `--encoder` / env `EMBEDDING_ENCODER` (minilm | static | hashing), default minilm.

CLI: python -m spark_jobs.embed --run-date 2026-11-22 [--encoder hashing]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Iterator

import pandas as pd

from spark_jobs._lake import check_run_date, read_table, table_uri, utc_now

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "minilm"
SIDES = ("candidate", "job")
EMBEDDINGS_DDL = (
    "tenant_id string, entity_id string, content_hash string, model_version string, vector array<float>, "
    "embedded_at timestamp, entity_type string"
)
TEXTS_DDL = "tenant_id string, entity_id string, content_hash string, text string, entity_type string, run_date string"
KEY = ["tenant_id", "entity_id", "content_hash", "model_version"]


def encoder_name(encoder: str | None = None) -> str:
    return encoder or os.environ.get("EMBEDDING_ENCODER") or DEFAULT_ENCODER


def make_embed_udf(name: str, batch_size: int = 64):
    """Iterator pandas UDF text → array<float>; the model is loaded once per worker process."""
    from pyspark.sql.functions import pandas_udf

    # (Iterator and pd are module globals: Spark resolves these string annotations there.)

    @pandas_udf("array<float>")
    def embed(texts: Iterator[pd.Series]) -> Iterator[pd.Series]:
        from matching.embeddings import get_encoder

        encoder = get_encoder(name)  # cached in the worker: loaded once, reused by every batch and task
        for batch in texts:
            vectors = encoder.encode(batch.fillna("").tolist(), batch_size=batch_size)
            yield pd.Series(list(vectors))

    return embed


def pending_texts(texts, existing, model_version: str):
    """Texts whose (tenant, entity, content_hash) has no vector of ``model_version`` yet."""
    from pyspark.sql import functions as F

    keys = ["entity_type", "tenant_id", "entity_id", "content_hash"]
    done = existing.where(F.col("model_version") == model_version).select(*keys)
    return texts.join(done, keys, "left_anti").dropDuplicates(keys)


def embed_texts(pending, name: str, model_version: str, embedded_at, partitions: int | None = None):
    """Pure DataFrame function: pending texts → embedding rows (contract columns + entity_type)."""
    from pyspark.sql import functions as F

    if partitions:
        pending = pending.repartition(partitions)
    return pending.select(
        "tenant_id",
        "entity_id",
        "content_hash",
        F.lit(model_version).alias("model_version"),
        make_embed_udf(name)(F.col("text")).alias("vector"),
        F.lit(embedded_at).cast("timestamp").alias("embedded_at"),
        "entity_type",
    )


def latest_embeddings(embeddings):
    """One row per (tenant, entity, content_hash, model_version): the newest, whatever re-runs appended."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    newest = Window.partitionBy(*KEY, "entity_type").orderBy(F.col("embedded_at").desc())
    return embeddings.withColumn("_n", F.row_number().over(newest)).where("_n = 1").drop("_n")


def read_embeddings(spark):
    return read_table(spark, table_uri("gold", "embeddings"), EMBEDDINGS_DDL)


def vectors_for(profiles, embeddings, side: str, model_version: str):
    """Profiles of one side joined to the vector of their current content hash under ``model_version``."""
    from pyspark.sql import functions as F

    id_col = "candidate_id" if side == "candidate" else "job_id"
    vectors = latest_embeddings(
        embeddings.where((F.col("entity_type") == side) & (F.col("model_version") == model_version))
    ).select("tenant_id", F.col("entity_id").alias(id_col), "content_hash", "vector")
    return profiles.join(vectors, ["tenant_id", id_col, "content_hash"], "left")


def run(run_date: str, encoder: str | None = None, spark=None) -> dict:
    """Embed the run date's new or changed texts; returns counts and the docs/s actually achieved."""
    from pyspark.sql import functions as F

    from matching.embeddings import get_encoder
    from spark_jobs.session import get_spark

    check_run_date(run_date)
    name = encoder_name(encoder)
    spark = spark or get_spark("embed")
    started = time.perf_counter()
    model_version = get_encoder(name).model_version
    texts = read_table(spark, table_uri("gold", "profile_texts"), TEXTS_DDL).where(
        F.col("run_date").cast("string") == run_date
    )
    existing = read_embeddings(spark)
    pending = pending_texts(texts, existing, model_version).cache()
    counts = {"encoder": name, "model_version": model_version}
    total = texts.count()
    todo = pending.count()
    if todo:
        rows = embed_texts(
            pending, name, model_version, utc_now().replace(tzinfo=None),
            partitions=min(todo, spark.sparkContext.defaultParallelism),
        )  # fmt: skip
        rows.write.mode("append").partitionBy("entity_type").parquet(table_uri("gold", "embeddings"))
    seconds = time.perf_counter() - started
    pending.unpersist()
    counts.update(
        texts=total,
        embedded=todo,
        unchanged_skipped=total - todo,
        # the run summary's per-stage vocabulary: texts embedded now vs vectors kept from before
        # (build_profiles hands over the MiniLM vectors it computed for new documents)
        reprocessed=todo,
        carried_forward=total - todo,
        docs_per_s=round(todo / seconds, 1) if todo else None,
        seconds=round(seconds, 1),
    )
    log.info("embeddings for %s: %s", run_date, counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Embed new/changed profile texts for one run date")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--encoder", default=None, help="minilm | static | hashing (env EMBEDDING_ENCODER)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(run(args.run_date, encoder=args.encoder), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Exact hybrid top-K, both directions, with blocked GEMM inside Spark (never a row-wise crossJoin).

How: the tenant's open jobs are turned into features + the kernel's float32 operands once on the
driver and broadcast; candidates are spread over the
cluster and each mapInPandas task scores its candidate batch against its tenant's jobs with
`matching.fast_topk.topk_both` (float32 sgemm screen per block + exact re-score near each K-th). That yields every candidate's
complete top-K jobs, and each job's top-K within the batch; a window over (tenant, job) reduces
those partial lists to the exact job → candidate top-K. Tenants never meet (features are built and
scored per tenant), closed jobs are never scored. Explanations (matched / missing skills) are added
only to the final top-K rows.

Output: gold/matches/run_id=<run_date>T<weights_version>/ (overwritten on re-run: idempotent) and the
run's ledger row in gold/match_runs with status `pending` — the quality gate audits it next.

CLI: python -m spark_jobs.match --run-date 2026-11-22 [--k 20] [--encoder minilm]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from functools import partial

import numpy as np

from spark_jobs import _runs
from spark_jobs._hybrid import COMPONENTS, LISTS_DDL, MATCH_DDL
from spark_jobs._lake import check_run_date, read_profiles, replace_partition, table_uri

log = logging.getLogger(__name__)

DEFAULT_K = 20
DEFAULT_BLOCK_SIZE = 1024
SCORED_DDL = MATCH_DDL
EXPLAIN_DDL = "matched_skills array<string>, missing_essential array<string>, missing_optional array<string>"
GOLD_MATCHES_DDL = f"{SCORED_DDL}, {EXPLAIN_DDL}, weights_version string, model_version string, run_date string, run_id string"


def _split_arrow(table):
    """Arrow table with a ``vector`` list column → (profile columns as pandas, (n, d) float32 vectors).

    Equal-length lists (every embedding of a model) are read as one flat buffer, without a Python
    object per row.
    """
    meta = table.drop_columns(["vector"]).to_pandas()
    column = table.column("vector").combine_chunks()
    n = len(column)
    if not n:
        return meta, np.zeros((0, 1), dtype=np.float32)
    offsets = np.asarray(column.offsets)
    lengths = np.diff(offsets)
    if column.null_count == 0 and (lengths == lengths[0]).all():
        flat = np.asarray(column.values.slice(offsets[0], offsets[-1] - offsets[0]), dtype=np.float32)
        return meta, np.ascontiguousarray(flat.reshape(n, int(lengths[0])))
    return meta, np.stack([np.asarray(v, dtype=np.float32) for v in column.to_pylist()])


def job_side_by_tenant(jobs, weights_version: str | None = None) -> dict:
    """Driver side, once per run: each tenant's open jobs → (job ids, FeatureMatrix, JobSide).

    ``jobs``: an Arrow table of profile columns + ``vector``. The job features are built here once;
    the kernel's tables are built by each worker on first use (not shipped).
    """
    from spark_jobs._hybrid import features, job_side, weights_for

    _, weights = weights_for(weights_version)
    meta, vectors = _split_arrow(jobs)
    side = {}
    for tenant, group in meta.groupby("tenant_id", sort=True):
        group = group.sort_values("job_id", kind="stable")
        fm = features(group, vectors[group.index.to_numpy()], "job")
        side[tenant] = (group["job_id"].to_numpy(dtype=object), fm, job_side(fm, weights))
    return side


def _score_arrow(batches, *, jobs_bc, k: int, weights_version: str, block_size: int):
    """mapInArrow body: the whole partition at once (one scoring pass per tenant, so each job's lower
    bound keeps rising over all of the partition's candidates), one tenant at a time."""
    import pyarrow as pa

    from spark_jobs._hybrid import features, score_block, weights_for

    _, weights = weights_for(weights_version)
    tenants = jobs_bc.value
    started = time.perf_counter()
    batches = list(batches)
    if not batches or not sum(b.num_rows for b in batches):
        return
    meta, vectors = _split_arrow(pa.Table.from_batches(batches))
    read = time.perf_counter() - started
    for tenant, group in meta.groupby("tenant_id", sort=True):
        if tenant not in tenants:
            continue  # no open job in this tenant: nothing to score, never another tenant's jobs
        job_ids, job_fm, side = tenants[tenant]
        # id order: the kernel's index tie-break == the final (score, candidate_id) order
        group = group.sort_values("candidate_id", kind="stable")
        t0 = time.perf_counter()
        cand_fm = features(group, vectors[group.index.to_numpy()], "candidate")
        t1 = time.perf_counter()
        out = score_block(tenant, group["candidate_id"].to_numpy(dtype=object), cand_fm, job_ids, job_fm, k,
                          weights, block_size, side)  # fmt: skip
        t2 = time.perf_counter()
        log.info("tenant %s: %d candidates x %d jobs; read %.2fs, features %.2fs, scoring %.2fs",
                 tenant, len(group), len(job_ids), read, t1 - t0, t2 - t1)  # fmt: skip
        yield from out.to_batches()


def _scoring_columns(frame, id_col: str) -> list[str]:
    """The columns the scoring reads: the id, the vector and the fields features are built from (the
    explain-only columns — labels, occupation, … — stay out of the row → Arrow conversion)."""
    from matching.features import FEATURE_FIELDS

    wanted = {id_col, "vector", *FEATURE_FIELDS}
    return [c for c in frame.columns if c in wanted]


def hybrid_topk(
    candidates, jobs, k: int, weights_version: str, block_size: int = DEFAULT_BLOCK_SIZE, partitions=None,
    timings: dict | None = None,
):
    """Candidates and jobs (profile columns + `vector`) → exact top-K rows, both directions.

    Pure DataFrame → DataFrame (the job side is collected once and broadcast: fine up to ~10^5-10^6
    jobs per run; beyond that see docs/spark_and_serving.md for ANN candidate generation).
    ``timings``, when given, receives ``job_side_seconds`` and ``scoring_seconds`` (the pair scoring
    alone — the part an incremental match could shrink; docs/scaling.md).
    """
    from pyspark.sql import functions as F

    spark = candidates.sparkSession
    started = time.perf_counter()
    open_jobs = jobs.where(F.col("job_status") == "open").select(*_scoring_columns(jobs, "job_id")).toArrow()
    jobs_bc = spark.sparkContext.broadcast(job_side_by_tenant(open_jobs, weights_version))
    job_side_done = time.perf_counter()
    partitions = partitions or spark.sparkContext.defaultParallelism
    body = partial(
        _score_arrow, jobs_bc=jobs_bc, k=k, weights_version=weights_version, block_size=block_size
    )  # fmt: skip
    # one partition per task slot: a shuffle only when there are fewer (it costs ~as much as the
    # scoring), a merge when there are more (each partition restarts the jobs' lower bounds)
    candidates = candidates.select(*_scoring_columns(candidates, "candidate_id"))
    have = candidates.rdd.getNumPartitions()
    if have < partitions:
        candidates = candidates.repartition(partitions)
    elif have > partitions:
        candidates = candidates.coalesce(partitions)
    # candidate → job lists are complete per candidate; job → candidate lists are per-partition partial
    # lists, merged per job below. The scored lists (one row per owner) are checkpointed locally so the
    # scoring runs once (measured: a columnar persist costs ~8x more; executors keep their blocks)
    scored = candidates.mapInArrow(body, LISTS_DDL).localCheckpoint(eager=True)
    if timings is not None:
        timings.update(job_side_seconds=round(job_side_done - started, 2),
                       scoring_seconds=round(time.perf_counter() - job_side_done, 2))
    is_j2c = F.col("direction") == "job_to_candidate"
    # a job's partial lists → one array of (-score, candidate, …) sorted ascending: score desc, then
    # candidate_id asc (the kernel's order; -0.0 and 0.0 compare equal), first k kept
    entries = F.arrays_zip(
        F.transform("scores", lambda score: -score).alias("neg_score"),
        F.col("other_ids").alias("other_id"),
        F.col("scores").alias("score"),
        *[F.col(name).alias(name) for name in COMPONENTS],
    )
    merged = (
        scored.where(is_j2c)
        .groupBy("tenant_id", "direction", "owner_id")
        .agg(F.slice(F.array_sort(F.flatten(F.collect_list(entries))), 1, k).alias("ranked"))
    )
    job_rows = _explode(merged, "ranked", owner="job_id", other="candidate_id")
    cand_rows = _explode(
        scored.where(~is_j2c).select("tenant_id", "direction", "owner_id", entries.alias("ranked")),
        "ranked", owner="candidate_id", other="job_id",
    )  # fmt: skip
    return cand_rows.unionByName(job_rows)


def _explode(lists, column: str, owner: str, other: str):
    """Ranked list rows (tenant_id, direction, owner_id, array of entries) → one match row per entry."""
    from pyspark.sql import functions as F

    rows = lists.select("tenant_id", "direction", "owner_id", F.posexplode(column).alias("position", "entry"))
    return rows.select(
        "tenant_id",
        "direction",
        F.col("owner_id" if owner == "candidate_id" else "entry.other_id").alias("candidate_id"),
        F.col("owner_id" if owner == "job_id" else "entry.other_id").alias("job_id"),
        (F.col("position") + 1).cast("int").alias("rank"),
        F.col("entry.score").alias("score"),
        *[F.col(f"entry.{name}").alias(name) for name in COMPONENTS],
    )


def _explain_batches(batches):

    from matching.explain import explain_pair

    for batch in batches:
        out = {"matched_skills": [], "missing_essential": [], "missing_optional": []}
        for cand_json, job_json in zip(batch["_cand"], batch["_job"], strict=True):
            why = explain_pair(json.loads(cand_json), json.loads(job_json))
            for name in out:
                out[name].append([str(x) for x in (why.get(name) or [])])
        frame = batch.drop(columns=["_cand", "_job"])
        for name, values in out.items():
            frame[name] = values
        yield frame


def explain(matches, candidate_profiles, job_profiles):
    """Add matched / missing skill labels to each top-K row (profiles travel as JSON to the worker)."""
    from pyspark.sql import functions as F

    def as_json(df, id_col, alias):
        cols = [c for c in df.columns if c not in ("vector", "run_date")]
        return df.select("tenant_id", id_col, F.to_json(F.struct(*cols)).alias(alias))

    joined = matches.join(
        as_json(candidate_profiles, "candidate_id", "_cand"), ["tenant_id", "candidate_id"]
    ).join(as_json(job_profiles, "job_id", "_job"), ["tenant_id", "job_id"])
    ddl = f"{SCORED_DDL}, {EXPLAIN_DDL}"
    return joined.select(*[c.split()[0] for c in SCORED_DDL.split(", ")], "_cand", "_job").mapInPandas(
        _explain_batches, ddl
    )


def covering_model_version(embeddings, candidate_profiles, job_profiles) -> str | None:
    """The model whose vectors cover most of the run's profiles (newest wins a tie).

    So `match` uses whatever encoder `embed` ran with, without loading a model on the driver.
    """
    from pyspark.sql import functions as F

    keys = (
        candidate_profiles.select("tenant_id", F.col("candidate_id").alias("entity_id"), "content_hash")
        .withColumn("entity_type", F.lit("candidate"))
        .unionByName(
            job_profiles.select("tenant_id", F.col("job_id").alias("entity_id"), "content_hash").withColumn(
                "entity_type", F.lit("job")
            )
        )
    )
    ranked = (
        embeddings.join(keys, ["entity_type", "tenant_id", "entity_id", "content_hash"])
        .groupBy("model_version")
        .agg(
            F.countDistinct("entity_type", "tenant_id", "entity_id").alias("covered"),
            F.max("embedded_at").alias("newest"),
        )
        .orderBy(F.col("covered").desc(), F.col("newest").desc())
        .first()
    )
    return ranked["model_version"] if ranked else None


def with_vectors(profiles, embeddings, side: str, model_version: str):
    """Profiles joined to their current vector; those without one are left out (and counted)."""
    from spark_jobs.embed import vectors_for

    return vectors_for(profiles, embeddings, side, model_version)


def run(
    run_date: str,
    k: int = DEFAULT_K,
    encoder: str | None = None,
    weights_version: str | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    spark=None,
) -> dict:
    """Match the run date's profiles; writes gold/matches for the run and a `pending` ledger row."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from matching.embeddings import get_encoder
    from spark_jobs._hybrid import weights_for
    from spark_jobs.embed import encoder_name, read_embeddings
    from spark_jobs.session import get_spark

    check_run_date(run_date)
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    spark = spark or get_spark("match")
    started = time.perf_counter()
    weights_version, _ = weights_for(weights_version)
    run_id = _runs.make_run_id(run_date, weights_version)
    embeddings = read_embeddings(spark)
    cand_profiles = read_profiles(spark, "candidate", run_date)
    job_profiles = read_profiles(spark, "job", run_date)
    if encoder or os.environ.get("EMBEDDING_ENCODER"):
        model_version = get_encoder(encoder_name(encoder)).model_version
    else:
        model_version = covering_model_version(embeddings, cand_profiles, job_profiles)
    cands = with_vectors(cand_profiles, embeddings, "candidate", model_version).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    jobs = with_vectors(job_profiles, embeddings, "job", model_version).persist(StorageLevel.MEMORY_AND_DISK)
    n_cands = cands.count()
    cands_ready = cands.where(F.col("vector").isNotNull())
    jobs_ready = jobs.where(F.col("vector").isNotNull() & (F.col("job_status") == "open"))
    missing = {
        "candidates_without_vector": cands.where(F.col("vector").isNull()).count(),
        "open_jobs_without_vector": jobs.where(
            F.col("vector").isNull() & (F.col("job_status") == "open")
        ).count(),
    }
    per_tenant = (
        cands_ready.groupBy("tenant_id").count().withColumnRenamed("count", "c")
        .join(jobs_ready.groupBy("tenant_id").count().withColumnRenamed("count", "j"), "tenant_id")
        .collect()
    )  # fmt: skip
    pairs_scored = int(sum(r.c * r.j for r in per_tenant))

    timings: dict = {}
    top = hybrid_topk(
        cands_ready.drop("run_date"), jobs_ready.drop("run_date"), k, weights_version, block_size,
        timings=timings,
    )
    rows = (
        explain(top, cand_profiles, job_profiles)
        .withColumn("weights_version", F.lit(weights_version))
        .withColumn("model_version", F.lit(model_version))
        .withColumn("run_date", F.lit(run_date))
        .withColumn("run_id", F.lit(run_id))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    by_direction = {r.direction: r["count"] for r in rows.groupBy("direction").count().collect()}
    written = sum(by_direction.values())
    replace_partition(rows.coalesce(4), table_uri("gold", "matches"), ["run_id"], {"run_id": run_id}, written)
    if written:
        _runs.register_run_partition("matches", run_id)
    _runs.write_run(
        spark,
        {
            "run_id": run_id, "run_date": run_date, "weights_version": weights_version,
            "model_version": model_version, "candidates": n_cands, "jobs": jobs.count(), "k": k,
            "pairs_scored": pairs_scored, "matches_written": written, "status": "pending",
            "status_detail": "awaiting quality gate",
        },
    )  # fmt: skip
    spark.catalog.clearCache()
    seconds = time.perf_counter() - started
    counts = {
        "run_id": run_id,
        "candidates": n_cands,
        "open_jobs_scored": int(sum(r.j for r in per_tenant)),
        "tenants": len(per_tenant),
        "pairs_scored": pairs_scored,
        # every run re-scores in full: the pair scoring is the only part an incremental match could
        # shrink, and it is a minor share of the stage (scoring_seconds vs seconds, measured by
        # make bench-pipeline) while a day's closed jobs alone (≥ 2 %) reopen a third of
        # the top-20 lists (1 − 0.98^20)
        # (docs/scaling.md, "match: full re-score or incremental")
        "processed": n_cands,
        "carried_forward": 0,
        **timings,
        "candidate_to_job_rows": by_direction.get("candidate_to_job", 0),
        "job_to_candidate_rows": by_direction.get("job_to_candidate", 0),
        **missing,
        "k": k,
        "model_version": model_version,
        "seconds": round(seconds, 1),
    }
    log.info("match run %s: %s", run_id, counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Exact hybrid top-K matching for one run date")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--k", type=int, default=DEFAULT_K)
    parser.add_argument("--encoder", default=None, help="which embeddings to use (env EMBEDDING_ENCODER)")
    parser.add_argument("--block-size", type=int, default=DEFAULT_BLOCK_SIZE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(
        json.dumps(run(args.run_date, k=args.k, encoder=args.encoder, block_size=args.block_size), indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

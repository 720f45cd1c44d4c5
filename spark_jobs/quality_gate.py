"""Audit step of write-audit-publish: Great Expectations checkpoints on a match run before publish.

Checked on the run's Spark DataFrames (nothing is collected to the driver):
  profiles     keys not null and unique per tenant, scores/years/salaries in range, status vocabulary
  embeddings   every profile has a vector of the run's model, of the model's dimension, unit length
  matches      keys not null, direction vocabulary, rank 1..K, score and components in [0, 1],
               one row per (direction, tenant, candidate, job), only open jobs of the same tenant
  per entity   at most K rows, ranks contiguous 1..n, score never increases with rank
  vs silver    every candidate/job silver names up to the run date has a profile of the run, is
               quarantined with a reason, or (candidate) never uploaded a resume; no profile of an
               entity silver does not know (spark_jobs.silver_reconcile, measured from both tables)
Pass → the ledger row becomes `audited` (publish may run). Fail → `blocked`, and
`QualityGateFailed` carries every failed expectation; the publish stage refuses a blocked run.

CLI: python -m spark_jobs.quality_gate --run-date 2026-11-22
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass

from spark_jobs import _runs
from spark_jobs._lake import check_run_date, read_profiles
from spark_jobs.silver_reconcile import SIDES, reconcile_profiles

log = logging.getLogger(__name__)

COMPONENT_COLUMNS = ("semantic", "skills", "experience", "location", "salary")
REMOTE_VALUES = ["onsite", "hybrid", "remote"]


class QualityGateFailed(RuntimeError):
    """The run failed its audit; ``failures`` lists every failed expectation."""

    def __init__(self, run_id: str, failures: list[dict]):
        self.run_id = run_id
        self.failures = failures
        summary = "; ".join(
            f.get("message") or f"{f['dataset']}: {f['expectation']}({f.get('column') or ''})"
            for f in failures[:10]
        )
        more = f" (+{len(failures) - 10} more)" if len(failures) > 10 else ""
        super().__init__(
            f"quality gate failed for run {run_id}: {len(failures)} expectation(s): {summary}{more}"
        )


@dataclass
class Dataset:
    name: str
    df: object  # pyspark DataFrame
    expectations: list


# ---------------------------------------------------------------- derived audit frames (pure functions)


def entity_rank_audit(matches):
    """Per (direction, tenant, entity): row count, max rank and score-order violations."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    entity = F.when(F.col("direction") == "candidate_to_job", F.col("candidate_id")).otherwise(
        F.col("job_id")
    )
    keyed = matches.withColumn("_entity", entity)
    by_rank = Window.partitionBy("direction", "tenant_id", "_entity").orderBy("rank")
    previous = F.lag("score").over(by_rank)
    flagged = keyed.withColumn(
        "_rises",
        F.when(previous.isNotNull() & F.col("score").isNotNull() & (F.col("score") > previous + 1e-9), 1),
    )
    return flagged.groupBy("direction", "tenant_id", "_entity").agg(
        F.count("*").alias("rows"),
        F.max("rank").alias("max_rank"),
        F.countDistinct("rank").alias("distinct_ranks"),
        F.coalesce(F.sum("_rises"), F.lit(0)).alias("score_rises_with_rank"),
        (F.max("rank") - F.count("*")).alias("rank_gap"),
    )


def entity_coverage_audit(rank_audit, candidate_profiles, job_profiles, k: int):
    """Every candidate and open job of the run with `expected_rows` = min(K, partners in its tenant).

    An entity that should have matches but got none shows up with rows = 0, so a silently dropped
    candidate fails the gate instead of vanishing.
    """
    from pyspark.sql import functions as F

    open_jobs = job_profiles.where(F.col("job_status") == "open")
    n_jobs = open_jobs.groupBy("tenant_id").agg(F.count("*").alias("partners"))
    n_cands = candidate_profiles.groupBy("tenant_id").agg(F.count("*").alias("partners"))
    expected = (
        candidate_profiles.select("tenant_id", F.col("candidate_id").alias("_entity"))
        .withColumn("direction", F.lit("candidate_to_job"))
        .join(n_jobs, "tenant_id", "left")
        .unionByName(
            open_jobs.select("tenant_id", F.col("job_id").alias("_entity"))
            .withColumn("direction", F.lit("job_to_candidate"))
            .join(n_cands, "tenant_id", "left")
        )
        .withColumn("expected_rows", F.least(F.lit(k), F.coalesce(F.col("partners"), F.lit(0))))
    )
    return (
        expected.join(rank_audit, ["direction", "tenant_id", "_entity"], "full_outer")
        .withColumn("rows", F.coalesce(F.col("rows"), F.lit(0)))
        .withColumn("expected_rows", F.coalesce(F.col("expected_rows"), F.lit(-1)))  # unknown entity: fails
        .withColumn("distinct_ranks", F.coalesce(F.col("distinct_ranks"), F.lit(0)))
        .withColumn("rank_gap", F.coalesce(F.col("rank_gap"), F.lit(0)))
        .withColumn("score_rises_with_rank", F.coalesce(F.col("score_rises_with_rank"), F.lit(0)))
    )


def match_partner_audit(matches, job_profiles, candidate_profiles):
    """Each match row with flags: its job is an open job of the same tenant; its candidate is profiled."""
    from pyspark.sql import functions as F

    jobs = job_profiles.select("tenant_id", "job_id", F.col("job_status").alias("_job_status"))
    cands = candidate_profiles.select("tenant_id", "candidate_id", F.lit(True).alias("_cand_known"))
    return (
        matches.join(jobs, ["tenant_id", "job_id"], "left")
        .join(cands, ["tenant_id", "candidate_id"], "left")
        .select(
            (F.coalesce(F.col("_job_status"), F.lit("missing")) == "open").alias("job_open_same_tenant"),
            F.coalesce(F.col("_cand_known"), F.lit(False)).alias("candidate_same_tenant"),
        )
    )


def embedding_audit(profiles, embeddings, side: str, model_version: str):
    """Each profile with its vector's presence, dimension and L2 norm (null vector → has_vector false)."""
    from pyspark.sql import functions as F

    from spark_jobs.embed import vectors_for

    joined = vectors_for(profiles, embeddings, side, model_version)
    return joined.select(
        F.col("vector").isNotNull().alias("has_vector"),
        F.size("vector").alias("dim"),
        F.sqrt(F.aggregate("vector", F.lit(0.0), lambda acc, x: acc + x * x)).alias("norm"),
    )


# ---------------------------------------------------------------- expectation suites


def _profile_expectations(side: str):
    import great_expectations.expectations as gxe

    id_col = "candidate_id" if side == "candidate" else "job_id"
    exps = [
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("tenant_id", id_col, "content_hash")],
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["tenant_id", id_col]),
        gxe.ExpectColumnValuesToBeBetween(column="occupation_score", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="years_experience", min_value=0, max_value=70),
        gxe.ExpectColumnValuesToBeInSet(column="remote", value_set=REMOTE_VALUES),
        gxe.ExpectColumnValuesToBeBetween(column="salary_min", min_value=0, max_value=10_000_000),
    ]
    if side == "job":
        exps += [
            gxe.ExpectColumnValuesToBeInSet(column="job_status", value_set=["open", "closed"]),
            gxe.ExpectColumnValuesToNotBeNull(column="job_status"),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="salary_max",
                column_B="salary_min",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ]
    return exps


def _embedding_expectations(dim: int | None):
    import great_expectations.expectations as gxe

    exps = [
        gxe.ExpectColumnValuesToBeInSet(column="has_vector", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="norm", min_value=0.99, max_value=1.01),
    ]
    if dim:
        exps.append(gxe.ExpectColumnValuesToBeBetween(column="dim", min_value=dim, max_value=dim))
    return exps


def _match_expectations(k: int):
    import great_expectations.expectations as gxe

    keys = ("tenant_id", "direction", "candidate_id", "job_id", "rank", "run_id")
    return [
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in keys],
        gxe.ExpectColumnValuesToBeInSet(
            column="direction", value_set=["candidate_to_job", "job_to_candidate"]
        ),
        gxe.ExpectColumnValuesToBeBetween(column="rank", min_value=1, max_value=k),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1) for c in COMPONENT_COLUMNS],
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["direction", "tenant_id", "candidate_id", "job_id"]),
    ]


def _entity_expectations(k: int):
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=0, max_value=k),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="rows", column_B="expected_rows"),
        gxe.ExpectColumnValuesToBeBetween(column="rank_gap", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="score_rises_with_rank", min_value=0, max_value=0),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="rows", column_B="distinct_ranks"),
    ]


def _partner_expectations():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(column="job_open_same_tenant", value_set=[True]),
        gxe.ExpectColumnValuesToBeInSet(column="candidate_same_tenant", value_set=[True]),
    ]


# ---------------------------------------------------------------- running the checkpoint


def pandas_max_rows() -> int:
    return int(os.environ.get("QUALITY_GATE_PANDAS_MAX_ROWS", "2000000"))


COLUMN_ARGUMENTS = ("column", "column_A", "column_B")


def columns_read(expectations) -> list[str] | None:
    """The columns a suite's expectations read, in first-use order; None when one of them reads the
    table as a whole (or names no column), so nothing may be projected away."""
    columns: list[str] = []
    for expectation in expectations:
        named = [getattr(expectation, a, None) for a in COLUMN_ARGUMENTS] + list(
            getattr(expectation, "column_list", None) or [])
        named = [c for c in named if c]
        if not named:
            return None
        columns += [c for c in named if c not in columns]
    return columns


def run_checkpoint(datasets: list[Dataset], pandas_limit: int | None = None) -> list[dict]:
    """One GX checkpoint per dataset (each validates its own DataFrame); returns the failed expectations.

    A dataset of at most ``pandas_limit`` rows is validated on GX's pandas engine (a count, one Spark
    job to collect it, then milliseconds per expectation); a bigger one stays on the Spark engine (one
    or more Spark jobs per metric, but nothing leaves the cluster). Same suites either way. Either
    engine sees only the columns the suite reads (``columns_read``): a match run's rows carry their
    explanations (skill lists), which no expectation reads and which made the 50k × 20k run's 1.4M
    rows overflow the driver's heap when collected whole.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    limit = pandas_max_rows() if pandas_limit is None else pandas_limit
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    sources = {
        "spark": context.data_sources.add_spark("lake_spark"),
        "pandas": context.data_sources.add_pandas("lake_pandas"),
    }
    failures: list[dict] = []
    for ds in datasets:
        df, engine = ds.df, "spark"
        columns = columns_read(ds.expectations)
        if columns is not None:
            df = df.select(*columns)
        # count, then collect everything in parallel: a limit(n) before the collect funnels every row
        # through one task (and one serialized result) first
        if limit > 0 and df.count() <= limit:
            df, engine = df.toPandas(), "pandas"
        log.info("validating %s on the %s engine", ds.name, engine)
        batch = sources[engine].add_dataframe_asset(ds.name).add_batch_definition_whole_dataframe("run")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{ds.name}_suite", expectations=ds.expectations))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=ds.name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(name=f"{ds.name}_gate", validation_definitions=[validation])
        )
        result = checkpoint.run(batch_parameters={"dataframe": df})
        for run_result in result.run_results.values():
            for er in run_result.results:
                if er.success:
                    continue
                cfg = er.expectation_config
                observed = {
                    k: er.result.get(k)
                    for k in ("observed_value", "unexpected_count", "partial_unexpected_list")
                }
                failures.append(
                    {
                        "dataset": ds.name,
                        "expectation": cfg.type,
                        "column": cfg.kwargs.get("column") or cfg.kwargs.get("column_list"),
                        "observed": {k: v for k, v in observed.items() if v not in (None, [])},
                        "exception": (er.exception_info or {}).get("exception_message"),
                    }
                )
    return failures


def build_datasets(spark, run_date: str, run: dict, k: int) -> list[Dataset]:
    from pyspark.sql import functions as F

    from spark_jobs.embed import read_embeddings

    cands = read_profiles(spark, "candidate", run_date).cache()
    jobs = read_profiles(spark, "job", run_date).cache()
    matches = _runs.read_run_matches(spark, run["run_id"]).withColumn("run_id", F.lit(run["run_id"]))
    matches = matches.cache()
    embeddings = read_embeddings(spark)
    model_version = run.get("model_version")
    dim = _model_dim(embeddings, model_version)
    return [
        Dataset("candidate_profiles", cands, _profile_expectations("candidate")),
        Dataset("job_profiles", jobs, _profile_expectations("job")),
        Dataset("candidate_embeddings", embedding_audit(cands, embeddings, "candidate", model_version), _embedding_expectations(dim)),
        Dataset("job_embeddings", embedding_audit(jobs, embeddings, "job", model_version), _embedding_expectations(dim)),
        Dataset("matches", matches, _match_expectations(k)),
        Dataset(
            "matches_per_entity",
            entity_coverage_audit(entity_rank_audit(matches), cands, jobs, k),
            _entity_expectations(k),
        ),
        Dataset("match_partners", match_partner_audit(matches, jobs, cands), _partner_expectations()),
    ]  # fmt: skip


def _model_dim(embeddings, model_version: str | None) -> int | None:
    from pyspark.sql import functions as F

    row = (
        embeddings.where(F.col("model_version") == model_version).select(F.size("vector").alias("d")).first()
    )
    return int(row["d"]) if row else None


def silver_reconciliation_failures(reconciled: dict) -> list[dict]:
    """Failures (in the gate's shape) for every side whose profiles do not reconcile against silver."""
    failures = []
    for side in SIDES:
        missing = reconciled[f"{side}s_missing"]
        unknown = reconciled[f"{side}_profiles_not_in_silver"]
        if missing:
            examples = reconciled[f"{side}s_missing_examples"]
            failures.append({
                "dataset": "profiles_vs_silver", "expectation": f"every_silver_{side}_profiled_or_quarantined",
                "column": None, "observed": {"unexpected_count": missing, "partial_unexpected_list": examples},
                "message": (f"profiles_vs_silver: {missing} {side}(s) of silver up to {reconciled['run_date']} have "
                            f"no profile and no quarantine reason, e.g. {examples}"),
            })  # fmt: skip
        if unknown:
            failures.append({
                "dataset": "profiles_vs_silver", "expectation": f"every_{side}_profile_in_silver", "column": None,
                "observed": {"unexpected_count": unknown},
                "message": f"profiles_vs_silver: {unknown} {side} profile(s) of an entity silver does not know",
            })  # fmt: skip
    return failures


def run(run_date: str, weights_version: str | None = None, spark=None) -> dict:
    """Audit the run of ``run_date``; raises QualityGateFailed (and blocks the run) on any failure."""
    from spark_jobs.session import get_spark

    check_run_date(run_date)
    spark = spark or get_spark("quality_gate")
    started = time.perf_counter()
    run_id = _runs.make_run_id(run_date, weights_version or _runs.default_weights_version())
    ledger = _runs.read_run(spark, run_id)
    if ledger is None:
        raise QualityGateFailed(
            run_id, [{"dataset": "match_runs", "expectation": "run_exists", "column": None}]
        )
    k = int(ledger.get("k") or _k_of(spark, run_id))
    datasets = build_datasets(spark, run_date, ledger, k)
    failures = run_checkpoint(datasets)
    reconciled = reconcile_profiles(spark, run_date)
    failures += silver_reconciliation_failures(reconciled)
    checked = sum(len(d.expectations) for d in datasets) + 2 * len(SIDES)
    spark.catalog.clearCache()
    if failures:
        _runs.set_status(spark, run_id, "blocked", json.dumps(failures, default=str)[:4000])
        for f in failures:
            log.error("quality gate ✗ %s", f)
        raise QualityGateFailed(run_id, failures)
    if ledger["status"] != "published":  # re-auditing a published run keeps it published
        _runs.set_status(spark, run_id, "audited", f"{checked} expectations passed")
    counts = {
        "run_id": run_id,
        "expectations": checked,
        "failed": 0,
        "datasets": len(datasets),
        "profiles_vs_silver": {k: v for k, v in reconciled.items() if not k.endswith("_examples")},
        "seconds": round(time.perf_counter() - started, 1),
    }
    log.info("quality gate passed: %s", counts)
    return counts


def _k_of(spark, run_id: str) -> int:
    """K of a run = the largest rank it wrote (the match stage's k)."""
    from pyspark.sql import functions as F

    matches = _runs.read_run_matches(spark, run_id)
    value = matches.agg(F.max("rank")).first()[0]
    return int(value or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Audit a match run before publish (Great Expectations)")
    parser.add_argument("--run-date", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        print(json.dumps(run(args.run_date), indent=2))
    except QualityGateFailed as exc:
        print(json.dumps({"status": "blocked", "failures": exc.failures}, indent=2, default=str))
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

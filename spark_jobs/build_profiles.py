"""Silver events + raw documents → gold candidate and job profiles (a full snapshot per run date).

Candidates: latest `candidate_registered` + latest `resume_uploaded` per (tenant, candidate) up to the
run date; the resume is read from raw/documents, turned into text and profiled by `matching/`.
Jobs: latest `job_posted`, with every later `job_updated` field applied (last non-null wins) and
`job_closed` → `job_status = closed`; text = title + description.
A document that cannot be read or profiled becomes a `quarantine/documents` row with its reason —
never a crash, never silent loss: seen = profiled + quarantined (+ candidates without a resume).

Outputs (partition `run_date=`, dynamic overwrite → idempotent):
  gold/candidate_profiles, gold/job_profiles   — docs/contracts.md columns
  gold/profile_texts/entity_type=<side>        — the text that was profiled (contact details redacted),
                                                 for the embed stage; not for analytics marts
  quarantine/documents/dt=<run_date>           — per-document errors

CLI: python -m spark_jobs.build_profiles --run-date 2026-11-22
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time

from common.config import get_settings
from spark_jobs._lake import (
    check_run_date,
    ensure_columns,
    read_table,
    replace_partition,
    table_uri,
    utc_now,
)

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_TEXT_CHARS = 50_000  # beyond this a "resume" is not one; the profile uses the head

_COMMON_PROFILE = (
    "tenant_id string, content_hash string, skills array<string>, skill_labels array<string>, "
    "occupation_code string, occupation_label string, occupation_score double, years_experience double, "
    "seniority string, education_level string, location_city string, location_country string, "
    "remote string, salary_min double, salary_max double, profile_version string"
)
CANDIDATE_PROFILE_DDL = f"candidate_id string, {_COMMON_PROFILE}"
JOB_PROFILE_DDL = (
    f"job_id string, {_COMMON_PROFILE}, essential_skills array<string>, optional_skills array<string>, "
    "job_status string"
)
PROFILE_DDL = {"candidate": CANDIDATE_PROFILE_DDL, "job": JOB_PROFILE_DDL}
TEXTS_DDL = "tenant_id string, entity_id string, content_hash string, text string"

# Worker output: one row per entity, either a profile (as JSON) or a quarantine reason.
RESULT_DDL = (
    "tenant_id string, entity_id string, event_id string, ok boolean, profile_json string, "
    "content_hash string, text string, reason string, detail string, raw_record string"
)

RESULT_COLUMNS = [c.split()[0] for c in RESULT_DDL.split(", ")]

SILVER_COLUMNS = {
    "candidate_registered": {
        "event_id": "string", "tenant_id": "string", "occurred_at": "timestamp", "candidate_id": "string",
        "location_city": "string", "location_region": "string", "location_country": "string",
        "remote_preference": "string", "desired_salary_min": "double", "dt": "string",
    },
    "resume_uploaded": {
        "event_id": "string", "tenant_id": "string", "occurred_at": "timestamp", "candidate_id": "string",
        "resume_id": "string", "document_uri": "string", "content_type": "string", "dt": "string",
    },
    "job_posted": {
        "event_id": "string", "tenant_id": "string", "occurred_at": "timestamp", "job_id": "string",
        "employer_id": "string", "title": "string", "description": "string", "location_city": "string",
        "location_region": "string", "location_country": "string", "remote": "string",
        "salary_min": "double", "salary_max": "double", "salary_currency": "string",
        "salary_period": "string", "seniority": "string", "employment_type": "string",
        "occupation_hint": "string", "dt": "string",
    },
    "job_closed": {
        "event_id": "string", "tenant_id": "string", "occurred_at": "timestamp", "job_id": "string",
        "reason": "string", "dt": "string",
    },
}  # fmt: skip
SILVER_COLUMNS["job_updated"] = SILVER_COLUMNS["job_posted"]
JOB_FIELDS = [
    c
    for c in SILVER_COLUMNS["job_posted"]
    if c not in ("event_id", "tenant_id", "occurred_at", "job_id", "dt")
]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d(?!\w)")


def redact_contacts(text: str) -> str:
    """Drop e-mail addresses and phone numbers: they carry no matching signal and are PII."""
    return _PHONE.sub(" ", _EMAIL.sub(" ", text))


# ---------------------------------------------------------------- pure DataFrame → DataFrame functions


def up_to(df, run_date: str):
    """Events whose event date is on or before the run date (silver is partitioned by event date)."""
    from pyspark.sql import functions as F

    return df.where(F.col("dt").cast("string") <= run_date)


def _latest(df, keys: list[str]):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(*keys).orderBy(F.col("occurred_at").desc(), F.col("event_id").desc())
    return df.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")


def latest_candidates(registered, resumes):
    """One row per (tenant, candidate): registration fields + the latest resume (null when none)."""
    from pyspark.sql import functions as F

    reg = ensure_columns(registered, SILVER_COLUMNS["candidate_registered"])
    res = ensure_columns(resumes, SILVER_COLUMNS["resume_uploaded"])
    reg = _latest(
        reg.withColumn("occurred_at", F.col("occurred_at").cast("timestamp")), ["tenant_id", "candidate_id"]
    )
    res = _latest(
        res.withColumn("occurred_at", F.col("occurred_at").cast("timestamp")), ["tenant_id", "candidate_id"]
    )
    reg = reg.select(
        "tenant_id", "candidate_id", "location_city", "location_region", "location_country",
        "remote_preference", F.col("desired_salary_min").cast("double").alias("desired_salary_min"),
    )  # fmt: skip
    res = res.select("tenant_id", "candidate_id", "event_id", "resume_id", "document_uri", "content_type")
    return reg.join(res, ["tenant_id", "candidate_id"], "full_outer")


def current_jobs(posted, updated, closed):
    """One row per (tenant, job): posted fields with later updates applied, and open/closed status."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cols = SILVER_COLUMNS["job_posted"]
    posted = ensure_columns(posted, cols).select(*cols).withColumn("_posted", F.lit(True))
    updated = ensure_columns(updated, cols).select(*cols).withColumn("_posted", F.lit(False))
    events = posted.unionByName(updated).withColumn("occurred_at", F.col("occurred_at").cast("timestamp"))
    ordered = Window.partitionBy("tenant_id", "job_id").orderBy("occurred_at", "event_id")
    whole = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    folded = events.select(
        "tenant_id",
        "job_id",
        F.max(F.col("_posted").cast("int")).over(whole).alias("_was_posted"),
        # the posting's event id identifies the job's source event in quarantine rows
        F.first(F.when(F.col("_posted"), F.col("event_id")), ignorenulls=True).over(whole).alias("event_id"),
        *[F.last(F.col(c).cast(cols[c]), ignorenulls=True).over(whole).alias(c) for c in JOB_FIELDS],
    ).dropDuplicates(["tenant_id", "job_id"])
    folded = folded.where("_was_posted = 1").drop("_was_posted")  # an update of an unknown job is no job
    shut = (
        ensure_columns(closed, SILVER_COLUMNS["job_closed"])
        .groupBy("tenant_id", "job_id")
        .agg(F.max_by("reason", F.col("occurred_at").cast("timestamp")).alias("closed_reason"))
    )
    return folded.join(shut, ["tenant_id", "job_id"], "left").withColumn(
        "job_status", F.when(F.col("closed_reason").isNotNull(), "closed").otherwise("open")
    )


def normalised_path(column):
    """`file:/x`, `file:///x`, `/x` → `/x`; `s3a://b/k`, `s3://b/k` → `b/k`: one join key for both sides."""
    from pyspark.sql import functions as F

    return F.regexp_replace(column, r"^(file:(//)?|s3a?://)", "")


def resolve_document_uri(column, raw_root: str):
    """document_uri is absolute (s3://, file:, /…) or relative to the raw zone root ("raw/documents/…")."""
    from pyspark.sql import functions as F

    relative = F.regexp_replace(column, r"^(raw/)?", "")
    return F.when(column.rlike(r"^([a-z0-9]+:|/)"), column).otherwise(
        F.concat(F.lit(raw_root.rstrip("/") + "/"), relative)
    )


def attach_documents(candidates, documents, raw_root: str):
    """Join each candidate's resume bytes (binaryFile rows: path, length, content) by normalised path."""
    from pyspark.sql import functions as F

    docs = documents.select(
        normalised_path(F.col("path")).alias("_doc_key"),
        F.col("length").alias("document_bytes"),
        F.when(F.col("length") <= MAX_DOCUMENT_BYTES, F.col("content")).alias("content"),
    )
    keyed = candidates.withColumn(
        "_doc_key", normalised_path(resolve_document_uri(F.col("document_uri"), raw_root))
    )
    return keyed.join(docs, "_doc_key", "left").drop("_doc_key")


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | set | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _profile_candidate_batches(batches):
    """mapInPandas body: resume bytes → text → profile JSON, or a quarantine reason per candidate."""
    import os

    import pandas as pd

    from matching.documents import DocumentError, extract_text
    from matching.hashing import content_hash
    from matching.profiles import ProfileError, build_candidate_profile

    meta_cols = [
        "location_city",
        "location_region",
        "location_country",
        "remote_preference",
        "desired_salary_min",
    ]
    for batch in batches:
        out = []
        for row in batch.to_dict("records"):
            meta = {c: _clean(row.get(c)) for c in ["tenant_id", "candidate_id", "resume_id", *meta_cols]}
            result = dict.fromkeys(RESULT_COLUMNS)
            result.update(
                tenant_id=row["tenant_id"],
                entity_id=row["candidate_id"],
                event_id=_clean(row.get("event_id")),
            )
            raw = json.dumps({**meta, "document_uri": row.get("document_uri")}, default=str)
            try:
                if row.get("content") is None:
                    too_big = (row.get("document_bytes") or 0) > MAX_DOCUMENT_BYTES
                    reason = "too_large" if too_big else "document_missing"
                    raise _Quarantine(reason, row.get("document_uri"))
                filename = os.path.basename(str(row.get("document_uri") or "resume"))
                text = extract_text(bytes(row["content"]), filename)[:MAX_TEXT_CHARS]
                profile = build_candidate_profile(text, meta)
                profile.update(tenant_id=row["tenant_id"], candidate_id=row["candidate_id"])
                profile["content_hash"] = profile.get("content_hash") or content_hash(text)
                result.update(
                    ok=True,
                    profile_json=json.dumps(profile, default=_jsonable),
                    content_hash=profile["content_hash"],
                    text=redact_contacts(text),
                )
            except (DocumentError, ProfileError, _Quarantine) as exc:
                result.update(ok=False, reason=exc.reason, detail=str(exc)[:500], raw_record=raw)
            except Exception as exc:  # noqa: BLE001 - one bad document must never fail the run
                result.update(
                    ok=False,
                    reason="profile_error",
                    detail=f"{type(exc).__name__}: {exc}"[:500],
                    raw_record=raw,
                )
            out.append(result)
        yield pd.DataFrame(out, columns=RESULT_COLUMNS, dtype=object)


def _profile_job_batches(batches):
    """mapInPandas body: title + description → job profile JSON, or a quarantine reason per job."""
    import pandas as pd

    from matching.hashing import content_hash
    from matching.profiles import ProfileError, build_job_profile

    meta_cols = [c for c in JOB_FIELDS if c not in ("title", "description")] + ["job_status", "closed_reason"]
    for batch in batches:
        out = []
        for row in batch.to_dict("records"):
            meta = {c: _clean(row.get(c)) for c in ["tenant_id", "job_id", *meta_cols]}
            result = dict.fromkeys(RESULT_COLUMNS)
            result.update(
                tenant_id=row["tenant_id"], entity_id=row["job_id"], event_id=_clean(row.get("event_id"))
            )
            title, description = _clean(row.get("title")) or "", _clean(row.get("description")) or ""
            try:
                if not (title.strip() or description.strip()):
                    raise _Quarantine("empty_text", "job has neither title nor description")
                text = f"{title}\n\n{description}"[:MAX_TEXT_CHARS]
                profile = build_job_profile(title, description[:MAX_TEXT_CHARS], meta)
                # status comes from the event history, not from the text
                profile.update(tenant_id=row["tenant_id"], job_id=row["job_id"], job_status=row["job_status"])
                profile["content_hash"] = profile.get("content_hash") or content_hash(text)
                result.update(
                    ok=True,
                    profile_json=json.dumps(profile, default=_jsonable),
                    content_hash=profile["content_hash"],
                    text=text,
                )
            except (ProfileError, _Quarantine) as exc:
                raw = json.dumps({**meta, "title": title, "description": description[:2000]}, default=str)
                result.update(ok=False, reason=exc.reason, detail=str(exc)[:500], raw_record=raw)
            except Exception as exc:  # noqa: BLE001
                raw = json.dumps({**meta, "title": title}, default=str)
                result.update(
                    ok=False,
                    reason="profile_error",
                    detail=f"{type(exc).__name__}: {exc}"[:500],
                    raw_record=raw,
                )
            out.append(result)
        yield pd.DataFrame(out, columns=RESULT_COLUMNS, dtype=object)


class _Quarantine(Exception):
    def __init__(self, reason: str, detail: str | None = None):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _clean(value):
    """pandas NaN/NaT → None so `matching/` sees plain Python values."""
    try:
        import pandas as pd

        if value is not None and not isinstance(value, list | dict) and pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def profile_candidates(candidates_with_documents):
    """Candidates (with resume bytes) → RESULT rows; a candidate without any resume is not profiled."""
    return candidates_with_documents.where("resume_id IS NOT NULL OR document_uri IS NOT NULL").mapInPandas(
        _profile_candidate_batches, RESULT_DDL
    )


def profile_jobs(jobs):
    return jobs.mapInPandas(_profile_job_batches, RESULT_DDL)


def profiles_from_results(results, side: str, run_date: str):
    """The successful RESULT rows parsed into the gold profile columns (contract order)."""
    from pyspark.sql import functions as F

    ddl = PROFILE_DDL[side]
    parsed = results.where("ok").select(F.from_json("profile_json", ddl).alias("p"), "tenant_id", "entity_id")
    id_col = "candidate_id" if side == "candidate" else "job_id"
    names = [c.split()[0] for c in ddl.split(", ") if c.split()[0] not in ("tenant_id", id_col)]
    return parsed.select(
        "tenant_id", F.col("entity_id").alias(id_col), *[F.col(f"p.{n}").alias(n) for n in names]
    ).withColumn("run_date", F.lit(run_date))


def texts_from_results(results, side: str, run_date: str):
    from pyspark.sql import functions as F

    return results.where("ok").select(
        "tenant_id", "entity_id", "content_hash", "text",
        F.lit(side).alias("entity_type"), F.lit(run_date).alias("run_date"),
    )  # fmt: skip


def quarantine_from_results(results, side: str, run_date: str, quarantined_at):
    from pyspark.sql import functions as F

    return results.where("NOT ok").select(
        "event_id",
        F.lit("resume_uploaded" if side == "candidate" else "job_posted").alias("event_type"),
        "tenant_id",
        F.lit("profiles").alias("stage"),
        "reason",
        "detail",
        "raw_record",
        F.lit(quarantined_at).cast("timestamp").alias("quarantined_at"),
        F.lit(side).alias("entity_type"),
        "entity_id",
        F.lit(run_date).alias("dt"),
    )


# ---------------------------------------------------------------- stage


def _silver(spark, event_type: str, run_date: str):
    ddl = ", ".join(f"{k} {v}" for k, v in SILVER_COLUMNS[event_type].items())
    df = read_table(spark, table_uri("silver", event_type), ddl)
    return up_to(df, run_date)


def _documents(spark, raw_root: str):
    uri = f"{raw_root}/documents"
    ddl = "path string, modificationTime timestamp, length long, content binary"
    from spark_jobs._lake import path_exists

    if not path_exists(spark, uri):
        return spark.createDataFrame([], ddl)
    return (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(uri)
        .where("path LIKE '%/resumes/%'")
    )


def run(run_date: str, spark=None) -> dict:
    """Build the run date's profile snapshot; returns counts (seen = profiled + quarantined + no resume)."""
    from pyspark import StorageLevel

    from spark_jobs.session import get_spark

    check_run_date(run_date)
    spark = spark or get_spark("build_profiles")
    started = time.perf_counter()
    raw_root = get_settings().zone_uri("raw")
    now = utc_now().replace(tzinfo=None)

    candidates = latest_candidates(
        _silver(spark, "candidate_registered", run_date), _silver(spark, "resume_uploaded", run_date)
    )
    candidates = attach_documents(candidates, _documents(spark, raw_root), raw_root).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    jobs = current_jobs(
        _silver(spark, "job_posted", run_date),
        _silver(spark, "job_updated", run_date),
        _silver(spark, "job_closed", run_date),
    )
    parallelism = spark.sparkContext.defaultParallelism
    counts: dict = {}
    quarantined = []
    for side, results in (
        # documents are parsed in Python workers: spread them over every core
        ("candidate", profile_candidates(candidates.repartition(parallelism))),
        ("job", profile_jobs(jobs.repartition(parallelism))),
    ):
        results = results.persist(StorageLevel.MEMORY_AND_DISK)  # documents are parsed once, used thrice
        stats = results.groupBy("ok").count().collect()
        ok = sum(r["count"] for r in stats if r["ok"])
        bad = sum(r["count"] for r in stats if not r["ok"])
        profiles = profiles_from_results(results, side, run_date)
        part = {"run_date": run_date, "entity_type": side}
        replace_partition(profiles.coalesce(4), table_uri("gold", f"{side}_profiles"), ["run_date"], part, ok)
        replace_partition(
            texts_from_results(results, side, run_date).coalesce(4), table_uri("gold", "profile_texts"),
            ["entity_type", "run_date"], part, ok,
        )  # fmt: skip
        counts[f"{side}_profiles"] = ok
        counts[f"{side}s_quarantined"] = bad
        quarantined.append(quarantine_from_results(results, side, run_date, now))
        if side == "job":
            counts["jobs_seen"] = ok + bad
            counts["jobs_open"] = profiles.where("job_status = 'open'").count()
        else:
            counts["candidates_seen"] = candidates.count()
            counts["candidates_without_resume"] = candidates.where(
                "resume_id IS NULL AND document_uri IS NULL"
            ).count()
    reasons = quarantined[0].unionByName(quarantined[1])
    bad_total = counts["candidates_quarantined"] + counts["jobs_quarantined"]
    replace_partition(
        reasons.coalesce(1), table_uri("quarantine", "documents"), ["dt"], {"dt": run_date}, bad_total
    )
    counts["quarantine_reasons"] = {r.reason: r["count"] for r in reasons.groupBy("reason").count().collect()}
    spark.catalog.clearCache()
    reconciled = (
        counts["candidate_profiles"] + counts["candidates_quarantined"] + counts["candidates_without_resume"]
    )
    if reconciled != counts["candidates_seen"]:
        raise RuntimeError(f"candidate counts do not reconcile: {counts}")
    counts["seconds"] = round(time.perf_counter() - started, 1)
    log.info("profiles for %s: %s", run_date, counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build gold candidate/job profiles for one run date")
    parser.add_argument("--run-date", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(json.dumps(run(args.run_date), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Silver events + raw documents → gold candidate and job profiles (a full snapshot per run date).

Candidates: latest `candidate_registered` + latest `resume_uploaded` per (tenant, candidate) up to the
run date; the resume is read from raw/documents, turned into text and profiled by `matching/`.
Jobs: latest `job_posted`, with every later `job_updated` field applied (last non-null wins) and
`job_closed` → `job_status = closed`; text = title + description.
A document that cannot be read or profiled becomes a `quarantine/documents` row with its reason —
never a crash, never silent loss: seen = profiled + quarantined (+ candidates without a resume).
A resume is read only from its own tenant's documents prefix (`raw/documents/tenant_id=<t>/resumes/`)
and only when the bytes agree with the event's `sha256`/`size_bytes` (when it carries them):
otherwise `foreign_document` / `document_mismatch`.

Incremental: every entity's *input hash* (document bytes or job fields, the structured event fields
and the extractor version) is compared with the previous run date's snapshot; unchanged entities
are carried forward (profile and text), only new or changed ones are profiled — and the snapshot
stays complete for every run date (re-running a date gives the same snapshot).

Embed once: when the occupation ranker needs MiniLM (mode "full"), a worker embeds each profiled
document once and hands the vector of the profile text to `gold/embeddings` (the embed stage then
finds it there), so the same vector serves the occupation and the match.

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
TEXTS_DDL = "tenant_id string, entity_id string, content_hash string, text string, input_hash string"

# Worker output: one row per entity, either a profile (as JSON) or a quarantine reason.
RESULT_DDL = (
    "tenant_id string, entity_id string, event_id string, ok boolean, profile_json string, "
    "content_hash string, text string, reason string, detail string, raw_record string, input_hash string, "
    "vector array<float>, model_version string"
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
        "resume_id": "string", "document_uri": "string", "content_type": "string", "size_bytes": "long",
        "sha256": "string", "dt": "string",
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
    res = res.select("tenant_id", "candidate_id", "event_id", "resume_id", "document_uri", "content_type",
                     F.col("size_bytes").cast("long").alias("size_bytes"), "sha256")
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


def tenant_documents_prefix(raw_root: str, tenant_id: str) -> str:
    """Where a tenant's resumes live, as a normalised path key (see normalised_path)."""
    return _normalised(f"{raw_root.rstrip('/')}/documents/tenant_id={tenant_id}/resumes/")


def _normalised(uri: str) -> str:
    return re.sub(r"^(file:(//)?|s3a?://)", "", uri)


def _resolved(uri: str, raw_root: str) -> str:
    """Python twin of resolve_document_uri + normalised_path (the join key of attach_documents)."""
    if re.match(r"^([a-z0-9]+:|/)", uri):
        return _normalised(uri)
    return _normalised(raw_root.rstrip("/") + "/" + re.sub(r"^(raw/)?", "", uri))


def document_problem(row: dict, raw_root: str) -> tuple[str, str] | None:
    """Why a candidate's resume must not be read: (reason, detail), or None.

    The event's document_uri is free text: only a file under the candidate's own tenant's
    documents prefix may be read (no ``..`` segments), and when the event carries the upload's
    sha256 / size_bytes the bytes must agree with them."""
    uri = str(row.get("document_uri") or "")
    tenant = str(row.get("tenant_id") or "")
    key = _resolved(uri, raw_root)
    segments = key.split("/")
    if (not tenant or "/" in tenant or ".." in segments
            or not key.startswith(tenant_documents_prefix(raw_root, tenant))):
        return "foreign_document", f"document_uri {uri!r} is outside tenant {tenant!r}'s documents prefix"
    content = row.get("content")
    if content is None:
        return None  # missing / too large: reported by the caller
    expected_size = _clean(row.get("size_bytes"))
    if expected_size is not None and int(expected_size) != len(content):
        return "document_mismatch", f"{uri}: {len(content)} bytes, the upload event says {int(expected_size)}"
    expected_sha = _clean(row.get("sha256"))
    if expected_sha:
        import hashlib

        actual = hashlib.sha256(bytes(content)).hexdigest()
        if actual != str(expected_sha).lower():
            return "document_mismatch", f"{uri}: sha256 {actual[:16]}… differs from the upload event's"
    return None


def _needs_minilm() -> bool:
    from matching import occupations

    weights = occupations.WEIGHTS[occupations.DEFAULT_MODE]
    return bool(weights.get("doc_minilm") or weights.get("title_minilm"))


def _embed_once(titles: list[str], documents: list[str], profile_texts: list[str]):
    """The one MiniLM pass per document: the occupation ranker's title/document vectors go into the
    process-wide content-hash cache (the profiles read them there), and the vector of each profile
    text — the text the match embeds — is returned for gold/embeddings. ``documents`` are what the
    ranker embeds: for resumes the profile texts themselves (contact details redacted), for jobs
    "title\ndescription", whose model input equals the profile text's (EmbeddingCache.input_keys),
    so neither side pays a second long pass."""
    if not documents or not _needs_minilm():
        return [None] * len(profile_texts), None
    from matching import occupations
    from matching.embeddings import get_cache

    cache = get_cache("minilm")
    occupations.prime(titles, documents)
    return [v.tolist() for v in cache.encode(profile_texts)], cache.encoder.model_version


def _profile_all(build, inputs: list):
    """The batch builder, and one by one if the batch raised (so one bad input fails alone)."""
    try:
        return build(inputs)
    except Exception:  # noqa: BLE001 - isolate the document that raised
        out = []
        for item in inputs:
            try:
                out.append(build([item])[0])
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
        return out


def _finish_results(results: list[dict], slots: list[int], profiles: list, texts: list[str],
                    vectors: list, model_version: str | None, extra: list[dict]) -> None:
    from matching.profiles import ProfileError

    for slot, profile, text, vector, fields in zip(slots, profiles, texts, vectors, extra, strict=True):
        result = results[slot]
        if isinstance(profile, dict):
            profile.update(fields)
            result.update(ok=True, profile_json=json.dumps(profile, default=_jsonable),
                          content_hash=profile["content_hash"], text=text, vector=vector,
                          model_version=model_version if vector is not None else None)
        elif isinstance(profile, ProfileError):
            result.update(ok=False, reason=profile.reason, detail=str(profile)[:500])
        else:
            result.update(ok=False, reason="profile_error", detail=f"{type(profile).__name__}: {profile}"[:500])


CANDIDATE_META = ["location_city", "location_region", "location_country", "remote_preference", "desired_salary_min"]


def candidate_results(rows: list[dict], raw_root: str) -> list[dict]:
    """Resume rows (candidate + document bytes) → RESULT rows: a profile, or a quarantine reason."""
    import os

    from matching.documents import DocumentError, extract_text
    from matching.profiles import build_candidate_profiles, headline, redact_contacts

    results, slots, texts, metas = [], [], [], []
    for row in rows:
        meta = {c: _clean(row.get(c)) for c in ["tenant_id", "candidate_id", "resume_id", *CANDIDATE_META]}
        result = dict.fromkeys(RESULT_COLUMNS)
        result.update(tenant_id=row["tenant_id"], entity_id=row["candidate_id"],
                      event_id=_clean(row.get("event_id")), input_hash=_clean(row.get("input_hash")))
        raw = json.dumps({**meta, "document_uri": row.get("document_uri")}, default=str)
        try:
            problem = document_problem(row, raw_root)
            if problem:
                raise _Quarantine(*problem)
            if row.get("content") is None:
                too_big = (row.get("document_bytes") or 0) > MAX_DOCUMENT_BYTES
                raise _Quarantine("too_large" if too_big else "document_missing", row.get("document_uri"))
            filename = os.path.basename(str(row.get("document_uri") or "resume"))
            text = extract_text(bytes(row["content"]), filename)[:MAX_TEXT_CHARS]
            slots.append(len(results))
            texts.append(text)
            metas.append(meta)
        except (DocumentError, _Quarantine) as exc:
            result.update(ok=False, reason=exc.reason, detail=str(exc)[:500])
        except Exception as exc:  # noqa: BLE001 - one bad document must never fail the run
            result.update(ok=False, reason="profile_error", detail=f"{type(exc).__name__}: {exc}"[:500])
        result["raw_record"] = raw
        results.append(result)
    redacted = [redact_contacts(t) for t in texts]
    vectors, model_version = _embed_once([headline(t) for t in texts], redacted, redacted)
    profiles = _profile_all(
        lambda items: build_candidate_profiles([t for t, _, _ in items], [m for _, m, _ in items],
                                               [r for _, _, r in items]),
        list(zip(texts, metas, redacted, strict=True)))
    extra = [{"tenant_id": results[i]["tenant_id"], "candidate_id": results[i]["entity_id"]} for i in slots]
    _finish_results(results, slots, profiles, redacted, vectors, model_version, extra)
    for result in results:
        if result["ok"]:
            result["raw_record"] = None
    return results


def _profile_candidate_batches(batches, raw_root: str = ""):
    """mapInPandas body: resume bytes → text → profile JSON, or a quarantine reason per candidate."""
    import pandas as pd

    raw_root = raw_root or get_settings().zone_uri("raw")
    for batch in batches:
        yield pd.DataFrame(candidate_results(batch.to_dict("records"), raw_root), columns=RESULT_COLUMNS,
                           dtype=object)


def job_results(rows: list[dict]) -> list[dict]:
    """Job rows → RESULT rows: a profile, or a quarantine reason."""
    from matching.profiles import build_job_profiles, job_document

    meta_cols = [c for c in JOB_FIELDS if c not in ("title", "description")] + ["job_status", "closed_reason"]
    results, slots, jobs, texts, extra = [], [], [], [], []
    for row in rows:
        meta = {c: _clean(row.get(c)) for c in ["tenant_id", "job_id", *meta_cols]}
        result = dict.fromkeys(RESULT_COLUMNS)
        result.update(tenant_id=row["tenant_id"], entity_id=row["job_id"], event_id=_clean(row.get("event_id")),
                      input_hash=_clean(row.get("input_hash")))
        title, description = _clean(row.get("title")) or "", _clean(row.get("description")) or ""
        result["raw_record"] = json.dumps({**meta, "title": title, "description": description[:2000]}, default=str)
        if not (title.strip() or description.strip()):
            result.update(ok=False, reason="empty_text", detail="empty_text: job has neither title nor description")
        else:
            slots.append(len(results))
            jobs.append((title, description[:MAX_TEXT_CHARS], meta))
            texts.append(f"{title}\n\n{description}"[:MAX_TEXT_CHARS])
            # status comes from the event history, not from the text
            extra.append({"tenant_id": row["tenant_id"], "job_id": row["job_id"], "job_status": row["job_status"]})
        results.append(result)
    vectors, model_version = _embed_once([t for t, _, _ in jobs], [job_document(t, d) for t, d, _ in jobs], texts)
    profiles = _profile_all(build_job_profiles, jobs)
    _finish_results(results, slots, profiles, texts, vectors, model_version, extra)
    for result in results:
        if result["ok"]:
            result["raw_record"] = None
    return results


def _profile_job_batches(batches):
    """mapInPandas body: title + description → job profile JSON, or a quarantine reason per job."""
    import pandas as pd

    for batch in batches:
        yield pd.DataFrame(job_results(batch.to_dict("records")), columns=RESULT_COLUMNS, dtype=object)


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


HAS_RESUME = "resume_id IS NOT NULL OR document_uri IS NOT NULL"


def profile_candidates(candidates_with_documents, raw_root: str = ""):
    """Candidates (with resume bytes) → RESULT rows; a candidate without any resume is not profiled."""
    import functools

    return candidates_with_documents.where(HAS_RESUME).mapInPandas(
        functools.partial(_profile_candidate_batches, raw_root=raw_root), RESULT_DDL
    )


def with_input_hash(df, side: str, version: str):
    """Add ``input_hash``: everything a profile depends on (document bytes or job fields, the
    structured event fields, the extractor version) hashed; equal hash ⇒ equal profile and text."""
    from pyspark.sql import functions as F

    if side == "candidate":
        parts = [F.sha2(F.col("content"), 256), F.col("document_bytes").cast("string"), "document_uri",
                 "resume_id", *CANDIDATE_META]
    else:
        parts = [*JOB_FIELDS, "job_status", "closed_reason"]
    cols = [F.coalesce(F.col(c).cast("string") if isinstance(c, str) else c, F.lit("\u0000")) for c in parts]
    return df.withColumn("input_hash", F.sha2(F.concat_ws("\u0001", F.lit(version), *cols), 256))


def previous_snapshot(spark, side: str, run_date: str):
    """(profiles, texts) of the latest run date before ``run_date`` with ``input_hash`` on both,
    or None when there is none: what an unchanged entity is carried forward from."""
    from pyspark.sql import functions as F

    texts = read_table(spark, table_uri("gold", "profile_texts"),
                       f"{TEXTS_DDL}, entity_type string, run_date string")
    texts = ensure_columns(texts, {"input_hash": "string"}).where(
        (F.col("entity_type") == side) & (F.col("run_date").cast("string") < run_date))
    latest = texts.agg(F.max(F.col("run_date").cast("string")).alias("d")).collect()[0]["d"]
    if latest is None:
        return None
    from spark_jobs._lake import read_profiles

    id_col = "candidate_id" if side == "candidate" else "job_id"
    texts = texts.where((F.col("run_date").cast("string") == latest) & F.col("input_hash").isNotNull()).select(
        "tenant_id", F.col("entity_id").alias(id_col), "content_hash", "text", "input_hash")
    profiles = read_profiles(spark, side, latest).drop("run_date")
    return profiles, texts


def split_unchanged(current, previous, side: str):
    """(todo, carried): current entities whose input hash the previous snapshot lacks, and the
    previous snapshot's (profile, text) rows of the others."""
    id_col = "candidate_id" if side == "candidate" else "job_id"
    if previous is None:
        return current, None
    profiles, texts = previous
    keys = ["tenant_id", id_col, "input_hash"]
    done = texts.select(*keys, "content_hash", "text").join(profiles, ["tenant_id", id_col, "content_hash"])
    carried = current.select(*keys).join(done, keys)
    return current.join(done.select(*keys), keys, "left_anti"), carried


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
        "tenant_id", "entity_id", "content_hash", "text", "input_hash",
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


def _carried_profiles(carried, side: str, run_date: str):
    from pyspark.sql import functions as F

    names = [c.split()[0] for c in PROFILE_DDL[side].split(", ")]
    return carried.select(*names).withColumn("run_date", F.lit(run_date))


def _carried_texts(carried, side: str, run_date: str):
    from pyspark.sql import functions as F

    id_col = "candidate_id" if side == "candidate" else "job_id"
    return carried.select(
        "tenant_id", F.col(id_col).alias("entity_id"), "content_hash", "text", "input_hash",
        F.lit(side).alias("entity_type"), F.lit(run_date).alias("run_date"),
    )  # fmt: skip


def embeddings_from_results(results, side: str, embedded_at):
    """The MiniLM vectors the workers computed for the occupation step, as gold/embeddings rows."""
    from pyspark.sql import functions as F

    return results.where("ok AND vector IS NOT NULL").select(
        "tenant_id", "entity_id", "content_hash", "model_version", "vector",
        F.lit(embedded_at).cast("timestamp").alias("embedded_at"), F.lit(side).alias("entity_type"),
    )  # fmt: skip


def run(run_date: str, spark=None) -> dict:
    """Build the run date's profile snapshot; returns counts (seen = profiled + quarantined + no resume;
    profiled = reprocessed + carried forward)."""
    from pyspark import StorageLevel

    from matching.profiles import extractor_version
    from spark_jobs import embed
    from spark_jobs.session import get_spark

    check_run_date(run_date)
    spark = spark or get_spark("build_profiles")
    started = time.perf_counter()
    raw_root = get_settings().zone_uri("raw")
    now = utc_now().replace(tzinfo=None)
    version = extractor_version()

    candidates = latest_candidates(
        _silver(spark, "candidate_registered", run_date), _silver(spark, "resume_uploaded", run_date)
    )
    candidates = attach_documents(candidates, _documents(spark, raw_root), raw_root)
    candidates = with_input_hash(candidates, "candidate", version).persist(StorageLevel.MEMORY_AND_DISK)
    jobs = current_jobs(
        _silver(spark, "job_posted", run_date),
        _silver(spark, "job_updated", run_date),
        _silver(spark, "job_closed", run_date),
    )
    jobs = with_input_hash(jobs, "job", version).persist(StorageLevel.MEMORY_AND_DISK)
    parallelism = spark.sparkContext.defaultParallelism
    counts: dict = {}
    quarantined = []
    existing_embeddings = embed.read_embeddings(spark)
    for side, current in (("candidate", candidates.where(HAS_RESUME)), ("job", jobs)):
        todo, carried = split_unchanged(current, previous_snapshot(spark, side, run_date), side)
        # documents are parsed in Python workers: spread them over every core
        todo = todo.repartition(parallelism)
        results = profile_candidates(todo, raw_root) if side == "candidate" else profile_jobs(todo)
        results = results.persist(StorageLevel.MEMORY_AND_DISK)  # documents are parsed once, used four times
        stats = results.groupBy("ok").count().collect()
        ok = sum(r["count"] for r in stats if r["ok"])
        bad = sum(r["count"] for r in stats if not r["ok"])
        profiles = profiles_from_results(results, side, run_date)
        texts = texts_from_results(results, side, run_date)
        kept = 0
        if carried is not None:
            carried = carried.persist(StorageLevel.MEMORY_AND_DISK)
            kept = carried.count()
            profiles = profiles.unionByName(_carried_profiles(carried, side, run_date))
            texts = texts.unionByName(_carried_texts(carried, side, run_date))
        part = {"run_date": run_date, "entity_type": side}
        total = ok + kept
        replace_partition(profiles.coalesce(4), table_uri("gold", f"{side}_profiles"), ["run_date"], part, total)
        replace_partition(
            texts.coalesce(4), table_uri("gold", "profile_texts"), ["entity_type", "run_date"], part, total,
        )  # fmt: skip
        keys = ["entity_type", *embed.KEY]
        vectors = embeddings_from_results(results, side, now).join(
            existing_embeddings.select(*keys), keys, "left_anti").dropDuplicates(keys)
        handed = vectors.persist(StorageLevel.MEMORY_AND_DISK).count()
        if handed:
            vectors.write.mode("append").partitionBy("entity_type").parquet(table_uri("gold", "embeddings"))
        counts[f"{side}_profiles"] = total
        counts[f"{side}s_reprocessed"] = ok + bad
        counts[f"{side}s_carried_forward"] = kept
        counts[f"{side}s_quarantined"] = bad
        counts[f"{side}_vectors_handed_to_embeddings"] = handed
        quarantined.append(quarantine_from_results(results, side, run_date, now))
        if side == "job":
            counts["jobs_seen"] = total + bad
            counts["jobs_open"] = profiles.where("job_status = 'open'").count()
        else:
            counts["candidates_seen"] = candidates.count()
            counts["candidates_without_resume"] = candidates.where(f"NOT ({HAS_RESUME})").count()
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
    counts["extractor_version"] = version
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

"""Pure DataFrame functions of build_profiles on a local[1] session (no matching/ needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from spark_jobs.build_profiles import (
    attach_documents,
    current_jobs,
    latest_candidates,
    resolve_document_uri,
    up_to,
)

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 11, 20, 9, 0)


def _ts(hours):
    return T0 + dt.timedelta(hours=hours)


JOB_DDL = (
    "event_id string, tenant_id string, occurred_at timestamp, job_id string, employer_id string, title string, "
    "description string, salary_min double, salary_max double, remote string, dt string"
)


def test_job_updates_apply_last_non_null_and_close(spark):
    posted = spark.createDataFrame(
        [
            (
                "e1",
                "acme",
                _ts(0),
                "J1",
                "E",
                "Data engineer",
                "Build pipelines",
                50000.0,
                60000.0,
                "onsite",
                "2026-11-20",
            ),
            ("e2", "acme", _ts(0), "J2", "E", "Analyst", "SQL", None, None, "remote", "2026-11-20"),
            ("e3", "beta", _ts(0), "J1", "F", "Nurse", "Care", None, None, "onsite", "2026-11-20"),
        ],
        JOB_DDL,
    )
    updated = spark.createDataFrame(
        [
            ("u1", "acme", _ts(2), "J1", "E", None, None, 55000.0, None, None, "2026-11-20"),
            (
                "u2",
                "acme",
                _ts(1),
                "J1",
                "E",
                "Senior data engineer",
                None,
                52000.0,
                None,
                "hybrid",
                "2026-11-20",
            ),
            ("u3", "acme", _ts(1), "J9", "E", "Ghost", None, None, None, None, "2026-11-20"),  # never posted
        ],
        JOB_DDL,
    )
    closed = spark.createDataFrame(
        [("c1", "acme", _ts(3), "J2", "filled", "2026-11-20")],
        "event_id string, tenant_id string, occurred_at timestamp, job_id string, reason string, dt string",
    )
    jobs = {(r.tenant_id, r.job_id): r for r in current_jobs(posted, updated, closed).collect()}
    assert set(jobs) == {("acme", "J1"), ("acme", "J2"), ("beta", "J1")}  # the update of J9 made no job
    j1 = jobs[("acme", "J1")]
    assert j1.title == "Senior data engineer" and j1.salary_min == 55000.0 and j1.salary_max == 60000.0
    assert j1.remote == "hybrid" and j1.description == "Build pipelines" and j1.job_status == "open"
    assert j1.event_id == "e1"
    assert jobs[("acme", "J2")].job_status == "closed" and jobs[("acme", "J2")].closed_reason == "filled"
    assert (
        jobs[("beta", "J1")].title == "Nurse" and jobs[("beta", "J1")].job_status == "open"
    )  # tenants apart


def test_latest_resume_per_candidate_and_candidates_without_resume(spark):
    reg = spark.createDataFrame(
        [("r1", "acme", _ts(0), "C1", "Leeds", "GB", "remote", 40000.0, "2026-11-20"),
         ("r2", "acme", _ts(0), "C2", "York", "GB", "onsite", None, "2026-11-20")],
        "event_id string, tenant_id string, occurred_at timestamp, candidate_id string, location_city string, "
        "location_country string, remote_preference string, desired_salary_min double, dt string",
    )  # fmt: skip
    res = spark.createDataFrame(
        [("u1", "acme", _ts(1), "C1", "R1", "raw/documents/tenant_id=acme/resumes/R1.txt", "text/plain", "2026-11-20"),
         ("u2", "acme", _ts(5), "C1", "R2", "raw/documents/tenant_id=acme/resumes/R2.pdf", "application/pdf", "2026-11-20"),
         ("u3", "acme", _ts(2), "C3", "R3", "raw/documents/tenant_id=acme/resumes/R3.txt", "text/plain", "2026-11-20")],
        "event_id string, tenant_id string, occurred_at timestamp, candidate_id string, resume_id string, "
        "document_uri string, content_type string, dt string",
    )  # fmt: skip
    rows = {r.candidate_id: r for r in latest_candidates(reg, res).collect()}
    assert set(rows) == {"C1", "C2", "C3"}
    assert rows["C1"].resume_id == "R2" and rows["C1"].location_city == "Leeds"
    assert rows["C2"].resume_id is None  # registered, no resume yet
    assert (
        rows["C3"].resume_id == "R3" and rows["C3"].location_city is None
    )  # resume before registration landed


def test_up_to_keeps_event_dates_on_or_before_the_run_date(spark):
    df = spark.createDataFrame([("2026-11-21",), ("2026-11-22",), ("2026-11-23",)], "dt string")
    assert [r.dt for r in up_to(df, "2026-11-22").orderBy("dt").collect()] == ["2026-11-21", "2026-11-22"]


def test_document_uris_resolve_relative_and_absolute(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [("raw/documents/tenant_id=a/resumes/x.pdf",), ("documents/tenant_id=a/resumes/y.pdf",),
         ("s3://bucket-raw/documents/z.pdf",), ("/abs/documents/w.pdf",)],
        "u string",
    )  # fmt: skip
    out = [r.r for r in df.select(resolve_document_uri(F.col("u"), "/lake/raw").alias("r")).collect()]
    assert out == [
        "/lake/raw/documents/tenant_id=a/resumes/x.pdf",
        "/lake/raw/documents/tenant_id=a/resumes/y.pdf",
        "s3://bucket-raw/documents/z.pdf",
        "/abs/documents/w.pdf",
    ]


def test_attach_documents_joins_binaryfile_rows_and_flags_missing(spark, tmp_path):
    raw = tmp_path / "raw"
    doc = raw / "documents" / "tenant_id=acme" / "resumes"
    doc.mkdir(parents=True)
    (doc / "R1.txt").write_text("Python developer")
    cands = spark.createDataFrame(
        [("acme", "C1", "R1", "raw/documents/tenant_id=acme/resumes/R1.txt"),
         ("acme", "C2", "R2", "raw/documents/tenant_id=acme/resumes/R2.txt")],
        "tenant_id string, candidate_id string, resume_id string, document_uri string",
    )  # fmt: skip
    docs = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(raw / "documents"))
    rows = {r.candidate_id: r for r in attach_documents(cands, docs, str(raw)).collect()}
    assert bytes(rows["C1"].content) == b"Python developer" and rows["C1"].document_bytes == 16
    assert rows["C2"].content is None  # → quarantined as document_missing by the profiler


# ---------------------------------------------------------------- cross-tenant reads (issue 14 item 8)

RESUME = ("Senior Python developer. 7 years of experience building data pipelines with Python, SQL, "
          "Apache Spark and machine learning. Worked with databases and cloud computing.")


def _resume_row(raw_root, tenant, uri, content, **event):
    return {"tenant_id": tenant, "candidate_id": "C1", "event_id": "up-1", "resume_id": "R1",
            "document_uri": uri, "content_type": "text/plain", "content": content,
            "document_bytes": len(content), **event}


def _profile_rows(rows, raw_root, monkeypatch):
    import pandas as pd

    import matching.occupations as occupations
    from spark_jobs.build_profiles import _profile_candidate_batches

    monkeypatch.setattr(occupations, "DEFAULT_MODE", "fast")
    monkeypatch.setenv("LAKE_ROOT", raw_root.rsplit("/raw", 1)[0])
    from common.config import reset_settings_cache

    reset_settings_cache()
    out = pd.concat(list(_profile_candidate_batches(iter([pd.DataFrame(rows)]))))
    reset_settings_cache()
    return {(r.tenant_id, r.entity_id): (r.ok, r.reason) for r in out.itertuples()}


@pytest.mark.parametrize("uri", [
    "raw/documents/tenant_id=beta/resumes/R9.txt",                 # another tenant's file
    "raw/documents/tenant_id=acme/../tenant_id=beta/resumes/R9.txt",  # climbing out of the prefix
    "/etc/passwd",                                                # anywhere else
])
def test_a_resume_outside_the_tenants_documents_prefix_is_quarantined(tmp_path, monkeypatch, uri):
    raw_root = str(tmp_path / "lake" / "raw")
    got = _profile_rows([_resume_row(raw_root, "acme", uri, RESUME.encode())], raw_root, monkeypatch)
    assert got == {("acme", "C1"): (False, "foreign_document")}


def test_a_resume_whose_bytes_differ_from_the_upload_event_is_quarantined(tmp_path, monkeypatch):
    import hashlib

    raw_root = str(tmp_path / "lake" / "raw")
    body = RESUME.encode()
    own = "raw/documents/tenant_id=acme/resumes/R1.txt"
    good = _resume_row(raw_root, "acme", own, body, sha256=hashlib.sha256(body).hexdigest(), size_bytes=len(body))
    wrong_sha = {**good, "tenant_id": "acme2", "document_uri": own.replace("acme", "acme2"),
                 "sha256": hashlib.sha256(b"other").hexdigest()}
    wrong_size = {**good, "tenant_id": "acme3", "document_uri": own.replace("acme", "acme3"),
                  "size_bytes": len(body) + 1}
    unsigned = {**good, "tenant_id": "acme4", "document_uri": f"{raw_root}/documents/tenant_id=acme4/resumes/R1.txt",
                "sha256": None, "size_bytes": None}
    got = _profile_rows([good, wrong_sha, wrong_size, unsigned], raw_root, monkeypatch)
    assert got == {("acme", "C1"): (True, None), ("acme2", "C1"): (False, "document_mismatch"),
                   ("acme3", "C1"): (False, "document_mismatch"), ("acme4", "C1"): (True, None)}


# ---------------------------------------------------------------- incremental snapshots (issue 13)


def _write_day(spark, settings, day: str, resumes: dict[str, str], jobs: dict[str, str]):
    import pathlib

    from spark_jobs._lake import write_partitions

    at = dt.datetime.fromisoformat(day) + dt.timedelta(hours=9)

    def write(event_type, rows, ddl):
        write_partitions(spark.createDataFrame(rows, ddl + ", dt string"), settings.table_uri("silver", event_type),
                         ["dt"])

    raw = settings.zone_uri("raw")
    for cand, text in resumes.items():
        path = pathlib.Path(f"{raw}/documents/tenant_id=acme/resumes/R{cand}-{day}.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    write("candidate_registered", [(f"reg-{c}-{day}", "acme", at, c, day) for c in resumes],
          "event_id string, tenant_id string, occurred_at timestamp, candidate_id string")
    write("resume_uploaded",
          [(f"up-{c}-{day}", "acme", at, c, f"R{c}-{day}", f"raw/documents/tenant_id=acme/resumes/R{c}-{day}.txt",
            "text/plain", day) for c in resumes],
          "event_id string, tenant_id string, occurred_at timestamp, candidate_id string, resume_id string, "
          "document_uri string, content_type string")
    write("job_posted", [(f"post-{j}-{day}", "acme", at, j, "E1", title, f"{title}: Python, SQL and Spark.", day)
                         for j, title in jobs.items()],
          "event_id string, tenant_id string, occurred_at timestamp, job_id string, employer_id string, "
          "title string, description string")


def _snapshot(spark, settings, table, day):
    rows = spark.read.parquet(settings.table_uri("gold", table)).where(f"run_date = '{day}'").collect()
    return sorted(tuple(sorted((k, str(v)) for k, v in r.asDict().items())) for r in rows)


def test_unchanged_entities_are_carried_forward_and_reruns_are_idempotent(spark, isolated_settings):
    from spark_jobs import build_profiles

    settings = isolated_settings
    base = "Data engineer with 6 years of experience in Python, SQL, Apache Spark and cloud computing."
    day1 = {f"C{i}": f"{base} Candidate number {i}." for i in range(4)}
    _write_day(spark, settings, "2026-11-20", day1, {"J1": "Data engineer", "J2": "Analyst"})
    first = build_profiles.run("2026-11-20", spark=spark)
    assert first["candidate_profiles"] == 4 and first["candidates_reprocessed"] == 4
    assert first["candidates_carried_forward"] == 0 and first["jobs_reprocessed"] == 2

    # next day: C0 uploads a changed resume, C9 is new, job J3 is posted; everything else is unchanged
    _write_day(spark, settings, "2026-11-21", {"C0": base + " Now also Kubernetes.", "C9": base + " New here."},
               {"J3": "Nurse"})
    second = build_profiles.run("2026-11-21", spark=spark)
    assert (second["candidates_reprocessed"], second["candidates_carried_forward"]) == (2, 3)
    assert (second["jobs_reprocessed"], second["jobs_carried_forward"]) == (1, 2)
    assert second["candidate_profiles"] == 5 and second["job_profiles"] == 3  # a full snapshot
    day2 = _snapshot(spark, settings, "candidate_profiles", "2026-11-21")
    day1_rows = {dict(r)["candidate_id"]: dict(r) for r in _snapshot(spark, settings, "candidate_profiles", "2026-11-20")}
    carried = {dict(r)["candidate_id"]: dict(r) for r in day2 if dict(r)["candidate_id"] in ("C1", "C2", "C3")}
    for cand, row in carried.items():  # carried rows are the previous profile, re-dated
        assert {k: v for k, v in row.items() if k != "run_date"} == {
            k: v for k, v in day1_rows[cand].items() if k != "run_date"}
    texts = _snapshot(spark, settings, "profile_texts", "2026-11-21")
    assert len(texts) == 5 + 3

    again = build_profiles.run("2026-11-21", spark=spark)  # re-running the date: same snapshot
    assert (again["candidates_reprocessed"], again["candidates_carried_forward"]) == (2, 3)
    assert _snapshot(spark, settings, "candidate_profiles", "2026-11-21") == day2
    assert _snapshot(spark, settings, "profile_texts", "2026-11-21") == texts


# ---------------------------------------------------------------- one MiniLM pass per document (issue 13)


class CountingMiniLM:
    """Stands in for MiniLM: records every text it runs a forward pass on. Its model input is the
    first 256 whitespace tokens (the real encoder: 256 word pieces), so texts that differ past the
    window share a pass, as EmbeddingCache.input_keys makes them do."""

    dim = 384

    def __init__(self, model_version: str):
        self.model_version = model_version
        self.passes: list[str] = []

    def encode(self, texts, batch_size=32):
        import hashlib

        import numpy as np

        self.passes.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vec = np.random.default_rng(seed).standard_normal(self.dim)
            out[i] = vec / np.linalg.norm(vec)
        return out

    def input_keys(self, texts):
        import hashlib

        return [hashlib.blake2b(" ".join(t.split()[:256]).encode(), digest_size=16).digest() for t in texts]


@pytest.fixture()
def counting_minilm(monkeypatch):
    """The occupation ranker in mode "full" on a counting MiniLM (the bundled occupation matrices,
    the real static encoder and TF-IDF signals), shared by the ranker and build_profiles' embed step."""
    import numpy as np

    import matching.embeddings as embeddings
    import matching.occupations as occupations
    import matching.profiles as profiles

    encoder = CountingMiniLM(str(np.load(occupations.VECTORS_FILE)["version"]))
    cache = embeddings.EmbeddingCache(encoder)
    monkeypatch.setattr(embeddings, "get_cache", lambda name="minilm": cache)
    monkeypatch.setattr(occupations, "DEFAULT_MODE", "full")
    ranker = occupations.OccupationRanker("full")
    monkeypatch.setattr(profiles, "get_ranker", lambda mode="full": ranker)
    return encoder


CONTACT_HEADERS = [
    "Jane Doe\njane.doe@example.com | (512) 555-0199 | Austin, TX\n",
    "Mark O'Neil\n+44 7700 900123 · mark.oneil+jobs@mail.co.uk\n",
    "Ana Lima\nana_lima@empresa.com.br, +55 11 98765-4321\n",
]


def test_a_resume_with_contacts_at_the_top_costs_one_long_minilm_pass(counting_minilm, shared_data, tmp_path):
    """Each resume: one forward pass over its redacted text (the occupation signal's and the
    match's vector), none over the original; the vector handed to gold/embeddings is that one."""
    import csv
    import itertools
    import sys

    from matching.profiles import HEADLINE_CHARS, redact_contacts
    from spark_jobs.build_profiles import candidate_results, job_results

    csv.field_size_limit(sys.maxsize)
    with open(shared_data / "livecareer" / "resumes_dev.csv", newline="", encoding="utf-8") as fh:
        bodies = [row["Resume_str"] for row in itertools.islice(csv.DictReader(fh), 3)]
    raw_root = str(tmp_path / "lake" / "raw")
    resumes = [header + body for header, body in zip(CONTACT_HEADERS, bodies, strict=True)]
    rows = [{**_resume_row(raw_root, "acme", f"raw/documents/tenant_id=acme/resumes/R{i}.txt", text.encode()),
             "candidate_id": f"C{i}"} for i, text in enumerate(resumes)]
    results = candidate_results(rows, raw_root)
    assert [r["ok"] for r in results] == [True] * 3
    redacted = [redact_contacts(t) for t in resumes]
    assert all("@" not in t and "555-0199" not in t and "7700" not in t for t in redacted)
    long_passes = [t for t in counting_minilm.passes if len(t) > HEADLINE_CHARS]
    assert sorted(long_passes) == sorted(redacted)  # old code: the originals as well (two passes each)
    assert [r["text"] for r in results] == redacted
    assert [r["vector"] for r in results] == [counting_minilm.encode([t])[0].tolist() for t in redacted]

    counting_minilm.passes.clear()
    jobs = [{"tenant_id": "acme", "job_id": f"J{i}", "event_id": f"post-{i}", "title": title, "description": body,
             "job_status": "open"} for i, (title, body) in enumerate([("Accountant", bodies[0]), ("Nurse", bodies[1])])]
    assert all(r["ok"] for r in job_results(jobs))
    assert len([t for t in counting_minilm.passes if len(t) > HEADLINE_CHARS]) == 2  # one per job ad

"""Silver + documents → profiles → embeddings → matches → gate → DynamoDB (dynalite) → read API.

Real components on 127.0.0.1: Spark local[1], dynalite + moto server (EventBridge, SQS) started by
common.local_services on free ports, the real matching library with the `hashing` encoder.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

RUN_DATE = "2026-11-22"
DT = "2026-11-21"
T0 = dt.datetime(2026, 11, 21, 9, 0)

RESUMES = {
    "C1": "Senior Python developer. 7 years of experience building data pipelines with Python, SQL, "
    "Apache Spark and machine learning. Worked with databases, software development and cloud computing.",
    "C2": "Registered nurse with 5 years of experience in patient care, nursing, first aid and "
    "medication administration in a busy hospital ward.",
    "C3": "Data analyst. 3 years of experience with SQL, data analysis, statistics, Python and "
    "reporting dashboards for business stakeholders.",
    "C7": "Software developer with 4 years of experience in Java, Python, SQL and web development "
    "for online retail platforms.",
}
JOBS = [
    # tenant, job_id, title, description, status event
    ("acme", "J1", "Data engineer", "Build data pipelines in Python and SQL with Apache Spark. Machine learning a plus.", None),
    ("acme", "J2", "Staff nurse", "Provide patient care and nursing on a hospital ward; first aid certificate required.", None),
    ("acme", "J3", "Data scientist", "Machine learning, statistics and Python for data analysis.", "filled"),
    ("globex", "J4", "Java developer", "Software development in Java and SQL for web platforms.", None),
]  # fmt: skip


def _write_silver(spark, settings):
    from spark_jobs._lake import write_partitions

    def write(event_type, rows, ddl):
        df = spark.createDataFrame(rows, ddl + ", dt string")
        write_partitions(df, settings.table_uri("silver", event_type), ["dt"])

    cands = [
        ("acme", "C1"),
        ("acme", "C2"),
        ("acme", "C3"),
        ("acme", "C4"),
        ("acme", "C5"),
        ("acme", "C6"),
        ("globex", "C7"),
    ]
    write(
        "candidate_registered",
        [(f"reg-{c}", t, T0, c, "Leeds", "GB", "hybrid", 40000.0, DT) for t, c in cands],
        "event_id string, tenant_id string, occurred_at timestamp, candidate_id string, location_city string, "
        "location_country string, remote_preference string, desired_salary_min double",
    )
    raw = settings.zone_uri("raw")
    uploads = []
    for tenant, cand in cands:
        if cand == "C5":
            continue  # registered, never uploaded a resume
        ext = "pdf" if cand == "C4" else "txt"
        rel = f"raw/documents/tenant_id={tenant}/resumes/R{cand}.{ext}"
        uploads.append(
            (f"up-{cand}", tenant, T0 + dt.timedelta(hours=1), cand, f"R{cand}", rel, "text/plain", DT)
        )
        if cand == "C6":
            continue  # the upload event exists, the file never arrived
        path = f"{raw}/documents/tenant_id={tenant}/resumes/R{cand}.{ext}"
        import pathlib

        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        data = b"%PDF-1.4 this is not really a pdf" if cand == "C4" else RESUMES[cand].encode()
        pathlib.Path(path).write_bytes(data)
    write(
        "resume_uploaded",
        uploads,
        "event_id string, tenant_id string, occurred_at timestamp, candidate_id string, resume_id string, "
        "document_uri string, content_type string",
    )
    job_ddl = (
        "event_id string, tenant_id string, occurred_at timestamp, job_id string, employer_id string, title string, "
        "description string, location_city string, location_country string, remote string, salary_min double, "
        "salary_max double, salary_period string"
    )
    write(
        "job_posted",
        [(f"post-{j}", t, T0, j, "E1", title, desc, "Leeds", "GB", "hybrid", 35000.0, 55000.0, "year", DT)
         for t, j, title, desc, _ in JOBS],
        job_ddl,
    )  # fmt: skip
    write(
        "job_closed",
        [
            (f"close-{j}", t, T0 + dt.timedelta(hours=2), j, reason, DT)
            for t, j, _, _, reason in JOBS
            if reason
        ],
        "event_id string, tenant_id string, occurred_at timestamp, job_id string, reason string",
    )


@pytest.fixture()
def services(tmp_path, monkeypatch):
    from common import local_services as ls
    from common.config import get_settings, reset_settings_cache

    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    for name, port in ls.pick_free_ports().items():
        monkeypatch.setenv(name, port)
    reset_settings_cache()
    settings = get_settings()
    ls.ensure_up(settings)
    yield settings
    ls.stop_all(settings)
    reset_settings_cache()


def _listen_for_matches_ready(settings):
    """A test-only rule on the bus → SQS queue, to see the MatchesReady event arrive."""
    from common.aws import client

    sqs, events = client("sqs"), client("events")
    url = sqs.create_queue(QueueName="test-matches-ready")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="test-matches-ready", EventBusName=settings.event_bus,
                    EventPattern=json.dumps({"source": ["platform.matching"], "detail-type": ["MatchesReady"]}))  # fmt: skip
    events.put_targets(
        Rule="test-matches-ready", EventBusName=settings.event_bus, Targets=[{"Id": "q", "Arn": arn}]
    )
    return sqs, url


def _run_items(settings, run_id):
    from common.aws import client

    ddb = client("dynamodb")
    items, kwargs = [], {"TableName": settings.dynamodb_table}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return [i for i in items if i.get("run_id", {}).get("S") == run_id]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_profiles_to_serving_end_to_end(spark, services):
    from spark_jobs import build_profiles, embed, match, publish, quality_gate, serving

    settings = services
    _write_silver(spark, settings)
    sqs, queue_url = _listen_for_matches_ready(settings)

    prof = build_profiles.run(RUN_DATE, spark=spark)
    assert prof["candidates_seen"] == 7 and prof["candidate_profiles"] == 4
    assert prof["candidates_quarantined"] == 2 and prof["candidates_without_resume"] == 1
    assert prof["quarantine_reasons"] == {"corrupt": 1, "document_missing": 1}
    assert prof["job_profiles"] == 4 and prof["jobs_open"] == 3
    quarantine = spark.read.parquet(settings.table_uri("quarantine", "documents")).collect()
    assert {(q.entity_id, q.reason, q.stage) for q in quarantine} == {
        ("C4", "corrupt", "profiles"),
        ("C6", "document_missing", "profiles"),
    }
    texts = spark.read.parquet(settings.table_uri("gold", "profile_texts")).collect()
    assert not any("@" in t.text for t in texts)

    emb = embed.run(RUN_DATE, encoder="hashing", spark=spark)
    assert emb["embedded"] == 8 and emb["unchanged_skipped"] == 0

    m = match.run(RUN_DATE, k=2, spark=spark)
    from matching.scoring import DEFAULT_WEIGHTS_VERSION

    assert m["run_id"] == f"{RUN_DATE}T{DEFAULT_WEIGHTS_VERSION}" and m["tenants"] == 2
    assert m["pairs_scored"] == 3 * 2 + 1 * 1  # acme: 3 candidates × 2 open jobs; globex 1 × 1
    assert m["candidate_to_job_rows"] == 3 * 2 + 1 and m["job_to_candidate_rows"] == 2 * 2 + 1
    gold = spark.read.parquet(f"{settings.table_uri('gold', 'matches')}/run_id={m['run_id']}").collect()
    assert "J3" not in {g.job_id for g in gold}  # closed
    c1 = sorted(
        (g for g in gold if g.candidate_id == "C1" and g.direction == "candidate_to_job"),
        key=lambda g: g.rank,
    )
    assert c1[0].job_id == "J1" and "Python" in " ".join(c1[0].matched_skills)

    gate = quality_gate.run(RUN_DATE, spark=spark)
    assert gate["failed"] == 0

    pub = publish.run(RUN_DATE, spark=spark)
    pairs = {(g.candidate_id, g.job_id) for g in gold}
    # every entry of each direction's list, in one list per profile (matched or not)
    assert pub["entries_written"] == len(gold) and pub["lists_written"] == 4 + 4 and pub["lists_superseded"] == 0

    top = serving.top_jobs_for_candidate("acme", "C1", k=5)
    assert top.run_id == m["run_id"] and [x.job_id for x in top.matches] == [g.job_id for g in c1]
    assert [x.score for x in top.matches] == sorted((x.score for x in top.matches), reverse=True)
    assert top.matches[0].matched_skills  # explanation travels to the serving table
    j1 = serving.top_candidates_for_job("acme", "J1", k=5)
    expected_j1 = sorted(
        (g for g in gold if g.job_id == "J1" and g.direction == "job_to_candidate"), key=lambda g: g.rank
    )
    assert [x.candidate_id for x in j1.matches] == [g.candidate_id for g in expected_j1]
    closed = serving.top_candidates_for_job("acme", "J3")
    assert closed.run_id == m["run_id"] and closed.matches == []  # pointer moved, nothing stale served
    other_tenant = serving.top_jobs_for_candidate("globex", "C1")
    assert other_tenant.run_id is None  # the same id in another tenant is another candidate

    msgs = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    detail = json.loads(msgs[0]["Body"])["detail"]
    assert detail["run_id"] == m["run_id"] and detail["matches_by_tenant"] == {
        "acme": len(pairs) - 1,
        "globex": 1,
    }

    # Idempotent: the whole chain again gives the same outputs and the same serving items.
    before = _run_items(settings, m["run_id"])
    assert build_profiles.run(RUN_DATE, spark=spark)["candidate_profiles"] == 4
    assert embed.run(RUN_DATE, encoder="hashing", spark=spark)["embedded"] == 0
    again = match.run(RUN_DATE, k=2, spark=spark)
    assert {k: v for k, v in again.items() if not k.endswith("seconds")} == {
        k: v for k, v in m.items() if not k.endswith("seconds")
    }
    quality_gate.run(RUN_DATE, spark=spark)
    again_pub = publish.run(RUN_DATE, spark=spark)  # nothing changed: nothing rewritten, all lists kept
    assert again_pub["lists_written"] == 0 and again_pub["lists_kept"] == 4 + 4
    assert again_pub["entries_kept"] == pub["entries_written"]
    after = _run_items(settings, m["run_id"])
    assert len(after) == len(before) and sorted(i["SK"]["S"] for i in after) == sorted(
        i["SK"]["S"] for i in before
    )

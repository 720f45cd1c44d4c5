"""Simulator: reproducible, valid, realistic enough that matching means something."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter

import pytest

from ingestion.contracts import validate_event
from ingestion.routing import Routed, route_record
from ingestion.sim_sources import match_quality
from ingestion.simulator import build_day, scale_factor

pytestmark = pytest.mark.unit
RUN_DATE = "2026-11-22"


@pytest.fixture(scope="module")
def small_day():
    return build_day(RUN_DATE, seed=7, scale=0.2)


def test_same_seed_same_events_and_documents(small_day):
    again = build_day(RUN_DATE, seed=7, scale=0.2)
    assert again.events == small_day.events
    assert again.documents == small_day.documents
    other = build_day(RUN_DATE, seed=8, scale=0.2)
    assert {e["event_id"] for e in other.events}.isdisjoint({e["event_id"] for e in small_day.events})


def test_every_generated_event_is_valid_and_unique(small_day):
    assert all(validate_event(e).ok for e in small_day.events)
    ids = [e["event_id"] for e in small_day.events]
    assert len(ids) == len(set(ids))
    assert set(Counter(e["event_type"] for e in small_day.events)) >= {
        "candidate_registered", "resume_uploaded", "job_posted", "match_impression", "match_clicked",
        "application_submitted", "application_status_changed", "notification_sent"}


def test_events_fall_in_the_run_date_with_some_late_from_the_day_before(small_day):
    start = dt.datetime.fromisoformat(f"{RUN_DATE}T00:00:00+00:00")
    times = [dt.datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")) for e in small_day.events]
    assert all(start - dt.timedelta(hours=7) <= t < start + dt.timedelta(days=1) for t in times)
    late = sum(t < start for t in times)
    assert 0 < late < len(times) * 0.2
    # Delivery order is not event-time order (out-of-order arrival).
    assert times != sorted(times)


def test_no_cross_tenant_interactions(small_day):
    tenant_of = {p.candidate_id: p.tenant_id for p in small_day.people}
    tenant_of.update({j.job_id: j.tenant_id for j in small_day.postings})
    for e in small_day.events:
        payload = e["payload"]
        for key in ("candidate_id", "job_id"):
            if key in payload:
                assert tenant_of[payload[key]] == e["tenant_id"]


def test_clicks_favour_better_matches(small_day):
    people = {p.candidate_id: p for p in small_day.people}
    jobs = {j.job_id: j for j in small_day.postings}
    clicked = {(e["payload"]["candidate_id"], e["payload"]["job_id"]) for e in small_day.events if e["event_type"] == "match_clicked"}
    shown = [(e["payload"]["candidate_id"], e["payload"]["job_id"]) for e in small_day.events if e["event_type"] == "match_impression"]
    q_clicked = [match_quality(people[c], jobs[j]) for c, j in shown if (c, j) in clicked]
    q_ignored = [match_quality(people[c], jobs[j]) for c, j in shown if (c, j) not in clicked]
    assert q_clicked and sum(q_clicked) / len(q_clicked) > 2 * sum(q_ignored) / len(q_ignored)


def test_resumes_share_skills_with_jobs_of_their_occupation(small_day):
    by_occupation = {}
    for job in small_day.postings:
        by_occupation.setdefault(job.occupation, job)
    pairs = [(p, by_occupation[p.occupation]) for p in small_day.people if p.occupation in by_occupation]
    assert len(pairs) > len(small_day.people) / 2
    assert sum(match_quality(p, j) > 0.2 for p, j in pairs) > 0.8 * len(pairs)
    assert all(skill in pairs[0][0].resume_text for skill in pairs[0][0].skills)


def test_documents_include_readable_docx_and_pdf(small_day):
    import docx
    import pypdf

    keys = [k for k, _ in small_day.documents]
    assert all(k.startswith("raw/documents/tenant_id=") for k in keys)
    uploaded = {e["payload"]["document_uri"] for e in small_day.events if e["event_type"] == "resume_uploaded"}
    assert uploaded <= set(keys)
    body = dict(small_day.documents)
    pdf = next((k for k in keys if k.endswith(".pdf")), None)
    docx_key = next((k for k in keys if k.endswith(".docx")), None)
    assert pdf and docx_key, "small day should contain at least one PDF and one DOCX resume"
    assert "Summary" in pypdf.PdfReader(io.BytesIO(body[pdf])).pages[0].extract_text()
    assert any(p.text == "Summary" for p in docx.Document(io.BytesIO(body[docx_key])).paragraphs)


def test_bad_records_cover_every_kind_and_fail_as_expected(small_day):
    from ingestion.contracts import validate_event as validate

    reasons = Counter(reason for reason, _ in small_day.bad_records)
    assert {"malformed_json", "missing_tenant", "wrong_type", "missing_field", "extra_field", "unknown_event_type",
            "unknown_schema_version", "future_timestamp", "ancient_timestamp", "oversized_record"} <= set(reasons)
    end_of_day = dt.datetime.fromisoformat(f"{RUN_DATE}T23:59:59.999999+00:00")
    for reason, data in small_day.bad_records:
        routed = route_record(data, end_of_day)
        verdict = validate(routed.line) if isinstance(routed, Routed) else None
        if reason == "extra_field":  # additive: valid, the unknown field set aside
            assert verdict.ok and verdict.extra == {"payload.debug_note": "left in by a developer"}
            continue
        got = verdict.reason if verdict else routed.reason
        assert got == reason


def test_scale_knob():
    assert scale_factor("small") == 1.0 and scale_factor("medium") == 10.0
    assert scale_factor("large") * 4_300 >= 1_000_000
    assert scale_factor(43_000) == pytest.approx(10.0)
    with pytest.raises(ValueError):
        scale_factor("huge")
    with pytest.raises(ValueError):
        scale_factor(-1)
    assert len(build_day(RUN_DATE, 1, 0.4).events) > 1.6 * len(build_day(RUN_DATE, 1, 0.2).events)


def test_real_resume_and_job_files(tmp_path):
    resumes = tmp_path / "resumes.csv"
    jobs = tmp_path / "jobs.csv"
    with open(resumes, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Category", "Resume_str"])
        writer.writerow([1, "ACCOUNTANT", "Staff accountant: general ledger, reconciliations, accounts payable, SAP."])
        writer.writerow([2, "CHEF", "Line chef: menu planning, food safety, kitchen inventory, catering."])
        writer.writerow([3, "EMPTY", ""])
    with open(jobs, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Job Title", "Job Description"])
        writer.writerow(["Accountant", "Maintain the general ledger, reconciliations, accounts payable in SAP."])
        writer.writerow(["Sous Chef", "Menu planning, food safety, kitchen inventory and catering events."])
    day = build_day(RUN_DATE, 3, 0.05, resumes_csv=resumes, jobs_csv=jobs)
    texts = {p.resume_text for p in day.people}
    assert texts <= {"Staff accountant: general ledger, reconciliations, accounts payable, SAP.",
                     "Line chef: menu planning, food safety, kitchen inventory, catering."}
    assert {j.title for j in day.postings} <= {"Accountant", "Sous Chef"}
    assert all(validate_event(e).ok for e in day.events)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no text column"):
        build_day(RUN_DATE, 3, 0.05, resumes_csv=bad)

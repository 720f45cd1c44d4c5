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


def test_future_record_stays_in_the_future_when_a_past_day_is_replayed_later(small_day):
    # landing judges "future" against the arrival time: a day simulated weeks or months after its date
    # (a history, a backfill) must still carry a record from the future.
    future = next(data for reason, data in small_day.bad_records if reason == "future_timestamp")
    end_of_day = dt.datetime.fromisoformat(f"{RUN_DATE}T23:59:59.999999+00:00")
    for replayed_after in (dt.timedelta(0), dt.timedelta(days=4), dt.timedelta(days=300)):
        routed = route_record(future, end_of_day + replayed_after)
        assert not isinstance(routed, Routed) and routed.reason == "future_timestamp", replayed_after


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


@pytest.fixture(scope="module")
def three_days():
    """A cold day and two steady days, each continuing the day before."""
    days = [build_day("2026-11-20", seed=7, scale=0.5)]
    for date in ("2026-11-21", "2026-11-22"):
        days.append(build_day(date, seed=7, scale=0.5, state=days[-1].state))
    return days


def test_steady_days_continue_the_marketplace_with_a_few_percent_new_or_changed_documents(three_days):
    cold, steady, _ = three_days
    assert (cold.kind, steady.kind) == ("cold", "steady")
    n = len(cold.people)
    assert 0 < steady.new_candidates + steady.changed_resumes <= 0.1 * n
    assert len(steady.events) < 0.5 * len(cold.events)  # a normal day, not a second cold start
    registered = {e["payload"]["candidate_id"] for e in steady.events if e["event_type"] == "candidate_registered"}
    known = {p.candidate_id for p in cold.people}
    assert registered and registered.isdisjoint(known)  # only newcomers register
    reuploads = [e for e in steady.events if e["event_type"] == "resume_uploaded"
                 and e["payload"]["candidate_id"] in known]
    assert len(reuploads) == steady.changed_resumes > 0
    changed = {p.candidate_id: p for p in steady.people}
    before = {p.candidate_id: p for p in cold.people}
    for event in reuploads:  # a changed resume: new document, new text, one more skill
        cid = event["payload"]["candidate_id"]
        assert changed[cid].resume_text != before[cid].resume_text
        assert changed[cid].skills > before[cid].skills
    ids = [e["event_id"] for d in three_days for e in d.events]
    assert len(ids) == len(set(ids))


def test_applications_move_through_their_stages_over_later_days(three_days):
    cold, steady, third = three_days
    submitted = {e["payload"]["application_id"] for e in cold.events if e["event_type"] == "application_submitted"}
    later = [e for d in (steady, third) for e in d.events if e["event_type"] == "application_status_changed"]
    assert {e["payload"]["application_id"] for e in later} & submitted  # yesterday's applications move on
    status = {}
    for day in three_days:
        for event in sorted(day.events, key=lambda e: e["occurred_at"]):
            if event["event_type"] == "application_status_changed":
                p = event["payload"]
                assert status.get(p["application_id"], "applied") == p["from_status"]  # in order, no skips
                status[p["application_id"]] = p["to_status"]
    in_progress = {a.application_id for a in third.state.applications}
    assert in_progress and all(status.get(a, "applied") in ("applied", "screened", "interviewed", "offered")
                               for a in in_progress)
    # a closed job stays closed: no new application to it on a later day
    closed = cold.state.closed
    new_apps = [e for e in steady.events if e["event_type"] == "application_submitted"]
    assert not [e for e in new_apps if e["payload"]["job_id"] in closed]


def test_a_steady_day_is_reproducible_and_leaves_its_input_state_alone(three_days):
    cold, steady, _ = three_days
    pending_before = [(a.application_id, a.status) for a in cold.state.applications]
    again = build_day("2026-11-21", seed=7, scale=0.5, state=cold.state)
    assert again.events == steady.events
    assert [(a.application_id, a.status) for a in cold.state.applications] == pending_before
    with pytest.raises(ValueError, match="continues the day before"):
        build_day("2026-11-23", seed=7, scale=0.5, state=cold.state)


def test_two_scales_on_the_same_date_share_no_ids():
    small, bigger = build_day(RUN_DATE, seed=7, scale=0.2), build_day(RUN_DATE, seed=7, scale=0.3)
    assert {e["event_id"] for e in small.events}.isdisjoint({e["event_id"] for e in bigger.events})
    apps = {e["payload"].get("application_id") for e in small.events} - {None}
    assert apps.isdisjoint({e["payload"].get("application_id") for e in bigger.events})


def test_run_simulation_saves_the_day_for_the_next_one(isolated_settings, monkeypatch):
    from ingestion import simulator

    class Sink:
        def __init__(self, *a, **kw):
            pass

        def put(self, records):
            from types import SimpleNamespace

            return SimpleNamespace(sent=len(records), retried_records=0)

    monkeypatch.setattr(simulator, "KinesisProducer", Sink)
    monkeypatch.setattr(simulator, "EventBridgeProducer", Sink)
    monkeypatch.setattr(simulator, "aws_client", lambda service: None)
    first = simulator.run_simulation("2026-11-21", seed=3, scale=0.1, write_documents=False)
    second = simulator.run_simulation("2026-11-22", seed=3, scale=0.1, write_documents=False)
    again = simulator.run_simulation("2026-11-22", seed=3, scale=0.1, write_documents=False)
    assert (first["day"], second["day"]) == ("cold", "steady")
    assert again == {**second, "seconds": again["seconds"], "generate_seconds": again["generate_seconds"]}
    assert simulator.state_path(3, simulator.history_key(0.1), "2026-11-22").exists()

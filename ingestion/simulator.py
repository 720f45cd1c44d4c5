"""Marketplace simulator: one day of a job-talent marketplace as an event stream (``make simulate``).

Reproducible: the same (run_date, seed, scale) gives identical events — ids are uuid5 of the seed,
date and a counter, and every random choice comes from one seeded generator. Scalable: ``scale`` is
``small`` (~300 candidates, ~120 jobs, a few thousand events), ``medium`` (×10), ``large`` (~1M
events) or a target event count.

What happens in the day: employers post (some update, some close) jobs; candidates register and
upload a resume (TXT, some DOCX/PDF, written to ``raw/documents``); the matcher's feed shows each
candidate up to 10 jobs of their tenant; clicks and applications depend on the true match quality
(skill overlap) and the rank; applications move through screened → interviewed → offered → hired
(or rejected / withdrawn) with realistic conversion and delays; notifications go out. Events occur
within the run date, plus some from the previous evening delivered late, out of order. Job events
come from the employer service via EventBridge, everything else via Kinesis. A few deliberately bad
records (and duplicate deliveries) make the quarantine path real.

Days build on each other: the marketplace at the end of a day (people, jobs, applications still in
progress) is kept as a ``MarketState`` (saved under ``<LOCAL_STATE_DIR>/simulator/``). A day whose
previous day has a state is a *steady* day: applications move on through their stages over days,
jobs close (filled, expired) and new ones replace them, ~3 % new candidates register, ~2 % re-upload a
changed resume, and a share of the others come back to their feed. A day without one is a *cold*
day: the whole marketplace (``scale``) arrives at once.

CLI: ``python -m ingestion.simulator --run-date YYYY-MM-DD [--seed N] [--scale small|medium|large|<events>]
[--resumes-csv PATH] [--jobs-csv PATH]``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gzip
import json
import logging
import pickle
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.aws import client as aws_client
from common.config import get_settings
from ingestion import documents, lake_io
from ingestion.contracts import CURRENT_SCHEMA_VERSION, to_utc_iso
from ingestion.producers import EventBridgeProducer, KinesisProducer, OutboundRecord, encode_event
from ingestion.sim_sources import (
    JOB_LABEL_COLUMNS,
    JOB_TEXT_COLUMNS,
    RESUME_LABEL_COLUMNS,
    RESUME_TEXT_COLUMNS,
    EscoSource,
    Person,
    Posting,
    match_quality,
    read_text_csv,
    real_person,
    real_posting,
    words,
)

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("6a1f3c0e-2b7d-4e59-9c1a-5d8e7f0b3a21")
SCALES = {"small": 1.0, "medium": 10.0, "large": 240.0}  # large ≈ 1M events
BASE_CANDIDATES, BASE_JOBS = 300, 120
EVENTS_PER_UNIT = 4_300  # measured: scale 1.0 emits about this many events
TENANTS = ("acme-talent", "globex-careers")
EVENTBRIDGE_TYPES = {"job_posted", "job_updated", "job_closed"}
PRODUCERS = {
    "candidate_registered": "candidate-service", "resume_uploaded": "candidate-service",
    "job_posted": "employer-service", "job_updated": "employer-service", "job_closed": "employer-service",
    "application_submitted": "application-service", "application_status_changed": "application-service",
    "match_impression": "matching-service", "match_clicked": "matching-service",
    "notification_sent": "notification-service",
}
FEED_SIZE = 10
POOL_SAME, POOL_RANDOM = 100, 150  # candidate-selection bounds per person
LATE_SHARE = 0.05  # entities that started the previous evening; their early events arrive late
DOC_FORMATS = (("txt", 0.9), ("docx", 0.05), ("pdf", 0.05))
FUTURE_RECORD_AHEAD = dt.timedelta(days=365)  # the deliberately bad future_timestamp record, past the day's end
ADDITIVE = {"extra_field"}  # "bad" records the contract accepts (the unknown field is kept in `extra`)
# A steady day, as shares of the cold day's candidates / jobs (so a day's new documents are ≈ 5 %).
NEW_CANDIDATE_SHARE = 0.03
CHANGED_RESUME_SHARE = 0.02
RETURNING_SHARE = 0.15  # existing candidates who open their feed on a steady day
STALE_CLOSE_SHARE = 0.02  # open jobs cancelled / expired per day
MIN_NEW_JOB_SHARE = 0.01
# Days an application waits for its next status change, per stage it is in (uniform ranges).
STEP_DAYS = {"applied": (0.2, 2.5), "screened": (1.0, 4.0), "interviewed": (1.0, 3.0), "offered": (0.5, 2.0)}
FUNNEL_STEPS = (("applied", "screened"), ("screened", "interviewed"), ("interviewed", "offered"), ("offered", "hired"))


def scale_factor(scale: str | float | int) -> float:
    """``small|medium|large`` or a number: a target event count (>= 1000) or a multiplier (< 1000)."""
    if isinstance(scale, str) and scale in SCALES:
        return SCALES[scale]
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale {scale!r} is not small|medium|large or a number") from None
    if value <= 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    return value / EVENTS_PER_UNIT if value >= 1000 else value


@dataclass
class DayPlan:
    """Everything generated for one day, before delivery."""

    events: list[dict] = field(default_factory=list)
    bad_records: list[tuple[str, bytes]] = field(default_factory=list)  # (expected reason, bytes)
    documents: list[tuple[str, bytes]] = field(default_factory=list)  # (lake-relative key, bytes)
    people: list[Person] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)
    kind: str = "cold"  # cold | steady
    new_candidates: int = 0
    changed_resumes: int = 0
    new_jobs: int = 0
    state: MarketState | None = None  # the marketplace at the end of the day


@dataclass
class Application:
    """An application still in progress: its next status change happens at ``next_at``."""

    application_id: str
    tenant_id: str
    candidate_id: str
    job_id: str
    employer_id: str
    quality: float
    status: str
    next_at: dt.datetime


@dataclass
class MarketState:
    """The marketplace at the end of ``as_of`` (what the next day starts from)."""

    as_of: str
    people: list[Person]
    postings: list[Posting]  # every job ever posted (closed ones included, their ids in ``closed``)
    posted_at: dict[str, dt.datetime]
    closed: set[str]
    applications: list[Application]
    target_jobs: int  # open jobs the employers keep posting towards

    def open_postings(self) -> list[Posting]:
        return [j for j in self.postings if j.job_id not in self.closed]


class _Ids:
    def __init__(self, seed: int, run_date: str, size: str):
        # The scale is part of every id: a small and a medium day simulated for the same date into one
        # lake (`make run`, then `make run SCALE=medium`) must never share an event or application id —
        # silver keeps one event per event_id, and mixing two days' applications broke the funnel.
        self.prefix = f"{seed}/{size}/{run_date}"
        self.counters: Counter = Counter()

    def next(self, kind: str) -> str:
        self.counters[kind] += 1
        return str(uuid.uuid5(NAMESPACE, f"{self.prefix}/{kind}/{self.counters[kind]}"))


class _Day:
    def __init__(self, run_date: str, seed: int, size: str = "1"):
        self.start = dt.datetime.combine(dt.date.fromisoformat(run_date), dt.time(), tzinfo=dt.UTC)
        self.end = self.start + dt.timedelta(days=1)
        self.ids = _Ids(seed, run_date, size)
        self.plan = DayPlan()
        self.pending: list[Application] = []  # applications that move on after this day
        self.match_run_id = f"{(self.start - dt.timedelta(days=1)).date().isoformat()}Tw1"

    def emit(self, event_type: str, when: dt.datetime, tenant: str, payload: dict) -> dict | None:
        if when >= self.end:  # happens tomorrow: not part of this day
            return None
        event = {
            "event_id": self.ids.next("event"),
            "event_type": event_type,
            "schema_version": CURRENT_SCHEMA_VERSION,
            "occurred_at": to_utc_iso(when),
            "tenant_id": tenant,
            "producer": PRODUCERS[event_type],
            "payload": payload,
        }
        self.plan.events.append(event)
        return event


def _minutes(rng: np.random.Generator, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(minutes=float(rng.uniform(low, high)))


def _start_time(rng: np.random.Generator, day: _Day, latest_hour: float) -> dt.datetime:
    if rng.random() < LATE_SHARE:
        return day.start - dt.timedelta(hours=float(rng.uniform(0.1, 6)))
    return day.start + dt.timedelta(hours=float(rng.uniform(0, latest_hour)))


def _post_jobs(rng, day: _Day, postings: list[Posting]) -> dict[str, dt.datetime]:
    posted_at = {}
    for job in postings:
        when = _start_time(rng, day, 14)
        posted_at[job.job_id] = when
        payload = {
            "job_id": job.job_id, "employer_id": job.employer_id, "title": job.title, "description": job.description,
            "location": {"city": job.city, "region": job.region, "country": "US"}, "remote": job.remote,
            "salary_min": job.salary_min, "salary_max": job.salary_max,
            "salary_currency": "USD" if job.salary_min else None, "salary_period": "year" if job.salary_min else None,
            "seniority": job.seniority, "employment_type": "full_time", "occupation_hint": job.occupation,
        }
        day.emit("job_posted", when, job.tenant_id, payload)
        day.plan.documents.append(
            (documents.document_uri(job.tenant_id, "jobs", job.job_id, "txt"), job.description.encode("utf-8"))
        )
        if rng.random() < 0.15 and job.salary_max:
            raised = round(job.salary_max * 1.05, -2)
            day.emit("job_updated", when + _minutes(rng, 30, 360), job.tenant_id,
                     {"job_id": job.job_id, "employer_id": job.employer_id, "salary_max": raised})
    return posted_at


def _register(rng, day: _Day, person: Person) -> dt.datetime:
    when = _start_time(rng, day, 20)
    self_reported = None
    if rng.random() < 0.4:  # opt-in, self-reported fairness attributes
        self_reported = {
            "opt_in": True,
            "gender": str(rng.choice(["woman", "man", "non_binary", "prefer_not_to_say"], p=[0.46, 0.46, 0.03, 0.05])),
            "age_band": str(rng.choice(["18-24", "25-34", "35-44", "45-54", "55+"])),
        }
    day.emit("candidate_registered", when, person.tenant_id, {
        "candidate_id": person.candidate_id, "display_name": person.display_name, "email": person.email,
        "location": {"city": person.city, "region": person.region, "country": person.country},
        "remote_preference": person.remote_preference, "desired_salary_min": person.desired_salary_min,
        "self_reported": self_reported,
    })
    return _upload_resume(rng, day, person, when)


def _upload_resume(rng, day: _Day, person: Person, when: dt.datetime) -> dt.datetime:
    """A resume document (a new resume id each upload) and its resume_uploaded event."""
    extension = str(rng.choice([f for f, _ in DOC_FORMATS], p=[p for _, p in DOC_FORMATS]))
    resume_id = day.ids.next("resume")
    key = documents.document_uri(person.tenant_id, "resumes", resume_id, extension)
    body = documents.render(person.resume_text, extension)
    day.plan.documents.append((key, body))
    uploaded = when + _minutes(rng, 1, 30)
    day.emit("resume_uploaded", uploaded, person.tenant_id, {
        "candidate_id": person.candidate_id, "resume_id": resume_id, "document_uri": key,
        "content_type": documents.CONTENT_TYPES[extension], "size_bytes": len(body), "sha256": documents.sha256_hex(body),
    })
    return uploaded


def _funnel(rng, day: _Day, person: Person, job: Posting, quality: float, applied_at: dt.datetime,
            source: str, match_run_id: str | None, closed: set[str]) -> None:
    """A new application: submitted now, then moved on through its stages (today or on later days)."""
    application_id = day.ids.next("application")
    tenant = person.tenant_id
    base = {"application_id": application_id, "candidate_id": person.candidate_id, "job_id": job.job_id}
    if not day.emit("application_submitted", applied_at, tenant, {**base, "source": source, "match_run_id": match_run_id}):
        return
    day.emit("notification_sent", applied_at + _minutes(rng, 0.1, 2), tenant, {
        "notification_id": day.ids.next("notification"), "recipient_type": "employer", "recipient_id": job.employer_id,
        "channel": "email", "template": "new_applicant", "match_run_id": match_run_id,
    })
    application = Application(application_id, tenant, person.candidate_id, job.job_id, job.employer_id, quality,
                              "applied", applied_at + _step_delay(rng, "applied"))
    _advance(rng, day, application, closed)


def _step_delay(rng, status: str) -> dt.timedelta:
    low, high = STEP_DAYS[status]
    return dt.timedelta(days=float(rng.uniform(low, high)))


def _advance(rng, day: _Day, app: Application, closed: set[str]) -> None:
    """Every status change of ``app`` due before the day ends; what is due later waits in the state."""
    # Conversion rises with match quality; each step takes hours to days.
    p_advance = {"applied": 0.25 + 0.6 * app.quality, "screened": 0.2 + 0.5 * app.quality,
                 "interviewed": 0.2 + 0.45 * app.quality, "offered": 0.75}
    base = {"application_id": app.application_id, "candidate_id": app.candidate_id, "job_id": app.job_id}
    while app.next_at < day.end and app.status in p_advance:
        when, status = app.next_at, app.status
        next_status = dict(FUNNEL_STEPS)[status]
        if rng.random() < 0.03:
            next_status = "withdrawn"
        elif rng.random() > p_advance[status]:
            next_status = "rejected" if status != "offered" else "withdrawn"
        elif next_status == "hired" and app.job_id in closed:
            next_status = "withdrawn"  # the job was filled by someone else meanwhile
        day.emit("application_status_changed", when, app.tenant_id, {**base, "from_status": status, "to_status": next_status})
        day.emit("notification_sent", when + _minutes(rng, 0.1, 5), app.tenant_id, {
            "notification_id": day.ids.next("notification"), "recipient_type": "candidate",
            "recipient_id": app.candidate_id, "channel": str(rng.choice(["email", "push"])),
            "template": f"application_{next_status}", "match_run_id": None,
        })
        app.status = next_status
        if next_status == "hired" and app.job_id not in closed:
            closed.add(app.job_id)
            day.emit("job_closed", when + _minutes(rng, 5, 60), app.tenant_id, {
                "job_id": app.job_id, "employer_id": app.employer_id, "reason": "filled",
                "hired_candidate_id": app.candidate_id,
            })
        if next_status in p_advance:
            app.next_at = when + _step_delay(rng, next_status)
    if app.status in p_advance:
        day.pending.append(app)


def _candidate_pool(rng, person: Person, jobs_by_tenant: dict[str, list[Posting]],
                    jobs_by_occupation: dict[tuple[str, str], list[Posting]]) -> list[Posting]:
    """What the matcher's cheap candidate-selection stage would hand the ranker: the jobs of the
    person's occupation plus a random sample of the tenant's others. Bounded, so the simulation stays
    linear in the number of people at a million events."""
    same = jobs_by_occupation.get((person.tenant_id, person.occupation), [])[:POOL_SAME]
    tenant_jobs = jobs_by_tenant.get(person.tenant_id, [])
    if len(tenant_jobs) <= POOL_RANDOM:
        return list({j.job_id: j for j in same + tenant_jobs}.values())
    sample = [tenant_jobs[int(i)] for i in rng.choice(len(tenant_jobs), size=POOL_RANDOM, replace=False)]
    return list({j.job_id: j for j in same + sample}.values())


def _feed(rng, day: _Day, person: Person, ready_at: dt.datetime, jobs: list[Posting],
          posted_at: dict[str, dt.datetime], closed: set[str]) -> None:
    """The matcher's feed: the best jobs (by a noisy estimate of quality) of the person's tenant."""
    shown_at = ready_at + _minutes(rng, 5, 120)
    open_jobs = [j for j in jobs if posted_at[j.job_id] <= shown_at]
    if not open_jobs:
        return
    qualities = np.array([match_quality(person, j) for j in open_jobs])
    estimate = qualities + rng.normal(0, 0.15, size=len(open_jobs))  # the matcher is good, not perfect
    order = np.argsort(-estimate)[:FEED_SIZE]
    notification = day.emit("notification_sent", shown_at - _minutes(rng, 0.5, 3), person.tenant_id, {
        "notification_id": day.ids.next("notification"), "recipient_type": "candidate",
        "recipient_id": person.candidate_id, "channel": "push", "template": "new_matches",
        "match_run_id": day.match_run_id,
    })
    if notification is None:
        return
    applied_any = False
    for rank, index in enumerate(order, start=1):
        job, quality = open_jobs[int(index)], float(qualities[int(index)])
        seen_at = shown_at + dt.timedelta(seconds=float(rng.uniform(0, 90)))
        impression_id = day.ids.next("impression")
        match = {"impression_id": impression_id, "candidate_id": person.candidate_id, "job_id": job.job_id,
                 "match_run_id": day.match_run_id, "rank": rank}
        if not day.emit("match_impression", seen_at, person.tenant_id,
                        {**match, "score": round(float(np.clip(estimate[int(index)], 0, 1)), 4), "surface": "candidate_feed"}):
            return
        p_click = min(0.9, (0.03 + 0.6 * quality ** 1.5) / rank ** 0.5)  # relevance x position bias
        if rng.random() >= p_click:
            continue
        clicked_at = seen_at + _minutes(rng, 0.1, 15)
        if not day.emit("match_clicked", clicked_at, person.tenant_id, match):
            continue
        if job.job_id not in closed and rng.random() < 0.1 + 0.6 * quality:
            applied_any = True
            _funnel(rng, day, person, job, quality, clicked_at + _minutes(rng, 2, 90), "match", day.match_run_id, closed)
    if not applied_any and rng.random() < 0.05:  # found something through search instead
        job = open_jobs[int(rng.integers(len(open_jobs)))]
        if job.job_id not in closed:
            _funnel(rng, day, person, job, match_quality(person, job), shown_at + _minutes(rng, 30, 300),
                    "search", None, closed)


def _close_stale(rng, day: _Day, jobs: list[Posting], posted_at: dict[str, dt.datetime], closed: set[str]) -> None:
    for job in jobs:
        if job.job_id not in closed and rng.random() < STALE_CLOSE_SHARE:
            closed.add(job.job_id)
            when = max(posted_at[job.job_id], day.start) + _minutes(rng, 60, 900)
            day.emit("job_closed", when, job.tenant_id, {
                "job_id": job.job_id, "employer_id": job.employer_id,
                "reason": str(rng.choice(["cancelled", "expired"])), "hired_candidate_id": None,
            })


def _bad_records(day: _Day, rng) -> list[tuple[str, bytes]]:
    """One of each kind of bad input, built from a real event so only the defect differs."""
    template = next(e for e in day.plan.events if e["event_type"] == "match_impression") if any(
        e["event_type"] == "match_impression" for e in day.plan.events) else day.plan.events[0]

    def variant(reason: str, mutate) -> tuple[str, bytes]:
        event = copy.deepcopy(template)
        event["event_id"] = day.ids.next("bad")
        mutate(event)
        return reason, json.dumps(event).encode("utf-8")

    noon = to_utc_iso(day.start + dt.timedelta(hours=12))
    return [
        ("malformed_json", b'{"event_id": "broken", "event_type": "match_impression", "payload": {'),
        variant("missing_tenant", lambda e: e.pop("tenant_id")),
        variant("wrong_type", lambda e: e.update(schema_version="1")),
        variant("wrong_type", lambda e: e["payload"].update(candidate_id=12345)),
        variant("missing_field", lambda e: e["payload"].pop("job_id")),
        # additive, not bad: the contract keeps an unknown field in `extra` (the event itself is valid)
        variant("extra_field", lambda e: e["payload"].update(debug_note="left in by a developer")),
        variant("unknown_event_type", lambda e: e.update(event_type="match_liked")),
        variant("unknown_schema_version", lambda e: e.update(schema_version=99)),
        # A year ahead: landing judges "future" against the arrival time (now), so a past day replayed
        # today must still send a record from the future, not one that has come of age since.
        variant("future_timestamp", lambda e: e.update(occurred_at=to_utc_iso(day.end + FUTURE_RECORD_AHEAD))),
        variant("ancient_timestamp", lambda e: e.update(occurred_at="2001-01-01T00:00:00Z")),
        variant("invalid_timestamp", lambda e: e.update(occurred_at=noon.replace("Z", ""))),
        variant("oversized_record", lambda e: e["payload"].update(surface="x" * 300_000)),
    ]


def _delivery_order(rng, events: list[dict]) -> list[dict]:
    """Arrival order: occurred_at + a delivery delay (mostly seconds, a few minutes): out of order."""
    delays = rng.exponential(5.0, size=len(events)) + (rng.random(len(events)) < 0.02) * rng.uniform(60, 3600, len(events))
    keys = [dt.datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")).timestamp() + d
            for e, d in zip(events, delays, strict=True)]
    return [events[i] for i in np.argsort(keys, kind="stable")]


def _make_postings(rng, day: _Day, esco: EscoSource, n: int, tenants: list[str], occupations: list[int],
                   job_rows: list | None) -> list[Posting]:
    if job_rows is not None:
        picks = rng.choice(len(job_rows), size=n, replace=n > len(job_rows))
        return [real_posting(rng, job_rows[int(i)], day.ids.next("job"), tenants[k], esco.locations)
                for k, i in enumerate(picks)]
    return [esco.posting(rng, occupations[int(rng.integers(len(occupations)))], day.ids.next("job"), tenants[k])
            for k in range(n)]


def _make_people(rng, day: _Day, esco: EscoSource, n: int, tenants: list[str], postings: list[Posting],
                 resume_rows: list | None) -> list[Person]:
    if resume_rows is not None:
        picks = rng.choice(len(resume_rows), size=n, replace=n > len(resume_rows))
        return [real_person(rng, resume_rows[int(i)], day.ids.next("candidate"), tenants[k], esco.locations)
                for k, i in enumerate(picks)]
    job_occupations = sorted({p.occupation_index for p in postings if p.occupation_index is not None})
    people = []
    for k in tqdm(range(n), desc="simulate people", unit="cand", disable=None, leave=False):
        # Most people look for the kinds of jobs on offer; some do not fit any of them.
        occ = (job_occupations[int(rng.integers(len(job_occupations)))] if job_occupations and rng.random() < 0.8
               else esco.occupations[int(rng.integers(len(esco.occupations)))])
        people.append(esco.person(rng, occ, day.ids.next("candidate"), tenants[k]))
    return people


def _as_words(people: list[Person], postings: list[Posting], real_resumes: bool, real_jobs: bool):
    """One side is real text, the other ESCO labels: compare both as words so quality stays meaningful."""
    if real_resumes == real_jobs:
        return people, postings
    people = [replace(p, skills=words(" ".join(p.skills))) if not real_resumes else p for p in people]
    postings = [replace(j, essential=words(" ".join(j.essential)), optional=words(" ".join(j.optional)))
                if not real_jobs else j for j in postings]
    return people, postings


def _changed_resume(rng, person: Person, postings: list[Posting]) -> Person:
    """The person learnt something: one more skill (one their kind of job asks for, when there is one)."""
    wanted = sorted({s for j in postings if j.occupation == person.occupation for s in j.essential | j.optional}
                    - person.skills) or sorted({s for j in postings[:50] for s in j.essential} - person.skills)
    if not wanted:
        return replace(person, resume_text=person.resume_text + "\n- Updated this month")
    skill = wanted[int(rng.integers(len(wanted)))]
    if "\nSkills\n" in person.resume_text:
        text = person.resume_text.replace("\nSkills\n", f"\nSkills\n- {skill}\n", 1)
    else:
        text = f"{person.resume_text}\nAdditional skills: {skill}"
    return replace(person, skills=person.skills | {skill}, resume_text=text)


def _pools(postings: list[Posting]):
    jobs_by_tenant: dict[str, list[Posting]] = {}
    jobs_by_occupation: dict[tuple[str, str], list[Posting]] = {}
    for job in postings:
        jobs_by_tenant.setdefault(job.tenant_id, []).append(job)
        jobs_by_occupation.setdefault((job.tenant_id, job.occupation), []).append(job)
    return jobs_by_tenant, jobs_by_occupation


def build_day(run_date: str, seed: int = 42, scale: str | float = "small", *, resumes_csv: Path | None = None,
              jobs_csv: Path | None = None, bad_records: bool = True, state: MarketState | None = None,
              candidates: int | None = None, jobs: int | None = None) -> DayPlan:
    """Generate one day (pure: no I/O besides reading the source data).

    ``state``: the marketplace at the end of the previous day (a steady day continues it); None → a
    cold day. ``plan.state`` is the marketplace at the end of this day. ``state`` is not modified.
    ``candidates`` / ``jobs``: the cold day's marketplace size (default: from ``scale``).
    """
    factor = scale_factor(scale)
    date_key = dt.date.fromisoformat(run_date).toordinal()
    rng = np.random.default_rng([seed, date_key])
    n_candidates = candidates or max(10, round(BASE_CANDIDATES * factor))
    n_jobs = jobs or max(4, round(BASE_JOBS * factor))
    day = _Day(run_date, seed, history_key(scale, candidates, jobs))
    esco = EscoSource()
    job_rows = read_text_csv(Path(jobs_csv), JOB_TEXT_COLUMNS, JOB_LABEL_COLUMNS) if jobs_csv else None
    resume_rows = read_text_csv(Path(resumes_csv), RESUME_TEXT_COLUMNS, RESUME_LABEL_COLUMNS) if resumes_csv else None
    if state is not None:
        state = copy.deepcopy(state)
        if dt.date.fromisoformat(state.as_of) != dt.date.fromisoformat(run_date) - dt.timedelta(days=1):
            raise ValueError(f"state is as of {state.as_of}; a steady {run_date} continues the day before it")
    closed = set(state.closed) if state else set()
    posted_at = dict(state.posted_at) if state else {}

    if state is None:  # cold day: the whole marketplace arrives
        tenants = [TENANTS[int(i)] for i in rng.choice(len(TENANTS), size=n_candidates + n_jobs, p=[0.65, 0.35])]
        occupations = esco.pick_occupations(rng, max(6, n_jobs // 4))
        new_postings = _make_postings(rng, day, esco, n_jobs, tenants[n_candidates:], occupations, job_rows)
        new_people = _make_people(rng, day, esco, n_candidates, tenants, new_postings, resume_rows)
        new_people, new_postings = _as_words(new_people, new_postings, bool(resumes_csv), bool(jobs_csv))
        people, postings, target_jobs = new_people, new_postings, n_jobs
        changed: list[Person] = []
        returning: list[Person] = []
        posted_at.update(_post_jobs(rng, day, new_postings))
        open_postings = new_postings
    else:
        target_jobs = state.target_jobs
        # what was in progress moves on first: status changes due today, hires closing their job
        for app in sorted(state.applications, key=lambda a: a.next_at):
            _advance(rng, day, app, closed)
        still_open = [j for j in state.postings if j.job_id not in closed]
        _close_stale(rng, day, still_open, posted_at, closed)
        for job in still_open:
            if job.job_id not in closed and job.salary_max and rng.random() < 0.02:
                day.emit("job_updated", day.start + _minutes(rng, 60, 1200), job.tenant_id,
                         {"job_id": job.job_id, "employer_id": job.employer_id,
                          "salary_max": round(job.salary_max * 1.05, -2)})
        still_open = [j for j in still_open if j.job_id not in closed]
        n_new_jobs = max(round(target_jobs * MIN_NEW_JOB_SHARE), target_jobs - len(still_open), 1)
        n_new_people = max(1, round(n_candidates * NEW_CANDIDATE_SHARE))
        tenants = [TENANTS[int(i)] for i in rng.choice(len(TENANTS), size=n_new_people + n_new_jobs, p=[0.65, 0.35])]
        occupations = sorted({j.occupation_index for j in state.postings if j.occupation_index is not None}) or \
            esco.pick_occupations(rng, max(6, n_jobs // 4))
        new_postings = _make_postings(rng, day, esco, n_new_jobs, tenants[n_new_people:], occupations, job_rows)
        new_people = _make_people(rng, day, esco, n_new_people, tenants, still_open + new_postings, resume_rows)
        new_people, new_postings = _as_words(new_people, new_postings, bool(resumes_csv), bool(jobs_csv))
        posted_at.update(_post_jobs(rng, day, new_postings))
        open_postings = still_open + new_postings
        # a few re-upload a changed resume; a share of the others come back to their feed
        draws = rng.random(len(state.people))
        changed_ids = {p.candidate_id for p, u in zip(state.people, draws, strict=True) if u < CHANGED_RESUME_SHARE}
        people, changed, returning = [], [], []
        for person, u in zip(state.people, draws, strict=True):
            if person.candidate_id in changed_ids:
                person = _changed_resume(rng, person, open_postings)
                changed.append(person)
            elif u < CHANGED_RESUME_SHARE + RETURNING_SHARE:
                returning.append(person)
            people.append(person)
        people += new_people
        postings = state.postings + new_postings

    jobs_by_tenant, jobs_by_occupation = _pools(open_postings)
    visitors = [(p, _register(rng, day, p)) for p in new_people]
    visitors += [(p, _upload_resume(rng, day, p, _start_time(rng, day, 20))) for p in changed]
    visitors += [(p, day.start + dt.timedelta(hours=float(rng.uniform(0, 22)))) for p in returning]
    for person, ready_at in tqdm(visitors, desc="simulate funnel", unit="cand", disable=None, leave=False):
        _feed(rng, day, person, ready_at, _candidate_pool(rng, person, jobs_by_tenant, jobs_by_occupation),
              posted_at, closed)
    if state is None:
        _close_stale(rng, day, postings, posted_at, closed)
    day.plan.events = _delivery_order(rng, day.plan.events)
    if bad_records and day.plan.events:
        day.plan.bad_records = _bad_records(day, rng)
    day.plan.people, day.plan.postings = people, postings
    day.plan.kind = "cold" if state is None else "steady"
    day.plan.new_candidates, day.plan.changed_resumes, day.plan.new_jobs = len(new_people), len(changed), len(new_postings)
    day.plan.state = MarketState(run_date, people, postings, posted_at, closed, day.pending, target_jobs)
    return day.plan


def _duplicates(plan: DayPlan, rng: np.random.Generator, share: float = 0.01) -> list[dict]:
    """Re-deliveries (at-least-once producers retrying after a timeout): same event, same id."""
    if not plan.events:
        return []
    picks = rng.choice(len(plan.events), size=max(1, int(len(plan.events) * share)), replace=False)
    return [plan.events[int(i)] for i in sorted(picks)]


def late_event_count(plan: DayPlan, run_date: str) -> int:
    """Events of the day's plan that occurred before the run date began (the previous evening's, delivered late)."""
    day_start = to_utc_iso(dt.datetime.combine(dt.date.fromisoformat(run_date), dt.time(), tzinfo=dt.UTC))
    return sum(e["occurred_at"] < day_start for e in plan.events)


def run_simulation(
    run_date: str,
    seed: int = 42,
    scale: str | float = "small",
    *,
    resumes_csv: str | Path | None = None,
    jobs_csv: str | Path | None = None,
    bad_records: bool = True,
    duplicate_share: float = 0.01,
    stream_name: str | None = None,
    bus_name: str | None = None,
    write_documents: bool = True,
    continue_history: bool = True,
    candidates: int | None = None,
    jobs: int | None = None,
) -> dict:
    """Generate one day and deliver it: Kinesis (most types), EventBridge (job_*), raw/documents.

    With ``continue_history`` the day continues the saved marketplace of the day before (a steady
    day) when there is one, and saves its own end state for the next day; else it is a cold day.
    Returns counts, including what the pipeline must reconcile to: ``expected_valid`` distinct valid
    events and ``expected_rejected`` bad records (by reason)."""
    settings = get_settings()
    started = time.perf_counter()
    previous = dt.date.fromisoformat(run_date) - dt.timedelta(days=1)
    size = history_key(scale, candidates, jobs)
    state = load_state(seed, size, previous.isoformat()) if continue_history else None
    plan = build_day(run_date, seed, scale, resumes_csv=resumes_csv, jobs_csv=jobs_csv, bad_records=bad_records,
                     state=state, candidates=candidates, jobs=jobs)
    rng = np.random.default_rng([seed, dt.date.fromisoformat(run_date).toordinal(), 1])
    duplicates = _duplicates(plan, rng, duplicate_share) if duplicate_share > 0 else []
    generated = time.perf_counter()

    kinesis_records: list[OutboundRecord] = []
    eventbridge_records: list[OutboundRecord] = []
    for event in plan.events + duplicates:
        record = encode_event(event)
        if event["event_type"] in EVENTBRIDGE_TYPES:
            eventbridge_records.append(OutboundRecord(record.data, record.partition_key, record.detail_type,
                                                      f"marketplace.{event['producer']}"))
        else:
            kinesis_records.append(record)
    # Bad records come from a buggy client of the ingest API, straight onto the stream.
    kinesis_records += [OutboundRecord(data, f"bad#{i}") for i, (_, data) in enumerate(plan.bad_records)]

    documents_written = 0
    if write_documents:
        raw_root = settings.zone_uri("raw")
        for key, body in tqdm(plan.documents, desc="documents", unit="doc", disable=None, leave=False):
            lake_io.write_bytes(f"{raw_root}/{key.removeprefix('raw/')}", body)
            documents_written += 1
    lanes = settings.producer_concurrency
    kinesis = KinesisProducer(aws_client("kinesis"), stream_name or settings.kinesis_stream, concurrency=lanes)
    events = EventBridgeProducer(aws_client("events"), bus_name or settings.event_bus, concurrency=lanes)
    kinesis_report = kinesis.put(kinesis_records)
    eventbridge_report = events.put(eventbridge_records)

    if continue_history:
        save_state(seed, size, plan.state)
    by_type = Counter(e["event_type"] for e in plan.events)
    late = late_event_count(plan, run_date)
    result = {
        "day": plan.kind,
        "candidates": len(plan.people),
        "open_jobs": len(plan.state.open_postings()),
        "events": len(plan.events),
        "new_candidates": plan.new_candidates,
        "changed_resumes": plan.changed_resumes,
        "new_jobs": plan.new_jobs,
        "applications_in_progress": len(plan.state.applications),
        "events_by_type": dict(sorted(by_type.items())),
        "late_events_previous_day": late,
        "duplicate_deliveries": len(duplicates),
        "bad_records": len(plan.bad_records),
        "expected_valid": len(plan.events) + sum(reason in ADDITIVE for reason, _ in plan.bad_records),
        "expected_rejected": dict(sorted(Counter(r for r, _ in plan.bad_records if r not in ADDITIVE).items())),
        "kinesis_records": kinesis_report.sent,
        "eventbridge_entries": eventbridge_report.sent,
        "producer_retries": kinesis_report.retried_records + eventbridge_report.retried_records,
        "documents": documents_written,
        "generate_seconds": round(generated - started, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("simulate %s (seed %s, scale %s): %s", run_date, seed, scale, result)
    return result


def history_key(scale: str | float, candidates: int | None = None, jobs: int | None = None) -> str:
    """One marketplace per (scale | explicit size): part of every id and of the state's path."""
    if candidates or jobs:
        return f"{candidates or 'scale'}x{jobs or 'scale'}@{scale_factor(scale):g}"
    return f"{scale_factor(scale):g}"


def state_path(seed: int, size: str, as_of: str) -> Path:
    """Where the marketplace at the end of ``as_of`` is kept (one history per seed and size)."""
    return Path(get_settings().local_state_dir) / "simulator" / f"seed={seed}" / f"size={size}" / f"{as_of}.pkl.gz"


def load_state(seed: int, size: str, as_of: str) -> MarketState | None:
    path = state_path(seed, size, as_of)
    if not path.exists():
        return None
    with gzip.open(path, "rb") as handle:
        return pickle.load(handle)  # noqa: S301 - our own file, written by save_state


def save_state(seed: int, size: str, state: MarketState) -> Path:
    path = state_path(seed, size, state.as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    with gzip.open(partial, "wb", compresslevel=1) as handle:
        pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)  # a crash never leaves half a state for the next day to read
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulate one marketplace day into Kinesis + EventBridge")
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", default="small", help="small | medium | large | <target events>")
    parser.add_argument("--resumes-csv", type=Path, help="real resumes (e.g. ../shared/data/livecareer/resumes_dev.csv)")
    parser.add_argument("--jobs-csv", type=Path, help="real job ads (e.g. ../shared/data/glassdoor_ds_jobs/glassdoor_jobs.csv)")
    parser.add_argument("--no-bad-records", action="store_true", help="do not inject the deliberately bad records")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run_simulation(args.run_date, args.seed, args.scale, resumes_csv=args.resumes_csv,
                            jobs_csv=args.jobs_csv, bad_records=not args.no_bad_records)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

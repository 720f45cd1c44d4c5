"""A small, deterministic, contract-shaped lake for analytics development and tests.

Writes silver event tables and gold profile/match tables exactly as docs/contracts.md describes,
so the dbt project can be built and tested without the ingestion and Spark stages. The same seed
always produces the same lake. CLI: ``python -m analytics.sample_data --run-date 2026-11-22``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from common.lake_client import LakeClient, get_lake_client

log = logging.getLogger(__name__)

ESCO = "http://data.europa.eu/esco"
# A handful of real ESCO v1.1.1 occupations and skills (ESCO, European Commission; CC BY 4.0).
OCCUPATIONS = {
    "2512.4": ("software developer", ["python", "java", "javascript", "sql", "cloud"]),
    "2511.4": ("data scientist", ["python", "machine_learning", "statistics", "sql", "data_mining"]),
    "2511.3": ("data analyst", ["sql", "statistics", "data_analysis", "python"]),
    "2513.5": ("web developer", ["javascript", "cloud", "teamwork"]),
    "2411.1": ("accountant", ["accounting", "customer_service", "teamwork"]),
    "5223.4": ("sales assistant", ["sell_products", "communicate_customers", "customer_service"]),
}
SKILLS = {
    "python": ("ccd0a1d9-afda-43d9-b901-96344886e14d", "Python (computer programming)"),
    "sql": ("598de5b0-5b58-4ea7-8058-a4bc4d18c742", "SQL"),
    "java": ("19a8293b-8e95-4de3-983f-77484079c389", "Java (computer programming)"),
    "javascript": ("3cd569a2-4f88-4c1e-9995-8dce8c5e51a7", "JavaScript"),
    "machine_learning": ("3a2d5b45-56e4-4f5a-a55a-4a4a65afdc43", "machine learning"),
    "statistics": ("7ee4c2ea-b349-4bd2-81a3-ec31475d4833", "statistics"),
    "data_mining": ("25f0ea33-b4a2-4f31-b7b4-7d20e827b180", "data mining"),
    "accounting": ("ecc18804-a466-40d9-98b4-fba5cd67dd4b", "accounting"),
    "customer_service": ("15a33d76-4640-438d-ae64-fdc0c1d3eebc", "customer service"),
    "teamwork": ("a5b0cd5c-e13a-4ab3-8d93-4d242adcfb01", "teamwork principles"),
    "communicate_customers": ("0da516ee-e70e-4384-be13-f5ff80be8127", "communicate with customers"),
    "cloud": ("bd14968e-e409-45af-b362-3495ed7b10e0", "cloud technologies"),
    "sell_products": ("29a50780-f81b-429c-b410-7f23a492e19d", "sell products"),
    "data_analysis": ("2b92a5b2-6758-4ee3-9fb4-b6387a55cc8f", "perform data analysis"),
}
STAGES = ["applied", "screened", "interviewed", "offered", "hired"]
GENDERS = ["female", "male", "non_binary", None]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+"]
CITIES = [("Berlin", "BE", "DE"), ("Lisbon", "Lisboa", "PT"), ("Austin", "TX", "US")]


@dataclass(frozen=True)
class SampleSpec:
    run_date: str = "2026-11-22"
    seed: int = 7
    tenants: tuple[str, ...] = ("tenant-acme", "tenant-globex")
    candidates_per_tenant: int = 60
    jobs_per_tenant: int = 16
    days: int = 21
    top_k: int = 10
    weights_version: str = "w1"
    include_clicks: bool = True  # False exercises the "table has no files yet" path


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _skill(key: str) -> tuple[str, str]:
    uid, label = SKILLS[key]
    return f"{ESCO}/skill/{uid}", label


class _Events:
    """Collects silver rows per event type with the contract's envelope columns."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.rows: dict[str, list[dict]] = {}

    def add(self, event_type: str, tenant_id: str, at: datetime, producer: str, **payload) -> None:
        self.rows.setdefault(event_type, []).append(
            {
                "event_id": _uuid(self.rng),
                "event_type": event_type,
                "schema_version": 1,
                "occurred_at": at,
                "tenant_id": tenant_id,
                "producer": producer,
                **payload,
                "_ingested_at": at + timedelta(minutes=2),
                "dt": at.date().isoformat(),
            }
        )


def build_sample(spec: SampleSpec) -> dict[tuple[str, str], pd.DataFrame]:
    """All tables as DataFrames keyed by (zone, table); pure and deterministic."""
    rng = random.Random(spec.seed)
    end = datetime.fromisoformat(spec.run_date).replace(tzinfo=UTC) + timedelta(hours=23)
    start = end - timedelta(days=spec.days)
    events = _Events(rng)
    cand_profiles, job_profiles, matches, runs = [], [], [], []
    run_dates = [(end - timedelta(days=d)).date() for d in (14, 7, 2)]

    def at(day_from: datetime, max_days: float) -> datetime:
        moment = day_from + timedelta(hours=rng.uniform(1, max(1.0, max_days * 24)))
        return min(moment, end).replace(microsecond=0)

    for tenant in spec.tenants:
        candidates, jobs = [], []
        for i in range(spec.candidates_per_tenant):
            cid = f"c-{tenant[-4:]}-{i:04d}"
            occ = rng.choice(list(OCCUPATIONS))
            opt_in = rng.random() < 0.7
            city = rng.choice(CITIES)
            registered = at(start, spec.days * 0.5)
            events.add(
                "candidate_registered", tenant, registered, "accounts",
                candidate_id=cid, display_name=f"Candidate {i}", email=f"cand{i}@example.com",
                location_city=city[0], location_region=city[1], location_country=city[2],
                remote_preference=rng.choice(["onsite", "hybrid", "remote"]),
                desired_salary_min=float(rng.randrange(30, 90) * 1000),
                self_reported_opt_in=opt_in,
                self_reported_gender=rng.choice(GENDERS) if opt_in else None,
                self_reported_age_band=rng.choice(AGE_BANDS) if opt_in else None,
            )
            keys = sorted(set(rng.sample(OCCUPATIONS[occ][1], k=min(3, len(OCCUPATIONS[occ][1])))
                              + rng.sample(list(SKILLS), k=1)))
            cand_profiles.append(_profile(tenant, "candidate_id", cid, occ, keys, city, spec, rng))
            candidates.append((cid, occ, registered))
        for j in range(spec.jobs_per_tenant):
            jid = f"j-{tenant[-4:]}-{j:04d}"
            occ = rng.choice(list(OCCUPATIONS))
            city = rng.choice(CITIES)
            posted = at(start, spec.days * 0.6)
            events.add(
                "job_posted", tenant, posted, "jobs",
                job_id=jid, employer_id=f"e-{tenant[-4:]}-{j % 4}", title=OCCUPATIONS[occ][0].title(),
                description=f"We are hiring a {OCCUPATIONS[occ][0]}.", location_city=city[0],
                location_region=city[1], location_country=city[2], remote=rng.choice(["onsite", "hybrid", "remote"]),
                salary_min=50000.0, salary_max=80000.0, salary_currency="EUR", salary_period="year",
                seniority=rng.choice(["junior", "mid", "senior"]), employment_type="full_time",
                occupation_hint=OCCUPATIONS[occ][0],
            )
            essential = OCCUPATIONS[occ][1][:3]
            profile = _profile(tenant, "job_id", jid, occ, sorted(OCCUPATIONS[occ][1]), city, spec, rng)
            profile["essential_skills"] = [_skill(k)[0] for k in essential]
            profile["optional_skills"] = [_skill(k)[0] for k in OCCUPATIONS[occ][1][3:]]
            profile["job_status"] = "open"
            job_profiles.append(profile)
            jobs.append({"job_id": jid, "occ": occ, "posted": posted, "profile": profile, "hired": None})

        _simulate_runs_and_funnel(tenant, candidates, jobs, run_dates, spec, rng, events, matches, runs, end)

    tables: dict[tuple[str, str], pd.DataFrame] = {}
    for event_type, rows in events.rows.items():
        if event_type == "match_clicked" and not spec.include_clicks:
            continue
        frame = pd.DataFrame(rows)
        # Spark writes microsecond UTC timestamps; mirror that.
        for column in ("occurred_at", "_ingested_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
        tables[("silver", event_type)] = frame
    tables[("gold", "candidate_profiles")] = pd.DataFrame(cand_profiles)
    tables[("gold", "job_profiles")] = pd.DataFrame(job_profiles)
    tables[("gold", "matches")] = pd.DataFrame(matches)
    runs_df = pd.DataFrame(runs).drop_duplicates("run_id").reset_index(drop=True)
    tables[("gold", "match_runs")] = runs_df
    return tables


def _profile(tenant, key, entity_id, occ, skill_keys, city, spec, rng) -> dict:
    skills = [_skill(k) for k in skill_keys]
    return {
        "tenant_id": tenant,
        key: entity_id,
        "content_hash": hashlib.sha256(f"{entity_id}:{spec.seed}".encode()).hexdigest()[:16],
        "skills": [s[0] for s in skills],
        "skill_labels": [s[1] for s in skills],
        "occupation_code": occ,
        "occupation_label": OCCUPATIONS[occ][0],
        "occupation_score": round(rng.uniform(0.5, 0.95), 3),
        "years_experience": float(rng.randrange(0, 15)),
        "seniority": rng.choice(["junior", "mid", "senior"]),
        "education_level": rng.choice(["bachelor", "master", None]),
        "location_city": city[0],
        "location_country": city[2],
        "remote": rng.choice(["onsite", "hybrid", "remote"]),
        "salary_min": 45000.0,
        "salary_max": 85000.0,
        "profile_version": 1,
        "run_date": spec.run_date,
    }


def _score(cand_occ: str, job_occ: str, rng: random.Random) -> float:
    overlap = len(set(OCCUPATIONS[cand_occ][1]) & set(OCCUPATIONS[job_occ][1])) / 5
    return round(min(0.99, 0.3 + 0.6 * overlap + rng.uniform(0, 0.1)), 6)


def _simulate_runs_and_funnel(tenant, candidates, jobs, run_dates, spec, rng, events, matches, runs, end):
    applied: set[tuple[str, str]] = set()
    for run_day in run_dates:
        run_id = f"{run_day.isoformat()}T{spec.weights_version}"
        run_at = datetime.combine(run_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)
        live_c = [c for c in candidates if c[2] <= run_at]
        live_j = [j for j in jobs if j["posted"] <= run_at and j["hired"] is None]
        if not live_c or not live_j:
            continue
        scores = {(c[0], j["job_id"]): _score(c[1], j["occ"], rng) for c in live_c for j in live_j}
        for c in live_c:
            ranked = sorted(live_j, key=lambda j, c=c: -scores[(c[0], j["job_id"])])[: spec.top_k]
            for rank, job in enumerate(ranked, start=1):
                score = scores[(c[0], job["job_id"])]
                matches.append(_match_row(tenant, "candidate_to_job", c[0], job["job_id"], rank, score, run_id, run_day, spec))
                _impression_funnel(tenant, c[0], job, rank, score, run_id, run_at, rng, events, applied, end)
        for job in live_j:
            ranked = sorted(live_c, key=lambda c, job=job: -scores[(c[0], job["job_id"])])[: spec.top_k]
            for rank, c in enumerate(ranked, start=1):
                matches.append(_match_row(tenant, "job_to_candidate", c[0], job["job_id"], rank,
                                          scores[(c[0], job["job_id"])], run_id, run_day, spec))
        runs.append({
            "run_id": run_id, "run_date": run_day.isoformat(), "weights_version": spec.weights_version,
            "model_version": "all-MiniLM-L6-v2", "candidates": len(live_c), "jobs": len(live_j),
            "pairs_scored": len(scores), "matches_written": 0, "status": "published",
            "created_at": run_at, "updated_at": run_at + timedelta(hours=1),
        })
    # Direct applications (not from a match), so the funnel has more than one source.
    for c in candidates[::7]:
        job = rng.choice(jobs)
        if (c[0], job["job_id"]) not in applied and job["hired"] is None:
            when = max(c[2], job["posted"]) + timedelta(hours=5)
            if when < end:
                _apply(tenant, c[0], job, "direct", None, when, rng, events, applied, end)
    for job in jobs:
        if job["hired"]:
            events.add("job_closed", tenant, job["hired"][1], "jobs", job_id=job["job_id"],
                       employer_id=f"e-{tenant[-4:]}-0", reason="filled", hired_candidate_id=job["hired"][0])
        elif rng.random() < 0.15:
            events.add("job_closed", tenant, end - timedelta(hours=2), "jobs", job_id=job["job_id"],
                       employer_id=f"e-{tenant[-4:]}-0", reason="cancelled", hired_candidate_id=None)


def _match_row(tenant, direction, cid, jid, rank, score, run_id, run_day, spec) -> dict:
    return {
        "tenant_id": tenant, "direction": direction, "candidate_id": cid, "job_id": jid, "rank": rank,
        "score": score, "semantic": score, "skills": score, "experience": 0.5, "location": 1.0, "salary": 1.0,
        "matched_skills": ["SQL"], "missing_essential": [], "missing_optional": [],
        "weights_version": spec.weights_version, "model_version": "all-MiniLM-L6-v2", "run_id": run_id,
        "run_date": run_day.isoformat(),
    }


def _impression_funnel(tenant, cid, job, rank, score, run_id, run_at, rng, events, applied, end):
    shown = run_at + timedelta(hours=rng.uniform(1, 20))
    if shown >= end:
        return
    impression_id = _uuid(rng)
    events.add("match_impression", tenant, shown, "feed", impression_id=impression_id, candidate_id=cid,
               job_id=job["job_id"], match_run_id=run_id, rank=rank, score=score, surface="candidate_feed")
    if rng.random() < max(0.05, 0.5 - 0.05 * rank):
        clicked = shown + timedelta(minutes=rng.randrange(1, 90))
        events.add("match_clicked", tenant, clicked, "feed", impression_id=impression_id, candidate_id=cid,
                   job_id=job["job_id"], match_run_id=run_id, rank=rank)
        if rng.random() < 0.45 and (cid, job["job_id"]) not in applied and job["hired"] is None:
            _apply(tenant, cid, job, "match", run_id, clicked + timedelta(hours=1), rng, events, applied, end)


def _apply(tenant, cid, job, source, run_id, when, rng, events, applied, end):
    if when >= end:
        return
    applied.add((cid, job["job_id"]))
    app_id = f"a-{_uuid(rng)[:13]}"
    events.add("application_submitted", tenant, when, "applications", application_id=app_id, candidate_id=cid,
               job_id=job["job_id"], source=source, match_run_id=run_id)
    status, moment = "applied", when
    for nxt in STAGES[1:]:
        moment = moment + timedelta(days=rng.uniform(0.5, 3))
        if moment >= end:
            return
        if rng.random() < 0.3:
            events.add("application_status_changed", tenant, moment, "applications", application_id=app_id,
                       candidate_id=cid, job_id=job["job_id"], from_status=status,
                       to_status=rng.choice(["rejected", "rejected", "withdrawn"]))
            return
        if nxt == "hired" and job["hired"] is not None:
            return
        events.add("application_status_changed", tenant, moment, "applications", application_id=app_id,
                   candidate_id=cid, job_id=job["job_id"], from_status=status, to_status=nxt)
        status = nxt
    job["hired"] = (cid, moment + timedelta(hours=1))
    job["profile"]["job_status"] = "closed"


# Partitioning as the Spark jobs write it (docs/contracts.md).
PARTITIONS = {
    "silver": ["dt"],
    ("gold", "matches"): ["run_id"],
    ("gold", "match_runs"): ["run_id"],
    ("gold", "candidate_profiles"): ["run_date"],
    ("gold", "job_profiles"): ["run_date"],
}


def write_sample_lake(spec: SampleSpec | None = None, client: LakeClient | None = None) -> dict[str, int]:
    """Write the sample tables into the configured lake (overwriting them); returns rows per table."""
    spec = spec or SampleSpec()
    client = client or get_lake_client()
    counts = {}
    for (zone, table), df in build_sample(spec).items():
        parts = PARTITIONS.get((zone, table)) or PARTITIONS.get(zone)
        client.write_table(df, zone, table, partition_cols=parts, mode="overwrite")
        counts[f"{zone}.{table}"] = len(df)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-date", default=date.today().isoformat())
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counts = write_sample_lake(SampleSpec(run_date=args.run_date, seed=args.seed))
    print("sample lake written:")
    for name, rows in sorted(counts.items()):
        print(f"  {name:45s} {rows:>7d}")


if __name__ == "__main__":
    main()

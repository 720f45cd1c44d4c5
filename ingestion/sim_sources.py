"""Where the simulator's people and jobs come from, with their text.

Default (no flags): ESCO-grounded — each job is a real USAJOBS title (public domain, bundled in
``ingestion/data/usajobs_titles.csv.gz``) whose ESCO occupation supplies the essential/optional
skills written into its description; each candidate's resume is generated from an ESCO occupation
(mostly the occupations the jobs need) and a sample of its skills, so skill overlap — and therefore
matching — is meaningful. With ``--resumes-csv`` / ``--jobs-csv`` the texts are real files (e.g.
../shared/data/livecareer/resumes_dev.csv); match quality is then word overlap.
"""

from __future__ import annotations

import csv
import gzip
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
USAJOBS_FILE = DATA_DIR / "usajobs_titles.csv.gz"
FIRST_NAMES = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Priya", "Mateo", "Amara", "Lucas", "Chloe",
               "Omar", "Grace", "Kenji", "Sofia", "Daniel", "Aisha", "Leo", "Hannah", "Ravi", "Elena",
               "Samuel", "Fatima", "Jonas", "Isla", "Diego", "Mei", "Tomas", "Nora", "Kwame")
LAST_NAMES = ("Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Patel", "Müller", "Rossi", "Kim", "Silva",
              "Johnson", "Haddad", "Larsen", "Mensah", "Novak", "Tanaka", "Brown", "Costa", "Ali", "Dubois")
EMPLOYERS = ("Northwind Health", "Contoso Logistics", "Fabrikam Engineering", "Tailspin Services",
             "Woodgrove Finance", "Adatum Public Services", "Litware Systems", "Proseware Foods")
UNIVERSITIES = ("State University", "Technical Institute", "Community College", "City University")
DEGREES = (("none", None), ("secondary", "High school diploma"), ("bachelor", "Bachelor of Science"),
           ("bachelor", "Bachelor of Arts"), ("master", "Master of Science"), ("doctorate", "PhD"))
# 2025 GS base pay, step 1 (OPM table, rounded) — grade -> yearly USD; WG/other grades fall back to GS-7.
GS_PAY = {1: 22_000, 2: 25_000, 3: 27_000, 4: 31_000, 5: 34_000, 6: 38_000, 7: 42_000, 8: 47_000,
          9: 52_000, 10: 57_000, 11: 63_000, 12: 75_000, 13: 90_000, 14: 106_000, 15: 125_000}
STOPWORDS = set("""a an and are as at be by for from has have in is it its of on or that the this to was were will
with you your our we they their other such all any can may must able work working experience skills""".split())
csv.field_size_limit(sys.maxsize)


@dataclass
class Person:
    candidate_id: str
    tenant_id: str
    display_name: str
    email: str
    city: str
    region: str
    country: str
    remote_preference: str
    desired_salary_min: float | None
    occupation: str  # label (ESCO occupation or real-file category)
    skills: frozenset[str]
    years_experience: int
    resume_text: str


@dataclass
class Posting:
    job_id: str
    tenant_id: str
    employer_id: str
    title: str
    description: str
    city: str
    region: str
    remote: str
    salary_min: float | None
    salary_max: float | None
    seniority: str
    occupation: str
    essential: frozenset[str]
    optional: frozenset[str] = field(default_factory=frozenset)
    occupation_index: int | None = None  # ESCO occupation (index in matching's taxonomy), None for real files


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z][a-z+#]{3,}", text.lower()) if w not in STOPWORDS)


def match_quality(person: Person, posting: Posting) -> float:
    """Ground truth the simulated users react to: share of the job's essential skills the person has
    (plus a little for optional ones), in [0, 1]."""
    if not posting.essential:
        return 0.0
    essential = len(person.skills & posting.essential) / len(posting.essential)
    optional = len(person.skills & posting.optional) / len(posting.optional) if posting.optional else 0.0
    return min(1.0, 0.85 * essential + 0.15 * optional)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _seniority(years: int) -> str:
    return "junior" if years < 3 else "mid" if years < 7 else "senior" if years < 12 else "lead"


class EscoSource:
    """Occupations that have real USAJOBS titles; skills and descriptions from the ESCO bundle."""

    def __init__(self):
        from matching.taxonomy import load_taxonomy

        self.taxonomy = load_taxonomy()
        index = {occ_id: i for i, occ_id in enumerate(self.taxonomy.occupation_ids)}
        with gzip.open(USAJOBS_FILE, "rt", encoding="utf-8", newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row["esco_occupation_id"] in index]
        self.postings_by_occ: dict[int, list[dict]] = {}
        for row in rows:
            self.postings_by_occ.setdefault(index[row["esco_occupation_id"]], []).append(row)
        # Only occupations with enough essential skills to tell people apart.
        self.occupations = sorted(o for o in self.postings_by_occ if len(self.taxonomy.occupation_skills(o)[0]) >= 5)
        self.locations = sorted({(r["city"], r["region"]) for r in rows if r["city"] and r["region"]})

    def _skills(self, occ: int) -> tuple[list[str], list[str]]:
        essential, optional = self.taxonomy.occupation_skills(occ)
        labels = self.taxonomy.skill_labels
        return [labels[i] for i in essential], [labels[i] for i in optional]

    def pick_occupations(self, rng: np.random.Generator, n: int) -> list[int]:
        n = min(n, len(self.occupations))
        return [int(o) for o in rng.choice(self.occupations, size=n, replace=False)]

    def posting(self, rng: np.random.Generator, occ: int, job_id: str, tenant: str) -> Posting:
        row = self.postings_by_occ[occ][int(rng.integers(len(self.postings_by_occ[occ])))]
        essential, optional = self._skills(occ)
        grade = int(row["high_grade"]) if row["high_grade"].isdigit() else 7
        base = GS_PAY.get(grade, GS_PAY[7])
        salary_min, salary_max = float(base), float(round(base * 1.3, -2))
        years = max(0, grade - 7) + int(rng.integers(0, 3))
        remote = str(rng.choice(["onsite", "hybrid", "remote"], p=[0.6, 0.3, 0.1]))
        label = self.taxonomy.occupation_labels[occ]
        description = "\n".join(
            [
                f"{row['position_title']} — {row['hiring_agency']}",
                f"Location: {row['city']}, {row['region']} ({remote})",
                f"Grade: {row['grade_code']}. Salary: ${salary_min:,.0f} – ${salary_max:,.0f} per year.",
                "",
                "About the role",
                self.taxonomy.occupation_descriptions[occ],
                "",
                "What you will do",
                *[f"- {s}" for s in essential[:8]],
                "",
                "Requirements",
                f"- {years}+ years of experience as a {label} or in a related role",
                *[f"- {s}" for s in essential[8:16]],
                "",
                "Nice to have",
                *[f"- {s}" for s in optional[:6]],
            ]
        )
        return Posting(
            job_id=job_id, tenant_id=tenant, employer_id=f"emp-{_slug(row['hiring_agency'])}",
            title=row["position_title"], description=description, city=row["city"], region=row["region"],
            remote=remote, salary_min=salary_min, salary_max=salary_max, seniority=_seniority(years),
            occupation=label, essential=frozenset(essential), optional=frozenset(optional[:12]),
            occupation_index=occ,
        )

    def person(self, rng: np.random.Generator, occ: int, candidate_id: str, tenant: str) -> Person:
        essential, optional = self._skills(occ)
        keep = rng.uniform(0.35, 0.95)
        have = [s for s in essential if rng.random() < keep]
        have += [s for s in optional if rng.random() < 0.2]
        other = self.occupations[int(rng.integers(len(self.occupations)))]
        have += [s for s in self._skills(other)[0] if rng.random() < 0.15]  # a few skills from elsewhere
        have = list(dict.fromkeys(have))
        first, last = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))], LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
        city, region = self.locations[int(rng.integers(len(self.locations)))]
        years = int(rng.integers(0, 20))
        label = self.taxonomy.occupation_labels[occ]
        education, degree = DEGREES[int(rng.integers(len(DEGREES)))]
        employers = [EMPLOYERS[int(i)] for i in rng.choice(len(EMPLOYERS), size=2, replace=False)]
        split = max(1, years // 2)
        lines = [
            f"{first} {last}",
            f"{city}, {region} · {first.lower()}.{last.lower()}@example.com",
            "",
            label.title(),
            "Summary",
            f"{'Experienced' if years >= 5 else 'Motivated'} {label} with {years} years of experience. "
            + self.taxonomy.occupation_descriptions[occ].split(". ")[0].strip().rstrip(".") + ".",
            "",
            "Skills",
            *[f"- {s}" for s in have],
            "",
            "Experience",
            f"{label.title()}, {employers[0]} — {2026 - split}–present",
            *[f"- Responsible for: {s}" for s in have[:4]],
            f"{label.title()}, {employers[1]} — {2026 - years}–{2026 - split}",
            *[f"- {s.capitalize()}" for s in have[4:7]],
        ]
        if degree:
            lines += ["", "Education", f"{degree}, {UNIVERSITIES[int(rng.integers(len(UNIVERSITIES)))]}"]
        return Person(
            candidate_id=candidate_id, tenant_id=tenant, display_name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}.{candidate_id[:6]}@example.com", city=city, region=region,
            country="US", remote_preference=str(rng.choice(["onsite", "hybrid", "remote"], p=[0.4, 0.4, 0.2])),
            desired_salary_min=float(round(rng.uniform(30_000, 110_000), -3)) if rng.random() < 0.7 else None,
            occupation=label, skills=frozenset(have), years_experience=years, resume_text="\n".join(lines),
        )


def _pick_column(header: list[str], candidates: tuple[str, ...], path: Path, what: str) -> str:
    lowered = {h.lower(): h for h in header}
    for name in candidates:
        if name.lower() in lowered:
            return lowered[name.lower()]
    raise ValueError(f"{path}: no {what} column (looked for {', '.join(candidates)}; found {header})")


def read_text_csv(path: Path, text_columns: tuple[str, ...], label_columns: tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, text) rows of a real CSV, skipping empty texts."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        text_col = _pick_column(header, text_columns, path, "text")
        label_col = _pick_column(header, label_columns, path, "title/category")
        return [(row[label_col] or "unknown", row[text_col]) for row in reader if (row[text_col] or "").strip()]


RESUME_TEXT_COLUMNS = ("Resume_str", "Resume", "resume_text", "text")
RESUME_LABEL_COLUMNS = ("Category", "category", "title")
JOB_TEXT_COLUMNS = ("Job Description", "job_description", "description", "Responsibilities", "text")
JOB_LABEL_COLUMNS = ("Job Title", "position_title", "title", "Title", "Business Title")


def real_person(rng: np.random.Generator, row: tuple[str, str], candidate_id: str, tenant: str,
                locations: list[tuple[str, str]]) -> Person:
    label, text = row
    first, last = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))], LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
    city, region = locations[int(rng.integers(len(locations)))]
    return Person(
        candidate_id=candidate_id, tenant_id=tenant, display_name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}.{candidate_id[:6]}@example.com", city=city, region=region, country="US",
        remote_preference=str(rng.choice(["onsite", "hybrid", "remote"])), desired_salary_min=None,
        occupation=label.lower(), skills=words(text), years_experience=int(rng.integers(0, 20)), resume_text=text,
    )


def real_posting(rng: np.random.Generator, row: tuple[str, str], job_id: str, tenant: str,
                 locations: list[tuple[str, str]]) -> Posting:
    title, text = row
    city, region = locations[int(rng.integers(len(locations)))]
    vocabulary = sorted(words(text))
    essential = frozenset(vocabulary[:: max(1, len(vocabulary) // 40)])  # a spread sample of its words
    return Posting(
        job_id=job_id, tenant_id=tenant, employer_id=f"emp-{int(rng.integers(1, 40)):03d}", title=title[:200],
        description=text, city=city, region=region, remote=str(rng.choice(["onsite", "hybrid", "remote"])),
        salary_min=None, salary_max=None, seniority="mid", occupation=title.lower(), essential=essential,
        optional=frozenset(vocabulary) - essential,
    )

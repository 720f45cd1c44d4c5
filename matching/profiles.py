"""Candidate and job profiles: ESCO skills + occupation + structured fields from text.

``meta`` carries structured event fields (location_*, remote, salary_min/max/period, seniority,
desired_salary_min); they take precedence over what the text says. Empty or too-short text raises
``ProfileError(reason)`` so the pipeline quarantines it instead of scoring nothing as something.
"""

from __future__ import annotations

import math

from matching import fields
from matching.hashing import content_hash
from matching.occupations import rank_occupations
from matching.skills import get_extractor
from matching.taxonomy import load_taxonomy
from matching.text import tokens

PROFILE_VERSION = "p1"
MIN_CANDIDATE_TOKENS = 8
MIN_JOB_TOKENS = 4
HEADLINE_CHARS = 120  # a resume's first line is usually the person's job title


class ProfileError(ValueError):
    """Text cannot make a profile; ``reason``: empty_text | insufficient_text."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _check_text(text: str, minimum: int, what: str) -> None:
    if not text or not text.strip():
        raise ProfileError("empty_text", f"{what} has no text")
    n = len(tokens(text, stemmed=False))
    if n == 0:
        raise ProfileError("empty_text", f"{what} has no words")
    if n < minimum:
        raise ProfileError("insufficient_text", f"{what} has {n} words, need at least {minimum}")


def _present(value) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out >= 0 else None


def _skills(text: str) -> tuple[list[str], list[str], list[int]]:
    ex = get_extractor()
    idx = ex.extract(text)
    tax = ex.taxonomy
    return [tax.skill_uri(i) for i in idx], [tax.skill_labels[i] for i in idx], idx


def job_document(title: str, description: str) -> str:
    """The one text a job is embedded and categorised by (so the two share cached vectors)."""
    return f"{title or ''}\n{description or ''}"


def headline(text: str) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:HEADLINE_CHARS]
    return ""


def _occupation(title: str, document: str) -> tuple[str | None, str | None, float | None, int | None]:
    ranked = rank_occupations(title, document, k=1)
    if not ranked:
        return None, None, None, None
    best = ranked[0]
    return best.code, best.label, round(best.score, 6), best.index


def _location_fields(text: str, meta: dict) -> dict:
    loc = fields.location(text)
    out = {"location_city": loc.city, "location_country": loc.country, "remote": loc.remote}
    for key in ("location_city", "location_country", "remote"):
        if _present(meta.get(key)):
            out[key] = meta[key]
    if _present(meta.get("remote_preference")) and not _present(meta.get("remote")):
        out["remote"] = meta["remote_preference"]
    return out


def build_candidate_profile(text: str, meta: dict | None = None) -> dict:
    """Profile of a resume text (see docs/contracts.md gold/candidate_profiles)."""
    meta = meta or {}
    _check_text(text, MIN_CANDIDATE_TOKENS, "resume")
    uris, labels, _ = _skills(text)
    code, label, occ_score, _ = _occupation(headline(text), text)
    years = fields.years_of_experience(text)
    desired = _number(meta.get("desired_salary_min"))
    profile = {
        "content_hash": content_hash(text),
        "skills": uris,
        "skill_labels": labels,
        "occupation_code": code,
        "occupation_label": label,
        "occupation_score": occ_score,
        "years_experience": years,
        "seniority": meta.get("seniority") if _present(meta.get("seniority"))
        else fields.seniority(headline(text), years),
        "education_level": fields.education_level(text),
        **_location_fields(text, meta),
        "salary_min": desired,
        "salary_max": None,
        "desired_salary_min": desired,
        "profile_version": PROFILE_VERSION,
    }
    return profile


def _job_salary(description: str, meta: dict) -> tuple[float | None, float | None]:
    lo, hi = _number(meta.get("salary_min")), _number(meta.get("salary_max"))
    if lo is not None or hi is not None:
        period = meta.get("salary_period") or ("hour" if (hi or lo or 0) < 300 else "year")
        return fields.to_yearly(lo, period), fields.to_yearly(hi, period)
    if _present(meta.get("salary_text")):
        return fields.yearly_salary(str(meta["salary_text"]))
    return fields.salary_from_description(description)


def build_job_profile(title: str, description: str, meta: dict | None = None) -> dict:
    """Profile of a job ad; skills split into essential/optional by the best occupation's relations."""
    meta = meta or {}
    title = title or ""
    description = description or ""
    _check_text(f"{title}\n{description}", MIN_JOB_TOKENS, "job ad")
    full = job_document(title, description)
    uris, labels, idx = _skills(full)
    code, label, occ_score, occ_index = _occupation(title, full)
    tax = load_taxonomy()
    optional_set: set[int] = set()
    if occ_index is not None:
        _, optional_idx = tax.occupation_skills(occ_index)
        optional_set = set(int(i) for i in optional_idx)
    # Skills the occupation does not list count as essential: the employer wrote them down.
    essential = [tax.skill_uri(i) for i in idx if i not in optional_set]
    optional = [tax.skill_uri(i) for i in idx if i in optional_set]
    lo, hi = _job_salary(description, meta)
    years = fields.years_required(full)
    seniority = meta.get("seniority") if _present(meta.get("seniority")) else fields.seniority(title, None)
    return {
        "content_hash": content_hash(full),
        "skills": uris,
        "skill_labels": labels,
        "occupation_code": code,
        "occupation_label": label,
        "occupation_score": occ_score,
        "years_experience": years,
        "seniority": seniority,
        "education_level": fields.education_level(description),
        **_location_fields(full, meta),
        "salary_min": lo,
        "salary_max": hi,
        "essential_skills": essential,
        "optional_skills": optional,
        "profile_version": PROFILE_VERSION,
    }

"""Candidate and job profiles: ESCO skills + occupation + structured fields from text.

``meta`` carries structured event fields (location_*, remote, salary_min/max/period, seniority,
desired_salary_min); they take precedence over what the text says. Empty or too-short text raises
``ProfileError(reason)`` so the pipeline quarantines it instead of scoring nothing as something.
"""

from __future__ import annotations

import math
import re

from matching import fields, occupations
from matching.hashing import content_hash
from matching.occupations import get_ranker
from matching.skills import get_extractor
from matching.taxonomy import load_taxonomy
from matching.text import tokens

PROFILE_VERSION = "p1"
MIN_CANDIDATE_TOKENS = 8
MIN_JOB_TOKENS = 4
HEADLINE_CHARS = 120  # a resume's first line is usually the person's job title


# Tried only where a run of address characters starts (the lookbehind): the same matches as without
# it, ~40 % less time (otherwise every position inside a word rescans the rest of the word for an "@").
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+")
# Digit groups joined by at most two separator characters ("(512) 555-0199", "+33 1 42 68 53 00");
# whether one is a phone number is decided by _is_phone.
_PHONE_LIKE = re.compile(r"(?<!\w)[+(]?\d+(?:[ ().-]{1,2}\d+)+(?!\w)")
_DIGIT_GROUP = re.compile(r"\d+")
_YEAR = re.compile(r"(?:19|20)\d\d")
_DATE = r"(?:\d\d?[./])?(?:19|20)\d\d(?:[./]\d\d?)?(?!\d)"  # 1999, 05/2019, 2019.05
_DATE_RANGE = re.compile(rf"(?<!\d)(?=\d){_DATE}\s*(?:-|–|—|to|until)\s*(?:{_DATE}|present|current|now|today)",
                         re.IGNORECASE)


def _digits(candidate: str) -> list[str]:
    return _DIGIT_GROUP.findall(candidate)


def _is_phone(groups: list[str]) -> bool:
    """7-15 digits (E.164 allows 15), not only years and months ("2019.05 - 2021.06", "2019 2020")."""
    if not 7 <= sum(len(g) for g in groups) <= 15:
        return False
    return not all(_YEAR.fullmatch(g) or (len(g) <= 2 and int(g) <= 12) for g in groups)


def redact_contacts(text: str) -> str:
    """Drop e-mail addresses and phone numbers: they carry no matching signal and are PII. This is
    the text gold/profile_texts keeps and the match embeds, and the occupation ranker embeds it too
    (build_candidate_profiles), so a resume costs one MiniLM pass.

    Date ranges look like phone numbers to a digits-and-dashes pattern ("1999-2004", "287-2001 to
    2002", "2010-2014 (512) 555-0199" as one run) and years_of_experience reads them: when a run of
    7+ digits is present they are masked (same length, so offsets hold) before phones are looked for."""
    text = text or ""
    if "@" in text:  # the e-mail pattern is the costly one; most resumes of a corpus have none
        text = _EMAIL.sub(" ", text)
    if not any(sum(map(len, _digits(m.group(0)))) >= 7 for m in _PHONE_LIKE.finditer(text)):
        return text
    masked = _DATE_RANGE.sub(lambda m: "Y" * len(m.group(0)), text)
    spans = [m.span() for m in _PHONE_LIKE.finditer(masked) if _is_phone(_digits(m.group(0)))]
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], " "]
        last = end
    out.append(text[last:])
    return "".join(out)


class ProfileError(ValueError):
    """Text cannot make a profile; ``reason``: empty_text | insufficient_text."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _checked_tokens(text: str, minimum: int, what: str) -> list[str]:
    """The text's (stemmed) tokens, which skill matching reuses; raises when there are too few."""
    if not text or not text.strip():
        raise ProfileError("empty_text", f"{what} has no text")
    toks = tokens(text)
    n = len(toks)
    if n == 0:
        raise ProfileError("empty_text", f"{what} has no words")
    if n < minimum:
        raise ProfileError("insufficient_text", f"{what} has {n} words, need at least {minimum}")
    return toks


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


def _skills(toks: list[str]) -> tuple[list[str], list[str], list[int]]:
    ex = get_extractor()
    idx = ex.extract_tokens(toks)
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


def _occupations(titles: list[str], documents: list[str], embedded: list[str] | None = None
                 ) -> list[tuple[str | None, str | None, float | None, int | None]]:
    """Best occupation per document, ranked as one batch (one TF-IDF transform for all; every
    document's scores are the same bits as ranking it alone, see occupations._per_row).
    ``embedded``: the texts the transformer signal embeds (OccupationRanker.signals)."""
    if not titles:
        return []
    out = []
    for ranked in get_ranker(occupations.DEFAULT_MODE).rank(titles, documents, k=1, embedded=embedded):
        if not ranked:
            out.append((None, None, None, None))
        else:
            best = ranked[0]
            out.append((best.code, best.label, round(best.score, 6), best.index))
    return out


def _location_fields(text: str, meta: dict) -> dict:
    loc = fields.location(text)
    out = {"location_city": loc.city, "location_country": loc.country, "remote": loc.remote}
    for key in ("location_city", "location_country", "remote"):
        if _present(meta.get(key)):
            out[key] = meta[key]
    if _present(meta.get("remote_preference")) and not _present(meta.get("remote")):
        out["remote"] = meta["remote_preference"]
    return out


def _candidate_partial(text: str, meta: dict) -> dict:
    uris, labels, _ = _skills(_checked_tokens(text, MIN_CANDIDATE_TOKENS, "resume"))
    years = fields.years_of_experience(text)
    desired = _number(meta.get("desired_salary_min"))
    return {
        "content_hash": content_hash(text),
        "skills": uris,
        "skill_labels": labels,
        "occupation_code": None,
        "occupation_label": None,
        "occupation_score": None,
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


def build_candidate_profiles(texts: list[str], metas: list[dict | None] | None = None,
                             redacted: list[str] | None = None) -> list[dict | ProfileError]:
    """Profiles of many resumes (occupations ranked in one batch): a profile dict per text, or the
    ProfileError that text raised — the same result as build_candidate_profile one by one.

    The rule-based fields (skills, years, education, location) read the resume as written; the
    occupation's transformer signal embeds ``redacted`` (default: redact_contacts of each text),
    the text the match embeds, so profile and match share one MiniLM pass (issue 13)."""
    metas = metas if metas is not None else [None] * len(texts)
    if redacted is not None and len(redacted) != len(texts):
        raise ValueError(f"{len(redacted)} redacted texts for {len(texts)} resumes")
    out: list[dict | ProfileError] = []
    for text, meta in zip(texts, metas, strict=True):
        try:
            out.append(_candidate_partial(text, meta or {}))
        except ProfileError as exc:
            out.append(exc)
    ok = [(i, texts[i]) for i, p in enumerate(out) if isinstance(p, dict)]
    embedded = None  # the fast mode embeds nothing: skip the redaction
    if occupations.WEIGHTS[occupations.DEFAULT_MODE]["doc_minilm"]:
        embedded = [redact_contacts(t) if redacted is None else redacted[i] for i, t in ok]
    for (i, _text), (code, label, score, _) in zip(
            ok, _occupations([headline(t) for _, t in ok], [t for _, t in ok], embedded), strict=True):
        out[i].update(occupation_code=code, occupation_label=label, occupation_score=score)
    return out


def build_candidate_profile(text: str, meta: dict | None = None) -> dict:
    """Profile of a resume text (see docs/contracts.md gold/candidate_profiles)."""
    result = build_candidate_profiles([text], [meta])[0]
    if isinstance(result, ProfileError):
        raise result
    return result


def _job_salary(description: str, meta: dict) -> tuple[float | None, float | None]:
    lo, hi = _number(meta.get("salary_min")), _number(meta.get("salary_max"))
    if lo is not None or hi is not None:
        period = meta.get("salary_period") or ("hour" if (hi or lo or 0) < 300 else "year")
        return fields.to_yearly(lo, period), fields.to_yearly(hi, period)
    if _present(meta.get("salary_text")):
        return fields.yearly_salary(str(meta["salary_text"]))
    return fields.salary_from_description(description)


def _job_partial(title: str, description: str, meta: dict) -> tuple[dict, list[int]]:
    full = job_document(title, description)
    uris, labels, idx = _skills(_checked_tokens(full, MIN_JOB_TOKENS, "job ad"))
    lo, hi = _job_salary(description, meta)
    seniority = meta.get("seniority") if _present(meta.get("seniority")) else fields.seniority(title, None)
    profile = {
        "content_hash": content_hash(full),
        "skills": uris,
        "skill_labels": labels,
        "occupation_code": None,
        "occupation_label": None,
        "occupation_score": None,
        "years_experience": fields.years_required(full),
        "seniority": seniority,
        "education_level": fields.education_level(description),
        **_location_fields(full, meta),
        "salary_min": lo,
        "salary_max": hi,
        "essential_skills": [],
        "optional_skills": [],
        "profile_version": PROFILE_VERSION,
    }
    return profile, idx


def build_job_profiles(jobs: list[tuple[str, str, dict | None]]) -> list[dict | ProfileError]:
    """Profiles of many (title, description, meta) job ads; like build_job_profile one by one."""
    out: list = []
    skill_idx: dict[int, list[int]] = {}
    for i, (title, description, meta) in enumerate(jobs):
        try:
            profile, skill_idx[i] = _job_partial(title or "", description or "", meta or {})
            out.append(profile)
        except ProfileError as exc:
            out.append(exc)
    ok = [i for i, p in enumerate(out) if isinstance(p, dict)]
    titles = [jobs[i][0] or "" for i in ok]
    documents = [job_document(jobs[i][0] or "", jobs[i][1] or "") for i in ok]
    tax = load_taxonomy()
    for i, (code, label, score, occ_index) in zip(ok, _occupations(titles, documents), strict=True):
        optional_set: set[int] = set()
        if occ_index is not None:
            _, optional_idx = tax.occupation_skills(occ_index)
            optional_set = set(int(j) for j in optional_idx)
        # Skills the occupation does not list count as essential: the employer wrote them down.
        out[i].update(
            occupation_code=code, occupation_label=label, occupation_score=score,
            essential_skills=[tax.skill_uri(j) for j in skill_idx[i] if j not in optional_set],
            optional_skills=[tax.skill_uri(j) for j in skill_idx[i] if j in optional_set],
        )
    return out


def build_job_profile(title: str, description: str, meta: dict | None = None) -> dict:
    """Profile of a job ad; skills split into essential/optional by the best occupation's relations."""
    result = build_job_profiles([(title, description, meta)])[0]
    if isinstance(result, ProfileError):
        raise result
    return result


def extractor_version() -> str:
    """PROFILE_VERSION + a digest of the extractor's code, the occupation mode and the bundled
    data: any change re-profiles every entity in the next incremental run (a comment edit too —
    the safe side of the trade)."""
    import hashlib
    import inspect
    import sys

    from matching import documents, skills, taxonomy, text
    from matching.embeddings import minilm_model_version
    from matching.taxonomy import DATA_DIR

    # The MiniLM window changes the occupation's transformer signals without touching any file above.
    digest = hashlib.sha256(f"{PROFILE_VERSION}|{occupations.DEFAULT_MODE}|{minilm_model_version()}".encode())
    for module in (sys.modules[__name__], fields, occupations, skills, taxonomy, text, documents):
        digest.update(inspect.getsource(module).encode())
    for path in sorted(DATA_DIR.glob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return f"{PROFILE_VERSION}-{digest.hexdigest()[:12]}"

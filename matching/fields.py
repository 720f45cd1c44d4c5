"""Structured fields from free text: experience, seniority, education, location, salary.

Each parser returns ``None`` (unknown) rather than guessing; salary parsing understands the forms
real postings use: "$53K-$91K (Glassdoor est.)", "$25 - $35 Per Hour", "£30,000 - £35,000 a year",
"Employer Provided Salary:$120K-$140K", and Glassdoor's "-1" for missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HOURS_PER_YEAR = 2080  # 40 h x 52 weeks: converts hourly pay to yearly
DAYS_PER_YEAR = 260
MONTHS_PER_YEAR = 12
MAX_YEARS = 50.0
CURRENT_YEAR = 2026  # fixed, not date.today(): same text => same profile on any day

SENIORITY_LEVELS = ("intern", "junior", "mid", "senior", "lead", "manager", "director", "executive")
EDUCATION_LEVELS = ("none", "secondary", "vocational", "associate", "bachelor", "master", "doctorate")

_WORD_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
             "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20}
_NUM = r"(\d{1,2}(?:\.\d)?|" + "|".join(_WORD_NUM) + r")"
# Speed (same matches): each pattern opens with a lookahead on the characters a match can start
# with, so the engine rejects most positions with one class test instead of trying every branch.
_NUM_FIRST = r"(?=[\d" + "".join(sorted({w[0] for w in _WORD_NUM})) + "])"
_YEARS_EXPLICIT = re.compile(
    rf"{_NUM_FIRST}{_NUM}\s*(?:\+|plus)?\s*(?:(?:-|–|to)\s*{_NUM}\s*\+?\s*)?(?:years?|yrs?)\b(?:\s+of)?"
    r"(?:\s+(?:\w+\s+){0,3}?)?(?:experience|exp\b|work|working|professional|industry|in\b|as\b)",
    re.IGNORECASE,
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE = rf"(?:(?:{_MONTHS})[a-z]*\.?\s+|\d{{1,2}}\s*/\s*)?((?:19|20)\d{{2}})"
_DATE_FIRST = r"(?=[\d" + "".join(sorted({m[0] for m in _MONTHS.split("|")})) + "])"
_DATE_RANGE = re.compile(
    rf"{_DATE_FIRST}{_DATE}\s*(?:-|–|—|to|until)\s*(?:{_DATE}|(current|present|now|today|date))", re.IGNORECASE
)

_SENIORITY_PATTERNS = [
    ("intern", r"\b(intern|internship|trainee|apprentice|graduate program)\b"),
    ("executive", r"\b(chief|ceo|cto|cfo|coo|vp|vice president|president|partner|head of)\b"),
    ("director", r"\b(director)\b"),
    ("manager", r"\b(manager|supervisor|superintendent)\b"),
    ("lead", r"\b(lead|principal|staff engineer|architect)\b"),
    ("senior", r"\b(senior|sr\.?|experienced|iii|iv)\b"),
    ("junior", r"\b(junior|jr\.?|entry[- ]level|associate|assistant|graduate)\b"),
]
_EDUCATION_PATTERNS = [
    ("doctorate", r"\b(ph\.?\s?d|doctorate|doctoral|d\.?phil|m\.?d\.|doctor of)\b"),
    ("master", r"\b(master'?s?|m\.?sc|m\.?s\.|mba|m\.?a\.|meng|m\.?eng|postgraduate|msc)\b"),
    ("bachelor", r"\b(bachelor'?s?|b\.?sc|b\.?s\.|b\.?a\.|b\.?eng|b\.?tech|undergraduate degree|bsc|ba degree|bs degree|college degree|university degree|degree in)\b"),
    ("associate", r"\b(associate'?s? degree|a\.?a\.?s\.|associate of)\b"),
    ("vocational", r"\b(diploma|certificate|vocational|trade school|tvet|level [1-4])\b"),
    ("secondary", r"\b(high school|ged|secondary school|grade 1[0-2]|a-levels?)\b"),
]

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "DC": "District of Columbia",
}
COUNTRIES = {
    "united states": "US", "usa": "US", "u.s.": "US", "united kingdom": "GB", "uk": "GB", "england": "GB",
    "canada": "CA", "germany": "DE", "france": "FR", "india": "IN", "ethiopia": "ET", "kenya": "KE",
    "south africa": "ZA", "nigeria": "NG", "australia": "AU", "ireland": "IE", "netherlands": "NL",
    "spain": "ES", "italy": "IT", "poland": "PL", "brazil": "BR", "mexico": "MX", "singapore": "SG",
}
_COUNTRY_WORDS = {name: re.compile(rf"\b{re.escape(name)}\b") for name in COUNTRIES}
_CITY_STATE = re.compile(r"(?=[A-Z])\b([A-Z][a-zA-Z.]+(?:\s[A-Z][a-zA-Z.]+){0,2}),\s*(" + "|".join(US_STATES) + r")\b")
# the pattern's tail alone: absent in most texts, ~10x cheaper to rule out than the whole pattern
_STATE_SUFFIX = re.compile(r",\s*(?:" + "|".join(US_STATES) + r")\b")
_REMOTE = re.compile(r"\b(remote|work from home|wfh|telecommut\w*|anywhere)\b", re.IGNORECASE)
_HYBRID = re.compile(r"\bhybrid\b", re.IGNORECASE)
_REMOTE_LOWER = re.compile(_REMOTE.pattern)  # on lowered text: see _lowered_for_matching
_REMOTE_WORDS = ("remote", "work from home", "wfh", "telecommut", "anywhere")
_HYBRID_LOWER = re.compile(_HYBRID.pattern)

_MONEY = r"[$£€]?\s*(\d{1,3}(?:[,.]\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?)\s*([kK])?"
_SALARY_RANGE = re.compile(rf"{_MONEY}\s*(?:-|–|to)\s*{_MONEY}")
_SALARY_SINGLE = re.compile(r"([$£€])\s*(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*([kK])?")
_HOURLY = re.compile(r"(per\s*hour|an\s*hour|/\s*h(?:ou)?r\b|hourly|p/h\b)", re.IGNORECASE)
_DAILY = re.compile(r"(per\s*day|a\s*day|/\s*day|daily)", re.IGNORECASE)
_MONTHLY = re.compile(r"(per\s*month|a\s*month|/\s*mo(?:nth)?\b|monthly)", re.IGNORECASE)


def _num(token: str) -> float:
    token = token.lower()
    return float(_WORD_NUM[token]) if token in _WORD_NUM else float(token)


# IGNORECASE matching equals matching the lowered text with the flag off (every literal above is
# lower case), ~1.5-2x faster, whenever lowering changes no character class or offset and no
# character of the text is one IGNORECASE equates with an ASCII letter: İ ı ſ K (Python's re docs).
# True of ASCII text and of the "Â"/"Ã" mojibake most real resumes carry (1,740 of 1,740 livecareer
# resumes, 64 of them ASCII); other text keeps the IGNORECASE patterns.
_YEARS_EXPLICIT_LOWER = re.compile(_YEARS_EXPLICIT.pattern)
_DATE_RANGE_LOWER = re.compile(_DATE_RANGE.pattern)
_ASCII_LOOKALIKES = frozenset("\u0130\u0131\u017f\u212a")
_last_lowered: tuple[str, str | None] = ("", "")


def _lowered_for_matching(text: str) -> str | None:
    """``text.lower()`` when lower-case patterns on it match what IGNORECASE patterns match on ``text``,
    else None. The last answer is kept: one document goes through several field parsers in a row."""
    global _last_lowered
    last = _last_lowered
    if last[0] is text:
        return last[1]
    lowered: str | None = text.lower()
    if not text.isascii():
        for char in set(text):
            if char > "\x7f":
                low = char.lower()
                if (len(low) != 1 or low <= "\x7f" or char in _ASCII_LOOKALIKES or low in _ASCII_LOOKALIKES
                        or char.isalnum() != low.isalnum()):
                    lowered = None
                    break
    _last_lowered = (text, lowered)
    return lowered


def _finditer(anycase: re.Pattern, lower: re.Pattern, text: str):
    lowered = _lowered_for_matching(text)
    return anycase.finditer(text) if lowered is None else lower.finditer(lowered)


def years_required(text: str) -> float | None:
    """Years asked for in a job ad: the largest stated lower bound ("3-5 years ..., 2+ years SQL" -> 3)."""
    values = [_num(m.group(1)) for m in _finditer(_YEARS_EXPLICIT, _YEARS_EXPLICIT_LOWER, text or "")]
    values = [v for v in values if 0 < v <= MAX_YEARS]
    return max(values) if values else None


def years_of_experience(text: str) -> float | None:
    """Candidate experience: stated "N years" if present, else the union of dated job spans."""
    text = text or ""
    stated = [_num(m.group(1)) for m in _finditer(_YEARS_EXPLICIT, _YEARS_EXPLICIT_LOWER, text)]
    stated = [v for v in stated if 0 < v <= MAX_YEARS]
    spans = []
    for m in _finditer(_DATE_RANGE, _DATE_RANGE_LOWER, text):
        start = int(m.group(1))
        end = CURRENT_YEAR if m.group(3) else int(m.group(2))
        if 1950 <= start <= end <= CURRENT_YEAR:
            spans.append((start, end))
    from_dates = None
    if spans:
        covered: set[int] = set()
        for start, end in spans:
            covered.update(range(start, max(end, start + 1)))
        from_dates = float(min(len(covered), MAX_YEARS))
    if stated:
        return max(stated)
    return from_dates


def seniority(title: str, years: float | None = None) -> str | None:
    """Seniority from the title words; else from years (0-2 junior, 2-5 mid, 5+ senior)."""
    for level, pattern in _SENIORITY_PATTERNS:
        if re.search(pattern, title or "", re.IGNORECASE):
            return level
    if years is None:
        return None
    if years < 2:
        return "junior"
    return "mid" if years < 5 else "senior"


def _first_chars(pattern: str) -> str:
    """Guard class for a ``\\b(alt|alt|…)\\b`` pattern: the first character of every alternative."""
    if not (pattern.startswith(r"\b(") and pattern.endswith(r")\b")) or "(" in pattern[3:-3]:
        raise ValueError(f"not a flat \\b(…)\\b alternation: {pattern}")
    return "(?=[" + "".join(sorted({alt[0] for alt in pattern[3:-3].split("|")})) + "])"


_EDUCATION_ANYCASE = [(level, re.compile(p, re.IGNORECASE)) for level, p in _EDUCATION_PATTERNS]
_EDUCATION_LOWER = [(level, re.compile(_first_chars(p) + p)) for level, p in _EDUCATION_PATTERNS]
if [level for level, _ in _EDUCATION_PATTERNS] != sorted(EDUCATION_LEVELS[1:], key=EDUCATION_LEVELS.index,
                                                          reverse=True):
    raise AssertionError("_EDUCATION_PATTERNS must run from the highest level down")


def education_level(text: str) -> str | None:
    """Highest education level mentioned (patterns run highest first: the first hit is the answer)."""
    text = text or ""
    # lowered text matches exactly what IGNORECASE matches (see _lowered_for_matching), ~2x faster
    lowered = _lowered_for_matching(text)
    patterns, subject = (_EDUCATION_ANYCASE, text) if lowered is None else (_EDUCATION_LOWER, lowered)
    for level, pattern in patterns:
        if pattern.search(subject):
            return level
    return None


@dataclass(frozen=True)
class Location:
    city: str | None
    country: str | None
    remote: str | None  # onsite | hybrid | remote


def location(text: str) -> Location:
    """City/country/remote from free text ("Austin, TX", "Remote", "Addis Ababa, Ethiopia")."""
    text = text or ""
    matchable = _lowered_for_matching(text)
    if matchable is None:
        remote = "remote" if _REMOTE.search(text) else ("hybrid" if _HYBRID.search(text) else None)
    else:
        # each alternative is a literal: its substring test is a cheap necessary condition
        remote = "remote" if any(w in matchable for w in _REMOTE_WORDS) and _REMOTE_LOWER.search(matchable) else (
            "hybrid" if "hybrid" in matchable and _HYBRID_LOWER.search(matchable) else None)
    city = country = None
    m = _CITY_STATE.search(text) if _STATE_SUFFIX.search(text) else None
    if m and m.group(1) not in {"City", "Company Name"}:
        city, country = m.group(1).strip(), "US"
    if country is None:
        lowered = text.lower() if matchable is None else matchable
        for name, code in COUNTRIES.items():
            # the substring test is a cheap necessary condition for the word-boundary match
            if name in lowered and _COUNTRY_WORDS[name].search(lowered):
                country = code
                break
    return Location(city, country, remote)


def _amount(number: str, k: str | None) -> float:
    value = float(number.replace(",", "")) if number.count(",") else float(number)
    if re.fullmatch(r"\d{1,3}\.\d{3}", number):  # "53.000" European thousands
        value = float(number.replace(".", ""))
    return value * 1000 if k else value


def salary_range(text: str | None) -> tuple[float | None, float | None, str | None]:
    """(min, max, period) as written; period in {year, hour, day, month}; (None, None, None) if absent."""
    if text is None:
        return None, None, None
    text = str(text).strip()
    if text in {"", "-1", "nan", "None"}:
        return None, None, None
    m = _SALARY_RANGE.search(text)
    if m and ("$" in text or "£" in text or "€" in text or m.group(2) or m.group(4)
              or re.search(r"salary|pay|year|hour|annum|wage", text, re.I)):
        lo, hi = _amount(m.group(1), m.group(2)), _amount(m.group(3), m.group(4) or m.group(2))
    else:
        s = _SALARY_SINGLE.search(text)
        if not s:
            return None, None, None
        lo = hi = _amount(s.group(2), s.group(3))
    if lo > hi:
        lo, hi = hi, lo
    if _HOURLY.search(text):
        period = "hour"
    elif _DAILY.search(text):
        period = "day"
    elif _MONTHLY.search(text):
        period = "month"
    else:
        period = "hour" if hi < 300 else "year"
    return lo, hi, period


def to_yearly(amount: float | None, period: str | None) -> float | None:
    if amount is None or amount < 0:
        return None
    factor = {"hour": HOURS_PER_YEAR, "day": DAYS_PER_YEAR, "month": MONTHS_PER_YEAR}.get(period or "year", 1)
    return round(float(amount) * factor, 2)


def yearly_salary(text: str | None) -> tuple[float | None, float | None]:
    """Salary range converted to yearly amounts; (None, None) when unknown."""
    lo, hi, period = salary_range(text)
    return to_yearly(lo, period), to_yearly(hi, period)


_SALARY_CONTEXT = re.compile(r"(?=[scpwr])(salary|compensation|pay|wage|rate)[^.\n]{0,60}", re.IGNORECASE)


def salary_from_description(text: str) -> tuple[float | None, float | None]:
    """Only money-looking ranges near a salary word, so "$5M revenue" is not a salary."""
    for m in _SALARY_CONTEXT.finditer(text or ""):
        lo, hi = yearly_salary(m.group(0))
        if lo is not None and 5_000 <= lo <= 1_000_000:
            return lo, hi
    return None, None

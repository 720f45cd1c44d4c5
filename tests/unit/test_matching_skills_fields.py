"""Skill phrase matching (token boundaries, synonyms, folding) and structured field parsers."""

from __future__ import annotations

import pytest

from matching import fields
from matching.hashing import content_hash
from matching.skills import extract_skills, get_extractor
from matching.taxonomy import SKILL_URI_PREFIX, load_taxonomy

pytestmark = pytest.mark.unit


def _labels(text: str) -> set[str]:
    tax = load_taxonomy()
    return {tax.skill_label_for(uri) for uri in extract_skills(text)}


def test_taxonomy_bundle_matches_esco_counts():
    tax = load_taxonomy()
    assert tax.n_skills == 13896 and tax.n_occupations == 3007
    assert sum(len(v) for v in tax.essential.values()) + sum(len(v) for v in tax.optional.values()) > 120_000
    assert all(code for code in tax.occupation_codes)


def test_known_skills_are_found_with_case_and_punctuation_folding():
    found = _labels("EXPERT in PYTHON, SQL; project management and customer service.")
    assert {"project management", "customer service"} <= found
    assert any("Python" in label for label in found)
    assert "SQL" in found


def test_alt_labels_map_to_the_preferred_skill():
    tax = load_taxonomy()
    ex = get_extractor()
    # pick a real multi-word alt label whose own key survived filtering and check it resolves to its skill
    i = tax.skill_labels.index("manage musical staff")
    assert "manage music staff" in tax.skill_alt_labels[i]
    assert ex.extract("She will manage music staff for the orchestra") == [i]


def test_matches_respect_token_boundaries():
    ex = get_extractor()
    text = "Our platform team transformed information systems; performance reviews."
    for m in ex.find(text):
        folded = text.lower()
        assert m.start == 0 or not folded[m.start - 1].isalnum()
        assert m.end == len(folded) or not folded[m.end].isalnum()
    assert all("form" != m.label for m in ex.find("platform reform uniform"))


def test_uris_are_esco_skill_uris_and_order_is_stable():
    uris = extract_skills("accounting, bookkeeping and payroll")
    assert uris and all(u.startswith(SKILL_URI_PREFIX) for u in uris)
    assert uris == extract_skills("accounting, bookkeeping and payroll")


def test_content_hash_ignores_cosmetic_whitespace_only():
    assert content_hash("Data  engineer\n") == content_hash("Data engineer")
    assert content_hash("Data engineer") != content_hash("Data engineers")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$53K-$91K (Glassdoor est.)", (53000.0, 91000.0)),
        ("Employer Provided Salary:$120K-$140K", (120000.0, 140000.0)),
        ("$25-$35 Per Hour(Glassdoor est.)", (25 * 2080.0, 35 * 2080.0)),
        ("£30,000 - £35,000 a year", (30000.0, 35000.0)),
        ("$17 an hour", (17 * 2080.0, 17 * 2080.0)),
        ("-1", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_salary_forms(text, expected):
    assert fields.yearly_salary(text) == expected


def test_salary_in_description_needs_a_salary_word():
    assert fields.salary_from_description("We grew revenue to $5M last year.") == (None, None)
    assert fields.salary_from_description("Salary: $60,000 - $80,000 per year") == (60000.0, 80000.0)


def test_years_seniority_education_location():
    assert fields.years_required("3-5 years of experience in Python; 2+ years working with SQL") == 3.0
    assert fields.years_required("No experience needed") is None
    assert fields.years_of_experience("Over 10 years of experience in sales") == 10.0
    assert fields.years_of_experience("Clerk 01/2005 - 05/2008. Accountant December 2009 to Current") > 15
    assert fields.seniority("Sr. Data Scientist") == "senior"
    assert fields.seniority("Data Analyst", 1.0) == "junior"
    assert fields.seniority("Data Analyst", None) is None
    assert fields.education_level("Bachelor of Science in Accounting; MBA") == "master"
    assert fields.education_level("no formal schooling listed") is None
    loc = fields.location("Data Scientist, Austin, TX")
    assert (loc.city, loc.country) == ("Austin", "US")
    assert fields.location("This is a fully remote role").remote == "remote"
    assert fields.location("Addis Ababa, Ethiopia").country == "ET"

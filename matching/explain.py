"""Human-readable explanation of one candidate x job pair (labels, not URIs)."""

from __future__ import annotations

from matching.features import UNKNOWN, as_list, isco_unit_group
from matching.scoring import occupation
from matching.taxonomy import load_taxonomy


def _labels(uris) -> list[str]:
    tax = load_taxonomy()
    out = []
    for uri in uris:
        label = tax.skill_label_for(uri)
        out.append(label if label is not None else str(uri))
    return sorted(set(out))


def occupation_agreement(candidate_profile: dict, job_profile: dict) -> list[str]:
    """Why the occupation component has its value: the two top occupations and the ISCO level they share
    (the same rule as ``matching.scoring.occupation``, so the text never contradicts the score)."""
    c_code, j_code = candidate_profile.get("occupation_code"), job_profile.get("occupation_code")
    c_group, j_group = isco_unit_group(c_code), isco_unit_group(j_code)
    if UNKNOWN in (c_group, j_group):
        return []
    value = float(occupation(c_group, j_group))
    level = ("same ISCO unit group " + str(j_code)[:4] if c_group == j_group
             else "same ISCO minor group " + str(j_code)[:3] if value > 0 else "different ISCO groups")
    names = f"{candidate_profile.get('occupation_label') or c_code} / {job_profile.get('occupation_label') or j_code}"
    return [f"{level} ({names})"]


def explain_pair(candidate_profile: dict, job_profile: dict) -> dict:
    """matched_skills, missing_essential, missing_optional (sorted ESCO preferred labels) and
    occupation_match (the occupation component's reason)."""
    have = set(as_list(candidate_profile.get("skills")))
    essential = set(as_list(job_profile.get("essential_skills")))
    optional = set(as_list(job_profile.get("optional_skills")))
    # Skills a job lists without the split count as essential (same rule as the features).
    essential |= set(as_list(job_profile.get("skills"))) - essential - optional
    wanted = essential | optional
    return {
        "matched_skills": _labels(have & wanted),
        "missing_essential": _labels(essential - have),
        "missing_optional": _labels(optional - have),
        "occupation_match": occupation_agreement(candidate_profile, job_profile),
    }

"""Human-readable explanation of one candidate x job pair (labels, not URIs)."""

from __future__ import annotations

from matching.features import as_list
from matching.taxonomy import load_taxonomy


def _labels(uris) -> list[str]:
    tax = load_taxonomy()
    out = []
    for uri in uris:
        label = tax.skill_label_for(uri)
        out.append(label if label is not None else str(uri))
    return sorted(set(out))


def explain_pair(candidate_profile: dict, job_profile: dict) -> dict:
    """matched_skills, missing_essential, missing_optional (sorted ESCO preferred labels)."""
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
    }

"""Build the simulator's small bundled data from public-domain USAJOBS postings.

Keeps USAJOBS titles (US federal government work, public domain) whose normalised title is an ESCO
occupation label or alternative label, with grade, agency and location, so simulated jobs carry real
titles and places and a known ESCO occupation (ESCO skills come from matching's bundled taxonomy).

Regenerate: ``python -m ingestion.bundle --usajobs ../shared/data/usajobs/usajobs_2025_titles_series.csv``
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
USAJOBS_FILE = DATA_DIR / "usajobs_titles.csv.gz"
COLUMNS = ["position_title", "esco_occupation_id", "grade_code", "low_grade", "high_grade", "hiring_agency",
           "city", "region"]
MAX_PER_TITLE = 12  # keep the bundle small and the title mix varied


def normalise_title(title: str) -> str:
    """'Social Worker (Behavioral Health) - GS-11' -> 'social worker'."""
    text = re.sub(r"\(.*?\)", "", str(title)).lower()
    text = re.split(r"[-,/]", text)[0]
    return re.sub(r"\s+", " ", text).strip()


def build(usajobs_csv: Path, out: Path = USAJOBS_FILE) -> int:
    from matching.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    by_label: dict[str, str] = {}
    for occ_id, label, alts in zip(taxonomy.occupation_ids, taxonomy.occupation_labels,
                                   taxonomy.occupation_alt_labels, strict=True):
        for name in (label, *alts):
            by_label.setdefault(name.lower().strip(), occ_id)
    kept: list[list[str]] = []
    per_title: dict[str, int] = {}
    with open(usajobs_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            occ_id = by_label.get(normalise_title(row["position_title"]))
            if not occ_id or per_title.get(row["position_title"], 0) >= MAX_PER_TITLE:
                continue
            per_title[row["position_title"]] = per_title.get(row["position_title"], 0) + 1
            city, _, region = (row.get("position_location") or "").partition(", ")
            kept.append([row["position_title"], occ_id, row["grade_code"], row["low_grade"], row["high_grade"],
                         row["hiring_agency"], city.strip(), region.strip()])
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(sorted(kept))
    return len(kept)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--usajobs", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"{build(args.usajobs)} USAJOBS postings -> {USAJOBS_FILE}")


if __name__ == "__main__":
    main()

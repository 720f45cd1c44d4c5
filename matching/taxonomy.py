"""ESCO v1.1.1 taxonomy in a compact, bundled form.

The official CSV export is ~40 MB; the matcher needs only labels, ISCO codes, short occupation
descriptions and the essential/optional occupation→skill relations. ``build`` turns the CSVs into
three gzip'd files under ``matching/data/`` (checked in, CC BY 4.0 © European Union, see
ATTRIBUTION.md there); ``load_taxonomy()`` reads them once per process.

Regenerate: ``python -m matching.taxonomy build --esco-dir ../shared/data/esco``
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import logging
import sys
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
SKILL_URI_PREFIX = "http://data.europa.eu/esco/skill/"
OCCUPATION_URI_PREFIX = "http://data.europa.eu/esco/occupation/"
ESCO_VERSION = "1.1.1"
SKILLS_FILE = "esco_skills.tsv.gz"
OCCUPATIONS_FILE = "esco_occupations.tsv.gz"
RELATIONS_FILE = "esco_relations.npz"
MAX_DESCRIPTION_CHARS = 600  # enough for the lexical categoriser, keeps the bundle small

csv.field_size_limit(sys.maxsize)


class TaxonomyError(RuntimeError):
    """The bundled taxonomy files are missing or inconsistent."""


@dataclass(frozen=True)
class Taxonomy:
    """Skills and occupations with integer indices shared by every feature matrix."""

    skill_ids: list[str]  # UUIDs, index = skill index
    skill_labels: list[str]  # preferred labels
    skill_alt_labels: list[list[str]]
    skill_types: list[str]  # "skill/competence" | "knowledge" | ""
    occupation_ids: list[str]
    occupation_codes: list[str]  # ESCO `code`, e.g. "2511.1"
    occupation_labels: list[str]
    occupation_alt_labels: list[list[str]]
    occupation_descriptions: list[str]
    essential: dict[int, np.ndarray] = field(repr=False)  # occupation index -> skill indices
    optional: dict[int, np.ndarray] = field(repr=False)
    version: str = ESCO_VERSION

    @cached_property
    def skill_index(self) -> dict[str, int]:
        """Skill URI *and* bare UUID -> index."""
        index = {}
        for i, uuid in enumerate(self.skill_ids):
            index[uuid] = i
            index[SKILL_URI_PREFIX + uuid] = i
        return index

    @cached_property
    def occupation_index_by_code(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.occupation_codes)}

    @property
    def n_skills(self) -> int:
        return len(self.skill_ids)

    @property
    def n_occupations(self) -> int:
        return len(self.occupation_ids)

    def skill_uri(self, index: int) -> str:
        return SKILL_URI_PREFIX + self.skill_ids[index]

    def occupation_uri(self, index: int) -> str:
        return OCCUPATION_URI_PREFIX + self.occupation_ids[index]

    def skill_label_for(self, uri_or_uuid: str) -> str | None:
        i = self.skill_index.get(uri_or_uuid)
        return None if i is None else self.skill_labels[i]

    def occupation_skills(self, occupation_index: int) -> tuple[np.ndarray, np.ndarray]:
        empty = np.zeros(0, dtype=np.int32)
        return self.essential.get(occupation_index, empty), self.optional.get(occupation_index, empty)


def _uuid(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _labels(raw: str) -> list[str]:
    return [label.strip() for label in raw.split("\n") if label.strip()]


def build(esco_dir: Path, out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Convert the official ESCO CSV export into the compact bundled files."""
    esco_dir = Path(esco_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skills = []
    with open(esco_dir / "skills_en.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            skills.append(
                (_uuid(row["conceptUri"]), row["preferredLabel"].strip(), _labels(row["altLabels"]),
                 row.get("skillType", "").strip())
            )
    skills.sort()
    occupations = []
    with open(esco_dir / "occupations_en.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            occupations.append(
                (_uuid(row["conceptUri"]), row["code"].strip(), row["preferredLabel"].strip(),
                 _labels(row["altLabels"]), " ".join(row["description"].split())[:MAX_DESCRIPTION_CHARS])
            )
    occupations.sort()
    skill_pos = {s[0]: i for i, s in enumerate(skills)}
    occ_pos = {o[0]: i for i, o in enumerate(occupations)}
    rel_occ, rel_skill, rel_essential = [], [], []
    dropped = 0
    with open(esco_dir / "occupationSkillRelations.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            o, s = occ_pos.get(_uuid(row["occupationUri"])), skill_pos.get(_uuid(row["skillUri"]))
            if o is None or s is None:
                dropped += 1
                continue
            rel_occ.append(o)
            rel_skill.append(s)
            rel_essential.append(row["relationType"].strip() == "essential")

    def clean(text: str) -> str:
        return text.replace("\t", " ").replace("\n", " ")

    with gzip.open(out_dir / SKILLS_FILE, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("uuid\tpreferred_label\talt_labels\tskill_type\n")
        for uuid, label, alts, stype in skills:
            fh.write(f"{uuid}\t{clean(label)}\t{'|'.join(clean(a) for a in alts)}\t{stype}\n")
    with gzip.open(out_dir / OCCUPATIONS_FILE, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("uuid\tcode\tpreferred_label\talt_labels\tdescription\n")
        for uuid, code, label, alts, desc in occupations:
            fh.write(f"{uuid}\t{code}\t{clean(label)}\t{'|'.join(clean(a) for a in alts)}\t{clean(desc)}\n")
    np.savez_compressed(
        out_dir / RELATIONS_FILE,
        occupation=np.asarray(rel_occ, dtype=np.int16),
        skill=np.asarray(rel_skill, dtype=np.int16),
        essential=np.asarray(rel_essential, dtype=bool),
    )
    counts = {"skills": len(skills), "occupations": len(occupations), "relations": len(rel_occ),
              "relations_dropped": dropped}
    (out_dir / "esco_manifest.json").write_text(json.dumps({"esco_version": ESCO_VERSION, **counts}, indent=1))
    load_taxonomy.cache_clear()
    return counts


def _read_tsv(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    return [line.split("\t") for line in lines[1:] if line]


@lru_cache(maxsize=2)
def load_taxonomy(data_dir: str | None = None) -> Taxonomy:
    """The bundled ESCO taxonomy (cached per process)."""
    root = Path(data_dir) if data_dir else DATA_DIR
    missing = [f for f in (SKILLS_FILE, OCCUPATIONS_FILE, RELATIONS_FILE) if not (root / f).exists()]
    if missing:
        raise TaxonomyError(
            f"ESCO bundle incomplete in {root} (missing {missing}); run "
            "`python -m matching.taxonomy build --esco-dir ../shared/data/esco`"
        )
    skills = _read_tsv(root / SKILLS_FILE)
    occs = _read_tsv(root / OCCUPATIONS_FILE)
    rel = np.load(root / RELATIONS_FILE)
    occ_col, skill_col, ess_col = (rel["occupation"].astype(np.int32), rel["skill"].astype(np.int32),
                                   rel["essential"])
    order = np.lexsort((skill_col, occ_col))
    occ_col, skill_col, ess_col = occ_col[order], skill_col[order], ess_col[order]
    essential: dict[int, np.ndarray] = {}
    optional: dict[int, np.ndarray] = {}
    bounds = np.flatnonzero(np.diff(occ_col)) + 1
    for o_block, s_block, e_block in zip(np.split(occ_col, bounds), np.split(skill_col, bounds),
                                         np.split(ess_col, bounds), strict=True):
        if len(o_block) == 0:
            continue
        o = int(o_block[0])
        essential[o] = s_block[e_block]
        optional[o] = s_block[~e_block]
    split = lambda raw: [a for a in raw.split("|") if a]  # noqa: E731
    return Taxonomy(
        skill_ids=[r[0] for r in skills],
        skill_labels=[r[1] for r in skills],
        skill_alt_labels=[split(r[2]) for r in skills],
        skill_types=[r[3] for r in skills],
        occupation_ids=[r[0] for r in occs],
        occupation_codes=[r[1] for r in occs],
        occupation_labels=[r[2] for r in occs],
        occupation_alt_labels=[split(r[3]) for r in occs],
        occupation_descriptions=[r[4] for r in occs],
        essential=essential,
        optional=optional,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.taxonomy", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="regenerate matching/data/ from the ESCO CSV export")
    b.add_argument("--esco-dir", required=True, type=Path)
    b.add_argument("--out-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    counts = build(args.esco_dir, args.out_dir)
    print("ESCO bundle written to", args.out_dir, counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

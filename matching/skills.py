"""Skill extraction to ESCO skill ids by phrase matching on token boundaries.

Every ESCO preferred and alternative label becomes a token tuple (case, punctuation and plural
folded). Text is scanned left to right taking the longest label that starts at each token, so
"project management software" beats "project management" and nothing matches inside a word.
Single-word labels are kept only for knowledge concepts (languages, tools, disciplines: "python",
"bookkeeping") and never for ambiguous everyday words ("access", "balance", "draw").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from matching.taxonomy import Taxonomy, load_taxonomy
from matching.text import token_spans, tokens

MAX_LABEL_TOKENS = 8
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {"etc", "e.g", "i.e"}
# Single tokens that are ESCO labels but mostly mean something else in job text.
AMBIGUOUS_SINGLE = frozenset(
    """access balance board chip chips clean current data design did draw computer colour color dust clay coal
    cast casts conduct collection confidence curiosity communication communicating correspondence craft
    english french german spanish assembly argument canvas chef eclipse go r c d e j k s t swift ruby pascal
    rust dart julia scheme lisp logo alice dylan ada basic perl ml sas spark flash java shell bash excel word
    office outlook teams access project visio windows linux unix mac ios android power point sales marketing
    finance planning management leadership teamwork customer service support training teaching writing reading
    speaking listening driving cooking cleaning washing lifting sewing painting drawing cutting welding
    safety security quality health care nursing research analysis statistics economics law history music art
    sport dance etc source form standard term controller reporting logic hr order""".split()
)
# A few tokens above are valid skills *in context*; these multi-token or marked forms still match
# through their own labels ("python (computer programming)" has the alt label "python").
ALLOW_SINGLE = frozenset(
    """python java sql excel linux unix javascript typescript php c++ c# .net html css kotlin scala matlab
    tableau sap salesforce photoshop illustrator autocad solidworks git docker kubernetes ansible jenkins
    hadoop spark bookkeeping accounting payroll budgeting auditing welding plumbing carpentry bricklaying
    nursing phlebotomy""".split()
)


@dataclass(frozen=True)
class SkillMatch:
    skill_index: int
    start: int  # character offsets in the folded text
    end: int
    label: str  # the ESCO label (preferred or alt) that matched


def _is_acronym(label: str) -> bool:
    core = label.split("(", 1)[0].strip()
    return 2 <= len(core) <= 6 and core.isupper() and core.isalpha()


def _content(key: tuple[str, ...]) -> list[str]:
    return [t for t in key if t not in STOP_WORDS]


def _label_keys(taxonomy: Taxonomy) -> dict[tuple[str, ...], int]:
    keys: dict[tuple[str, ...], int] = {}
    preferred: set[tuple[str, ...]] = set()
    for i in range(taxonomy.n_skills):
        for rank, label in enumerate([taxonomy.skill_labels[i], *taxonomy.skill_alt_labels[i]]):
            # "Python (computer programming)" -> also index "python": the parenthesis is a gloss.
            variants = {label}
            if "(" in label:
                variants.add(label.split("(", 1)[0])
            for variant in variants:
                key = tuple(tokens(variant))
                if not key or len(key) > MAX_LABEL_TOKENS:
                    continue
                content = _content(key)
                if not content:
                    continue
                if len(content) == 1:
                    # One meaningful word: only distinctive knowledge terms or a whitelisted tool.
                    word = content[0]
                    if word in ALLOW_SINGLE and len(key) == 1:
                        pass
                    elif len(key) > 1 and rank > 0:
                        continue  # "and procedure", "the term": filler around one word
                    elif len(word) < 3 or word in AMBIGUOUS_SINGLE:
                        continue
                    elif taxonomy.skill_types[i] != "knowledge":
                        continue
                    elif rank > 0 and not _is_acronym(variant):
                        continue  # alt single words ("financial" for economics) are too loose
                # A preferred label wins over somebody else's alt label; otherwise first seen wins.
                if key in keys and (key in preferred or rank > 0):
                    continue
                keys[key] = i
                if rank == 0:
                    preferred.add(key)
    return keys


class SkillExtractor:
    """Longest-match phrase matcher over ESCO labels."""

    def __init__(self, taxonomy: Taxonomy | None = None):
        self.taxonomy = taxonomy or load_taxonomy()
        self.keys = _label_keys(self.taxonomy)
        self.max_len = max(len(k) for k in self.keys)
        # Label lengths per first token, longest first: the scan tries only lengths some label has
        # (the same longest match as trying every length from max_len down, without the misses).
        lengths: dict[str, set[int]] = {}
        for key in self.keys:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths = {first: tuple(sorted(ls, reverse=True)) for first, ls in lengths.items()}
        self._firsts = set(self._lengths)

    def _scan(self, toks: list[str]):
        """(token index, length, skill index) of each longest match, left to right, non-overlapping."""
        keys, lengths = self.keys, self._lengths
        i, n = 0, len(toks)
        while i < n:
            candidates = lengths.get(toks[i])
            if candidates is None:
                i += 1
                continue
            for length in candidates:
                if length > n - i:
                    continue
                idx = keys.get(tuple(toks[i : i + length])) if length > 1 else keys.get((toks[i],))
                if idx is not None:
                    yield i, length, idx
                    i += length
                    break
            else:
                i += 1

    def find(self, text: str) -> list[SkillMatch]:
        spans = token_spans(text)
        toks = [s[0] for s in spans]
        return [SkillMatch(idx, spans[i][1], spans[i + length - 1][2], " ".join(toks[i : i + length]))
                for i, length, idx in self._scan(toks)]

    def extract_tokens(self, toks: list[str]) -> list[int]:
        """Distinct skill indices in order of first appearance, from ``matching.text.tokens(text)``."""
        return list(dict.fromkeys(idx for _, _, idx in self._scan(toks)))

    def extract(self, text: str) -> list[int]:
        """Distinct skill indices in order of first appearance."""
        return self.extract_tokens(tokens(text))


@lru_cache(maxsize=1)
def get_extractor() -> SkillExtractor:
    return SkillExtractor()


def extract_skills(text: str) -> list[str]:
    """ESCO skill URIs found in ``text`` (order of first appearance)."""
    ex = get_extractor()
    return [ex.taxonomy.skill_uri(i) for i in ex.extract(text)]

"""Span -> ESCO skill linker: recall beyond exact label matches, at a price.

Phrase matching (matching.skills) only finds a skill when the text repeats an ESCO label token for
token. Job ads paraphrase ("engage with colleagues" for *liaise with colleagues*, "communication
skills" for *communication*). The linker keeps every phrase match and adds linked mentions:

1. candidates: token n-grams (1..``max_len``) inside one clause (punctuation ends a clause) that
   neither start nor end with a stop word;
2. each candidate is scored against every ESCO preferred/alt label (~99k) by
   ``(1 - w)·mean(char, static) + w·minilm`` — character 3-5-gram TF-IDF (spelling variants,
   inflections: "developing" ~ "develop"), the static MiniLM-distilled encoder (token synonyms) and
   MiniLM itself (what a phrase means as a whole: "team player" ~ "work in teams") — and offers its
   TOP_SKILLS nearest skills;
3. two logistic models over the (candidate, skill) features (FEATURES: the score, the three cosines,
   the margin over the next-best skill, length, how many occupations ask for the skill, how many
   skills have a label containing the phrase, the whole text's MiniLM cosine to the skill) with a
   threshold each, all fitted on the fit halves of the gold sets only
   (``matching.skill_evaluation.fit_link_models``, numbers in docs/matching.md): ``find`` returns
   skill *mentions* (is this phrase a skill at all — Green et al.'s spans), ``extract`` the ESCO
   skills the stricter link model asserts; selection is greedy, best first, without overlaps.

Cost: a sentence of n tokens has ~n·max_len candidates, each embedded by MiniLM and compared with ~99k label
vectors, so this runs at sentences-per-second, not documents-per-second; profile extraction keeps the phrase
matcher (see docs/matching.md for the measured trade-off).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from matching.occupations import OTHER_WINDOWS_DIR
from matching.skills import STOP_WORDS, SkillExtractor, SkillMatch, get_extractor
from matching.text import fold, token_spans, tokens

LINK_CACHE_SIZE = 4096
CANDIDATE_BLOCK = 128  # candidates scored at once: five dense (128, ~99k) float32 matrices, ~250 MB
# Per-candidate features, in this order (``SkillLinker.link``).
FEATURES = ("score", "char", "static", "margin", "tokens", "single_token", "exact", "log_occupations",
            "knowledge", "exact_single", "rank", "log_phrase_skills", "minilm", "context")
# The candidate -> label score: (1 - w) * mean(char, static) + w * MiniLM cosine. Given the gold span of
# SkillSpan validation, the nearest skill is right for 52 % of spans by char+static alone, 57 % by MiniLM
# alone, 61-66 % at w = 2/3; w = 0.8 had the best validation micro F1 of the fitted linker among
# w in {0.5, 2/3, 0.8, 0.9, 1} (validation only; docs/matching.md).
TRANSFORMER_WEIGHT = 0.8
# Skills considered per candidate: given the gold span, the nearest label's skill is right for 48 % of
# SkillSpan validation spans and one of the nearest five for 77 %; the models see the nearest three
# (with their rank), and selection takes at most one per candidate.
TOP_SKILLS = 3
TOP_LABELS = 32  # labels searched for those distinct skills


@dataclass(frozen=True)
class LinkModel:
    """Logistic score over FEATURES and the threshold on it; fitted on fit data only
    (``matching.skill_evaluation.fit_link_models``). ``LinkModel.plain(t)`` = the raw score >= t."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    @classmethod
    def plain(cls, threshold: float) -> LinkModel:
        return cls(tuple(1.0 if f == "score" else 0.0 for f in FEATURES), 0.0, threshold)

    def score(self, features: np.ndarray) -> np.ndarray:
        return features @ np.asarray(self.weights) + self.bias

    def close_to(self, other: LinkModel, tolerance: float = 0.05) -> bool:
        """Same threshold and weights/bias within ``tolerance`` (a refit on the same data, float noise)."""
        mine, theirs = np.array([*self.weights, self.bias]), np.array([*other.weights, other.bias])
        return (self.threshold == other.threshold and mine.shape == theirs.shape
                and bool(np.abs(mine - theirs).max() <= tolerance))


# Fitted on the fit halves (Green fit half -> mention; SkillSpan-ESCO HOUSE+TECH validation -> link),
# never on held-out data: `make eval-skills` refits both and warns when they differ from these.
MENTION_MODEL = LinkModel((1.85779, 0.07919, 1.07324, -2.6938, -0.05626, -0.49634, 0.08013, 0.0005, -0.03552,
                           0.22694, 0.03405, 0.03343, 2.13729, 0.80164), -3.69939, -0.5)
LINK_MODEL = LinkModel((0.59807, 1.24962, 2.06335, 2.27352, 0.19733, 0.08116, 0.28459, 0.02471, 0.57312, 0.06008,
                        -0.37287, -0.31252, -0.28371, 2.57106), -5.95227, -1.0)
MAX_CANDIDATE_TOKENS = 6
LABEL_VECTORS_DIR = OTHER_WINDOWS_DIR  # .local/matching: the machine's computed vectors, beside the occupations'
_THREADS = os.cpu_count() or 1  # the linker runs alone (evaluation, offline), not beside Spark workers
_CLAUSE_BREAK = re.compile(r"[,;:.!?()\[\]{}|/•\n\t]|\s-\s")


@dataclass(frozen=True)
class Candidate:
    first: int  # token index
    last: int  # inclusive
    start: int  # character offsets in the folded text
    end: int
    text: str


def candidates(text: str, max_len: int = MAX_CANDIDATE_TOKENS) -> list[Candidate]:
    """Token n-grams within one clause that neither start nor end with a stop word."""
    folded = fold(text)
    spans = token_spans(text)
    clause = [0] * len(spans)
    for i in range(1, len(spans)):
        gap = folded[spans[i - 1][2] : spans[i][1]]
        clause[i] = clause[i - 1] + (1 if _CLAUSE_BREAK.search(gap) else 0)
    out = []
    for i, (tok, start, _) in enumerate(spans):
        if tok in STOP_WORDS:
            continue
        for j in range(i, min(i + max_len, len(spans))):
            if clause[j] != clause[i]:
                break
            last_tok = spans[j][0]
            if last_tok in STOP_WORDS:
                continue
            if i == j and (len(tok) < 3 or not tok.isalpha()):
                continue  # one short token or a number is no skill mention on its own
            out.append(Candidate(i, j, start, spans[j][2], folded[start : spans[j][2]]))
    return out


class SkillLinker:
    """Phrase matches plus candidates linked to their nearest ESCO label, kept by a LinkModel."""

    def __init__(self, extractor: SkillExtractor | None = None, mention_model: LinkModel = MENTION_MODEL,
                 link_model: LinkModel = LINK_MODEL, max_len: int = MAX_CANDIDATE_TOKENS,
                 static_weight: float = 0.5, transformer_weight: float = TRANSFORMER_WEIGHT,
                 vectors_dir: Path | None = LABEL_VECTORS_DIR):
        from sklearn.feature_extraction.text import TfidfVectorizer

        from matching.embeddings import get_encoder

        self.extractor = extractor or get_extractor()
        self.taxonomy = self.extractor.taxonomy
        self.mention_model = mention_model
        self.link_model = link_model
        self.max_len = max_len
        self.static_weight = static_weight
        self.transformer_weight = transformer_weight
        self._linked: dict[str, tuple] = {}  # text -> link(text): find and extract of one text link once
        labels, owners = [], []
        for i in range(self.taxonomy.n_skills):
            glossless = [label.split("(", 1)[0].strip() or label  # "(computer programming)" is a gloss
                         for label in [self.taxonomy.skill_labels[i], *self.taxonomy.skill_alt_labels[i]]]
            for label in dict.fromkeys(glossless):
                labels.append(label)
                owners.append(i)
        self.labels = labels
        self.owners = np.asarray(owners, dtype=np.int32)
        # How many occupations list the skill: generic skills (communication, teamwork) are asked for often.
        uses = np.zeros(self.taxonomy.n_skills)
        for table in (self.taxonomy.essential, self.taxonomy.optional):
            for skills in table.values():
                np.add.at(uses, skills[skills < len(uses)], 1)
        self._log_uses = np.log1p(uses)
        # Knowledge concepts (languages, tools, disciplines) are named, not paraphrased: "English", "SQL".
        self._knowledge = np.array([t == "knowledge" for t in self.taxonomy.skill_types], dtype=np.float64)
        # How many skills have a label containing the candidate's phrase: "data", "engineering", "agile" sit
        # inside hundreds of labels (generic words; an exact alt-label hit on them is mostly wrong),
        # "java", "c#", "english" inside a handful.
        self._phrase_skills = phrase_skill_counts(labels, owners, max_len)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True,
                                     dtype=np.float32)
        self._label_char = self._char.fit_transform(labels).T.tocsr()  # (features, labels)
        self._encoder = get_encoder("static")
        self._label_static = self._encoder.encode(labels).T.copy()  # (d, labels)
        self._minilm = get_encoder("minilm")
        self._label_minilm = label_vectors(self._minilm, labels, vectors_dir).T.copy()  # (384, labels)

    def link(self, text: str) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
        """Rows of (candidate, skill index, FEATURES), up to TOP_SKILLS rows per candidate; no threshold,
        no overlap rule (``select`` applies both)."""
        cached = self._linked.get(text)
        if cached is None:
            if len(self._linked) >= LINK_CACHE_SIZE:
                self._linked.clear()
            cached = self._linked[text] = self._link(text)
        return cached

    def _link(self, text: str) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
        cands = candidates(text, self.max_len)
        rows: list[Candidate] = []
        skills, features = [np.zeros(0, dtype=np.int32)], [np.zeros((0, len(FEATURES)))]
        # Blocks of candidates: a resume has thousands, and each block is a dense (block, ~110k) matrix.
        # The whole text's MiniLM vector (its first window): a skill that fits the sentence's topic is
        # likelier meant than one a stray word links to ("data" -> statistics in a cloud-ops sentence).
        context = self._minilm.encode_phrases([text], threads=_THREADS)[0] @ self._label_minilm if cands else None
        for i in range(0, len(cands), CANDIDATE_BLOCK):
            block_rows, block_skills, block_features = self._features(cands[i : i + CANDIDATE_BLOCK], context)
            rows += block_rows
            skills.append(block_skills)
            features.append(block_features)
        return rows, np.concatenate(skills), np.concatenate(features)

    def _features(self, cands: list[Candidate], context: np.ndarray) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
        """One row per (candidate, one of its TOP_SKILLS nearest skills), FEATURES as columns."""
        texts = [c.text for c in cands]
        char = (self._char.transform(texts) @ self._label_char).toarray()
        static = self._encoder.encode(texts) @ self._label_static
        minilm = self._minilm.encode_phrases(texts, threads=_THREADS) @ self._label_minilm
        lexical = self.static_weight * static + (1.0 - self.static_weight) * char
        mixed = (1.0 - self.transformer_weight) * lexical + self.transformer_weight * minilm
        n_top = min(TOP_LABELS, mixed.shape[1] - 1)
        top = np.argpartition(-mixed, n_top, axis=1)[:, :n_top] if n_top > 0 else np.zeros((len(cands), 1), int)
        idx = np.arange(len(cands))[:, None]
        top = np.take_along_axis(top, np.argsort(-mixed[idx, top], axis=1, kind="stable"), axis=1)
        rows, skills, features = [], [], []
        for r, cand in enumerate(cands):
            picks: list[int] = []  # best label of each distinct skill, best first
            seen: set[int] = set()
            for label in top[r]:
                if int(self.owners[label]) not in seen:
                    seen.add(int(self.owners[label]))
                    picks.append(int(label))
                    if len(picks) > TOP_SKILLS:
                        break
            scores = [float(mixed[r, label]) for label in picks]
            ntok = cand.last - cand.first + 1
            log_phrase = np.log1p(self._phrase_skills.get(" ".join(tokens(cand.text)), 0))
            for rank, label in enumerate(picks[:TOP_SKILLS]):
                skill, score = int(self.owners[label]), scores[rank]
                # margin: ahead of the next skill (rank 0), or behind the best one (negative)
                margin = score - (scores[1] if len(scores) > 1 else 0.0) if rank == 0 else score - scores[0]
                exact = float(score >= 0.999)
                rows.append(cand)
                skills.append(skill)
                features.append((score, float(char[r, label]), float(static[r, label]), margin, ntok, ntok == 1,
                                 exact, self._log_uses[skill], self._knowledge[skill], exact * (ntok == 1), rank,
                                 log_phrase, float(minilm[r, label]), float(context[label])))
        return (rows, np.asarray(skills, dtype=np.int32),
                np.asarray(features, dtype=np.float64).reshape(len(rows), len(FEATURES)))

    def _select(self, text: str, model: LinkModel) -> list[SkillMatch]:
        cands, skills, features = self.link(text)
        return select(self.extractor.find(text), cands, skills, model.score(features), model.threshold)

    def find(self, text: str) -> list[SkillMatch]:
        """Skill mentions: phrase matches and the candidates the mention model keeps."""
        return self._select(text, self.mention_model)

    def extract(self, text: str) -> list[int]:
        """Distinct skill indices (phrase matches and the link model's links), by first appearance."""
        return list(dict.fromkeys(m.skill_index for m in self._select(text, self.link_model)))


def select(exact: list[SkillMatch], cands: list[Candidate], skills: np.ndarray, scores: np.ndarray,
           threshold: float) -> list[SkillMatch]:
    """Phrase matches, then candidates best score first that reach ``threshold`` and overlap nothing taken."""
    taken = [(m.start, m.end) for m in exact]
    found = list(exact)
    for r in sorted(range(len(cands)), key=lambda r: (-scores[r], cands[r].start, cands[r].end)):
        if scores[r] < threshold:
            break
        cand = cands[r]
        if any(cand.start < e and s < cand.end for s, e in taken):
            continue
        taken.append((cand.start, cand.end))
        found.append(SkillMatch(int(skills[r]), cand.start, cand.end, cand.text))
    return sorted(found, key=lambda m: (m.start, m.end))


def label_vectors(encoder, labels: list[str], vectors_dir: Path | None) -> np.ndarray:
    """MiniLM vectors of every label (~99k: ~4 min on 2 cores), kept int8 in ``vectors_dir`` keyed by the
    model version and a digest of the labels (cosine to float32 > 0.999; 38 MB, too big for the bundle)."""
    from matching.embeddings import dequantize_int8, quantize_int8

    digest = hashlib.sha1("\n".join(labels).encode()).hexdigest()[:12]
    path = None if vectors_dir is None else (
        Path(vectors_dir) / f"skill_label_vectors_{encoder.model_version.replace('@', '_')}_{digest}.npz")
    if path is not None and path.exists():
        data = np.load(path)
        return dequantize_int8(data["q"], data["scale"])
    q, scale = quantize_int8(encoder.encode_phrases(labels, threads=_THREADS))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, q=q, scale=scale)
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return dequantize_int8(q, scale)


def phrase_skill_counts(labels: list[str], owners: list[int], max_len: int) -> dict[str, int]:
    """Token n-gram (up to ``max_len`` tokens, stemmed as candidates are) -> distinct skills with a label containing it."""
    skills: dict[str, set[int]] = {}
    for label, owner in zip(labels, owners, strict=True):
        toks = tokens(label)
        for i in range(len(toks)):
            for j in range(i + 1, min(i + max_len, len(toks)) + 1):
                skills.setdefault(" ".join(toks[i:j]), set()).add(owner)
    return {phrase: len(owning) for phrase, owning in skills.items()}


@lru_cache(maxsize=1)
def get_linker() -> SkillLinker:
    return SkillLinker()

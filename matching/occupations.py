"""Job or resume -> ranked ESCO occupations ("categorize").

Three signals, each a cosine in [0, 1], summed with fixed weights (chosen on the hahu dev split,
see docs/matching.md):
- title vs every preferred/alternative occupation label, character 2-4-gram TF-IDF, best label wins
  (robust to "Sr.", plurals, "programme"/"program");
- title vs the same labels in the static embedding space (synonyms without shared letters);
- title + description vs an occupation document (labels + ESCO description), word TF-IDF.
Everything is fitted on the bundled taxonomy only, once per process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

TITLE_CHAR_WEIGHT = 1.0
TITLE_EMBED_WEIGHT = 1.0
DOC_WEIGHT = 0.3
DESCRIPTION_CHARS = 3000  # long ads: the first part names the role; the rest is boilerplate


@dataclass(frozen=True)
class OccupationMatch:
    index: int
    code: str
    label: str
    score: float


class OccupationRanker:
    def __init__(self, taxonomy: Taxonomy | None = None, title_encoder: str | None = "static"):
        self.taxonomy = tax = taxonomy or load_taxonomy()
        labels, owner = [], []
        for i, (label, alts) in enumerate(zip(tax.occupation_labels, tax.occupation_alt_labels, strict=True)):
            for text in dict.fromkeys([label, *alts]):
                labels.append(text)
                owner.append(i)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, dtype=np.float32)
        self.label_char = self.char.fit_transform(labels).T.tocsr()
        docs = [f"{label} {' '.join(alts)} {desc}" for label, alts, desc in
                zip(tax.occupation_labels, tax.occupation_alt_labels, tax.occupation_descriptions, strict=True)]
        self.word = TfidfVectorizer(sublinear_tf=True, stop_words="english", dtype=np.float32)
        self.docs = self.word.fit_transform(docs).T.tocsr()
        self.encoder = None
        if title_encoder and TITLE_EMBED_WEIGHT:
            from matching.embeddings import get_encoder

            try:
                self.encoder = get_encoder(title_encoder)
                self.label_vectors = self.encoder.encode(labels).T.copy()
            except FileNotFoundError as exc:  # static model not built: lexical signals only
                log.warning("occupation ranker without title embeddings: %s", exc)
                self.encoder = None

    def _max_by_occupation(self, sims: np.ndarray) -> np.ndarray:
        out = np.zeros((sims.shape[0], self.taxonomy.n_occupations), dtype=np.float64)
        for r in range(sims.shape[0]):
            np.maximum.at(out[r], self.owner, sims[r])
        return out

    def scores(self, titles: list[str], texts: list[str]) -> np.ndarray:
        """(n, n_occupations) scores; higher is better."""
        titles = [t or "" for t in titles]
        char_sims = (self.char.transform(titles) @ self.label_char)
        total = TITLE_CHAR_WEIGHT * self._max_by_occupation(
            char_sims.toarray() if sp.issparse(char_sims) else char_sims)
        if self.encoder is not None:
            emb = self.encoder.encode(titles) @ self.label_vectors
            total += TITLE_EMBED_WEIGHT * self._max_by_occupation(np.clip(emb, 0, 1))
        full = [f"{t} {(x or '')[:DESCRIPTION_CHARS]}" for t, x in zip(titles, texts, strict=True)]
        doc_sims = self.word.transform(full) @ self.docs
        total += DOC_WEIGHT * doc_sims.toarray()
        return np.round(total / (TITLE_CHAR_WEIGHT + DOC_WEIGHT + (TITLE_EMBED_WEIGHT if self.encoder else 0)), 6)

    def rank(self, titles: list[str], texts: list[str], k: int = 10) -> list[list[OccupationMatch]]:
        from matching.topk import select_topk

        out = []
        for start in range(0, len(titles), 256):
            s = self.scores(titles[start : start + 256], texts[start : start + 256])
            cols, vals = select_topk(s, k)
            for row_cols, row_vals in zip(cols, vals, strict=True):
                out.append([
                    OccupationMatch(int(c), self.taxonomy.occupation_codes[c], self.taxonomy.occupation_labels[c],
                                    float(v))
                    for c, v in zip(row_cols, row_vals, strict=True) if c >= 0 and v > 0
                ])
        return out


@lru_cache(maxsize=1)
def get_ranker() -> OccupationRanker:
    return OccupationRanker()


def rank_occupations(title: str, text: str = "", k: int = 10) -> list[OccupationMatch]:
    """Top-k ESCO occupations for one document (title may be empty for resumes)."""
    return get_ranker().rank([title or ""], [text or ""], k)[0]

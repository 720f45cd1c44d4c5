"""Job or resume -> ranked ESCO occupations ("categorize").

Signals, each a similarity in [0, 1], summed with weights chosen on the hahu *dev* split only
(docs/matching.md has the grid and the held-out numbers):
- ``char``:   title vs every preferred/alternative label, character 2-4-gram TF-IDF, best label wins
              (robust to "Sr.", plurals, "programme"/"program");
- ``static``: the same title-vs-labels comparison in the static embedding space;
- ``doc``:    title + description vs an occupation document (labels + ESCO description), word TF-IDF;
- ``title_minilm``: MiniLM(title) vs MiniLM(preferred label)              (mode "full");
- ``doc_minilm``:   MiniLM(document) vs MiniLM("label. description")      (mode "full").
The MiniLM occupation matrices are bundled (int8) in matching/data/occupation_vectors_minilm.npz;
the document vector comes from the shared content-hash cache, so the embed step never recomputes it.
Mode "fast" (no transformer) keeps only the lexical + static signals.
"""

from __future__ import annotations

import argparse
import logging
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit
from sklearn.feature_extraction.text import TfidfVectorizer

from matching.taxonomy import DATA_DIR, Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

WEIGHTS = {
    "full": {"char": 0.5, "static": 0.5, "doc": 1.0, "title_minilm": 0.5, "doc_minilm": 1.0},
    "fast": {"char": 0.5, "static": 0.0, "doc": 1.0, "title_minilm": 0.0, "doc_minilm": 0.0},
}
DEFAULT_MODE = "full"
DESCRIPTION_CHARS = 3000  # long ads: the first part names the role; the rest is boilerplate
VECTORS_FILE = DATA_DIR / "occupation_vectors_minilm.npz"  # built with the default MiniLM window
TITLE_CACHE_SIZE = 1024  # distinct titles whose char + static rows are kept (~24 KB each)


@dataclass(frozen=True)
class OccupationMatch:
    index: int
    code: str
    label: str
    score: float


def occupation_texts(tax: Taxonomy) -> tuple[list[str], list[str]]:
    """What the bundled MiniLM matrices encode: preferred labels, and "label. description"."""
    return list(tax.occupation_labels), [f"{lab}. {desc}" for lab, desc in
                                         zip(tax.occupation_labels, tax.occupation_descriptions, strict=True)]


# Matrices of a non-default MiniLM window (an evaluation of it) stay out of the bundle: everything in
# matching/data is hashed into the profiles' extractor version.
OTHER_WINDOWS_DIR = DATA_DIR.parent.parent / ".local" / "matching"


def vectors_file(model_version: str) -> Path:
    """The occupation matrices of one MiniLM version: the bundled file for the default window, a
    local side file per other window (MINILM_MAX_SEQ_LENGTH=n make matching-occupation-vectors)."""
    from matching.embeddings import MAX_SEQ_LENGTH, minilm_model_version

    if model_version == minilm_model_version(MAX_SEQ_LENGTH):
        return VECTORS_FILE
    return OTHER_WINDOWS_DIR / f"occupation_vectors_{model_version.replace('@', '_')}.npz"


def build_vectors(path: Path | None = None) -> dict:
    """Regenerate the bundled MiniLM occupation matrices (~3 min on 2 cores)."""
    from matching.embeddings import get_encoder, quantize_int8

    tax = load_taxonomy()
    enc = get_encoder("minilm")
    path = vectors_file(enc.model_version) if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    labels, docs = occupation_texts(tax)
    lq, ls = quantize_int8(enc.encode(labels, batch_size=64))
    dq, ds = quantize_int8(enc.encode(docs, batch_size=32))
    np.savez_compressed(path, label_q=lq, label_scale=ls, doc_q=dq, doc_scale=ds,
                        version=np.array(enc.model_version))
    return {"occupations": len(labels), "bytes": path.stat().st_size, "model_version": enc.model_version}


@njit(cache=True, nogil=True, inline="always")
def _best_label(sims, starts, out_row, upper):  # pragma: no cover
    """``out_row[o]`` = the best of occupation o's labels in ``sims``, clipped to [0, upper], as float64:
    the bits of ``np.maximum(0.0, np.maximum.reduceat(np.clip(sims, 0, upper), starts))`` (clipping
    and max commute), without reduceat's strided passes over a (rows, 33k) matrix."""
    n_occ, n_labels = len(starts), len(sims)
    for o in range(n_occ):
        end = starts[o + 1] if o + 1 < n_occ else n_labels
        best = sims[starts[o]]
        for k in range(starts[o] + 1, end):
            if sims[k] > best:
                best = sims[k]
        out_row[o] = min(max(np.float64(best), 0.0), upper)


@njit(cache=True, nogil=True)
def _char_max_by_occupation(t_ptr, t_idx, t_val, l_ptr, l_idx, l_val, starts, n_labels):  # pragma: no cover
    """Per title row: ``(titles @ label_char)`` then the best label of each occupation, as float64.

    The same float32 operations in the same order as scipy's csr_matmat (the product scipy computes
    for ``titles @ label_char``: per title, its n-grams in stored order, each adding ``v * w`` to the
    labels that hold it), then the per-occupation max — identical bits, without the sparse output
    scipy builds (a title shares an n-gram with ~31k of the 33k labels: the product is dense) and its
    counting pass: ~2.7x faster (docs/matching.md, "Profile extraction speed")."""
    n_rows = len(t_ptr) - 1
    out = np.zeros((n_rows, len(starts)), dtype=np.float64)
    sums = np.zeros(n_labels, dtype=np.float32)
    for i in range(n_rows):
        for jj in range(t_ptr[i], t_ptr[i + 1]):
            j, v = t_idx[jj], t_val[jj]
            for kk in range(l_ptr[j], l_ptr[j + 1]):
                sums[l_idx[kk]] += v * l_val[kk]
        _best_label(sums, starts, out[i], np.inf)
        sums[:] = 0.0
    return out


@njit(cache=True, nogil=True)
def _clipped_max_by_occupation(sims, starts):  # pragma: no cover
    """(rows, labels) similarities -> (rows, occupations): best label, clipped to [0, 1]."""
    out = np.zeros((sims.shape[0], len(starts)), dtype=np.float64)
    for i in range(sims.shape[0]):
        _best_label(sims[i], starts, out[i], 1.0)
    return out


def _per_row(vectors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``vectors @ matrix`` one row at a time: a BLAS GEMM's low bits depend on how many rows it is
    given (measured), so a document's scores would depend on its batch neighbours; row by row they
    do not, and batching the sparse signals still pays (one sklearn transform per batch)."""
    if len(vectors) <= 1:
        return vectors @ matrix
    return np.vstack([vectors[i : i + 1] @ matrix for i in range(len(vectors))])


class OccupationRanker:
    def __init__(self, mode: str = DEFAULT_MODE, taxonomy: Taxonomy | None = None):
        if mode not in WEIGHTS:
            raise ValueError(f"mode must be one of {sorted(WEIGHTS)}")
        self.mode = mode
        self.weights = dict(WEIGHTS[mode])
        self.taxonomy = tax = taxonomy or load_taxonomy()
        labels, owner = [], []
        for i, (label, alts) in enumerate(zip(tax.occupation_labels, tax.occupation_alt_labels, strict=True)):
            for text in dict.fromkeys([label, *alts]):
                labels.append(text)
                owner.append(i)
        self.owner = np.asarray(owner, dtype=np.int64)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, dtype=np.float32)
        self.label_char = self.char.fit_transform(labels).T.tocsr()
        self._starts = self._label_starts
        self._title_cache: OrderedDict[str, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        docs = [f"{label} {' '.join(alts)} {desc}" for label, alts, desc in
                zip(tax.occupation_labels, tax.occupation_alt_labels, tax.occupation_descriptions, strict=True)]
        self.word = TfidfVectorizer(sublinear_tf=True, stop_words="english", dtype=np.float32)
        self.docs = self.word.fit_transform(docs).T.tocsr()
        if self.weights["static"]:
            from matching.embeddings import get_encoder

            self.static = get_encoder("static")
            self.label_static = self.static.encode(labels).T.copy()
        if self.weights["title_minilm"] or self.weights["doc_minilm"]:
            from matching.embeddings import dequantize_int8, get_cache

            self.minilm = get_cache("minilm")
            path = vectors_file(self.minilm.encoder.model_version)
            if not path.exists():
                raise RuntimeError(f"{path} missing; build it with `make matching-occupation-vectors`")
            data = np.load(path)
            if str(data["version"]) != self.minilm.encoder.model_version:
                raise RuntimeError(f"{path} was built with {data['version']}; rebuild it")
            self.occ_label_minilm = dequantize_int8(data["label_q"], data["label_scale"]).T.copy()
            self.occ_doc_minilm = dequantize_int8(data["doc_q"], data["doc_scale"]).T.copy()

    @property
    def _label_starts(self) -> np.ndarray | None:
        """First label of each occupation when labels are listed occupation by occupation, else None."""
        starts = np.flatnonzero(np.r_[True, self.owner[1:] != self.owner[:-1]])
        ordered = len(starts) == self.taxonomy.n_occupations and np.array_equal(self.owner[starts],
                                                                                np.arange(len(starts)))
        return starts if ordered else None

    def _char_signal(self, titles: list[str]) -> np.ndarray:
        rows = self.char.transform(titles)
        starts = self._starts
        if starts is None or not len(titles):
            return self._max_by_occupation((rows @ self.label_char).toarray())
        lab = self.label_char
        return _char_max_by_occupation(rows.indptr, rows.indices, rows.data, lab.indptr, lab.indices, lab.data,
                                       starts, lab.shape[1])

    def _title_signals(self, titles: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """char and static rows of each title, computed once per distinct title and kept (LRU).

        Exact: a row depends on its title alone (the char kernel and the row-by-row GEMV see no other
        row), and both rows hold float32 values (a float32 best label, clipped), so storing them as
        float32 loses nothing. Titles repeat: 32 % of livecareer headlines, most job titles."""
        cache, static = self._title_cache, bool(self.weights["static"])
        missing = [t for t in dict.fromkeys(titles) if t not in cache]
        if missing:
            char = self._char_signal(missing).astype(np.float32)
            stat = None
            if static:
                sims = _per_row(self.static.encode(missing), self.label_static)
                stat = (self._max_by_occupation(np.clip(sims, 0, 1)) if self._starts is None
                        else _clipped_max_by_occupation(sims, self._starts)).astype(np.float32)
            for i, title in enumerate(missing):
                cache[title] = (char[i], None if stat is None else stat[i])
        rows = []
        for title in titles:
            cache.move_to_end(title)
            rows.append(cache[title])
        n_occ = self.taxonomy.n_occupations
        char_out = np.array([r[0] for r in rows], dtype=np.float64).reshape(len(titles), n_occ)
        static_out = (np.array([r[1] for r in rows], dtype=np.float64).reshape(len(titles), n_occ)
                      if static else None)
        while len(cache) > max(TITLE_CACHE_SIZE, len(titles)):
            cache.popitem(last=False)
        return char_out, static_out

    def _max_by_occupation(self, sims: np.ndarray) -> np.ndarray:
        out = np.zeros((sims.shape[0], self.taxonomy.n_occupations), dtype=np.float64)
        starts = np.flatnonzero(np.r_[True, self.owner[1:] != self.owner[:-1]])
        if len(starts) == out.shape[1] and sims.shape[0] and np.array_equal(self.owner[starts], np.arange(len(starts))):
            # labels listed occupation by occupation: one reduceat, ~40x faster than maximum.at, same values
            return np.maximum(out, np.maximum.reduceat(sims, starts, axis=1))
        for r in range(sims.shape[0]):
            np.maximum.at(out[r], self.owner, sims[r])
        return out

    def signals(self, titles: list[str], documents: list[str], embedded: list[str] | None = None
                ) -> dict[str, np.ndarray]:
        """``embedded``: per document, the text ``doc_minilm`` embeds instead of the document — the
        text the match embeds (a resume without its contact details), so both share one cached
        vector and one transformer pass; the lexical signals keep reading ``documents``."""
        titles = [t or "" for t in titles]
        char, static = self._title_signals(titles)
        out = {"char": char}
        heads = [f"{t} {(d or '')[:DESCRIPTION_CHARS]}" for t, d in zip(titles, documents, strict=True)]
        out["doc"] = (self.word.transform(heads) @ self.docs).toarray().astype(np.float64)
        if static is not None:
            out["static"] = static
        if self.weights["title_minilm"]:
            out["title_minilm"] = np.clip(_per_row(self.minilm.encode(titles), self.occ_label_minilm), 0, 1)
        if self.weights["doc_minilm"]:
            texts = documents if embedded is None else embedded
            if len(texts) != len(documents):
                raise ValueError(f"{len(texts)} texts to embed for {len(documents)} documents")
            out["doc_minilm"] = np.clip(_per_row(self.minilm.encode([d or "" for d in texts]), self.occ_doc_minilm),
                                        0, 1)
        return out

    def scores(self, titles: list[str], documents: list[str], embedded: list[str] | None = None) -> np.ndarray:
        """(n, n_occupations) in [0, 1]; higher is better (``embedded``: see signals)."""
        sig = self.signals(titles, documents, embedded)
        total = sum(self.weights.values())
        combined = sum(self.weights[name] * sig[name] for name in sig if self.weights[name])
        return np.round(combined / total, 6)

    def rank(self, titles: list[str], documents: list[str], k: int = 10, embedded: list[str] | None = None
             ) -> list[list[OccupationMatch]]:
        from matching.topk import select_topk

        out = []
        for start in range(0, len(titles), 256):
            s = self.scores(titles[start : start + 256], documents[start : start + 256],
                            None if embedded is None else embedded[start : start + 256])
            cols, vals = select_topk(s, k)
            for row_cols, row_vals in zip(cols, vals, strict=True):
                out.append([
                    OccupationMatch(int(c), self.taxonomy.occupation_codes[c], self.taxonomy.occupation_labels[c],
                                    float(v))
                    for c, v in zip(row_cols, row_vals, strict=True) if c >= 0 and v > 0
                ])
        return out


@lru_cache(maxsize=2)
def get_ranker(mode: str = DEFAULT_MODE) -> OccupationRanker:
    return OccupationRanker(mode)


def prime(titles: list[str], documents: list[str], mode: str | None = None) -> None:
    """Embed many titles/documents in one go before per-document profile calls (cache warm-up);
    ``documents`` are the texts ``doc_minilm`` embeds (for resumes: contact details redacted)."""
    weights = WEIGHTS[mode or DEFAULT_MODE]
    if weights["title_minilm"] or weights["doc_minilm"]:
        from matching.embeddings import get_cache

        cache = get_cache("minilm")
        cache.encode([t or "" for t in titles])
        cache.encode([d or "" for d in documents])


def rank_occupations(title: str, document: str = "", k: int = 10, mode: str | None = None
                     ) -> list[OccupationMatch]:
    """Top-k ESCO occupations for one document (for resumes: title = headline, document = text)."""
    return get_ranker(mode or DEFAULT_MODE).rank([title or ""], [document or ""], k)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.occupations")
    parser.add_argument("command", choices=["build-vectors"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    print(build_vectors())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

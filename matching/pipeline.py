"""Batch matching for files: texts -> profiles -> embeddings -> features -> exact top-K rows.

Shared by the CLI (``match-files``) and the evaluation. Profiles that cannot be built keep an
``invalid_reason`` and are reported, never scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from matching import occupations
from matching.embeddings import TITLE_WEIGHT, get_cache, title_version, with_title
from matching.explain import explain_pair
from matching.features import FeatureMatrix, build_features
from matching.profiles import ProfileError, build_candidate_profile, build_job_profile, headline, job_document
from matching.scoring import COMPONENTS, resolve_weights
from matching.topk import topk_hybrid

log = logging.getLogger(__name__)


@dataclass
class Side:
    profiles: list[dict]
    texts: list[str]  # what gets embedded
    titles: list[str] | None = None  # headline / job title: emphasised in the vector (embeddings.with_title)
    features: FeatureMatrix | None = None


def candidate_side(ids: list, texts: list[str], metas: list[dict] | None = None, progress: bool = True) -> Side:
    profiles, embed_texts = [], []
    metas = metas or [{} for _ in ids]
    titles = [headline(t) for t in texts]
    occupations.prime(titles, texts)
    for cid, text, meta in tqdm(list(zip(ids, texts, metas, strict=True)), desc="candidate profiles",
                                disable=not progress, leave=False):
        try:
            p = build_candidate_profile(text, meta)
        except ProfileError as exc:
            p = {"invalid_reason": exc.reason, "skills": []}
        p["candidate_id"] = cid
        p.setdefault("tenant_id", meta.get("tenant_id"))
        profiles.append(p)
        embed_texts.append("" if p.get("invalid_reason") else text)
    return Side(profiles, embed_texts, titles)


def job_side(ids: list, titles: list[str], texts: list[str], metas: list[dict] | None = None,
             progress: bool = True) -> Side:
    profiles, embed_texts = [], []
    metas = metas or [{} for _ in ids]
    occupations.prime(titles, [job_document(t, x) for t, x in zip(titles, texts, strict=True)])
    for jid, title, text, meta in tqdm(list(zip(ids, titles, texts, metas, strict=True)), desc="job profiles",
                                       disable=not progress, leave=False):
        try:
            p = build_job_profile(title, text, meta)
        except ProfileError as exc:
            p = {"invalid_reason": exc.reason, "skills": []}
        p["job_id"] = jid
        p.setdefault("tenant_id", meta.get("tenant_id"))
        profiles.append(p)
        embed_texts.append("" if p.get("invalid_reason") else job_document(title, text))
    return Side(profiles, embed_texts, [t or "" for t in titles])


def embed_sides(sides: list[tuple[Side, str]], encoder_name: str, cache_dir=None,
                title_weight: float = TITLE_WEIGHT) -> str:
    """Vectors (title-emphasised, see embeddings.with_title) and features of each side; the model version."""
    cache = get_cache(encoder_name)
    cache.attach(cache_dir)
    encoder = cache.encoder
    for side, name in sides:
        valid_rows = [i for i, t in enumerate(side.texts) if t]
        vectors = np.zeros((len(side.texts), encoder.dim), dtype=np.float32)
        if valid_rows:
            docs = cache.encode([side.texts[i] for i in valid_rows])
            if title_weight and side.titles is not None:
                docs = with_title(docs, cache.encode([side.titles[i] for i in valid_rows]), title_weight)
            vectors[valid_rows] = docs
        side.features = build_features(side.profiles, vectors, name)
    cache.save()
    log.info("embeddings: %d cached, %d computed (%s)", cache.hits, cache.misses, encoder.model_version)
    return title_version(encoder.model_version, title_weight)


def ranking_rows(cands: Side, jobs: Side, k: int, weights_version: str, model_version: str,
                 block_size: int = 512, explain: bool = True) -> list[dict]:
    """K rows per valid candidate (fewer if there are fewer valid jobs); one row with the
    reason for each invalid candidate."""
    weights = resolve_weights(weights_version)
    top = topk_hybrid(cands.features, jobs.features, k, weights, block_size=block_size)
    rows = []
    for i, profile in enumerate(cands.profiles):
        cid = profile["candidate_id"]
        if not cands.features.valid[i]:
            rows.append({"candidate_id": cid, "job_id": None, "rank": None, "score": None,
                         "invalid_reason": cands.features.invalid_reason[i]})
            continue
        for r in range(k):
            j = int(top.col_index[i, r])
            if j < 0:
                break
            row = {"candidate_id": cid, "job_id": jobs.profiles[j]["job_id"], "rank": r + 1,
                   "score": float(top.score[i, r])}
            row.update({name: float(top.components[name][i, r]) for name in COMPONENTS})
            if explain:
                ex = explain_pair(profile, jobs.profiles[j])
                row.update({key: "; ".join(values) for key, values in ex.items()})
            row.update({"weights_version": weights.version, "model_version": model_version,
                        "invalid_reason": None})
            rows.append(row)
    return rows

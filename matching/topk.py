"""Exact top-K: blocked matrix products + partial sort, equal to brute force.

Rows of the query side are processed ``block_size`` at a time against the whole other side, so
peak memory is O(block_size x m) per component. Ordering is total and deterministic: score
descending, then column index ascending; NaN (invalid or cross-tenant pairs) never ranks. Rows
with fewer than k rankable columns are padded with column -1 and score NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.features import FeatureMatrix
from matching.scoring import COMPONENTS, HybridWeights, score_matrix


@dataclass
class TopK:
    row_index: np.ndarray  # (n, k) int64: the query row (repeated), for flat joins
    col_index: np.ndarray  # (n, k) int64: -1 = padding
    score: np.ndarray  # (n, k) float64: NaN = padding
    components: dict[str, np.ndarray]  # name -> (n, k) float64


def select_topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(cols, values) of the k best per row: score desc, column asc; NaN never selected."""
    n, m = scores.shape
    cols = np.full((n, k), -1, dtype=np.int64)
    vals = np.full((n, k), np.nan)
    if m == 0 or n == 0 or k <= 0:
        return cols, vals
    s = np.where(np.isnan(scores), -np.inf, scores)
    kk = min(k, m)
    if kk < m:
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        kth = np.take_along_axis(s, part, axis=1).min(axis=1)
        # Ties at the k-th value: argpartition's pick among equals is arbitrary -> resolve by index.
        ties = (s >= kth[:, None]).sum(axis=1) > kk
        for r in np.flatnonzero(ties):
            cand = np.flatnonzero(s[r] >= kth[r])
            order = np.lexsort((cand, -s[r, cand]))[:kk]
            part[r] = cand[order]
    else:
        part = np.tile(np.arange(m), (n, 1))
    part_vals = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -part_vals), axis=1)
    part = np.take_along_axis(part, order, axis=1)
    part_vals = np.take_along_axis(part_vals, order, axis=1)
    ok = np.isfinite(part_vals)
    cols[:, :kk] = np.where(ok, part, -1)
    vals[:, :kk] = np.where(ok, part_vals, np.nan)
    return cols, vals


def topk_hybrid(a: FeatureMatrix, b: FeatureMatrix, k: int, weights: HybridWeights | str | None = None,
                block_size: int = 1024) -> TopK:
    """Top-k of side ``b`` for every row of side ``a`` (candidate->job or job->candidate)."""
    if block_size < 1:
        raise ValueError("block_size must be >= 1")
    n = len(a)
    cols = np.full((n, k), -1, dtype=np.int64)
    vals = np.full((n, k), np.nan)
    comps = {name: np.full((n, k), np.nan) for name in COMPONENTS}
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        block = score_matrix(a.take(slice(start, stop)), b, weights)
        c, v = select_topk(block["score"], k)
        cols[start:stop], vals[start:stop] = c, v
        safe = np.where(c >= 0, c, 0)
        for name in COMPONENTS:
            picked = np.take_along_axis(block[name], safe, axis=1)
            comps[name][start:stop] = np.where(c >= 0, picked, np.nan)
    rows = np.repeat(np.arange(n, dtype=np.int64)[:, None], k, axis=1)
    return TopK(row_index=rows, col_index=cols, score=vals, components=comps)


def topk_dot(queries: np.ndarray, items: np.ndarray, k: int, block_size: int = 1024) -> TopK:
    """Pure inner-product top-k (semantic retrieval) with the same ordering rules."""
    queries = np.asarray(queries, dtype=np.float32)
    items = np.asarray(items, dtype=np.float32)
    n = len(queries)
    cols = np.full((n, k), -1, dtype=np.int64)
    vals = np.full((n, k), np.nan)
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        sims = (queries[start:stop] @ items.T).astype(np.float64)
        cols[start:stop], vals[start:stop] = select_topk(sims, k)
    rows = np.repeat(np.arange(n, dtype=np.int64)[:, None], k, axis=1)
    return TopK(row_index=rows, col_index=cols, score=vals, components={})

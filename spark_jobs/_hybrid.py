"""Numpy side of the Spark match: score one candidate block against one tenant's jobs with `matching/`.

Kept free of Spark so it is unit-testable alone; `spark_jobs.match` calls it inside mapInArrow.
Scoring is `matching.fast_topk` (an upper-bound screen + exact scores for the few pairs near each K-th).
For a partition's candidates it returns (a) each candidate's complete top-K over the tenant's open
jobs and (b) each job's top-K *within the partition* — partial lists that Spark reduces to the exact
job → candidate top-K, so one scoring pass serves both directions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPONENTS = ("semantic", "skills", "experience", "location", "salary")
MATCH_COLUMNS = ["tenant_id", "direction", "candidate_id", "job_id", "rank", "score", *COMPONENTS]


def weights_for(version: str | None = None):
    """(version, HybridWeights) — an unknown version is a clear error from matching.scoring."""
    from matching.scoring import DEFAULT_WEIGHTS_VERSION, resolve_weights

    weights = resolve_weights(version or DEFAULT_WEIGHTS_VERSION)
    return weights.version, weights


def features(frame: pd.DataFrame, vectors: np.ndarray, side: str):
    """Profile columns (row i <-> vectors[i]) → FeatureMatrix, column-wise (no dict per row)."""
    from matching.features import build_features_frame

    return build_features_frame(frame, vectors, side)


def _frame(tenant, direction, cand_ids, job_ids, top, candidate_rows: bool) -> pd.DataFrame:
    """TopK arrays (already ranked: score desc, index asc) → match rows, padding dropped."""
    keep = top.col_index >= 0
    rows, cols = top.row_index[keep], top.col_index[keep]
    rank = np.broadcast_to(np.arange(1, top.col_index.shape[1] + 1, dtype=np.int32), keep.shape)[keep]
    cand, job = (cand_ids[rows], job_ids[cols]) if candidate_rows else (cand_ids[cols], job_ids[rows])
    frame = pd.DataFrame({"tenant_id": tenant, "direction": direction, "candidate_id": cand, "job_id": job,
                          "rank": rank, "score": top.score[keep]})  # fmt: skip
    for name in COMPONENTS:
        frame[name] = top.components[name][keep]
    return frame[MATCH_COLUMNS]


def job_side(job_fm, weights):
    """The tenant's job side for the fast kernel (float32 operands), built once per tenant."""
    from matching.fast_topk import JobSide

    return JobSide.build(job_fm, weights)


def score_block(
    tenant: str,
    cand_ids: np.ndarray,
    cand_fm,
    job_ids: np.ndarray,
    job_fm,
    k: int,
    weights,
    block_size: int = 1024,
    side=None,
) -> pd.DataFrame:
    """Both directions for one candidate batch of one tenant (job rows are partial, see module doc).

    `matching.fast_topk.topk_both`: a float32 screen of each block (sgemm + sparse skills + fused
    structured terms), then only the pairs within a proven error bound of each row's / job's K-th are
    re-scored with the library's exact formulas — the result equals brute force over `score_matrix`.
    ``side``: a prebuilt `job_side(job_fm, weights)` for this tenant (reused across batches).
    """
    from matching.fast_topk import topk_both

    n, m = len(cand_ids), len(job_ids)
    if n == 0 or m == 0:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    sides = {tenant: side} if side is not None else None
    both = topk_both(cand_fm, job_fm, k, weights, block_size=block_size, job_sides=sides)
    return pd.concat(
        [
            _frame(tenant, "candidate_to_job", cand_ids, job_ids, both.candidate_to_job, candidate_rows=True),
            _frame(tenant, "job_to_candidate", cand_ids, job_ids, both.job_to_candidate, candidate_rows=False),
        ],
        ignore_index=True,
    )

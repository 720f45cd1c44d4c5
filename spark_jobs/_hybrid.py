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
MATCH_TYPES = {"rank": "int", "score": "double", **dict.fromkeys(COMPONENTS, "double")}  # the rest: string
MATCH_DDL = ", ".join(f"{name} {MATCH_TYPES.get(name, 'string')}" for name in MATCH_COLUMNS)


def weights_for(version: str | None = None):
    """(version, HybridWeights) — an unknown version is a clear error from matching.scoring."""
    from matching.scoring import DEFAULT_WEIGHTS_VERSION, resolve_weights

    weights = resolve_weights(version or DEFAULT_WEIGHTS_VERSION)
    return weights.version, weights


def features(frame: pd.DataFrame, vectors: np.ndarray, side: str):
    """Profile columns (row i <-> vectors[i]) → FeatureMatrix, column-wise (no dict per row)."""
    from matching.features import build_features_frame

    return build_features_frame(frame, vectors, side)


def match_schema():
    """Arrow schema of the match rows (``MATCH_DDL``)."""
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int32(), "double": pa.float64()}
    return pa.schema([(name, types[MATCH_TYPES.get(name, "string")]) for name in MATCH_COLUMNS])


def _table(tenant, direction, cand_ids, job_ids, top, candidate_rows: bool):
    """TopK arrays (already ranked: score desc, index asc) → an Arrow table of match rows, padding dropped.

    Straight from the numpy arrays (ids gathered by Arrow's ``take``): no pandas frame of a million rows.
    """
    import pyarrow as pa

    keep = (top.col_index >= 0).ravel()
    rows, cols = top.row_index.ravel()[keep], top.col_index.ravel()[keep]
    rank = np.broadcast_to(np.arange(1, top.col_index.shape[1] + 1, dtype=np.int32), top.col_index.shape)
    owners, others = (cand_ids, job_ids) if candidate_rows else (job_ids, cand_ids)
    owner_ids, other_ids = pa.array(owners, pa.string()).take(rows), pa.array(others, pa.string()).take(cols)
    columns = {
        "tenant_id": pa.array([tenant], pa.string()).take(np.zeros(len(rows), dtype=np.int64)),
        "direction": pa.array([direction], pa.string()).take(np.zeros(len(rows), dtype=np.int64)),
        "candidate_id": owner_ids if candidate_rows else other_ids,
        "job_id": other_ids if candidate_rows else owner_ids,
        "rank": pa.array(rank.ravel()[keep]),
        "score": pa.array(top.score.ravel()[keep]),
        **{name: pa.array(top.components[name].ravel()[keep]) for name in COMPONENTS},
    }
    return pa.table([columns[name] for name in MATCH_COLUMNS], schema=match_schema())


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
):
    """Both directions for one candidate batch of one tenant (job rows are partial, see module doc).

    `matching.fast_topk.topk_both`: a float32 screen of each block (sgemm + sparse skills + fused
    structured terms), then only the pairs within a proven error bound of each row's / job's K-th are
    re-scored with the library's exact formulas — the result equals brute force over `score_matrix`.
    ``side``: a prebuilt `job_side(job_fm, weights)` for this tenant (reused across batches).
    Returns an Arrow table with ``match_schema()``.
    """
    import pyarrow as pa

    from matching.fast_topk import topk_both

    n, m = len(cand_ids), len(job_ids)
    if n == 0 or m == 0:
        return match_schema().empty_table()
    sides = {tenant: side} if side is not None else None
    both = topk_both(cand_fm, job_fm, k, weights, block_size=block_size, job_sides=sides)
    return pa.concat_tables(
        [
            _table(tenant, "candidate_to_job", cand_ids, job_ids, both.candidate_to_job, candidate_rows=True),
            _table(tenant, "job_to_candidate", cand_ids, job_ids, both.job_to_candidate, candidate_rows=False),
        ]
    )


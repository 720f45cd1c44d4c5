"""Numpy side of the Spark match: score one candidate block against one tenant's jobs with `matching/`.

Kept free of Spark so it is unit-testable alone; `spark_jobs.match` calls it inside mapInArrow.
Scoring is `matching.fast_topk` (an upper-bound screen + exact scores for the few pairs near each K-th).
For a partition's candidates it returns (a) each candidate's complete top-K over the tenant's open
jobs and (b) each job's top-K *within the partition* — partial lists that Spark reduces to the exact
job → candidate top-K, so one scoring pass serves both directions.

The lists travel *compact* (``LISTS_DDL``: one row per owner — candidate or job — with its ranked
ids, scores and components as arrays): 20× fewer rows through the Python → JVM conversion, the
checkpoint and the job-side shuffle than one row per match. Spark explodes them into ``MATCH_DDL``
rows; ``flat_matches`` does the same for pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.scoring import COMPONENTS  # one list: the match rows carry every component of the score

MATCH_COLUMNS = ["tenant_id", "direction", "candidate_id", "job_id", "rank", "score", *COMPONENTS]
MATCH_TYPES = {"rank": "int", "score": "double", **dict.fromkeys(COMPONENTS, "double")}  # the rest: string
MATCH_DDL = ", ".join(f"{name} {MATCH_TYPES.get(name, 'string')}" for name in MATCH_COLUMNS)
LIST_COLUMNS = ["tenant_id", "direction", "owner_id", "other_ids", "scores", *COMPONENTS]
LISTS_DDL = "tenant_id string, direction string, owner_id string, other_ids array<string>, scores array<double>, " + ", ".join(
    f"{name} array<double>" for name in COMPONENTS
)


def weights_for(version: str | None = None):
    """(version, HybridWeights) — an unknown version is a clear error from matching.scoring."""
    from matching.scoring import DEFAULT_WEIGHTS_VERSION, resolve_weights

    weights = resolve_weights(version or DEFAULT_WEIGHTS_VERSION)
    return weights.version, weights


def features(frame: pd.DataFrame, vectors: np.ndarray, side: str):
    """Profile columns (row i <-> vectors[i]) → FeatureMatrix, column-wise (no dict per row)."""
    from matching.features import build_features_frame

    return build_features_frame(frame, vectors, side)


def lists_schema():
    """Arrow schema of the compact ranked lists (``LISTS_DDL``)."""
    import pyarrow as pa

    listed = {"other_ids": pa.list_(pa.string()), "scores": pa.list_(pa.float64())}
    listed.update(dict.fromkeys(COMPONENTS, pa.list_(pa.float64())))
    return pa.schema([(name, listed.get(name, pa.string())) for name in LIST_COLUMNS])


def _lists(tenant, direction, owner_ids, other_ids, top):
    """TopK arrays (ranked: score desc, index asc; padding -1 at each row's end) → one Arrow row per owner
    with at least one match, its lists in rank order. Straight from the numpy arrays (ids gathered by
    Arrow's ``take``): no pandas frame of a million rows."""
    import pyarrow as pa

    keep = top.col_index >= 0
    counts = keep.sum(axis=1)
    owners = np.flatnonzero(counts)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts[owners])]).astype(np.int32))

    def listed(values):
        return pa.ListArray.from_arrays(offsets, values)

    constant = np.zeros(len(owners), dtype=np.int64)
    columns = [
        pa.array([tenant], pa.string()).take(constant),
        pa.array([direction], pa.string()).take(constant),
        pa.array(owner_ids, pa.string()).take(owners),
        listed(pa.array(other_ids, pa.string()).take(top.col_index[keep])),
        listed(pa.array(top.score[keep])),
        *[listed(pa.array(top.components[name][keep])) for name in COMPONENTS],
    ]
    return pa.Table.from_arrays(columns, schema=lists_schema())


def flat_matches(lists) -> pd.DataFrame:
    """Compact ranked lists (Arrow, ``LISTS_DDL``) → one row per match (``MATCH_COLUMNS``), rank from 1."""
    frame = lists.to_pandas()
    if frame.empty:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    frame["rank"] = frame["other_ids"].map(lambda ids: np.arange(1, len(ids) + 1, dtype=np.int32))
    flat = frame.explode(["other_ids", "scores", "rank", *COMPONENTS], ignore_index=True)
    c2j = flat["direction"] == "candidate_to_job"
    flat["candidate_id"] = flat["owner_id"].where(c2j, flat["other_ids"])
    flat["job_id"] = flat["other_ids"].where(c2j, flat["owner_id"])
    flat = flat.rename(columns={"scores": "score"})
    return flat[MATCH_COLUMNS].astype({"rank": "int32", "score": "float64", **dict.fromkeys(COMPONENTS, "float64")})


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
    Returns the compact ranked lists (Arrow, ``lists_schema()``; ``flat_matches`` for one row per match).
    """
    import pyarrow as pa

    from matching.fast_topk import topk_both

    n, m = len(cand_ids), len(job_ids)
    if n == 0 or m == 0:
        return lists_schema().empty_table()
    sides = {tenant: side} if side is not None else None
    both = topk_both(cand_fm, job_fm, k, weights, block_size=block_size, job_sides=sides)
    return pa.concat_tables(
        [
            _lists(tenant, "candidate_to_job", cand_ids, job_ids, both.candidate_to_job),
            _lists(tenant, "job_to_candidate", job_ids, cand_ids, both.job_to_candidate),
        ]
    )


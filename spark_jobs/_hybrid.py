"""Numpy side of the Spark match: score one candidate block against one tenant's jobs with `matching/`.

Kept free of Spark so it is unit-testable alone; `spark_jobs.match` calls it inside mapInPandas.
For a block of candidates it returns (a) each candidate's complete top-K over the tenant's open
jobs and (b) each job's top-K *within this block* — partial lists that Spark reduces to the exact
job → candidate top-K, so one pass over candidate blocks serves both directions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPONENTS = ("semantic", "skills", "experience", "location", "salary")
MATCH_COLUMNS = ["tenant_id", "direction", "candidate_id", "job_id", "rank", "score", *COMPONENTS]


def weights_for(version: str | None = None):
    from matching.scoring import DEFAULT_WEIGHTS_VERSION, WEIGHTS

    version = version or DEFAULT_WEIGHTS_VERSION
    return version, WEIGHTS[version] if isinstance(WEIGHTS, dict) and version in WEIGHTS else WEIGHTS


def features(records: list[dict], vectors: np.ndarray, side: str):
    from matching.features import build_features

    return build_features(records, vectors, side)


def _as_flat(topk) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rows = np.asarray(topk.row_index).reshape(-1)
    cols = np.asarray(topk.col_index).reshape(-1)
    score = np.asarray(topk.score, dtype=np.float64).reshape(-1)
    comps = topk.components
    if isinstance(comps, dict):
        parts = {name: np.asarray(comps[name], dtype=np.float64).reshape(-1) for name in COMPONENTS if name in comps}
    else:
        arr = np.asarray(comps, dtype=np.float64).reshape(len(rows), -1)
        parts = {name: arr[:, i] for i, name in enumerate(COMPONENTS[: arr.shape[1]])}
    valid = cols >= 0  # fewer partners than K pad with -1
    return rows[valid], cols[valid], score[valid], {n: v[valid] for n, v in parts.items()}


def _frame(tenant, direction, cand_ids, job_ids, rows, cols, score, comps, candidate_rows: bool) -> pd.DataFrame:
    """TopK arrays → match rows; rank = position by score (desc) within each row entity, ties by id."""
    if candidate_rows:
        cand, job = cand_ids[rows], job_ids[cols]
        owner = cand
    else:
        job, cand = job_ids[rows], cand_ids[cols]
        owner = job
    frame = pd.DataFrame({"tenant_id": tenant, "direction": direction, "candidate_id": cand, "job_id": job})
    frame["score"] = score
    for name in COMPONENTS:
        frame[name] = comps.get(name, np.full(len(frame), np.nan))
    frame["_owner"] = owner
    frame["_other"] = job if candidate_rows else cand
    frame = frame.sort_values(["_owner", "score", "_other"], ascending=[True, False, True], kind="mergesort")
    frame["rank"] = frame.groupby("_owner", sort=False).cumcount() + 1
    return frame.drop(columns=["_owner", "_other"])[MATCH_COLUMNS]


def score_block(
    tenant: str,
    cand_ids: np.ndarray,
    cand_fm,
    job_ids: np.ndarray,
    job_fm,
    k: int,
    weights,
    block_size: int = 2048,
) -> pd.DataFrame:
    """Both directions for one candidate block of one tenant (job rows are partial, see module doc)."""
    from matching.topk import topk_hybrid

    if len(cand_ids) == 0 or len(job_ids) == 0:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    c2j = _as_flat(topk_hybrid(cand_fm, job_fm, k, weights, block_size))
    j2c = _as_flat(topk_hybrid(job_fm, cand_fm, k, weights, block_size))
    return pd.concat(
        [
            _frame(tenant, "candidate_to_job", cand_ids, job_ids, *c2j, candidate_rows=True),
            _frame(tenant, "job_to_candidate", cand_ids, job_ids, *j2c, candidate_rows=False),
        ],
        ignore_index=True,
    )

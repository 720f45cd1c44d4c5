"""Numpy side of the Spark match: score one candidate block against one tenant's jobs with `matching/`.

Kept free of Spark so it is unit-testable alone; `spark_jobs.match` calls it inside mapInPandas.
For a batch of candidates it returns (a) each candidate's complete top-K over the tenant's open
jobs and (b) each job's top-K *within this batch* — partial lists that Spark reduces to the exact
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


def features(records: list[dict], vectors: np.ndarray, side: str):
    from matching.features import build_features

    return build_features(records, vectors, side)


def _frame(
    tenant, direction, cand_ids, job_ids, rows, cols, score, comps, candidate_rows: bool
) -> pd.DataFrame:
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


def _gather(block: dict, cols: np.ndarray, transpose: bool) -> dict[str, np.ndarray]:
    safe = np.where(cols >= 0, cols, 0)
    out = {}
    for name in COMPONENTS:
        mat = block[name].T if transpose else block[name]
        out[name] = np.where(cols >= 0, np.take_along_axis(mat, safe, axis=1), np.nan)
    return out


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
    """Both directions for one candidate batch of one tenant (job rows are partial, see module doc).

    Each block of candidates is scored once (`matching.scoring.score_matrix`: all five components)
    and ranked along both axes (`matching.topk.select_topk`, the library's exact, deterministic
    ordering); the jobs' running top-K is merged block by block.
    """
    from matching.scoring import score_matrix
    from matching.topk import select_topk

    n, m = len(cand_ids), len(job_ids)
    if n == 0 or m == 0:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    c_rows, c_cols, c_score, c_comp = [], [], [], {name: [] for name in COMPONENTS}
    best = None  # jobs' running top-K: (cand index (m, k), score (m, k), components)
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        block = score_matrix(cand_fm.take(slice(start, stop)), job_fm, weights)
        cols, vals = select_topk(block["score"], k)
        keep = cols >= 0
        rows = np.repeat(np.arange(start, stop)[:, None], cols.shape[1], axis=1)
        c_rows.append(rows[keep])
        c_cols.append(cols[keep])
        c_score.append(vals[keep])
        for name, arr in _gather(block, cols, transpose=False).items():
            c_comp[name].append(arr[keep])
        # job → candidate within this block, then merged with the earlier blocks' best
        jcols, jvals = select_topk(block["score"].T, k)
        jcomp = _gather(block, jcols, transpose=True)
        jcands = np.where(jcols >= 0, jcols + start, -1)
        if best is not None:
            jcands = np.concatenate([best[0], jcands], axis=1)
            jvals = np.concatenate([best[1], jvals], axis=1)
            jcomp = {name: np.concatenate([best[2][name], jcomp[name]], axis=1) for name in COMPONENTS}
            # rank the merged lists by score desc, candidate index asc (padding -1/NaN last)
            order_key = np.where(np.isnan(jvals), np.inf, -jvals)
            tie_key = np.where(jcands >= 0, jcands, np.iinfo(np.int64).max)
            order = np.lexsort((tie_key, order_key), axis=1)[:, :k]
            jcands = np.take_along_axis(jcands, order, axis=1)
            jvals = np.take_along_axis(jvals, order, axis=1)
            jcomp = {name: np.take_along_axis(v, order, axis=1) for name, v in jcomp.items()}
        best = (jcands, jvals, jcomp)
    c2j = (np.concatenate(c_rows), np.concatenate(c_cols), np.concatenate(c_score),
           {name: np.concatenate(v) for name, v in c_comp.items()})  # fmt: skip
    jcands, jvals, jcomp = best
    keep = jcands >= 0
    jrows = np.repeat(np.arange(m)[:, None], jcands.shape[1], axis=1)
    j2c = (jrows[keep], jcands[keep], jvals[keep], {name: v[keep] for name, v in jcomp.items()})
    return pd.concat(
        [
            _frame(tenant, "candidate_to_job", cand_ids, job_ids, *c2j, candidate_rows=True),
            _frame(tenant, "job_to_candidate", cand_ids, job_ids, *j2c, candidate_rows=False),
        ],
        ignore_index=True,
    )

"""Exact hybrid top-K, both directions, at close to GEMM speed: float32 screen + exact float64 re-score.

``matching.scoring.score_matrix`` builds five float64 (n, m) arrays per block (~30 elementwise passes).
Here each block of candidates is scored once in float32 with as few passes as possible:

- semantic: one sgemm with the candidate vectors pre-scaled by the semantic weight, clipped in place;
- skills: csr (candidate skills over the tenant's job-skill vocabulary) @ dense (job per-skill weight
  / the job's total), so coverage is a sparse x dense product;
- location (+ every job-only constant): a (distinct candidate location keys x jobs) table computed with
  the library formulas, gathered per row;
- experience / salary: capped ratios as two in-place float32 ops on the block.

Every float32 term has a proven error bound (``screen_error_bound``: gamma_d for the dot product, the
skill count for the sparse sum, a few ulps per add). A row keeps every job whose screened score is within
``2 * eps + 1e-6`` (the 1e-6 covers the library's rounding to 6 decimals) of the row's K-th screened
score, a job column likewise (and above its running K-th exact score from earlier blocks). Only those pairs
are re-scored with the library's formulas in float64 (``pair_scores``: same operations, same order, so the
same bits as ``score_matrix``), then ranked score desc, index asc. The result equals brute force over
``score_matrix``: invalid profiles and cross-tenant pairs are never scored (NaN in the library), rows
with fewer than K rankable columns are padded with -1 / NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.features import UNKNOWN, FeatureMatrix
from matching.scoring import COMPONENTS, NEUTRAL, SCORE_DECIMALS, HybridWeights, resolve_weights
from matching.topk import TopK

U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32
# the library rounds to 1e-6 (half of it each side) + float64 noise + the float32 cast of a threshold
ROUNDING_SLACK = 1e-6 + 2e-7


# --- exact formulas (mirrors of matching.scoring, broadcast-friendly, float64) -------------------------
def experience(have: np.ndarray, need: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        frac = np.where(have >= need, 1.0, have / need)
    out = np.where(np.isnan(need) | (need <= 0), 1.0, frac)
    out = np.where(~np.isnan(need) & (need > 0) & np.isnan(have), NEUTRAL, out)
    return np.clip(out, 0.0, 1.0)


def location(c_city, c_country, c_remote, j_city, j_country, j_remote) -> np.ndarray:
    same_city = (c_city == j_city) & (c_city != UNKNOWN)
    known_country = (c_country != UNKNOWN) & (j_country != UNKNOWN)
    shape = np.broadcast_shapes(np.shape(c_city), np.shape(j_city))
    out = np.full(shape, NEUTRAL)
    out = np.where(known_country & (c_country != j_country), 0.0, out)
    out = np.where(known_country & (c_country == j_country), 0.6, out)
    out = np.where(same_city, 1.0, out)
    remote_only_vs_onsite = (c_remote == 2) & (j_remote == 0)
    out = np.where(remote_only_vs_onsite, out * 0.5, out)
    return np.where(j_remote == 2, 1.0, out)


def offered_salary(j: FeatureMatrix) -> np.ndarray:
    return np.where(np.isnan(j.salary_max), j.salary_min, j.salary_max)


def salary(desired: np.ndarray, offered: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.where(offered >= desired, 1.0, offered / desired)
    out = np.where(np.isnan(desired) | np.isnan(offered) | (desired <= 0), NEUTRAL, ratio)
    return np.clip(out, 0.0, 1.0)


def _job_skill_sets(j: FeatureMatrix) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    return (j.essential if j.essential is not None else j.skills), j.optional


def _skill_totals(j: FeatureMatrix, w: HybridWeights) -> np.ndarray:
    ess, opt = _job_skill_sets(j)
    total = w.essential_weight * np.asarray(ess.sum(axis=1), dtype=np.float64).ravel()
    if opt is not None:
        total = total + w.optional_weight * np.asarray(opt.sum(axis=1), dtype=np.float64).ravel()
    return total


def pair_scores(c: FeatureMatrix, j: FeatureMatrix, ri: np.ndarray, ci: np.ndarray,
                weights: HybridWeights | str | None = None) -> dict[str, np.ndarray]:
    """score_matrix(c, j)[name][ri, ci] for aligned index arrays, computed only for those pairs.

    Same float64 operations in the same order as matching.scoring (the semantic dot product sums in a
    different order: ~1e-16, far below the 1e-6 rounding). Pairs with an invalid side or two tenants: NaN.
    """
    w = resolve_weights(weights)
    ri, ci = np.asarray(ri, dtype=np.int64), np.asarray(ci, dtype=np.int64)
    sem = np.einsum("ij,ij->i", c.vectors[ri], j.vectors[ci], dtype=np.float64) if len(ri) else np.zeros(0)
    ess, opt = _job_skill_sets(j)
    cs = c.skills[ri]
    covered = w.essential_weight * np.asarray(cs.multiply(ess[ci]).sum(axis=1)).ravel().astype(np.float64)
    if opt is not None:
        count_opt = np.asarray(cs.multiply(opt[ci]).sum(axis=1)).ravel().astype(np.float32)
        covered += w.optional_weight * count_opt
    total = _skill_totals(j, w)[ci]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        skills = covered / total
    skills[total == 0] = NEUTRAL
    parts = {
        "semantic": np.clip(sem, 0.0, 1.0),
        "skills": np.clip(skills, 0.0, 1.0),
        "experience": experience(c.years[ri], j.years[ci]),
        "location": location(c.city[ri], c.country[ri], c.remote[ri], j.city[ci], j.country[ci], j.remote[ci]),
        "salary": salary(c.salary_min[ri], offered_salary(j)[ci]),
    }
    score = np.zeros(len(ri), dtype=np.float64)
    for weight, name in zip(w.component_weights(), COMPONENTS, strict=True):
        if weight:
            score += weight * parts[name]
    ok = c.valid[ri] & j.valid[ci] & (c.tenant[ri] == j.tenant[ci])
    out = {"score": np.where(ok, np.round(score, SCORE_DECIMALS), np.nan)}
    for name in COMPONENTS:
        out[name] = np.where(ok, np.round(parts[name], SCORE_DECIMALS), np.nan)
    return out


# --- job side, prepared once per tenant -----------------------------------------------------------------
@dataclass
class JobSide:
    """Float32 operands of the screen for one tenant's valid jobs (built once, reused for every block)."""

    fm: FeatureMatrix  # the valid jobs only
    index: np.ndarray  # (m,) their rows in the caller's job matrix
    weights: HybridWeights
    norm: np.ndarray  # normalised component weights
    vectors_t: np.ndarray  # (d, m) float32, Fortran-friendly for sgemm
    vocab: np.ndarray  # job-side skill columns used by any job
    skill_weights: np.ndarray  # (len(vocab), m) float32: w_skills * weight_v / total_j
    const: np.ndarray  # (m,) float64 job-only terms (neutral skills when the job lists none)
    inv_need: np.ndarray  # (m,) float32 1 / required years (0 when nothing required)
    need_none: np.ndarray  # (m,) bool: nothing required → experience 1
    offered: np.ndarray  # (m,) float32 offered salary (0 when unknown)
    offered_unknown: np.ndarray  # (m,) bool
    max_norm: float
    max_skill_terms: int

    @classmethod
    def build(cls, j: FeatureMatrix, weights: HybridWeights | str | None = None, index=None) -> JobSide:
        w = resolve_weights(weights)
        norm = w.component_weights()
        index = np.flatnonzero(j.valid) if index is None else np.asarray(index, dtype=np.int64)
        fm = j.take(index)
        ess, opt = _job_skill_sets(fm)
        per_skill = w.essential_weight * ess.astype(np.float64)
        if opt is not None:
            per_skill = per_skill + w.optional_weight * opt.astype(np.float64)
        per_skill = sp.csr_matrix(per_skill)
        total = _skill_totals(fm, w)
        vocab = np.unique(per_skill.indices)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            scale = np.where(total > 0, norm[1] / total, 0.0)
        dense = per_skill[:, vocab].toarray().T * scale[None, :] if len(vocab) else np.zeros((0, len(fm)))
        need = fm.years
        need_none = np.isnan(need) | (need <= 0)
        with np.errstate(divide="ignore"):
            inv_need = np.where(need_none, 0.0, 1.0 / np.where(need_none, 1.0, need))
        offered = offered_salary(fm)
        offered_unknown = np.isnan(offered)
        nnz_rows = np.diff(per_skill.indptr)
        return cls(
            fm=fm, index=index, weights=w, norm=norm,
            vectors_t=np.asfortranarray(fm.vectors.T.astype(np.float32)),
            vocab=vocab, skill_weights=np.ascontiguousarray(dense, dtype=np.float32),
            const=np.where(total == 0, norm[1] * NEUTRAL, 0.0),
            inv_need=inv_need.astype(np.float32), need_none=need_none,
            offered=np.where(offered_unknown, 0.0, offered).astype(np.float32), offered_unknown=offered_unknown,
            max_norm=float(np.linalg.norm(fm.vectors, axis=1).max()) if len(fm) else 0.0,
            max_skill_terms=int(nnz_rows.max()) if len(nnz_rows) else 0,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.index)


def screen_error_bound(job: JobSide, cand_max_norm: float, cand_max_skills: int, dim: int) -> float:
    """Proven bound on |float32 screen - exact weighted sum| for any pair (before rounding)."""
    gamma = lambda n: n * U32 / (1 - n * U32)  # noqa: E731 - Higham's gamma_n, any summation order
    n = job.norm
    sem = n[0] * (gamma(dim) + 3 * U32) * cand_max_norm * job.max_norm + n[0] * U32
    skills = n[1] * (gamma(min(cand_max_skills, job.max_skill_terms) + 1) + 2 * U32)
    structured = (n[2] + n[4]) * 4 * U32 + n[3] * 2 * U32
    # + the float32 adds into the block, + 1e-6 so a block screened by its exact scores (the fallback
    # for non-finite screens, see _tenant_topk) is covered too
    return float(sem + skills + structured + 8 * U32 * 1.5 + 1e-6)


def screen_block(c: FeatureMatrix, job: JobSide, out: np.ndarray | None = None,
                 cand_skills: sp.csr_matrix | None = None) -> np.ndarray:
    """(b, m) float32 approximate hybrid score of candidates ``c`` (all valid, same tenant) vs ``job``.

    ``cand_skills``: ``c.skills`` already restricted to ``job.vocab`` as float32 csr (saves a slice per block).
    """
    n = job.norm
    b, m = len(c), len(job)
    vecs = c.vectors.astype(np.float32) * np.float32(n[0])
    s = np.matmul(vecs, job.vectors_t, out=out[:b, :m] if out is not None else None)
    np.clip(s, 0.0, np.float32(n[0]), out=s)
    if n[1] and len(job.vocab):
        cs = cand_skills if cand_skills is not None else restrict_skills(c, job)
        if cs.nnz:
            s += cs @ job.skill_weights
    # location + job-only constants: table over the block's distinct candidate location keys
    keys = np.stack([c.city, c.country, c.remote.astype(np.int64)], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    jf = job.fm
    table = n[3] * location(uniq[:, 0:1], uniq[:, 1:2], uniq[:, 2:3], jf.city[None, :], jf.country[None, :],
                            jf.remote[None, :]) + job.const[None, :]  # fmt: skip
    s += table.astype(np.float32)[inverse.ravel()]
    if n[2]:
        _add_capped_ratio(s, c.years, job.inv_need, n[2], unknown_rows=np.isnan(c.years),
                          unknown_cols=job.need_none, row_value=NEUTRAL, col_value=1.0)  # fmt: skip
    if n[4]:
        desired = c.salary_min
        bad = np.isnan(desired) | (desired <= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(bad, 0.0, 1.0 / np.where(bad, 1.0, desired))
        _add_capped_ratio(s, inv, job.offered, n[4], unknown_rows=bad,
                          unknown_cols=job.offered_unknown, row_value=NEUTRAL, col_value=NEUTRAL)  # fmt: skip
    return s


def restrict_skills(c: FeatureMatrix, job: JobSide) -> sp.csr_matrix:
    return c.skills[:, job.vocab].astype(np.float32).tocsr()


def _add_capped_ratio(s, row, col, weight, *, unknown_rows, unknown_cols, row_value, col_value) -> None:
    """s += weight * min(row_i * col_j, 1), with constants on unknown rows, then unknown columns."""
    wt = np.float32(weight)
    row32 = (np.where(unknown_rows, 0.0, row) * weight).astype(np.float32)
    col32 = col.astype(np.float32)
    if not row.size or not col.size:
        return
    # a single distinct job value (common: all jobs share a range) → a per-row term, no (b, m) pass
    if np.all(col32 == col32[0]) and not unknown_cols.any():
        term = np.minimum(row32 * col32[0], wt)
        term[unknown_rows] = wt * np.float32(row_value)
        s += term[:, None]
        return
    tmp = np.multiply(row32[:, None], col32[None, :])
    np.minimum(tmp, wt, out=tmp)
    if unknown_rows.any():
        tmp[unknown_rows] = wt * np.float32(row_value)
    if unknown_cols.any():
        tmp[:, unknown_cols] = wt * np.float32(col_value)
    s += tmp


def _kth_largest(s: np.ndarray, k: int) -> np.ndarray:
    """K-th largest per row (-inf when the row has fewer than k entries)."""
    n, m = s.shape
    if k > m or m == 0:
        return np.full(n, -np.inf, dtype=s.dtype)
    return np.partition(s, m - k, axis=1)[:, m - k]


def _rank_groups(owner: np.ndarray, other: np.ndarray, score: np.ndarray, k: int):
    """Order pairs by owner, score desc, other asc; keep the first k per owner → (positions, rank)."""
    order = np.lexsort((other, -score, owner))
    sorted_owner = owner[order]
    starts = np.searchsorted(sorted_owner, sorted_owner, side="left")
    rank = np.arange(len(order)) - starts
    keep = rank < k
    return order[keep], rank[keep]


@dataclass
class BothTopK:
    candidate_to_job: TopK  # rows = candidates of ``c``, cols = rows of the job matrix
    job_to_candidate: TopK  # rows = jobs, cols = candidate rows
    pairs_rescored: int = 0


def topk_both(c: FeatureMatrix, j: FeatureMatrix, k: int, weights: HybridWeights | str | None = None,
              block_size: int = 512, job_sides: dict | None = None) -> BothTopK:
    """Exact top-k jobs per candidate and top-k candidates per job (== brute force over score_matrix).

    ``job_sides`` (tenant → JobSide) lets a caller build the job side once and reuse it across calls.
    """
    if block_size < 1:
        raise ValueError("block_size must be >= 1")
    w = resolve_weights(weights)
    n, m = len(c), len(j)
    c_cols = np.full((n, k), -1, dtype=np.int64)
    c_vals = np.full((n, k), np.nan)
    c_comp = {name: np.full((n, k), np.nan) for name in COMPONENTS}
    j_cols = np.full((m, k), -1, dtype=np.int64)
    j_vals = np.full((m, k), np.nan)
    j_comp = {name: np.full((m, k), np.nan) for name in COMPONENTS}
    rescored = 0
    if k > 0 and n and m:
        for tenant in sorted(set(c.tenant[c.valid]) & set(j.tenant[j.valid])):
            c_idx = np.flatnonzero(c.valid & (c.tenant == tenant))
            j_idx = np.flatnonzero(j.valid & (j.tenant == tenant))
            side = (job_sides or {}).get(tenant)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # absurd magnitudes: see above
                if side is None or not np.array_equal(side.index, j_idx):
                    side = JobSide.build(j, w, j_idx)
                got = _tenant_topk(c.take(c_idx), side, k, block_size)
            (rc, rv, rcomp), (jc, jv, jcomp), count = got
            rescored += count
            c_cols[c_idx] = np.where(rc >= 0, j_idx[np.maximum(rc, 0)], -1)
            c_vals[c_idx] = rv
            j_cols[j_idx] = np.where(jc >= 0, c_idx[np.maximum(jc, 0)], -1)
            j_vals[j_idx] = jv
            for name in COMPONENTS:
                c_comp[name][c_idx] = rcomp[name]
                j_comp[name][j_idx] = jcomp[name]
    rows_c = np.repeat(np.arange(n, dtype=np.int64)[:, None], k, axis=1)
    rows_j = np.repeat(np.arange(m, dtype=np.int64)[:, None], k, axis=1)
    return BothTopK(TopK(rows_c, c_cols, c_vals, c_comp), TopK(rows_j, j_cols, j_vals, j_comp), rescored)


def _tenant_topk(c: FeatureMatrix, job: JobSide, k: int, block_size: int):
    """Both directions for valid candidates ``c`` vs one tenant's JobSide (local indices).

    Rows are complete within a block. Columns need every block: the screen's running top-k per job
    (float32 values only) tightens a threshold; pairs above it are kept as indices, and after the last
    block only those still within the margin of the job's final screened k-th value are re-scored.
    """
    n, m = len(c), len(job)
    w = job.weights
    eps = screen_error_bound(
        job, float(np.linalg.norm(c.vectors, axis=1).max()) if n else 0.0,
        int(np.diff(c.skills.indptr).max()) if n else 0, c.vectors.shape[1],
    )  # fmt: skip
    margin = 2 * eps + ROUNDING_SLACK
    rc = np.full((n, k), -1, dtype=np.int64)
    rv = np.full((n, k), np.nan)
    rcomp = {name: np.full((n, k), np.nan) for name in COMPONENTS}
    buf = np.empty((min(block_size, n), m), dtype=np.float32)
    cand_skills = restrict_skills(c, job) if len(job.vocab) else None
    col_top = np.full((m, k), -np.inf, dtype=np.float32)  # running screened top-k per job
    kept_rows, kept_cols, kept_vals = [], [], []
    rescored = 0
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        cb = c.take(slice(start, stop))
        s = screen_block(cb, job, out=buf,
                         cand_skills=cand_skills[start:stop] if cand_skills is not None else None)
        if not np.isfinite(s.sum(dtype=np.float64)):
            # absurd magnitudes (e.g. a salary of 1e-300) overflowed float32: screen this block exactly
            ri, ci = np.nonzero(np.ones(s.shape, dtype=bool))
            s[ri, ci] = pair_scores(cb, job.fm, ri, ci, w)["score"]
        # candidate → job: complete within the block
        row_thr = (_kth_largest(s, k) - margin).astype(np.float32)
        ri, ci = np.nonzero(s >= row_thr[:, None])
        rescored += len(ri)
        exact = pair_scores(cb, job.fm, ri, ci, w)
        pos, rank = _rank_groups(ri, ci, exact["score"], k)
        rows = ri[pos] + start
        rc[rows, rank] = ci[pos]
        rv[rows, rank] = exact["score"][pos]
        for name in COMPONENTS:
            rcomp[name][rows, rank] = exact[name][pos]
        # job → candidate: merge this block's screened top-k per job into the running top-k
        st = np.ascontiguousarray(s.T)
        b = stop - start
        block_top = st if b <= k else np.partition(st, b - k, axis=1)[:, b - k:]
        merged = np.concatenate([col_top, block_top], axis=1)
        col_top = -np.sort(-merged, axis=1)[:, :k] if merged.shape[1] > k else merged
        col_thr = (col_top[:, k - 1].astype(np.float64) - margin).astype(np.float32)
        cj, cr = np.nonzero(st >= col_thr[:, None])
        kept_rows.append(cr + start)
        kept_cols.append(cj)
        kept_vals.append(st[cj, cr])
    # job → candidate: only pairs within the margin of the job's final screened k-th value
    jc = np.full((m, k), -1, dtype=np.int64)
    jv = np.full((m, k), np.nan)
    jcomp = {name: np.full((m, k), np.nan) for name in COMPONENTS}
    if kept_rows:
        ri, ci, vals = np.concatenate(kept_rows), np.concatenate(kept_cols), np.concatenate(kept_vals)
        final_thr = (col_top[:, k - 1].astype(np.float64) - margin).astype(np.float32)
        keep = vals >= final_thr[ci]
        ri, ci = ri[keep], ci[keep]
        rescored += len(ri)
        exact = pair_scores(c, job.fm, ri, ci, w)
        pos, rank = _rank_groups(ci, ri, exact["score"], k)
        cols = ci[pos]
        jc[cols, rank] = ri[pos]
        jv[cols, rank] = exact["score"][pos]
        for name in COMPONENTS:
            jcomp[name][cols, rank] = exact[name][pos]
    return (rc, rv, rcomp), (jc, jv, jcomp), rescored

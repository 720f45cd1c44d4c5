"""Exact hybrid top-K, both directions, at close to GEMM speed: an upper bound screen + exact re-score.

``matching.scoring.score_matrix`` builds five float64 (n, m) arrays per block (~30 elementwise passes).
Here a block of candidates costs one float32 GEMM (the semantic term) and one streaming numba pass
(``_kernels.block_pass``) that reads its output once:

1. **Bound**: ``max(w_sem * cos, 0) + bound_row[j]``, where the candidate's structured bound row is the sum
   of a few rows of per-job tables (``JobSide.tables``), an upper bound of the other four terms:
   - skills: one row per skill of the tenant's job vocabulary (the job's weight for it / its total), so
     the sum over the candidate's skills is the coverage itself (hashed rows past ``SKILL_ROWS`` skills);
   - experience: the library formula at the bucket's upper edge (it only grows with the years held);
   - salary: the formula at the bucket's lower edge (it only shrinks with the salary asked);
   - location: exact, one row per distinct (city, country, remote-only) of the call's candidates;
   - the job-only constant (the neutral skills term of a job that lists none).
2. **Probes**: the k best bounds of each row (and, until a job has k lower bounds, the k best rows of
   each job) get an *estimate* — exact structured parts + the float32 semantic term, off by at most
   ``spread``; the k-th estimate less ``spread`` bounds the row's (job's) true k-th score from below.
3. **Survivors**: only pairs whose bound reaches a row's or a job's lower bound (less the float32 error
   ``margin``) can be in a top-k; they get an estimate too. A job's lower bound rises block by block.
4. **Exact**: only pairs whose estimate is within ``2 * spread`` of a k-th get the float64 cosine; their
   scores are the library's (same formulas, same rounding), ranked score desc, index asc.

The result equals brute force over ``score_matrix`` (tests): invalid profiles and cross-tenant pairs are
never scored; rows with fewer than K rankable columns are padded with -1 / NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching import _kernels
from matching.features import FeatureMatrix
from matching.scoring import (
    COMPONENTS,
    NEUTRAL,
    HybridWeights,
    combine,
    experience,
    job_skill_sets,
    location,
    offered_salary,
    resolve_weights,
    salary,
    skill_totals,
)
from matching.topk import TopK

U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32
# the library rounds to 1e-6 (half of it each side) + float64 noise + the float32 cast of a threshold
ROUNDING_SLACK = 1e-6 + 2e-7
# bucket edges of the bound tables (one table row each: a candidate reads one row, so fine is cheap)
EXP_EDGES = np.concatenate([np.arange(0.0, 40.5, 0.5), [50.0, np.inf]])  # upper edges, years held
SAL_EDGES = np.geomspace(10_000.0, 1_000_000.0, 118)  # lower edges (4 % apart), yearly salary asked
SKILL_ROWS = 1024  # exact per-skill rows up to this job vocabulary, hashed rows beyond
LOCATION_ROWS = 1024  # exact location classes per call; rarer ones share a row scored 1


def _bitsets(matrix: sp.csr_matrix, vocab: np.ndarray, words: int) -> np.ndarray:
    """(rows, words) uint64: bit p set when the row holds vocabulary position p."""
    out = np.zeros((matrix.shape[0], words), dtype=np.uint64)
    sub = matrix[:, vocab].tocsr() if len(vocab) else sp.csr_matrix((matrix.shape[0], 0))
    sub.eliminate_zeros()
    rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    pos = sub.indices.astype(np.int64)
    np.bitwise_or.at(out, (rows, pos >> 6), np.left_shift(np.uint64(1), (pos & 63).astype(np.uint64)))
    return out


def _exp_row(have: np.ndarray) -> np.ndarray:
    """Bucket whose upper edge is the first >= the years held; unknown → the last bucket."""
    return np.where(np.isnan(have), len(EXP_EDGES), np.searchsorted(EXP_EDGES, have, side="left"))


def _sal_row(desired: np.ndarray) -> np.ndarray:
    """0: below the first edge; 1..E: the last edge <= the salary asked; E + 1: unknown / not positive."""
    unknown = np.isnan(desired) | (desired <= 0)
    safe = np.where(unknown, 1.0, desired)
    return np.where(unknown, len(SAL_EDGES) + 1, np.searchsorted(SAL_EDGES, safe, side="right"))


# --- job side, prepared once per tenant -----------------------------------------------------------------
@dataclass
class JobSide:
    """One tenant's jobs: the semantic GEMM operand, the bound tables and the exact-kernel arrays.

    The tables (the largest part) are built on first use and not pickled: a Spark broadcast carries the
    features only and each worker builds them once.
    """

    fm: FeatureMatrix  # the jobs (valid ones unless built otherwise)
    index: np.ndarray  # (m,) their rows in the caller's job matrix
    weights: HybridWeights
    norm: np.ndarray  # normalised component weights
    vocab: np.ndarray  # sorted skill ids used by any of these jobs
    total: np.ndarray  # (m,) float64 skill total (library formula)
    offered: np.ndarray  # (m,) float64 offered salary (library formula)
    max_norm: float
    _cache: dict | None = None

    @classmethod
    def build(cls, j: FeatureMatrix, weights: HybridWeights | str | None = None, index=None) -> JobSide:
        w = resolve_weights(weights)
        index = np.flatnonzero(j.valid) if index is None else np.asarray(index, dtype=np.int64)
        fm = j.take(index)
        ess, opt = job_skill_sets(fm)
        vocab = np.unique(np.concatenate([ess.indices, opt.indices if opt is not None else []])).astype(np.int64)
        return cls(fm=fm, index=index, weights=w, norm=w.component_weights(), vocab=vocab,
                   total=skill_totals(fm, w), offered=np.asarray(offered_salary(fm), dtype=np.float64),
                   max_norm=float(np.linalg.norm(fm.vectors, axis=1).max()) if len(fm) else 0.0)  # fmt: skip

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cache": None}

    @property
    def ops(self) -> dict:
        """Kernel operands, built once: tables (R, m) float32, skill row of each vocabulary position,
        (m, d) vectors and their transpose, essential / optional bitsets, scalar arrays."""
        if self._cache is None:
            self._cache = self._build_ops()
        return self._cache

    def _build_ops(self) -> dict:
        fm, norm, w, m = self.fm, self.norm, self.weights, len(self)
        ess, opt = job_skill_sets(fm)
        vocab = self.vocab
        n_skill_rows = min(len(vocab), SKILL_ROWS)
        skill_row = np.arange(len(vocab)) % max(n_skill_rows, 1)
        skill_tab = np.zeros((n_skill_rows, m))
        if len(vocab):
            per_skill = w.essential_weight * ess.astype(np.float64)
            if opt is not None:
                per_skill = per_skill + w.optional_weight * opt.astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                scale = np.where(self.total > 0, norm[1] / np.where(self.total > 0, self.total, 1.0), 0.0)
            weighted = sp.csr_matrix(sp.diags(scale) @ sp.csr_matrix(per_skill)[:, vocab])  # (m, V)
            to_row = sp.csr_matrix((np.ones(len(vocab)), (np.arange(len(vocab)), skill_row)),
                                   shape=(len(vocab), n_skill_rows))  # fmt: skip
            skill_tab = np.asarray((weighted @ to_row).todense()).T
        need = np.asarray(fm.years, dtype=np.float64)
        exp_tab = norm[2] * np.vstack([experience(np.full(m, e), need) for e in EXP_EDGES]
                                      + [experience(np.full(m, np.nan), need)])  # fmt: skip
        offered = self.offered
        sal_tab = norm[4] * np.vstack([np.where(np.isnan(offered), NEUTRAL, 1.0)]
                                      + [salary(np.full(m, e), offered) for e in SAL_EDGES]
                                      + [np.full(m, NEUTRAL)])  # fmt: skip
        const = np.where(self.total == 0, norm[1] * NEUTRAL, 0.0)[None, :]
        tables = np.ascontiguousarray(np.vstack([skill_tab, exp_tab, sal_tab, const]), dtype=np.float32)
        words = max(1, -(-len(vocab) // 64))
        return {
            "tables": tables, "skill_row": skill_row.astype(np.int64), "exp_base": n_skill_rows,
            "sal_base": n_skill_rows + len(exp_tab), "const_row": len(tables) - 1,
            "vectors": np.ascontiguousarray(fm.vectors, dtype=np.float32),
            "sem_t": np.ascontiguousarray(fm.vectors.T, dtype=np.float32),
            "ess_bits": _bitsets(ess, vocab, words),
            "opt_bits": _bitsets(opt, vocab, words) if opt is not None else np.zeros((m, words), np.uint64),
            "has_opt": opt is not None, "need": need,
            "city": np.asarray(fm.city, np.int64), "country": np.asarray(fm.country, np.int64),
            "remote": np.asarray(fm.remote, np.int8),
        }  # fmt: skip

    def exact_args(self) -> tuple:
        o = self.ops
        return (o["ess_bits"], o["opt_bits"], o["has_opt"], self.total, o["need"], o["city"], o["country"],
                o["remote"], self.offered, float(self.weights.essential_weight),
                np.float32(self.weights.optional_weight))  # fmt: skip


@dataclass
class _Candidates:
    """Candidate-side arrays for one tenant's candidates against one JobSide (rows in the caller's order)."""

    fm: FeatureMatrix
    vectors: np.ndarray  # (n, d) float32
    sem: np.ndarray  # (n, d) float32 vectors * the semantic weight
    ptr: np.ndarray  # CSR over vocabulary positions of the job side (exact skill counts)
    pos: np.ndarray
    t_ptr: np.ndarray  # CSR of the distinct skill table rows of each candidate (the bound)
    t_rows: np.ndarray
    fixed: np.ndarray  # (n, 3) experience, salary and constant table rows
    loc: np.ndarray  # (n,) row of ``loc_table``
    loc_table: np.ndarray  # (L + 1, m) float32 location bound per class (last: rare classes, 1)
    max_norm: float
    max_terms: int  # most table rows summed into one bound row

    @classmethod
    def build(cls, c: FeatureMatrix, job: JobSide) -> _Candidates:
        n, ops = len(c), job.ops
        vectors = np.ascontiguousarray(c.vectors, dtype=np.float32)
        sub = c.skills[:, job.vocab].tocsr() if len(job.vocab) else sp.csr_matrix((n, 0))
        sub.eliminate_zeros()
        sub.sort_indices()
        rows_of = sp.csr_matrix((np.ones(sub.nnz), ops["skill_row"][sub.indices], sub.indptr),
                                shape=(n, max(len(ops["skill_row"]), 1)))  # fmt: skip
        rows_of.sum_duplicates()  # hashed skills sharing a row count the row once
        rows_of.sort_indices()
        fixed = np.stack([ops["exp_base"] + _exp_row(np.asarray(c.years, np.float64)),
                          ops["sal_base"] + _sal_row(np.asarray(c.salary_min, np.float64)),
                          np.full(n, ops["const_row"])], axis=1).astype(np.int64)  # fmt: skip
        keys = np.stack([c.city, c.country, (c.remote == 2).astype(np.int64)], axis=1)
        uniq, inverse, counts = (np.unique(keys, axis=0, return_inverse=True, return_counts=True) if n
                                 else (np.zeros((0, 3), np.int64), np.zeros(0, np.int64), np.zeros(0)))  # fmt: skip
        inverse = np.asarray(inverse).ravel()
        exact = np.argsort(-counts, kind="stable")[:LOCATION_ROWS]
        slot = np.full(len(uniq), len(exact))
        slot[exact] = np.arange(len(exact))
        jf = job.fm
        loc_table = np.empty((len(exact) + 1, len(job)), dtype=np.float32)
        loc_table[:-1] = job.norm[3] * location(uniq[exact, 0:1], uniq[exact, 1:2], 2 * uniq[exact, 2:3],
                                                jf.city[None, :], jf.country[None, :], jf.remote[None, :])  # fmt: skip
        loc_table[-1] = job.norm[3]
        return cls(fm=c, vectors=vectors, sem=vectors * np.float32(job.norm[0]),
                   ptr=sub.indptr.astype(np.int64), pos=sub.indices.astype(np.int64),
                   t_ptr=rows_of.indptr.astype(np.int64), t_rows=rows_of.indices.astype(np.int64),
                   fixed=fixed, loc=slot[inverse].astype(np.int64), loc_table=loc_table,
                   max_norm=float(np.linalg.norm(vectors, axis=1).max()) if n else 0.0,
                   max_terms=int(np.diff(rows_of.indptr).max(initial=0)) + 4)  # fmt: skip

    def exact_args(self) -> tuple:
        c = self.fm
        return (self.ptr, self.pos, np.asarray(c.years, np.float64), np.asarray(c.city, np.int64),
                np.asarray(c.country, np.int64), np.asarray(c.remote, np.int8),
                np.asarray(c.salary_min, np.float64))  # fmt: skip

    def bound_args(self, job: JobSide) -> tuple:
        return (job.ops["tables"], self.t_ptr, self.t_rows, self.fixed, self.loc_table, self.loc)


def _gamma(n: int) -> float:
    return n * U32 / (1 - n * U32)  # Higham's gamma_n: float32 sums of n terms, any order


def semantic_error(job: JobSide, cand_max_norm: float) -> float:
    """Bound on |float32 GEMM semantic term - w_sem * cosine| (the estimate's only inexact term)."""
    d = job.fm.vectors.shape[1]
    return (_gamma(d) + 2 * U32) * job.norm[0] * cand_max_norm * job.max_norm + 1e-9


def screen_error_bound(job: JobSide, cand_max_norm: float, max_terms: int) -> float:
    """Bound on how far the float32 bound can fall below the exact bound: semantic GEMM + the float32
    sums of ``max_terms`` table rows (terms in [0, 1] summing to <= 1) + the casts to float32."""
    return semantic_error(job, cand_max_norm) + (_gamma(max_terms + 1) + 2 * U32) * 1.0 + 1e-9


def screen_block(c: FeatureMatrix, job: JobSide) -> np.ndarray:
    """(b, m) float32 bound of candidates ``c`` (valid, one tenant) vs ``job``: an upper bound of the
    hybrid score, less ``screen_error_bound``."""
    cands = _Candidates.build(c, job)
    sem = cands.sem @ job.ops["sem_t"]
    bound = _kernels.bound_rows(np.arange(len(c), dtype=np.int64), *cands.bound_args(job))
    return np.maximum(sem, np.float32(0)) + bound


# --- exact scores of chosen pairs ---------------------------------------------------------------------
def _structured(cands: _Candidates, job: JobSide, ri: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """(P, 4) unrounded skills, experience, location, salary with the library's formulas."""
    return _kernels.structured(np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(ci, dtype=np.int64),
                               *cands.exact_args(), *job.exact_args())  # fmt: skip


def _exact(cands: _Candidates, job: JobSide, ri: np.ndarray, ci: np.ndarray,
           structured: np.ndarray | None = None) -> np.ndarray:
    """(P, 5) unrounded components in COMPONENTS order (``structured``: already computed for these pairs)."""
    ri, ci = np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(ci, dtype=np.int64)
    by_job = np.argsort(ci, kind="stable")  # each job vector is read once per run of its pairs
    sem = np.empty(len(ri))
    sem[by_job] = _kernels.semantic(ri[by_job], ci[by_job], cands.vectors, job.ops["vectors"])
    rest = _structured(cands, job, ri, ci) if structured is None else structured
    return np.column_stack([sem, rest])


def _combine(parts: np.ndarray, norm: np.ndarray, ok: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """(P, 5) unrounded components → the library's score and rounded components (``combine``)."""
    ok = np.ones(len(parts), dtype=bool) if ok is None else ok
    return combine({name: parts[:, idx] for idx, name in enumerate(COMPONENTS)}, norm, ok)


def pair_scores(c: FeatureMatrix, j: FeatureMatrix, ri: np.ndarray, ci: np.ndarray,
                weights: HybridWeights | str | None = None) -> dict[str, np.ndarray]:
    """score_matrix(c, j)[name][ri, ci] for aligned index arrays, computed only for those pairs.

    Pairs with an invalid side or two tenants: NaN (as in the library).
    """
    ri, ci = np.asarray(ri, dtype=np.int64), np.asarray(ci, dtype=np.int64)
    job = JobSide.build(j, weights, index=np.arange(len(j)))
    parts = _exact(_Candidates.build(c, job), job, ri, ci)
    ok = c.valid[ri] & j.valid[ci] & (c.tenant[ri] == j.tenant[ci])
    return _combine(parts, job.norm, ok)


# --- ranking helpers ------------------------------------------------------------------------------------
def _rank_groups(owner: np.ndarray, other: np.ndarray, score: np.ndarray, k: int):
    """Order pairs by owner, score desc, other asc; keep the first k per owner → (positions, rank)."""
    order = np.lexsort((other, -score, owner))
    sorted_owner = owner[order]
    starts = np.searchsorted(sorted_owner, sorted_owner, side="left")
    rank = np.arange(len(order)) - starts
    keep = rank < k
    return order[keep], rank[keep]


class _RunningTop:
    """The k largest values seen per group (-inf while a group has fewer than k)."""

    def __init__(self, size: int, k: int):
        self.top = np.full((size, k), -np.inf)
        self.lo = np.zeros(size, dtype=np.int64)

    def push(self, groups: np.ndarray, values: np.ndarray) -> _RunningTop:
        _kernels.push_topk(self.top, self.lo, np.ascontiguousarray(groups, dtype=np.int64),
                           np.ascontiguousarray(values, dtype=np.float64))  # fmt: skip
        return self

    def kth(self) -> np.ndarray:
        return self.top[np.arange(len(self.lo)), self.lo]


def _kth_per_group(group: np.ndarray, value: np.ndarray, k: int, size: int) -> np.ndarray:
    """(size,) k-th largest value per group id (-inf when a group has fewer than k values)."""
    return _RunningTop(size, k).push(group, value).kth()


def _empty_topk(n: int, k: int):
    """(cols, scores, components) for n rows of k, padded: column -1, NaN."""
    return (np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.nan),
            {name: np.full((n, k), np.nan) for name in COMPONENTS})  # fmt: skip


def _place(exact: dict, owner: np.ndarray, other: np.ndarray, k: int, dest: np.ndarray, out) -> None:
    """Rank exactly scored pairs per owner (score desc, other asc) and write the first k of each owner
    into ``out`` = (cols, scores, components) at row ``dest`` (the owner's row in ``out``)."""
    cols, vals, comps = out
    pos, rank = _rank_groups(owner, other, exact["score"], k)
    cols[dest[pos], rank] = other[pos]
    vals[dest[pos], rank] = exact["score"][pos]
    for name in COMPONENTS:
        comps[name][dest[pos], rank] = exact[name][pos]


@dataclass
class BothTopK:
    candidate_to_job: TopK  # rows = candidates of ``c``, cols = rows of the job matrix
    job_to_candidate: TopK  # rows = jobs, cols = candidate rows
    pairs_rescored: int = 0  # pairs given an estimate (the rest were pruned by the bound)


def topk_both(c: FeatureMatrix, j: FeatureMatrix, k: int, weights: HybridWeights | str | None = None,
              block_size: int = 1024, job_sides: dict | None = None) -> BothTopK:
    """Exact top-k jobs per candidate and top-k candidates per job (== brute force over score_matrix).

    ``job_sides`` (tenant → JobSide) lets a caller build the job side once and reuse it across calls.
    """
    if block_size < 1:
        raise ValueError("block_size must be >= 1")
    w = resolve_weights(weights)
    n, m = len(c), len(j)
    c_cols, c_vals, c_comp = _empty_topk(n, k)
    j_cols, j_vals, j_comp = _empty_topk(m, k)
    rescored = 0
    if k > 0 and n and m:
        for tenant in sorted(set(c.tenant[c.valid]) & set(j.tenant[j.valid])):
            c_idx = np.flatnonzero(c.valid & (c.tenant == tenant))
            j_idx = np.flatnonzero(j.valid & (j.tenant == tenant))
            side = (job_sides or {}).get(tenant)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
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
    """Both directions for valid candidates ``c`` vs one tenant's JobSide (local indices)."""
    n, m = len(c), len(job)
    kr, kc = min(k, m), min(k, n)
    cands = _Candidates.build(c, job)
    norm = job.norm
    margin = screen_error_bound(job, cands.max_norm, cands.max_terms) + ROUNDING_SLACK  # score <= bound + margin
    # |rounded score - estimate| <= spread (+ the float32 roundings of bound = sem + structured bound)
    spread = semantic_error(job, cands.max_norm) + 4 * U32 + ROUNDING_SLACK
    bound_args = cands.bound_args(job)
    sem_t = job.ops["sem_t"]
    sem_buf = np.empty((min(block_size, n), m), dtype=np.float32)
    rows_out, jobs_out = _empty_topk(n, k), _empty_topk(m, k)
    col_lbs = _RunningTop(m, kc)  # running kc best lower bounds (estimate - spread) per job
    col_lb = col_lbs.kth()
    pool = []  # (candidate row, job, estimate, structured parts) that may still reach a job's top-k
    rescored = 0
    tile = int(np.clip((1 << 20) // (4 * len(job.ops["tables"]) + 1) // 16 * 16, 64, 2048))  # ~1 MB of tables
    cap = 1 << 16
    out_r, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64)

    def estimate(block, rows, cols, holds_bounds: bool):
        """Exact structured parts + the semantic term (from the GEMM, or bound - structured bound)."""
        parts = _structured(cands, job, rows + start, cols)
        sem = block[rows, cols].astype(np.float64)
        if holds_bounds:
            sem -= _kernels.pair_bounds(rows + start, cols, *bound_args)
        return np.maximum(sem, 0.0) + parts @ norm[1:], parts

    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        b = stop - start
        sem = np.matmul(cands.sem[start:stop], sem_t, out=sem_buf[:b])
        # 1. probes: jobs without kc lower bounds yet (a task's first block) → their kc best rows;
        #    each row's kr best jobs. Their estimates less ``spread`` are lower bounds of the k-th scores.
        found = []  # (block rows, jobs, estimates, structured parts) of this block
        need = np.flatnonzero(~np.isfinite(col_lb))
        if len(need):
            probe = _kernels.col_probes(sem, start, min(kc, b), need, *bound_args)
            pc = np.repeat(need, probe.shape[1])
            pr = probe.ravel()
            pr, pc = pr[pr >= 0], pc[pr >= 0]
            est, parts = estimate(sem, pr, pc, holds_bounds=False)
            col_lb = col_lbs.push(pc, est - spread).kth()
            sem[pr, pc] = np.nan  # done: the passes skip it
            found.append((pr, pc, est, parts))
        probe = _kernels.row_probes(sem, start, kr, tile, *bound_args)  # sem now holds the bounds
        qr = np.repeat(np.arange(b, dtype=np.int64), kr)
        qc = probe.ravel()
        ok = qc >= 0
        qr, qc = qr[ok], qc[ok]
        est, parts = estimate(sem, qr, qc, holds_bounds=True)
        row_lb = np.full(b, np.inf)
        np.minimum.at(row_lb, qr, est - spread)
        row_lb[(probe < 0).any(axis=1)] = -np.inf  # fewer than kr jobs left: the whole row
        col_lb = col_lbs.push(qc, est - spread).kth()
        sem[qr, qc] = np.nan
        found.append((qr, qc, est, parts))
        # 2. survivors: pairs whose bound reaches their row's or their job's lower bound (less margin)
        row_thr = np.maximum(row_lb - margin, -1.0).astype(np.float32)
        col_thr = np.maximum(col_lb - margin, -1.0).astype(np.float32)
        count = _kernels.emit_survivors(sem, row_thr, col_thr, out_r, out_c)
        if count > cap:
            cap = 1 << int(np.ceil(np.log2(count)))
            out_r, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64)
            count = _kernels.emit_survivors(sem, row_thr, col_thr, out_r, out_c)
        if count:
            sr, sc = out_r[:count].copy(), out_c[:count].copy()
            est, parts = estimate(sem, sr, sc, holds_bounds=True)
            col_lb = col_lbs.push(sc, est - spread).kth()
            found.append((sr, sc, est, parts))
        pr, pc, est, parts = (np.concatenate(x) for x in zip(*found, strict=True))
        rescored += len(pr)
        # 3. rows are complete within the block: exact scores for estimates near each row's kr-th
        cut = _kth_per_group(pr, est, kr, b)
        near = est >= cut[pr] - 2 * spread
        rows, cols = pr[near], pc[near]
        exact = _combine(_exact(cands, job, rows + start, cols, parts[near]), norm)
        _place(exact, rows, cols, kr, rows + start, rows_out)
        # jobs: keep what can still reach the job's kc-th score
        keep = est + spread >= col_lb[pc]
        pool.append((pr[keep] + start, pc[keep], est[keep], parts[keep]))
    if pool:
        ri, ci, est, parts = (np.concatenate(x) for x in zip(*pool, strict=True))
        cut = _kth_per_group(ci, est, kc, m)
        near = est >= cut[ci] - 2 * spread
        ri, ci, parts = ri[near], ci[near], parts[near]
        exact = _combine(_exact(cands, job, ri, ci, parts), norm)
        _place(exact, ci, ri, kc, ci, jobs_out)
    return rows_out, jobs_out, rescored

"""Exact hybrid top-K, both directions, at GEMM speed: an upper bound screen + exact re-score.

``matching.scoring.score_matrix`` builds five float64 (n, m) arrays per block (~30 elementwise passes).
Here a block of candidates is visited one job tile at a time (``JobSide.tile`` jobs, so the tile's tables stay
in cache): a bfloat16 GEMM for the semantic term (``matching.semantic_gemm``: AMX when the CPU has it,
float32 sgemm otherwise; its error is bounded) and a streaming numba pass (``_kernels.tile_pass``):

1. **Bound**: ``max(w_sem * cos, 0) + bound_row[j]``, where the candidate's structured bound row is the sum
   of a few rows of per-job tables (``JobSide.ops``), an upper bound of the other four terms:
   - skills: one row per skill of the tenant's job vocabulary (the job's weight for it / its total), so
     the sum over the candidate's skills is the coverage itself (hashed rows past ``SKILL_ROWS`` skills);
   - experience: the library formula at the bucket's upper edge (it only grows with the years held);
   - salary: the formula at the bucket's lower edge (it only shrinks with the salary asked);
   - location + occupation: exact, one row per distinct (city, country, remote-only, ISCO unit group) of the
     call's candidates (rarer classes share a row holding both terms' maxima);
   - the job-only constant (the neutral skills term of a job that lists none).
   The block's bounds are kept as int16 multiples of 2^-14, rounded up.
2. **Probes**: the k best bounds of each row (and, until a job has k lower bounds, the k best rows of
   each job) get an *estimate* — exact structured parts + the float32-operand semantic term, off by at
   most ``spread``; the k-th estimate less ``spread`` bounds the row's (job's) true k-th score from below.
3. **Survivors**: only pairs whose bound reaches a row's or a job's lower bound (less the screen's error
   ``margin``) can be in a top-k; they get an estimate too. A job's lower bound rises block by block.
4. **Exact**: only pairs whose estimate is within ``2 * spread`` of a k-th get the float64 cosine; their
   scores are the library's (same formulas, same rounding), ranked score desc, index asc.

The result equals brute force over ``score_matrix`` (tests, both GEMM engines): invalid profiles and
cross-tenant pairs are never scored; rows with fewer than K rankable columns are padded with -1 / NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching import _kernels, semantic_gemm
from matching.features import FeatureMatrix
from matching.scoring import (
    COMPONENTS,
    NEUTRAL,
    HybridWeights,
    combine,
    experience,
    job_skill_sets,
    location,
    occupation,
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
SETTLE_AT = 1 << 20  # deferred pairs that trigger a best-first round of estimates
TILE_BYTES = 1 << 21  # the bound tables' share of a job tile: about the L2 cache of one core
TILE_RANGE = (256, 1024)  # jobs per tile: wide enough for an efficient GEMM, narrow enough for L2


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


def _max_norm(vectors: np.ndarray) -> float:
    """Largest row norm, rounded generously up (it scales error bounds); no (n, d) temporary."""
    if not len(vectors):
        return 0.0
    return float(np.sqrt(np.einsum("ij,ij->i", vectors, vectors).max(initial=0.0))) * (1 + 1e-4)


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
                   max_norm=_max_norm(fm.vectors))  # fmt: skip

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
        n_exp, n_sal = len(EXP_EDGES) + 1, len(SAL_EDGES) + 2
        exp_base, sal_base = n_skill_rows, n_skill_rows + n_exp
        # float32 from the start, filled row by row (float64 stacks of this size cost ~0.5 s per run)
        tables = np.zeros((sal_base + n_sal + 1, m), dtype=np.float32)
        if len(vocab):
            per_skill = w.essential_weight * ess.astype(np.float64)
            if opt is not None:
                per_skill = per_skill + w.optional_weight * opt.astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                scale = np.where(self.total > 0, norm[1] / np.where(self.total > 0, self.total, 1.0), 0.0)
            weighted = sp.csr_matrix(sp.diags(scale) @ sp.csr_matrix(per_skill)[:, vocab])  # (m, V)
            to_row = sp.csr_matrix((np.ones(len(vocab)), (np.arange(len(vocab)), skill_row)),
                                   shape=(len(vocab), n_skill_rows))  # fmt: skip
            tables[:n_skill_rows] = (weighted @ to_row).T.toarray()
        need = np.asarray(fm.years, dtype=np.float64)
        for row, held in enumerate([*EXP_EDGES, np.nan]):
            tables[exp_base + row] = norm[2] * experience(np.full(m, held), need)
        offered = self.offered
        tables[sal_base] = norm[4] * np.where(np.isnan(offered), NEUTRAL, 1.0)
        for row, asked in enumerate(SAL_EDGES, start=1):
            tables[sal_base + row] = norm[4] * salary(np.full(m, asked), offered)
        tables[sal_base + n_sal - 1] = norm[4] * NEUTRAL
        tables[-1] = np.where(self.total == 0, norm[1] * NEUTRAL, 0.0)
        words = max(1, -(-len(vocab) // 64))
        return {
            "tables": tables, "skill_row": skill_row.astype(np.int64), "exp_base": exp_base,
            "sal_base": sal_base, "const_row": len(tables) - 1,
            "vectors": np.ascontiguousarray(fm.vectors, dtype=np.float32),
            "sem_t": np.ascontiguousarray(fm.vectors.T, dtype=np.float32),
            "ess_bits": _bitsets(ess, vocab, words),
            "opt_bits": _bitsets(opt, vocab, words) if opt is not None else np.zeros((m, words), np.uint64),
            "has_opt": opt is not None, "need": need,
            "city": np.asarray(fm.city, np.int64), "country": np.asarray(fm.country, np.int64),
            "remote": np.asarray(fm.remote, np.int8),
        }  # fmt: skip

    def gemm_tiles(self, engine) -> list:
        """The semantic GEMM's job operand in ``tile``-column tiles, in the engine's format."""
        key = ("tiles", engine.name)
        if key not in self.ops:
            self.ops[key] = engine.jobs(self.ops["sem_t"], self.tile)
        return self.ops[key]

    @property
    def tile(self) -> int:
        """Jobs per tile: the tile's columns of the bound tables fill about TILE_BYTES (a CHUNK multiple)."""
        fit = TILE_BYTES // (4 * len(self.ops["tables"]))
        return int(np.clip(fit, *TILE_RANGE)) // _kernels.CHUNK * _kernels.CHUNK

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
    loc_table: np.ndarray  # (L + 1, m) float32 location + occupation terms per class (last: rare classes, max)
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
        # one class per distinct (city, country, remote-only, ISCO unit group): location and occupation
        # are exact functions of the class and the job, so one table row per class holds both terms
        keys = np.stack([c.city, c.country, (c.remote == 2).astype(np.int64), c.isco], axis=1)
        uniq, inverse, counts = (np.unique(keys, axis=0, return_inverse=True, return_counts=True) if n
                                 else (np.zeros((0, 4), np.int64), np.zeros(0, np.int64), np.zeros(0)))  # fmt: skip
        inverse = np.asarray(inverse).ravel()
        exact = np.argsort(-counts, kind="stable")[:LOCATION_ROWS]
        slot = np.full(len(uniq), len(exact))
        slot[exact] = np.arange(len(exact))
        jf = job.fm
        loc_table = np.empty((len(exact) + 1, len(job)), dtype=np.float32)
        loc_table[:-1] = (job.norm[3] * location(uniq[exact, 0:1], uniq[exact, 1:2], 2 * uniq[exact, 2:3],
                                                 jf.city[None, :], jf.country[None, :], jf.remote[None, :])
                          + job.norm[5] * occupation(uniq[exact, 3:4], jf.isco[None, :]))  # fmt: skip
        loc_table[-1] = job.norm[3] + job.norm[5]  # rare classes: both terms at their maximum
        return cls(fm=c, vectors=vectors, sem=vectors * np.float32(job.norm[0]),
                   ptr=sub.indptr.astype(np.int64), pos=sub.indices.astype(np.int64),
                   t_ptr=rows_of.indptr.astype(np.int64), t_rows=rows_of.indices.astype(np.int64),
                   fixed=fixed, loc=slot[inverse].astype(np.int64), loc_table=loc_table,
                   max_norm=_max_norm(vectors),
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
    """Bound on |float32 dot of the screen's operands (candidate vectors pre-scaled by w_sem) - w_sem * cosine|:
    the scaling's rounding and a float32 sum of d products."""
    d = job.fm.vectors.shape[1]
    return (_gamma(d) + 2 * U32) * job.norm[0] * cand_max_norm * job.max_norm + 1e-9


def screen_error_bound(job: JobSide, cand_max_norm: float, max_terms: int) -> float:
    """Bound on how far the stored bound can fall below the exact bound: the bf16 semantic GEMM's operand
    and accumulation error (its result's rounding is undone by ``OUTPUT_UP``), the float32 operands' own
    error, the float32 sums of ``max_terms`` table rows (terms in [0, 1] summing to <= 1) and the casts
    to float32. Quantising the bound up only raises it."""
    dim = job.fm.vectors.shape[1]
    gemm = semantic_gemm.error_bound(dim, job.norm[0] * cand_max_norm * job.max_norm * (1 + 4 * U32))
    return semantic_error(job, cand_max_norm) + gemm + (_gamma(max_terms + 1) + 2 * U32) * 1.0 + 1e-9


class _Screen:
    """Per-call buffers and per-block state of the tile passes (``_kernels.tile_pass``)."""

    def __init__(self, cands: _Candidates, job: JobSide, engine, block_size: int, kr: int, kc: int):
        self.job, self.engine = job, engine
        self.tiles = job.gemm_tiles(engine)
        self.operand = engine.candidates(cands.sem)
        b, m = min(block_size, len(cands.fm)), len(job)
        self.bounds_buf = np.empty((b, m), dtype=np.int16)
        self.chunk_max_buf = np.empty((b, -(-m // _kernels.CHUNK)), dtype=np.int16)
        self.tile = job.tile
        self.tile_buf = np.empty((b, self.tile), dtype=np.uint16)
        self.kr, self.kc = kr, kc
        self.bound_args = cands.bound_args(job)

    def block(self, start: int, stop: int, need: np.ndarray):
        """Stored bounds (b, m) of rows start..stop (int16 quanta) and each CHUNK's largest, each row's kr
        best jobs (-1: fewer) and, for jobs with ``need``, their kc best rows (-1: fewer)."""
        b, m = stop - start, len(self.job)
        r_idx = np.full((b, self.kr), -1, dtype=np.int64)
        r_vals = np.empty((b, self.kr), dtype=np.float32)
        r_filled, r_lo = np.zeros(b, dtype=np.int64), np.zeros(b, dtype=np.int64)
        r_floor = np.full(b, -np.inf, dtype=np.float32)
        nc = m if need.any() else 0
        c_idx = np.full((nc, self.kc), -1, dtype=np.int64)
        c_vals = np.empty((nc, self.kc), dtype=np.float32)
        c_filled, c_lo = np.zeros(nc, dtype=np.int64), np.zeros(nc, dtype=np.int64)
        c_floor = np.full(nc, -np.inf, dtype=np.float32)
        need = need if nc else np.zeros(m, dtype=np.bool_)
        bounds, chunk_max = self.bounds_buf[:b], self.chunk_max_buf[:b]
        rows = self.operand[start:stop]
        for tile_no, job_tile in enumerate(self.tiles):
            j0 = tile_no * self.tile
            w = min(self.tile, m - j0)
            sem = self.tile_buf.ravel()[: b * w].reshape(b, w)  # contiguous, as the GEMM writes it
            self.engine.multiply(rows, job_tile, sem)
            _kernels.tile_pass(sem, semantic_gemm.OUTPUT_UP, j0, start, bounds, chunk_max,
                               r_idx, r_vals, r_filled, r_lo, r_floor, need, c_idx, c_vals, c_filled, c_lo,
                               c_floor, *self.bound_args)  # fmt: skip
        return bounds, chunk_max, r_idx, c_idx


def _as_float(quanta: np.ndarray) -> np.ndarray:
    return quanta.astype(np.float32) * np.float32(_kernels.QUANTUM)


def quantised_bar(threshold: np.ndarray) -> np.ndarray:
    """int16 quanta of each threshold rounded up (<= 0 → 0): a bound u >= threshold is stored as
    ceil(u / QUANTUM) >= these, so no pair that reaches its threshold is missed."""
    steps = np.ceil(np.maximum(np.asarray(threshold, dtype=np.float64), 0.0) / _kernels.QUANTUM)
    return np.minimum(steps, _kernels.QMAX).astype(np.int16)


def screen_block(c: FeatureMatrix, job: JobSide, gemm: str = "auto") -> np.ndarray:
    """(b, m) float32 bound of candidates ``c`` (valid, one tenant) vs ``job`` as the screen stores it:
    an upper bound of the hybrid score, less ``screen_error_bound``."""
    cands = _Candidates.build(c, job)
    screen = _Screen(cands, job, semantic_gemm.engine(gemm), max(len(c), 1), 1, 1)
    bounds = screen.block(0, len(c), np.zeros(len(job), dtype=np.bool_))[0]
    return _as_float(bounds)


# --- exact scores of chosen pairs ---------------------------------------------------------------------
def _structured(cands: _Candidates, job: JobSide, ri: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """(P, 4) unrounded skills, experience, location, salary with the library's formulas."""
    return _kernels.structured(np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(ci, dtype=np.int64),
                               *cands.exact_args(), *job.exact_args())  # fmt: skip


def _exact(cands: _Candidates, job: JobSide, ri: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """(P, 6) unrounded components in COMPONENTS order, the library's formulas (pairs taken in job order,
    so a job's vector and bitsets are read once per run of its pairs)."""
    ri, ci = np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(ci, dtype=np.int64)
    by_job = np.argsort(ci, kind="stable")
    ri_s, ci_s = ri[by_job], ci[by_job]
    parts = np.empty((len(ri), len(COMPONENTS)))
    parts[by_job, 0] = _kernels.semantic(ri_s, ci_s, cands.vectors, job.ops["vectors"])
    parts[by_job, 1:5] = _structured(cands, job, ri_s, ci_s)
    parts[:, 5] = occupation(cands.fm.isco[ri], job.fm.isco[ci])
    return parts


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
              block_size: int = 1024, job_sides: dict | None = None, gemm: str = "auto") -> BothTopK:
    """Exact top-k jobs per candidate and top-k candidates per job (== brute force over score_matrix).

    ``job_sides`` (tenant → JobSide) lets a caller build the job side once and reuse it across calls;
    ``gemm``: the screen's GEMM engine (``matching.semantic_gemm``: auto, bfloat16, float32).
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
                got = _tenant_topk(c.take(c_idx), side, k, block_size, gemm)
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


def _tenant_topk(c: FeatureMatrix, job: JobSide, k: int, block_size: int, gemm: str):
    """Both directions for valid candidates ``c`` vs one tenant's JobSide (local indices)."""
    n, m = len(c), len(job)
    kr, kc = min(k, m), min(k, n)
    cands = _Candidates.build(c, job)
    norm = job.norm
    margin = screen_error_bound(job, cands.max_norm, cands.max_terms) + ROUNDING_SLACK  # score <= bound + margin
    spread = ROUNDING_SLACK  # |rounded score - estimate| <= spread (same components, another sum order)
    screen = _Screen(cands, job, semantic_gemm.engine(gemm), block_size, kr, kc)
    rows_out, jobs_out = _empty_topk(n, k), _empty_topk(m, k)
    col_lbs = _RunningTop(m, kc)  # running kc best lower bounds (estimate - spread) per job
    col_lb = col_lbs.kth()
    pool = []  # (candidate row, job, estimate, structured parts) that may still reach a job's top-k
    rescored = 0
    cap = 1 << 16
    out_r, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64)

    def estimate(rows, cols):
        """The pairs' unrounded components and score (rows: candidate rows)."""
        parts = _exact(cands, job, rows, cols)
        return parts @ norm, parts

    def raise_bars(cols, est):
        """Estimated pairs (each once) → the jobs' lower bounds."""
        nonlocal col_lb
        better = est - spread > col_lb[cols]  # most pairs cannot raise their job's kc-th
        col_lb = col_lbs.push(cols[better], est[better] - spread).kth()

    def to_jobs(rows, cols, est, parts):
        """The pool of estimated pairs that can still reach a job's top-k."""
        keep = est + spread >= col_lb[cols]
        pool.append((rows[keep], cols[keep], est[keep], parts[keep]))

    deferred = []  # (candidate row, job, stored bound) of pairs only their job's bar let through

    def settle():
        """Estimate deferred pairs best bound first, kc per job a round: each round raises the jobs' bars,
        so most deferred pairs drop out without an estimate."""
        nonlocal rescored
        if not deferred:
            return
        dr, dc, dq = (np.concatenate(x) for x in zip(*deferred, strict=True))
        deferred.clear()
        alive = np.flatnonzero(dq >= quantised_bar(col_lb - margin)[dc])
        order = alive[np.argsort((dc[alive] << 16) | (_kernels.QMAX - dq[alive]))]  # job, then bound desc
        dr, dc, dq = dr[order], dc[order], dq[order]
        rank = np.arange(len(dc)) - np.searchsorted(dc, dc, side="left")
        alive = np.ones(len(dc), dtype=bool)
        step = 0
        while alive.any():
            take = alive & (rank < (step + 1) * kc)
            est, parts = estimate(dr[take], dc[take])
            rescored += int(take.sum())
            raise_bars(dc[take], est)
            to_jobs(dr[take], dc[take], est, parts)
            alive &= ~take
            idx = np.flatnonzero(alive)
            dr, dc, dq, rank = dr[idx], dc[idx], dq[idx], rank[idx]
            alive = dq >= quantised_bar(col_lb - margin)[dc]
            step += 1

    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        b = stop - start
        # 1. probes: each row's kr best bounds; jobs without kc lower bounds yet (a task's first block)
        #    → their kc best rows. Estimates less ``spread`` are lower bounds of the k-th scores.
        bounds, chunk_max, r_idx, c_idx = screen.block(start, stop, ~np.isfinite(col_lb))
        qr = np.repeat(np.arange(start, stop, dtype=np.int64), kr)
        qc = r_idx.ravel()
        need = np.flatnonzero((c_idx >= 0).any(axis=1)) if len(c_idx) else np.zeros(0, np.int64)
        pr = c_idx[need].ravel()
        pc = np.repeat(need, kc)
        keys = np.concatenate([qr[qc >= 0] * m + qc[qc >= 0], pr[pr >= 0] * m + pc[pr >= 0]])
        keys, where = np.unique(keys, return_inverse=True)
        pr, pc = keys // m, keys % m
        est, parts = estimate(pr, pc)
        row_lb = np.full(b, np.inf)
        probed = where[: int((qc >= 0).sum())]
        np.minimum.at(row_lb, pr[probed] - start, est[probed] - spread)
        row_lb[(r_idx < 0).any(axis=1)] = -np.inf  # fewer than kr jobs: the whole row
        raise_bars(pc, est)
        bounds[pr - start, pc] = _kernels.DONE  # the survivor pass skips it
        found = [(pr, pc, est, parts)]
        # 2. survivors: pairs whose bound reaches their row's or their job's lower bound (less margin).
        #    Those only a job's bar let through wait (``settle``): the bar keeps rising.
        row_thr, col_thr = quantised_bar(row_lb - margin), quantised_bar(col_lb - margin)
        chunk_bar = np.pad(col_thr, (0, -m % _kernels.CHUNK), mode="edge").reshape(-1, _kernels.CHUNK).min(axis=1)
        survivors = (bounds, chunk_max, row_thr, col_thr, chunk_bar)
        count = _kernels.emit_survivors(*survivors, out_r, out_c)
        if count > cap:
            cap = 1 << int(np.ceil(np.log2(count)))
            out_r, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64)
            count = _kernels.emit_survivors(*survivors, out_r, out_c)
        if count:
            sr, sc = out_r[:count], out_c[:count]
            sq = bounds[sr, sc]
            for_row = sq >= row_thr[sr]
            deferred.append((sr[~for_row] + start, sc[~for_row], sq[~for_row]))
            sr, sc = sr[for_row] + start, sc[for_row]
            est, parts = estimate(sr, sc)
            raise_bars(sc, est)
            found.append((sr, sc, est, parts))
        pr, pc, est, parts = (np.concatenate(x) for x in zip(*found, strict=True))
        rescored += len(pr)
        # 3. rows are complete within the block: exact scores for estimates near each row's kr-th
        local = pr - start
        cut = _kth_per_group(local, est, kr, b)
        near = est >= cut[local] - 2 * spread
        rows, cols = pr[near], pc[near]
        exact = _combine(parts[near], norm)
        _place(exact, rows, cols, kr, rows, rows_out)
        to_jobs(pr, pc, est, parts)
        if sum(len(d[0]) for d in deferred) >= SETTLE_AT:
            settle()
    settle()
    if pool:
        ri, ci, est, parts = (np.concatenate(x) for x in zip(*pool, strict=True))
        cut = _kth_per_group(ci, est, kc, m)
        near = est >= cut[ci] - 2 * spread
        ri, ci, parts = ri[near], ci[near], parts[near]
        exact = _combine(parts, norm)
        _place(exact, ci, ri, kc, ci, jobs_out)
    return rows_out, jobs_out, rescored

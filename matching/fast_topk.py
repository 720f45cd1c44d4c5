"""Exact hybrid top-K, both directions, at close to GEMM speed: an upper-bound screen + exact re-score.

``matching.scoring.score_matrix`` builds five float64 (n, m) arrays per block (~30 elementwise passes).
Here a block of candidates costs one float32 GEMM over augmented vectors and two streaming passes:

1. **Screen** (one sgemm): the candidate row is ``[w_sem * vector | skill buckets | experience bucket |
   salary bucket | 1 | location class]`` (one-hots), the job column holds the matching weights and
   per-bucket tables, so the product is an *upper bound* of the hybrid score (minus the float32 error
   ``screen_error_bound``) for every pair with a non-negative cosine:
   - skills: the job's per-skill weight / total summed per bucket (one dimension per skill when the
     tenant's job vocabulary is small, else hashed: a bucket hit counts the whole bucket's weight);
   - experience: the library formula at the bucket's upper edge (it only grows with the years held);
   - salary: the formula at the bucket's lower edge (it only shrinks with the salary asked);
   - location: exact, one class per distinct (city, country, remote-only) in the block (candidates are
     sorted by it), the rare rest share one class scored 1;
   - job-only constants (the neutral skills term of a job that lists none) through the constant 1.
2. **Probes** (``_kernels.row_probes`` / ``col_probes``): the k best screened jobs of each row (and, until
   a job has k exact scores, the k best rows of each job) are scored exactly; their k-th exact score is
   a lower bound of the row's (job's) true k-th.
3. **Survivors** (``_kernels.emit_survivors``): only pairs whose bound reaches a row's or a job's lower
   bound (less the error margin) can be in a top-k; they are scored exactly (``_kernels.exact_parts``:
   the library's formulas, float64, same operations) and ranked score desc, index asc. A job's lower
   bound rises block after block from every exact score seen.

The clipped cosine (``max(cos, 0)``) is the one term the linear screen under-estimates: a pair with a
negative cosine scores at most the job's structured maximum, so a row or job whose lower bound is not
above that maximum is scored whole. The result equals brute force over ``score_matrix`` (tests), and
invalid profiles and cross-tenant pairs are never scored; rows with fewer than K rankable columns are
padded with -1 / NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching import _kernels
from matching.features import UNKNOWN, FeatureMatrix
from matching.scoring import COMPONENTS, NEUTRAL, SCORE_DECIMALS, HybridWeights, resolve_weights
from matching.topk import TopK

U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32
# the library rounds to 1e-6 (half of it each side) + float64 noise + the float32 cast of a threshold
ROUNDING_SLACK = 1e-6 + 2e-7
# bucket edges of the screen (each bucket is one dimension of the GEMM; finer = tighter bound)
EXP_EDGES = np.array([*range(21), 22.5, 25, 30, 40, np.inf], dtype=np.float64)  # upper edges, years held
SAL_EDGES = np.geomspace(15_000.0, 500_000.0, 15)  # lower edges, yearly salary asked
SKILL_DIMS = 32
LOCATION_SLOTS = 12


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


def _bitsets(matrix: sp.csr_matrix, vocab: np.ndarray, words: int) -> np.ndarray:
    """(rows, words) uint64: bit p set when the row holds vocabulary position p."""
    out = np.zeros((matrix.shape[0], words), dtype=np.uint64)
    sub = matrix[:, vocab].tocsr() if len(vocab) else sp.csr_matrix((matrix.shape[0], 0))
    sub.eliminate_zeros()
    rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    pos = sub.indices.astype(np.int64)
    np.bitwise_or.at(out, (rows, pos >> 6), np.left_shift(np.uint64(1), (pos & 63).astype(np.uint64)))
    return out


def _exp_bucket(have: np.ndarray) -> np.ndarray:
    """Bucket whose upper edge is the first >= the years held; unknown → the last bucket."""
    return np.where(np.isnan(have), len(EXP_EDGES), np.searchsorted(EXP_EDGES, have, side="left"))


def _sal_bucket(desired: np.ndarray) -> np.ndarray:
    """0: below the first edge; 1..E: the last edge <= the salary asked; E + 1: unknown / not positive."""
    unknown = np.isnan(desired) | (desired <= 0)
    safe = np.where(unknown, 1.0, desired)
    return np.where(unknown, len(SAL_EDGES) + 1, np.searchsorted(SAL_EDGES, safe, side="right"))


# --- job side, prepared once per tenant -----------------------------------------------------------------
@dataclass
class JobSide:
    """One tenant's jobs as screen operands (job columns of the GEMM) and exact-kernel arrays."""

    fm: FeatureMatrix  # the jobs (valid ones unless built otherwise)
    index: np.ndarray  # (m,) their rows in the caller's job matrix
    weights: HybridWeights
    norm: np.ndarray  # normalised component weights
    sem_t: np.ndarray  # (d, m) float32 job vectors, the semantic GEMM operand
    struct: np.ndarray  # (S, m) float32 structured GEMM operand; the location rows are filled per block
    loc_row: int  # first location row of ``struct``
    vocab: np.ndarray  # sorted skill ids used by any of these jobs
    skill_bucket: np.ndarray  # (len(vocab),) screen dimension of each vocabulary position
    vectors: np.ndarray  # (m, d) float32
    ess_bits: np.ndarray  # (m, words) uint64 over vocabulary positions
    opt_bits: np.ndarray
    has_opt: bool
    total: np.ndarray  # (m,) float64 skill total (library formula)
    need: np.ndarray  # (m,) float64 years required
    offered: np.ndarray  # (m,) float64 offered salary (library formula)
    smax: np.ndarray  # (m,) the largest structured (non-semantic) bound of each job
    max_norm: float

    @classmethod
    def build(cls, j: FeatureMatrix, weights: HybridWeights | str | None = None, index=None) -> JobSide:
        w = resolve_weights(weights)
        norm = w.component_weights()
        index = np.flatnonzero(j.valid) if index is None else np.asarray(index, dtype=np.int64)
        fm = j.take(index)
        m = len(fm)
        ess, opt = _job_skill_sets(fm)
        per_skill = w.essential_weight * ess.astype(np.float64)
        if opt is not None:
            per_skill = per_skill + w.optional_weight * opt.astype(np.float64)
        per_skill = sp.csr_matrix(per_skill)
        per_skill.eliminate_zeros()
        total = _skill_totals(fm, w)
        vocab = np.unique(np.concatenate([ess.indices, opt.indices if opt is not None else []])).astype(np.int64)
        buckets = np.arange(len(vocab)) % SKILL_DIMS
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            scale = np.where(total > 0, norm[1] / np.where(total > 0, total, 1.0), 0.0)
        skill_rows = np.zeros((SKILL_DIMS, m))
        if len(vocab):
            weighted = sp.diags(scale) @ per_skill[:, vocab]  # (m, V): the skill term's share per skill
            to_bucket = sp.csr_matrix((np.ones(len(vocab)), (np.arange(len(vocab)), buckets)),
                                      shape=(len(vocab), SKILL_DIMS))  # fmt: skip
            skill_rows = np.asarray((weighted @ to_bucket).todense()).T
        need, offered = fm.years, offered_salary(fm)
        exp_rows = norm[2] * np.vstack([experience(np.full(m, e), need) for e in EXP_EDGES]
                                       + [experience(np.full(m, np.nan), need)])  # fmt: skip
        offered_known = np.where(np.isnan(offered), NEUTRAL, 1.0)
        sal_rows = norm[4] * np.vstack([offered_known] + [salary(np.full(m, e), offered) for e in SAL_EDGES]
                                       + [np.full(m, NEUTRAL)])  # fmt: skip
        const = np.where(total == 0, norm[1] * NEUTRAL, 0.0)
        loc_row = SKILL_DIMS + len(exp_rows) + len(sal_rows) + 1
        struct = np.zeros((loc_row + LOCATION_SLOTS, m), dtype=np.float32)
        struct[:loc_row] = np.vstack([skill_rows, exp_rows, sal_rows, const[None, :]])
        smax = skill_rows.sum(axis=0) + exp_rows.max(axis=0) + sal_rows.max(axis=0) + const + norm[3]
        words = max(1, -(-len(vocab) // 64))
        return cls(
            fm=fm, index=index, weights=w, norm=norm, sem_t=np.ascontiguousarray(fm.vectors.T, dtype=np.float32),
            struct=struct, loc_row=loc_row, vocab=vocab,
            skill_bucket=buckets, vectors=np.ascontiguousarray(fm.vectors, dtype=np.float32),
            ess_bits=_bitsets(ess, vocab, words),
            opt_bits=_bitsets(opt, vocab, words) if opt is not None else np.zeros((m, words), np.uint64),
            has_opt=opt is not None, total=total, need=np.asarray(need, dtype=np.float64),
            offered=np.asarray(offered, dtype=np.float64), smax=smax,
            max_norm=float(np.linalg.norm(fm.vectors, axis=1).max()) if m else 0.0,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class _Candidates:
    """Candidate-side arrays for one tenant against one JobSide (rows in the caller's order)."""

    fm: FeatureMatrix
    vectors: np.ndarray  # (n, d) float32
    ptr: np.ndarray  # CSR over vocabulary positions of the job side
    pos: np.ndarray
    sem: np.ndarray  # (n, d) float32 vectors * the semantic weight
    static: np.ndarray  # (n, loc_row) float32 structured rows without the location one-hot
    loc_key: np.ndarray  # (n,) int64 id of (city, country, remote-only)
    max_norm: float

    @classmethod
    def build(cls, c: FeatureMatrix, job: JobSide) -> _Candidates:
        n = len(c)
        vectors = np.ascontiguousarray(c.vectors, dtype=np.float32)
        sub = c.skills[:, job.vocab].tocsr() if len(job.vocab) else sp.csr_matrix((n, 0))
        sub.eliminate_zeros()
        sub.sort_indices()
        static = np.zeros((n, job.loc_row), dtype=np.float32)
        if sub.nnz:
            rows = np.repeat(np.arange(n), np.diff(sub.indptr))
            static[rows, job.skill_bucket[sub.indices]] = 1.0
        base = SKILL_DIMS
        static[np.arange(n), base + _exp_bucket(c.years)] = 1.0
        base += len(EXP_EDGES) + 1
        static[np.arange(n), base + _sal_bucket(c.salary_min)] = 1.0
        static[:, job.loc_row - 1] = 1.0
        keys = np.stack([c.city, c.country, (c.remote == 2).astype(np.int64)], axis=1)
        _, loc_key = np.unique(keys, axis=0, return_inverse=True) if n else (None, np.zeros(0, np.int64))
        return cls(fm=c, vectors=vectors, ptr=sub.indptr.astype(np.int64), pos=sub.indices.astype(np.int64),
                   sem=vectors * np.float32(job.norm[0]), static=static, loc_key=np.asarray(loc_key).ravel().astype(np.int64),
                   max_norm=float(np.linalg.norm(vectors, axis=1).max()) if n else 0.0)  # fmt: skip


def screen_error_bound(job: JobSide, cand_max_norm: float) -> float:
    """Bound on the float32 error of the screen: gamma_D over |terms| + the float32 casts of the operands
    + the float32 sum of the two GEMM outputs."""
    dims = job.sem_t.shape[0] + job.struct.shape[0]
    gamma = dims * U32 / (1 - dims * U32)  # Higham's gamma_n, any summation order
    magnitude = job.norm[0] * cand_max_norm * job.max_norm + 1.0  # the structured terms sum to <= 1
    return float((gamma + 3 * U32) * magnitude + 1e-7)


def _block_operands(cands: _Candidates, job: JobSide, rows: slice, struct: np.ndarray) -> np.ndarray:
    """Structured candidate rows of the block; the block's location classes go into ``struct``'s rows."""
    block = np.zeros((rows.stop - rows.start, struct.shape[0]), dtype=np.float32)
    block[:, : job.loc_row] = cands.static[rows]
    keys = cands.loc_key[rows]
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    first = np.searchsorted(keys, uniq) if np.all(keys[:-1] <= keys[1:]) else None
    if first is None:  # unsorted caller: the first row of each key
        first = np.array([np.flatnonzero(keys == u)[0] for u in uniq])
    slot_of = np.full(len(uniq), LOCATION_SLOTS - 1)
    if len(uniq) <= LOCATION_SLOTS:
        slot_of = np.arange(len(uniq))
    else:  # the most frequent keys get exact classes, the rest share a slot scored 1 (an upper bound)
        top = np.argsort(-counts, kind="stable")[: LOCATION_SLOTS - 1]
        slot_of[top] = np.arange(len(top))
    fm, jf = cands.fm, job.fm
    at = rows.start + first
    table = job.norm[3] * location(fm.city[at][:, None], fm.country[at][:, None], fm.remote[at][:, None],
                                   jf.city[None, :], jf.country[None, :], jf.remote[None, :])  # fmt: skip
    loc = struct[job.loc_row :]
    loc[:] = 0.0
    exact = slot_of < LOCATION_SLOTS - 1 if len(uniq) > LOCATION_SLOTS else np.ones(len(uniq), bool)
    loc[slot_of[exact]] = table[exact]
    if not exact.all():
        loc[LOCATION_SLOTS - 1] = job.norm[3]
    block[np.arange(len(keys)), job.loc_row + slot_of[inverse.ravel()]] = 1.0
    return block


def screen_block(c: FeatureMatrix, job: JobSide) -> np.ndarray:
    """(b, m) float32 screen of candidates ``c`` (valid, one tenant) vs ``job``: an upper bound of the
    hybrid score (less ``screen_error_bound``)."""
    cands = _Candidates.build(c, job)
    order = np.argsort(cands.loc_key, kind="stable")
    cands = _take_candidates(cands, order)
    struct = job.struct.copy()
    block = _block_operands(cands, job, slice(0, len(c)), struct) @ struct
    screen = np.maximum(cands.sem @ job.sem_t, np.float32(0)) + block
    out = np.empty_like(screen)
    out[order] = screen
    return out


def _take_candidates(cands: _Candidates, order: np.ndarray) -> _Candidates:
    sub = sp.csr_matrix((np.ones(len(cands.pos)), cands.pos, cands.ptr),
                        shape=(len(cands.ptr) - 1, max(int(cands.pos.max()) + 1 if len(cands.pos) else 1, 1)))
    sub = sub[order]  # fmt: skip
    return _Candidates(fm=cands.fm.take(order), vectors=cands.vectors[order],
                       ptr=sub.indptr.astype(np.int64), pos=sub.indices.astype(np.int64),
                       sem=cands.sem[order], static=cands.static[order], loc_key=cands.loc_key[order],
                       max_norm=cands.max_norm)  # fmt: skip


# --- exact scores of chosen pairs ---------------------------------------------------------------------
def _structured(cands: _Candidates, job: JobSide, ri: np.ndarray, ci: np.ndarray) -> np.ndarray:
    """(P, 4) unrounded skills, experience, location, salary with the library's formulas."""
    c, jf, w = cands.fm, job.fm, job.weights
    return _kernels.structured(
        np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(ci, dtype=np.int64),
        cands.ptr, cands.pos, np.asarray(c.years, np.float64),
        np.asarray(c.city, np.int64), np.asarray(c.country, np.int64), np.asarray(c.remote, np.int8),
        np.asarray(c.salary_min, np.float64),
        job.ess_bits, job.opt_bits, job.has_opt, job.total, job.need,
        np.asarray(jf.city, np.int64), np.asarray(jf.country, np.int64), np.asarray(jf.remote, np.int8),
        job.offered, float(w.essential_weight), np.float32(w.optional_weight),
    )  # fmt: skip


def _exact(cands: _Candidates, job: JobSide, ri: np.ndarray, ci: np.ndarray,
           structured: np.ndarray | None = None) -> np.ndarray:
    """(P, 5) unrounded components in COMPONENTS order (``structured``: already computed for these pairs)."""
    ri, ci = np.ascontiguousarray(ri, dtype=np.int64), np.ascontiguousarray(ci, dtype=np.int64)
    sem = _kernels.semantic(ri, ci, cands.vectors, job.vectors)
    rest = _structured(cands, job, ri, ci) if structured is None else structured
    return np.column_stack([sem, rest])


def _combine(parts: np.ndarray, norm: np.ndarray, ok: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Weighted sum in the library's order, rounded like the library; NaN where not ``ok``."""
    score = np.zeros(len(parts), dtype=np.float64)
    for idx, weight in enumerate(norm):
        if weight:
            score += weight * parts[:, idx]
    keep = np.ones(len(parts), dtype=bool) if ok is None else ok
    out = {"score": np.where(keep, np.round(score, SCORE_DECIMALS), np.nan)}
    for idx, name in enumerate(COMPONENTS):
        out[name] = np.where(keep, np.round(parts[:, idx], SCORE_DECIMALS), np.nan)
    return out


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


@dataclass
class BothTopK:
    candidate_to_job: TopK  # rows = candidates of ``c``, cols = rows of the job matrix
    job_to_candidate: TopK  # rows = jobs, cols = candidate rows
    pairs_rescored: int = 0


def topk_both(c: FeatureMatrix, j: FeatureMatrix, k: int, weights: HybridWeights | str | None = None,
              block_size: int = 1024, job_sides: dict | None = None) -> BothTopK:
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
    """Both directions for valid candidates ``c`` vs one tenant's JobSide (local indices).

    Candidates are visited sorted by location class (few classes per block), results keep ``c``'s order.
    Pairs the screen lets through get an *estimate*: exact structured parts + the float32 cosine of the
    GEMM (off by at most ``sem_err``); only estimates within 2 * that of a k-th get the float64 cosine.
    """
    n, m = len(c), len(job)
    kr, kc = min(k, m), min(k, n)
    cands = _Candidates.build(c, job)
    order = np.argsort(cands.loc_key, kind="stable")  # sorted position → row of ``c``
    cands = _take_candidates(cands, order)
    margin = screen_error_bound(job, cands.max_norm) + ROUNDING_SLACK  # rounded score <= screen + margin
    d = job.sem_t.shape[0]
    sem_err = (d * U32 / (1 - d * U32) + 3 * U32) * job.norm[0] * cands.max_norm * job.max_norm + 1e-9
    spread = sem_err + ROUNDING_SLACK  # |rounded score - estimate|
    norm = job.norm
    struct_ops = job.struct.copy()  # the location rows change per block
    sem_buf = np.empty((min(block_size, n), m), dtype=np.float32)
    struct_buf = np.empty((min(block_size, n), m), dtype=np.float32)
    rc = np.full((n, k), -1, dtype=np.int64)
    rv = np.full((n, k), np.nan)
    rcomp = {name: np.full((n, k), np.nan) for name in COMPONENTS}
    col_lbs = _RunningTop(m, kc)  # running kc best lower bounds (estimate - spread) per job
    col_lb = col_lbs.kth()
    pool = []  # (candidate row of c, job, estimate, structured parts) that may reach a job's top-k
    rescored = 0
    cap = 1 << 16
    out_r, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64)

    def estimate(sem, rows, cols):
        parts = _structured(cands, job, rows + start, cols)
        est = np.maximum(sem[rows, cols].astype(np.float64), 0.0)
        for idx in range(4):
            if norm[idx + 1]:
                est += norm[idx + 1] * parts[:, idx]
        return est, parts

    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        b = stop - start
        sem = np.matmul(cands.sem[start:stop], job.sem_t, out=sem_buf[:b])
        struct = np.matmul(_block_operands(cands, job, slice(start, stop), struct_ops), struct_ops,
                           out=struct_buf[:b])  # fmt: skip
        # 1. probes: each row's kr best screened jobs, and the kc best rows of jobs without kc bounds yet
        pr = np.repeat(np.arange(b, dtype=np.int64), kr)
        pc = _kernels.row_probes(sem, struct, kr).ravel()
        _kernels.mark_done(struct, pr, pc)
        need = np.flatnonzero(~np.isfinite(col_lb))
        if len(need):
            probe_r = _kernels.col_probes(sem, struct, min(kc, b), need)
            qc = np.repeat(need, probe_r.shape[1])
            qr = probe_r.ravel()
            ok = qr >= 0
            qr, qc = qr[ok], qc[ok]
            _kernels.mark_done(struct, qr, qc)
            pr, pc = np.concatenate([pr, qr]), np.concatenate([pc, qc])
        est, parts = estimate(sem, pr, pc)
        # 2. lower bounds of each row's / job's k-th score → screen thresholds (floored: the whole column)
        row_lb = est[: b * kr].reshape(b, kr).min(axis=1) - spread
        row_thr = np.maximum(row_lb - margin, _kernels.THRESHOLD_FLOOR).astype(np.float32)
        col_lb = col_lbs.push(pc, est - spread).kth()
        col_thr = np.maximum(col_lb - margin, _kernels.THRESHOLD_FLOOR).astype(np.float32)
        # 3. survivors of the screen
        count = _kernels.emit_survivors(sem, struct, row_thr, col_thr, out_r, out_c)
        if count > cap:
            cap = 1 << int(np.ceil(np.log2(count)))
            out_r, out_c = np.empty(cap, np.int64), np.empty(cap, np.int64)
            count = _kernels.emit_survivors(sem, struct, row_thr, col_thr, out_r, out_c)
        if count:
            sr, sc = out_r[:count].copy(), out_c[:count].copy()
            more, more_parts = estimate(sem, sr, sc)
            pr, pc = np.concatenate([pr, sr]), np.concatenate([pc, sc])
            est, parts = np.concatenate([est, more]), np.concatenate([parts, more_parts])
            col_lb = col_lbs.push(sc, more - spread).kth()
        rescored += len(pr)
        # 4. rows are complete within the block: exact scores for estimates near each row's kr-th
        cut = _kth_per_group(pr, est, kr, b)
        near = est >= cut[pr] - 2 * spread
        rows, cols = pr[near], pc[near]
        exact = _combine(_exact(cands, job, rows + start, cols, parts[near]), norm)
        pos, rank = _rank_groups(rows, cols, exact["score"], kr)
        dest = order[rows[pos] + start]
        rc[dest, rank] = cols[pos]
        rv[dest, rank] = exact["score"][pos]
        for name in COMPONENTS:
            rcomp[name][dest, rank] = exact[name][pos]
        # jobs: keep what can still reach the job's kc-th score
        keep = est + spread >= col_lb[pc]
        pool.append((order[pr[keep] + start], pc[keep], est[keep], parts[keep]))
    jc = np.full((m, k), -1, dtype=np.int64)
    jv = np.full((m, k), np.nan)
    jcomp = {name: np.full((m, k), np.nan) for name in COMPONENTS}
    if pool:
        ri = np.concatenate([p[0] for p in pool])
        ci = np.concatenate([p[1] for p in pool])
        est = np.concatenate([p[2] for p in pool])
        parts = np.concatenate([p[3] for p in pool])
        cut = _kth_per_group(ci, est, kc, m)
        near = est >= cut[ci] - 2 * spread
        ri, ci, parts = ri[near], ci[near], parts[near]
        sorted_rows = np.argsort(order)  # row of c → sorted position (the kernel's candidate index)
        exact = _combine(_exact(cands, job, sorted_rows[ri], ci, parts), norm)
        pos, rank = _rank_groups(ci, ri, exact["score"], kc)
        jc[ci[pos], rank] = ri[pos]
        jv[ci[pos], rank] = exact["score"][pos]
        for name in COMPONENTS:
            jcomp[name][ci[pos], rank] = exact[name][pos]
    return (rc, rv, rcomp), (jc, jv, jcomp), rescored


def _kth_per_group(group: np.ndarray, value: np.ndarray, k: int, size: int) -> np.ndarray:
    """(size,) k-th largest value per group id (-inf when a group has fewer than k values)."""
    return _RunningTop(size, k).push(group, value).kth()

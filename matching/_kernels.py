"""numba kernels of matching.fast_topk: the passes numpy cannot do without (b, m) temporaries.

The screened value of a pair is ``max(sem, 0) + struct`` (two GEMM outputs, combined on the fly):
- ``row_probes`` / ``col_probes``: the top-k entries of each row / of chosen columns of a screened block,
  in one streaming pass (no partition copy, no transpose);
- ``emit_survivors``: every pair above its row's or its column's threshold, in one pass;
- ``structured`` / ``semantic``: the components of chosen pairs with the library's formulas (float64,
  scalar code that mirrors ``matching.scoring`` operation by operation; the cosine sums in another order).

Compiled on first use and cached next to this file (or under NUMBA_CACHE_DIR when it is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEUTRAL = 0.5
UNKNOWN = -1
# in ``struct``: a pair already scored in this block. Finite (screened values are >= 0 and thresholds
# are floored at -1), so the passes need no special case for it.
DONE = np.float32(-1e30)
THRESHOLD_FLOOR = -1.0


CHUNK = 16  # columns checked together: a chunk with nothing above the bar is skipped branch-free


@njit(cache=True, nogil=True)
def row_probes(sem, struct, k):
    """(b, k) column indices of the k largest screened values of each row (any order)."""
    b, m = sem.shape
    out = np.empty((b, k), dtype=np.int64)
    vals = np.empty(k, dtype=np.float32)
    zero = np.float32(0.0)
    half = np.float32(0.5)
    for i in range(b):
        srow = sem[i]
        row = struct[i]
        for t in range(k):
            vals[t] = max(srow[t], zero) + row[t]
            out[i, t] = t
        lo = 0
        for t in range(1, k):
            if vals[t] < vals[lo]:
                lo = t
        floor = vals[lo]
        j0 = k
        while j0 < m:
            j1 = min(j0 + CHUNK, m)
            hit = False
            for j in range(j0, j1):  # branch-free (vectorised): (x + |x|) / 2 == max(x, 0) exactly
                hit |= (srow[j] + abs(srow[j])) * half + row[j] > floor
            if hit:
                for j in range(j0, j1):
                    v = max(srow[j], zero) + row[j]
                    if v > floor:
                        vals[lo] = v
                        out[i, lo] = j
                        lo = 0
                        for t in range(1, k):
                            if vals[t] < vals[lo]:
                                lo = t
                        floor = vals[lo]
            j0 = j1
    return out


@njit(cache=True, nogil=True)
def col_probes(sem, struct, k, cols):
    """(len(cols), k) row indices of the k largest values of each chosen column (skipping DONE entries).

    Entries are -1 when a column has fewer than k such rows.
    """
    b = sem.shape[0]
    nc = len(cols)
    out = np.full((nc, k), -1, dtype=np.int64)
    vals = np.empty((nc, k), dtype=np.float32)
    filled = np.zeros(nc, dtype=np.int64)
    floor = np.full(nc, -np.inf, dtype=np.float32)
    lo = np.zeros(nc, dtype=np.int64)
    for i in range(b):
        srow = sem[i]
        row = struct[i]
        for q in range(nc):
            v = row[cols[q]]
            if v <= DONE:
                continue
            v += max(srow[cols[q]], np.float32(0.0))
            if filled[q] < k:
                vals[q, filled[q]] = v
                out[q, filled[q]] = i
                filled[q] += 1
                if filled[q] < k:
                    continue
            elif v > floor[q]:
                vals[q, lo[q]] = v
                out[q, lo[q]] = i
            else:
                continue
            best = 0
            for t in range(1, k):
                if vals[q, t] < vals[q, best]:
                    best = t
            lo[q] = best
            floor[q] = vals[q, best]
    return out


@njit(cache=True, nogil=True)
def emit_survivors(sem, struct, row_thr, col_thr, out_r, out_c):
    """Pairs screened >= row_thr[i] or >= col_thr[j] (DONE pairs never qualify: thresholds are > DONE).

    Writes up to len(out_r) pairs and returns how many qualify (larger than the buffer = call again).
    """
    b, m = sem.shape
    cap = len(out_r)
    count = 0
    zero = np.float32(0.0)
    half = np.float32(0.5)
    for i in range(b):
        srow = sem[i]
        row = struct[i]
        rt = row_thr[i]
        j0 = 0
        while j0 < m:
            j1 = min(j0 + CHUNK, m)
            hit = False
            for j in range(j0, j1):  # branch-free (vectorised): (x + |x|) / 2 == max(x, 0) exactly
                v = (srow[j] + abs(srow[j])) * half + row[j]
                hit |= (v >= rt) | (v >= col_thr[j])
            if hit:
                for j in range(j0, j1):
                    v = max(srow[j], zero) + row[j]
                    if v >= rt or v >= col_thr[j]:
                        if count < cap:
                            out_r[count] = i
                            out_c[count] = j
                        count += 1
            j0 = j1
    return count


@njit(cache=True, nogil=True)
def mark_done(struct, rows, cols):
    for p in range(len(rows)):
        struct[rows[p], cols[p]] = DONE


@njit(cache=True, nogil=True)
def semantic(ri, ci, c_vec, j_vec):
    """Clipped cosine of pairs (ri[p], ci[p]): float64 dot of the float32 vectors (8 partial sums for ILP;
    the library's BLAS sums in another order, ~1e-16 apart)."""
    n_pairs = len(ri)
    d = c_vec.shape[1]
    out = np.empty(n_pairs, dtype=np.float64)
    for p in range(n_pairs):
        x = c_vec[ri[p]]
        y = j_vec[ci[p]]
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        t = 0
        while t + 8 <= d:
            a0 += np.float64(x[t]) * np.float64(y[t])
            a1 += np.float64(x[t + 1]) * np.float64(y[t + 1])
            a2 += np.float64(x[t + 2]) * np.float64(y[t + 2])
            a3 += np.float64(x[t + 3]) * np.float64(y[t + 3])
            a4 += np.float64(x[t + 4]) * np.float64(y[t + 4])
            a5 += np.float64(x[t + 5]) * np.float64(y[t + 5])
            a6 += np.float64(x[t + 6]) * np.float64(y[t + 6])
            a7 += np.float64(x[t + 7]) * np.float64(y[t + 7])
            t += 8
        while t < d:
            a0 += np.float64(x[t]) * np.float64(y[t])
            t += 1
        sem = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        out[p] = min(max(sem, 0.0), 1.0)
    return out


@njit(cache=True, nogil=True)
def structured(
    ri, ci,
    c_ptr, c_pos, c_years, c_city, c_country, c_remote, c_desired,
    j_ess, j_opt, has_opt, j_total, j_need, j_city, j_country, j_remote, j_offered,
    ess_weight, opt_weight32,
):  # fmt: skip
    """(P, 4) float64 skills, experience, location, salary of pairs (ri[p], ci[p]) — unrounded.

    Same scalar operations as matching.scoring (see there for the rules); the optional-skill term is a
    float32 product, as numpy computes ``python float * float32 array``.
    """
    n_pairs = len(ri)
    out = np.empty((n_pairs, 4), dtype=np.float64)
    for p in range(n_pairs):
        i = ri[p]
        j = ci[p]
        # skills: essential / optional counts by bit tests over the candidate's vocabulary positions
        n_ess = 0
        n_opt = 0
        for q in range(c_ptr[i], c_ptr[i + 1]):
            pos = c_pos[q]
            word = pos >> 6
            bit = np.uint64(1) << np.uint64(pos & 63)
            if j_ess[j, word] & bit:
                n_ess += 1
            if has_opt and (j_opt[j, word] & bit):
                n_opt += 1
        total = j_total[j]
        if total == 0.0:
            skills = NEUTRAL
        else:
            covered = ess_weight * np.float64(n_ess)
            if has_opt:
                covered += np.float64(opt_weight32 * np.float32(n_opt))
            skills = covered / total
        out[p, 0] = min(max(skills, 0.0), 1.0)
        # experience
        have = c_years[i]
        need = j_need[j]
        if np.isnan(need) or need <= 0.0:
            exp = 1.0
        elif np.isnan(have):
            exp = NEUTRAL
        elif have >= need:
            exp = 1.0
        else:
            exp = have / need
        out[p, 1] = min(max(exp, 0.0), 1.0)
        # location
        loc = NEUTRAL
        if c_country[i] != UNKNOWN and j_country[j] != UNKNOWN:
            loc = 0.6 if c_country[i] == j_country[j] else 0.0
        if c_city[i] != UNKNOWN and c_city[i] == j_city[j]:
            loc = 1.0
        if c_remote[i] == 2 and j_remote[j] == 0:
            loc = loc * 0.5
        if j_remote[j] == 2:
            loc = 1.0
        out[p, 2] = loc
        # salary
        desired = c_desired[i]
        offered = j_offered[j]
        if np.isnan(desired) or np.isnan(offered) or desired <= 0.0:
            sal = NEUTRAL
        elif offered >= desired:
            sal = 1.0
        else:
            sal = offered / desired
        out[p, 3] = min(max(sal, 0.0), 1.0)
    return out


@njit(cache=True, nogil=True)
def push_topk(top, lo, groups, values):
    """Fold (group, value) pairs into ``top`` (groups x k, -inf = empty): the k largest values per group.

    ``lo[g]`` is the position of group g's smallest kept value (kept in step, so a miss costs O(1)).
    """
    k = top.shape[1]
    for p in range(len(groups)):
        g = groups[p]
        row = top[g]
        v = values[p]
        if v > row[lo[g]]:
            row[lo[g]] = v
            best = 0
            for t in range(1, k):
                if row[t] < row[best]:
                    best = t
            lo[g] = best

"""numba kernels of matching.fast_topk: the per-pair work numpy cannot do without (b, m) temporaries.

A pair's *bound* is ``max(sem, 0) + bound_row[j]``: ``sem`` is the block's semantic GEMM output (the
candidate vector pre-scaled by the semantic weight) and ``bound_row`` the candidate's structured upper
bound against every job, summed from a few rows of per-job tables (its skills, its experience and salary
buckets, its location class, the job-only constant) — built per candidate into a buffer that stays in
cache. Pairs already scored in a block are marked NaN in ``sem``: NaN never compares true.

- ``row_probes`` / ``col_probes``: the k best bounds of each row / of chosen jobs (jobs visited in tiles so
  the tables' columns stay in cache);
- ``emit_survivors``: every pair whose bound reaches its row's or its job's threshold;
- ``structured`` / ``semantic``: the components of chosen pairs with the library's formulas (float64,
  scalar code that mirrors ``matching.scoring`` operation by operation; the cosine sums in another order);
- ``push_topk``: running k best values per group.

An *estimate* is exact structured parts + the float32 semantic term of the GEMM (off by at most the
caller's ``spread``). Compiled on first use and cached (NUMBA_CACHE_DIR when the code is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEUTRAL = 0.5
UNKNOWN = -1
CHUNK = 16  # columns checked together: a chunk with nothing above the bar is skipped branch-free


@njit(cache=True, nogil=True, inline="always")
def _pair_struct(i, j, c_ptr, c_pos, c_years, c_city, c_country, c_remote, c_desired,
                 j_ess, j_opt, has_opt, j_total, j_need, j_city, j_country, j_remote, j_offered,
                 ess_weight, opt_weight32):  # fmt: skip
    """skills, experience, location, salary of one pair: the library's rules, scalar by scalar."""
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
        if has_opt:  # numpy computes ``python float * float32 array`` in float32
            covered += np.float64(opt_weight32 * np.float32(n_opt))
        skills = covered / total
    skills = min(max(skills, 0.0), 1.0)
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
    exp = min(max(exp, 0.0), 1.0)
    loc = NEUTRAL
    if c_country[i] != UNKNOWN and j_country[j] != UNKNOWN:
        loc = 0.6 if c_country[i] == j_country[j] else 0.0
    if c_city[i] != UNKNOWN and c_city[i] == j_city[j]:
        loc = 1.0
    if c_remote[i] == 2 and j_remote[j] == 0:
        loc = loc * 0.5
    if j_remote[j] == 2:
        loc = 1.0
    desired = c_desired[i]
    offered = j_offered[j]
    if np.isnan(desired) or np.isnan(offered) or desired <= 0.0:
        sal = NEUTRAL
    elif offered >= desired:
        sal = 1.0
    else:
        sal = offered / desired
    sal = min(max(sal, 0.0), 1.0)
    return skills, exp, loc, sal


@njit(cache=True, nogil=True)
def structured(ri, ci, c_ptr, c_pos, c_years, c_city, c_country, c_remote, c_desired,
               j_ess, j_opt, has_opt, j_total, j_need, j_city, j_country, j_remote, j_offered,
               ess_weight, opt_weight32):  # fmt: skip
    """(P, 4) float64 skills, experience, location, salary of pairs (ri[p], ci[p]) — unrounded."""
    out = np.empty((len(ri), 4), dtype=np.float64)
    for p in range(len(ri)):
        out[p, 0], out[p, 1], out[p, 2], out[p, 3] = _pair_struct(
            ri[p], ci[p], c_ptr, c_pos, c_years, c_city, c_country, c_remote, c_desired,
            j_ess, j_opt, has_opt, j_total, j_need, j_city, j_country, j_remote, j_offered,
            ess_weight, opt_weight32)  # fmt: skip
    return out


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


@njit(cache=True, nogil=True, inline="always")
def _bound_row(u, i, j0, j1, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc):
    """u[:j1-j0] = candidate i's structured bound against jobs j0..j1 (float32 sums of table rows).

    Loops index slices from 0 (no negative-index wrap), so LLVM vectorises them.
    """
    w = j1 - j0
    src = loc_table[c_loc[i], j0:j1]
    for t in range(w):
        u[t] = src[t]
    for f in range(c_fixed.shape[1]):
        src = tables[c_fixed[i, f], j0:j1]
        for t in range(w):
            u[t] += src[t]
    for q in range(t_ptr[i], t_ptr[i + 1]):
        src = tables[t_rows[q], j0:j1]
        for t in range(w):
            u[t] += src[t]


@njit(cache=True, nogil=True, inline="always")
def _add_semantic(u, srow, w):
    """u += max(sem, 0) exactly ((x + |x|) / 2 == max(x, 0); NaN — a done pair — stays NaN)."""
    half = np.float32(0.5)
    for t in range(w):
        u[t] += (srow[t] + abs(srow[t])) * half


@njit(cache=True, nogil=True)
def bound_rows(rows, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc):
    """(len(rows), m) structured bounds (tests and diagnostics)."""
    m = tables.shape[1]
    out = np.empty((len(rows), m), dtype=np.float32)
    for r in range(len(rows)):
        _bound_row(out[r], rows[r], 0, m, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc)
    return out


@njit(cache=True, nogil=True)
def col_probes(sem, start, k, cols, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc):
    """(len(cols), k) block rows of the k largest bounds of each chosen job (-1 when fewer than k rows)."""
    b = sem.shape[0]
    m = tables.shape[1]
    nc = len(cols)
    u = np.empty(m, dtype=np.float32)
    out = np.full((nc, k), -1, dtype=np.int64)
    vals = np.empty((nc, k), dtype=np.float32)
    filled = np.zeros(nc, dtype=np.int64)
    floor = np.full(nc, -np.inf, dtype=np.float32)
    lo = np.zeros(nc, dtype=np.int64)
    for r in range(b):
        _bound_row(u, start + r, 0, m, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc)
        srow = sem[r]
        for q in range(nc):
            j = cols[q]
            v = max(srow[j], np.float32(0.0)) + u[j]
            if filled[q] < k:
                vals[q, filled[q]] = v
                out[q, filled[q]] = r
                filled[q] += 1
                if filled[q] < k:
                    continue
            elif v > floor[q]:
                vals[q, lo[q]] = v
                out[q, lo[q]] = r
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
def row_probes(sem, start, k, tile, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc):
    """(b, k) jobs of the k largest bounds of each block row (-1 when fewer), skipping NaN (done) pairs.

    Overwrites ``sem`` with the bounds. Jobs are visited ``tile`` at a time for all rows, so the tables'
    columns stay in cache.
    """
    b = sem.shape[0]
    m = tables.shape[1]
    u = np.empty(tile, dtype=np.float32)
    idx = np.full((b, k), -1, dtype=np.int64)
    vals = np.empty((b, k), dtype=np.float32)
    filled = np.zeros(b, dtype=np.int64)
    lo = np.zeros(b, dtype=np.int64)
    floor = np.full(b, -np.inf, dtype=np.float32)
    for j0 in range(0, m, tile):
        j1 = min(j0 + tile, m)
        w = j1 - j0
        for r in range(b):
            _bound_row(u, start + r, j0, j1, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc)
            dest = sem[r, j0:j1]
            _add_semantic(u, dest, w)
            for t in range(w):  # the block now holds bounds: the survivor pass reads them as they are
                dest[t] = u[t]
            fl = floor[r]
            for c0 in range(0, w, CHUNK):
                chunk = u[c0 : min(c0 + CHUNK, w)]
                if filled[r] >= k:
                    hit = False
                    for t in range(len(chunk)):  # vectorised: most chunks stop here
                        hit |= chunk[t] > fl
                    if not hit:
                        continue
                # the k-slot insert is written out (col_probes has the same shape): as an inlined
                # helper returning a tuple it cost 18 % of the kernel's throughput here (measured)
                for t in range(len(chunk)):
                    v = chunk[t]
                    if v != v:  # NaN: already scored
                        continue
                    f = filled[r]
                    if f < k:
                        vals[r, f] = v
                        idx[r, f] = j0 + c0 + t
                        filled[r] = f + 1
                        if f + 1 < k:
                            continue
                    elif v > fl:
                        vals[r, lo[r]] = v
                        idx[r, lo[r]] = j0 + c0 + t
                    else:
                        continue
                    best = 0
                    for q in range(1, k):
                        if vals[r, q] < vals[r, best]:
                            best = q
                    lo[r] = best
                    fl = vals[r, best]
            floor[r] = fl
    return idx


@njit(cache=True, nogil=True)
def emit_survivors(bound, row_thr, col_thr, out_r, out_c):
    """Block pairs whose bound is >= row_thr[r] or >= col_thr[j] (NaN = done: never). Writes up to
    len(out_r) and returns how many qualify (more = call again with room)."""
    b, m = bound.shape
    bar = np.empty(m, dtype=np.float32)
    cap = len(out_r)
    count = 0
    for r in range(b):
        row = bound[r]
        rt = row_thr[r]
        for t in range(m):  # a pair qualifies when its bound reaches the lower of the two bars
            bar[t] = min(rt, col_thr[t])
        for c0 in range(0, m, CHUNK):
            c1 = min(c0 + CHUNK, m)
            chunk = row[c0:c1]
            cbar = bar[c0:c1]
            hit = False
            for t in range(len(chunk)):  # vectorised: most chunks stop here
                hit |= chunk[t] >= cbar[t]
            if not hit:
                continue
            for t in range(len(chunk)):
                if chunk[t] >= cbar[t]:
                    if count < cap:
                        out_r[count] = r
                        out_c[count] = c0 + t
                    count += 1
    return count


@njit(cache=True, nogil=True)
def pair_bounds(ri, ci, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc):
    """float32 structured bound of pairs (ri[p], ci[p]), summed in ``_bound_row``'s order."""
    out = np.empty(len(ri), dtype=np.float32)
    for p in range(len(ri)):
        i = ri[p]
        j = ci[p]
        u = loc_table[c_loc[i], j]
        for f in range(c_fixed.shape[1]):
            u += tables[c_fixed[i, f], j]
        for q in range(t_ptr[i], t_ptr[i + 1]):
            u += tables[t_rows[q], j]
        out[p] = u
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

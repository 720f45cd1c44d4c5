"""numba kernels of matching.fast_topk: the per-pair work numpy cannot do without (b, m) temporaries.

A pair's *bound* is ``max(sem, 0) + bound_row[j]``: ``sem`` is the tile's semantic GEMM output in
bfloat16 (``matching.semantic_gemm``; the candidate vector pre-scaled by the semantic weight) and
``bound_row`` the candidate's structured upper bound against the tile's jobs, summed from a few rows of
per-job tables (its skills, its experience and salary buckets, its location class, the job-only
constant) into a buffer that stays in cache. Bounds are kept as int16 multiples of QUANTUM rounded up
(still upper bounds, half the bytes); pairs already scored are marked DONE, below every bar.

- ``tile_pass``: bounds of a tile, each row's k best and chosen jobs' k best rows;
- ``emit_survivors``: every pair whose bound reaches its row's or its job's threshold;
- ``structured`` / ``semantic``: the components of chosen pairs with the library's formulas
  (float64, scalar code that mirrors ``matching.scoring`` operation by operation; the cosine sums in
  another order);
- ``push_topk``: running k best values per group.

Compiled on first use and cached (NUMBA_CACHE_DIR when the code is read-only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEUTRAL = 0.5
UNKNOWN = -1
CHUNK = 16  # columns checked together: a chunk with nothing above the bar is skipped branch-free
QUANTUM = 2.0**-14  # stored bounds are int16 multiples of this, rounded up (bounds in [0, 2) are exact to it)
QMAX = 32767  # the largest stored bound: "2 or more", which reaches every bar
DONE = -1  # the stored bound of a pair already scored: below every bar


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


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def semantic(ri, ci, c_vec, j_vec):
    """Clipped cosine of pairs (ri[p], ci[p]): float64 dot of the float32 vectors. Products are exact in
    float64; the sum is reassociated into SIMD lanes (the library's BLAS sums in yet another order,
    ~1e-16 apart — far below the scores' 1e-6 rounding)."""
    d = c_vec.shape[1]
    out = np.empty(len(ri), dtype=np.float64)
    for p in range(len(ri)):
        x = c_vec[ri[p]]
        y = j_vec[ci[p]]
        acc = 0.0
        for t in range(d):
            acc += np.float64(x[t]) * np.float64(y[t])
        out[p] = min(max(acc, 0.0), 1.0)
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


@njit(cache=True, nogil=True)
def round_bf16(src, out):
    """out (uint16) = src (float32, 2-D) rounded to the nearest bfloat16, ties to even (finite values)."""
    for r in range(src.shape[0]):
        row = src[r]
        dest = out[r]
        for t in range(len(row)):
            x = np.float32(row[t]).view(np.uint32)
            dest[t] = np.uint16((x + np.uint32(0x7FFF) + ((x >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))


@njit(cache=True, nogil=True)
def tile_pass(sem, sem_up, j0, start, bounds, chunk_max, r_idx, r_vals, r_filled, r_lo, r_floor,
              need, c_idx, c_vals, c_filled, c_lo, c_floor,
              tables, t_ptr, t_rows, c_fixed, loc_table, c_loc):  # fmt: skip
    """One (block rows × jobs j0..j0+w) tile of the screen, from its bf16 semantic GEMM ``sem`` (uint16).

    For every pair: bound = max(sem, 0) * sem_up (undoing the GEMM result's rounding) + the candidate's
    structured bound (float32), then
    - each row's k best bounds so far (r_*: job indices, values, fill count, slot of the min, the min);
    - for jobs with ``need[j]``, their kc best rows so far (c_*, indexed by job);
    - the bound rounded *up* to a multiple of QUANTUM into ``bounds[:, j0:j0+w]`` (int16) and each
      CHUNK's largest into ``chunk_max``, for the survivor pass.
    Jobs are visited a tile at a time (j0 a multiple of CHUNK), so the tables' columns stay in cache.
    """
    b, w = sem.shape
    k = r_idx.shape[1]
    kc = c_idx.shape[1]
    j1 = j0 + w
    half_up = np.float32(0.5) * np.float32(sem_up)  # exact: a power of two times sem_up
    u = np.empty(w, dtype=np.float32)
    n_chunks = -(-w // CHUNK)
    scale = np.float32(1.0 / QUANTUM)
    qmax = np.float32(QMAX)
    any_need = False
    for t in range(w):
        any_need |= need[j0 + t]
    for r in range(b):
        _bound_row(u, start + r, j0, j1, tables, t_ptr, t_rows, c_fixed, loc_table, c_loc)
        srow = sem[r]
        dest = bounds[r, j0:j1]
        for t in range(w):  # + max(sem, 0) * sem_up ((x + |x|) / 2 is exact), then quantise up (exact scaling)
            x = np.uint32(np.uint32(srow[t]) << np.uint32(16)).view(np.float32)
            v = u[t] + (x + abs(x)) * half_up
            u[t] = v
            dest[t] = np.int16(min(np.ceil(v * scale), qmax))
        cmax = chunk_max[r, j0 // CHUNK :]
        fl = r_floor[r]
        for c in range(n_chunks):
            c0 = c * CHUNK
            c1 = min(c0 + CHUNK, w)
            mx = np.uint32(0)  # for floats >= 0 the bits order like the values: max of the bits
            for t in range(c0, c1):
                x = np.float32(u[t]).view(np.uint32)
                mx = x if x > mx else mx
            top = np.uint32(mx).view(np.float32)
            cmax[c] = np.int16(min(np.ceil(top * scale), qmax))
            if r_filled[r] >= k and not top > fl:  # most chunks stop here
                continue
            chunk = u[c0:c1]
            # the k-slot insert is written out (the column insert below has the same shape): as an
            # inlined helper returning a tuple it cost 18 % of the kernel's throughput here (measured)
            for t in range(len(chunk)):
                v = chunk[t]
                f = r_filled[r]
                if f < k:
                    r_vals[r, f] = v
                    r_idx[r, f] = j0 + c0 + t
                    r_filled[r] = f + 1
                    if f + 1 < k:
                        continue
                elif v > fl:
                    r_vals[r, r_lo[r]] = v
                    r_idx[r, r_lo[r]] = j0 + c0 + t
                else:
                    continue
                best = 0
                for q in range(1, k):
                    if r_vals[r, q] < r_vals[r, best]:
                        best = q
                r_lo[r] = best
                fl = r_vals[r, best]
        r_floor[r] = fl
        if not any_need:
            continue
        for t in range(w):
            j = j0 + t
            if not need[j]:
                continue
            v = u[t]
            f = c_filled[j]
            if f < kc:
                c_vals[j, f] = v
                c_idx[j, f] = start + r
                c_filled[j] = f + 1
                if f + 1 < kc:
                    continue
            elif v > c_floor[j]:
                c_vals[j, c_lo[j]] = v
                c_idx[j, c_lo[j]] = start + r
            else:
                continue
            best = 0
            for q in range(1, kc):
                if c_vals[j, q] < c_vals[j, best]:
                    best = q
            c_lo[j] = best
            c_floor[j] = c_vals[j, best]


@njit(cache=True, nogil=True)
def emit_survivors(bounds, chunk_max, row_bar, col_bar, chunk_bar, out_r, out_c):
    """Pairs whose stored bound (int16 quanta, DONE for scored pairs) reaches row_bar[r] or col_bar[j]
    (bars in quanta too, ``fast_topk.quantised_bar``). Only chunks whose largest bound reaches
    min(row bar, the chunk's lowest column bar ``chunk_bar``) are read. Writes up to len(out_r) and
    returns how many qualify (more = call again with room)."""
    b, m = bounds.shape
    cap = len(out_r)
    count = 0
    for r in range(b):
        row = bounds[r]
        rb = row_bar[r]
        cm = chunk_max[r]
        for c in range(len(chunk_bar)):
            if cm[c] < min(rb, chunk_bar[c]):
                continue
            for t in range(c * CHUNK, min((c + 1) * CHUNK, m)):
                v = row[t]
                if v >= rb or v >= col_bar[t]:
                    if count < cap:
                        out_r[count] = r
                        out_c[count] = t
                    count += 1
    return count


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

"""matching.semantic_gemm: both engines stay within the proven error of the screen's semantic term."""

from __future__ import annotations

import numpy as np
import pytest

from matching import semantic_gemm

pytestmark = pytest.mark.unit


def _unit(rng, shape, axis):
    x = rng.standard_normal(shape).astype(np.float32)
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


@pytest.mark.parametrize("name", semantic_gemm.ENGINES)
def test_engine_results_are_within_the_bound_once_scaled_up(name):
    """max(x, 0) * OUTPUT_UP + error_bound >= the exact dot: what the screen relies on, pair by pair."""
    rng = np.random.default_rng(4)
    weight = 0.75
    a = _unit(rng, (300, 384), axis=1) * np.float32(weight)  # candidate rows, pre-scaled like the screen's
    b = _unit(rng, (384, 200), axis=0)
    b[:, :5] = (a[:5] / weight).T  # cosines of 1 among the pairs
    engine = semantic_gemm.engine(name)
    out = np.empty((300, 200), dtype=np.uint16)
    engine.multiply(engine.candidates(a), engine.jobs(b, 200)[0], out)
    got = (out.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = semantic_gemm.error_bound(384, weight * 1.0001)
    upper = np.maximum(got, 0) * float(semantic_gemm.OUTPUT_UP) + bound
    assert (upper >= np.maximum(exact, 0)).all()
    assert np.abs(got - exact).max() > 0  # bf16 really is coarse: the bound is doing work
    assert (upper - np.maximum(exact, 0)).max() < 0.02  # and it stays a tight screen


def test_jobs_are_split_into_column_tiles_in_order():
    rng = np.random.default_rng(1)
    b = _unit(rng, (16, 10), axis=0)
    tiles = semantic_gemm.engine("float32").jobs(b, 4)
    assert [t.shape[1] for t in tiles] == [4, 4, 2]
    np.testing.assert_array_equal(np.hstack(tiles), b)


def test_auto_picks_a_known_engine_and_unknown_names_are_refused():
    assert semantic_gemm.engine("auto").name in semantic_gemm.ENGINES
    with pytest.raises(ValueError, match="unknown screen GEMM"):
        semantic_gemm.engine("float8")


def test_float32_engine_rounds_to_nearest_bf16():
    from matching._kernels import round_bf16

    # bf16 steps by 2^-7 at 1: 1 + 2^-8 and 1 + 3·2^-8 are ties (to the even neighbour), the rest round
    values = np.array([[1.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-9, 1 + 3 * 2**-9, -2.5, 0.0]], dtype=np.float32)
    out = np.empty(values.shape, dtype=np.uint16)
    round_bf16(values, out)
    back = (out.astype(np.uint32) << 16).view(np.float32)
    want = np.array([[1.0, 1.0, 1 + 2**-6, 1.0, 1 + 2**-7, -2.5, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(back, want)

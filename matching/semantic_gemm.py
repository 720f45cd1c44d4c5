"""The screen's semantic GEMM, rounded to bfloat16, with a proven bound on its error.

The exact top-K only needs an *upper bound* of every pair's score to discard most pairs, so the
semantic term of the screen can be coarse as long as its error is bounded. bfloat16 operands on a CPU
with AMX (Sapphire Rapids and later; torch → oneDNN) multiply ~8–10× faster than a float32 sgemm, and a
bfloat16 result halves the bytes every later pass reads. Pairs that may reach a top-K are re-scored from
the float32 vectors, so the result stays exact whatever the screen's precision.

Two engines, chosen once per process by ``engine("auto")`` (measured, not guessed from CPU flags):
- ``bfloat16``: torch bf16 GEMM (inputs rounded to nearest, float32 accumulation, output rounded to
  nearest), used when it is markedly faster here and a sample agrees with float32 within the bound;
- ``float32``: numpy sgemm, then rounded to nearest bf16 (any machine, torch not needed).
Both write a (b, w) uint16 array of bf16 bit patterns. The result's own rounding is relative, so the
screen scales positive results up by ``OUTPUT_UP`` (pair by pair: small scores get small slack);
``error_bound`` covers the rest — the operands' rounding and the float32 accumulation — for either.
"""

from __future__ import annotations

import functools
import logging
import time

import numpy as np

log = logging.getLogger(__name__)

U_BF16 = 2.0**-8  # unit roundoff of bfloat16 (8 significant bits)
U32 = float(np.finfo(np.float32).eps) / 2
ENGINES = ("bfloat16", "float32")


# a result y >= 0 rounds to x >= y (1 - u): y <= x / (1 - u) = x (1 + u + u² + ...); the 2^-14 term
# also covers the float32 rounding of the product that applies it
OUTPUT_UP = np.float32(1 + U_BF16 + 2.0**-14)


def error_bound(dim: int, max_abs_dot: float) -> float:
    """Bound on |result before its bf16 rounding - float32-operand dot| for vectors whose
    |x|·|y| <= ``max_abs_dot``: operand roundings (2u + u²) · Σ|x_i y_i| and the float32 accumulation
    gamma_d · Σ|x'_i y'_i|, with Σ|x_i y_i| <= |x| |y| (Cauchy–Schwarz). The result's own rounding is
    ``OUTPUT_UP``'s job."""
    gamma = dim * U32 / (1 - dim * U32)
    return (2 * U_BF16 + U_BF16**2 + gamma * (1 + U_BF16) ** 2 * 1.01) * max_abs_dot + 1e-12


class Float32Engine:
    """numpy sgemm of the float32 operands, rounded to nearest bfloat16."""

    name = "float32"

    def candidates(self, sem: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(sem, dtype=np.float32)

    def jobs(self, sem_t: np.ndarray, tile: int) -> list:
        return [np.ascontiguousarray(sem_t[:, j0 : j0 + tile]) for j0 in range(0, sem_t.shape[1], tile)]

    def multiply(self, cands, job_tile, out: np.ndarray) -> None:
        from matching._kernels import round_bf16

        product = cands @ job_tile
        round_bf16(product, out)


class Bfloat16Engine:
    """torch bf16 GEMM (oneDNN: AMX / AVX512-BF16) straight into a bf16 result."""

    name = "bfloat16"

    def __init__(self):
        import torch

        self.torch = torch

    def candidates(self, sem: np.ndarray):
        return self.torch.from_numpy(np.ascontiguousarray(sem, dtype=np.float32)).bfloat16()

    def jobs(self, sem_t: np.ndarray, tile: int) -> list:
        full = self.torch.from_numpy(np.ascontiguousarray(sem_t, dtype=np.float32)).bfloat16()
        return [full[:, j0 : j0 + tile].contiguous() for j0 in range(0, sem_t.shape[1], tile)]

    def multiply(self, cands, job_tile, out: np.ndarray) -> None:
        self.torch.matmul(cands, job_tile, out=self.torch.from_numpy(out).view(self.torch.bfloat16))


def _time(fn, repeat: int = 3) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def _calibrate() -> str:
    """'bfloat16' when torch's bf16 GEMM is >= 2x numpy's sgemm at the screen's shape and agrees with it
    within ``error_bound`` on a sample; else 'float32'."""
    try:
        bf16 = Bfloat16Engine()
    except ImportError:
        return "float32"
    rng = np.random.default_rng(0)
    dim, rows, cols = 384, 512, 256
    a = rng.standard_normal((rows, dim)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = rng.standard_normal((dim, cols)).astype(np.float32)
    b /= np.linalg.norm(b, axis=0, keepdims=True)
    b[:, 0] = a[0]  # a cosine of 1 among the sample
    out = np.empty((rows, cols), dtype=np.uint16)
    ca, jb = bf16.candidates(a), bf16.jobs(b, cols)[0]
    try:
        bf16.multiply(ca, jb, out)
    except RuntimeError as err:  # no bf16 kernel for this CPU in this torch build
        log.info("bf16 GEMM unavailable (%s): float32 screen", err)
        return "float32"
    got = (out.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    excess = np.abs(got - exact) - U_BF16 * np.abs(got) / (1 - U_BF16)  # what the output rounding can't explain
    if excess.max() > error_bound(dim, 1.0):
        log.warning("bf16 GEMM off by %.3g beyond its rounding (bound %.3g): float32 screen", excess.max(),
                    error_bound(dim, 1.0))  # fmt: skip
        return "float32"
    t_bf16 = _time(lambda: bf16.multiply(ca, jb, out))
    t_f32 = _time(lambda: a @ b)
    choice = "bfloat16" if t_f32 >= 2 * t_bf16 else "float32"
    log.info("screen GEMM: %s (bf16 %.0f, float32 %.0f M pairs/s)", choice,
             rows * cols / t_bf16 / 1e6, rows * cols / t_f32 / 1e6)  # fmt: skip
    return choice


@functools.cache
def _auto() -> str:
    return _calibrate()


@functools.cache
def engine(name: str = "auto"):
    """The GEMM engine: 'auto' (measured once per process), 'bfloat16' or 'float32'."""
    if name == "auto":
        name = _auto()
    if name not in ENGINES:
        raise ValueError(f"unknown screen GEMM {name!r}: choose from auto, {', '.join(ENGINES)}")
    return Bfloat16Engine() if name == "bfloat16" else Float32Engine()

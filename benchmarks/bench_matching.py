"""Benchmark the matching core: exact top-K kernel throughput and encoder speed.

    python benchmarks/bench_matching.py [--candidates 2000 --jobs 5000 --k 10] [--no-minilm] [--json out.json]

Prints a table and a JSON summary. Synthetic profiles (random unit vectors, random ESCO skills) for
the kernel; real livecareer resumes (if ../shared/data is present) for the encoders.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching.features import build_features  # noqa: E402
from matching.taxonomy import load_taxonomy  # noqa: E402
from matching.topk import topk_dot, topk_hybrid  # noqa: E402

csv.field_size_limit(sys.maxsize)


def synthetic(n: int, side: str, dim: int, rng) -> object:
    tax = load_taxonomy()
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    profiles = []
    for i in range(n):
        skills = [tax.skill_uri(int(s)) for s in rng.choice(2000, size=12, replace=False)]
        p = {f"{side}_id": i, "skills": skills, "years_experience": float(rng.integers(0, 12)),
             "location_country": ["US", "DE", "FR"][i % 3], "remote": ["onsite", "remote", "hybrid"][i % 3],
             "salary_min": 50000.0, "salary_max": 90000.0}
        if side == "job":
            p["essential_skills"], p["optional_skills"] = skills[:8], skills[8:]
        profiles.append(p)
    return build_features(profiles, vectors, side)


def bench_kernel(n_c: int, n_j: int, k: int, block: int) -> list[dict]:
    rng = np.random.default_rng(0)
    c, j = synthetic(n_c, "candidate", 384, rng), synthetic(n_j, "job", 384, rng)
    rows = []
    t = time.perf_counter()
    topk_dot(c.vectors, j.vectors, k, block_size=block)
    s = time.perf_counter() - t
    rows.append({"bench": "topk_dot (semantic only)", "pairs": n_c * n_j, "seconds": round(s, 3),
                 "pairs_per_s": round(n_c * n_j / s)})
    for name, a, b in (("topk_hybrid cand->job", c, j), ("topk_hybrid job->cand", j, c)):
        t = time.perf_counter()
        topk_hybrid(a, b, k, block_size=block)
        s = time.perf_counter() - t
        rows.append({"bench": name, "pairs": n_c * n_j, "seconds": round(s, 3),
                     "pairs_per_s": round(n_c * n_j / s),
                     "block_mem_mb": round(block * len(b) * 8 * 8 / 2**20, 1)})  # ~8 float64 arrays/block
    return rows


def bench_encoders(shared: Path, n: int, minilm: bool) -> list[dict]:
    from matching.embeddings import get_encoder

    path = shared / "livecareer" / "resumes_dev.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        texts = [r["Resume_str"] for r, _ in zip(csv.DictReader(fh), range(n), strict=False)]
    rows = []
    for name in ["hashing", "static"] + (["minilm"] if minilm else []):
        enc = get_encoder(name)
        enc.encode(texts[:2])  # warm-up
        t = time.perf_counter()
        enc.encode(texts)
        s = time.perf_counter() - t
        rows.append({"bench": f"encode resumes [{enc.model_version}]", "pairs": len(texts), "seconds": round(s, 3),
                     "pairs_per_s": round(len(texts) / s, 1)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--block-size", type=int, default=512)
    parser.add_argument("--resumes", type=int, default=64)
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--shared-data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = bench_kernel(args.candidates, args.jobs, args.k, args.block_size)
    rows += bench_encoders(Path(args.shared_data), args.resumes, not args.no_minilm)
    load = os.getloadavg()[0]
    print(f"{'bench':<48} {'items':>10} {'seconds':>9} {'per second':>12}")
    for r in rows:
        print(f"{r['bench']:<48} {r['pairs']:>10} {r['seconds']:>9} {r['pairs_per_s']:>12}")
    print(f"(load average at end: {load:.1f}; numbers are only comparable on a quiet machine)")
    summary = {"rows": rows, "load_avg_1m": load, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Synthetic gold data for benchmarks and tests: profiles, unit vectors and a consistent match run.

Not the product path (which builds gold from silver) — a seeded generator so the quality gate, the
publish stage and the benchmarks can be exercised at any size without the upstream stages.
The matches are a real exact top-K (numpy) over the generated vectors, so they satisfy every
invariant the gate checks; tests then break one invariant at a time.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from matching.scoring import COMPONENTS  # one list: every component of the score

SKILL_POOL_SIZE = 300  # real ESCO skills (the first N of the bundled taxonomy), so skill overlap is scored


def skill_pool() -> list[str]:
    from matching.taxonomy import load_taxonomy

    tax = load_taxonomy()
    return [tax.skill_uri(i) for i in range(SKILL_POOL_SIZE)]


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def profiles(
    n: int, side: str, tenants: list[str], rng: np.random.Generator, closed_share: float = 0.0
) -> pd.DataFrame:
    id_col = "candidate_id" if side == "candidate" else "job_id"
    prefix = "C" if side == "candidate" else "J"
    pool = skill_pool()
    skills = [list(rng.choice(pool, size=int(rng.integers(3, 12)), replace=False)) for _ in range(n)]
    frame = pd.DataFrame(
        {
            "tenant_id": [tenants[i % len(tenants)] for i in range(n)],
            id_col: [f"{prefix}{i:06d}" for i in range(n)],
            "content_hash": [f"h{prefix}{i}" for i in range(n)],
            "skills": skills,
            "skill_labels": [[s.rsplit("/", 1)[1] for s in row] for row in skills],
            "occupation_code": "2511.1",
            "occupation_label": "ICT business analyst",
            "occupation_score": rng.uniform(0.2, 1.0, n),
            "years_experience": rng.uniform(0, 20, n).round(1),
            "seniority": "mid",
            "education_level": "bachelor",
            "location_city": rng.choice(["Leeds", "York", "Hull", "Paris"], n),
            "location_country": "GB",
            "remote": rng.choice(["onsite", "hybrid", "remote"], n),
            "salary_min": 30000.0,
            "salary_max": 60000.0,
            "profile_version": "synthetic-1",
        }
    )
    if side == "job":
        frame["essential_skills"] = [row[:3] for row in skills]
        frame["optional_skills"] = [row[3:] for row in skills]
        frame["job_status"] = np.where(rng.uniform(size=n) < closed_share, "closed", "open")
    return frame


def exact_matches(
    cands: pd.DataFrame, cvec: np.ndarray, jobs: pd.DataFrame, jvec: np.ndarray, k: int, rng
) -> pd.DataFrame:
    """Exact top-K both directions per tenant over open jobs; score = (cosine + 1) / 2."""
    frames = []
    open_jobs = (jobs["job_status"] == "open").to_numpy()
    for tenant in sorted(set(cands["tenant_id"])):
        ci = np.flatnonzero((cands["tenant_id"] == tenant).to_numpy())
        ji = np.flatnonzero(((jobs["tenant_id"] == tenant).to_numpy()) & open_jobs)
        if len(ci) == 0 or len(ji) == 0:
            continue
        scores = (cvec[ci] @ jvec[ji].T + 1.0) / 2.0
        for direction, mat, own, other in (
            ("candidate_to_job", scores, ci, ji),
            ("job_to_candidate", scores.T, ji, ci),
        ):
            kk = min(k, mat.shape[1])
            top = np.argsort(-mat, axis=1, kind="stable")[:, :kk]
            rows = np.repeat(np.arange(mat.shape[0]), kk)
            cols = top.reshape(-1)
            s = mat[rows, cols]
            own_ids, other_ids = own[rows], other[cols]
            cand_idx, job_idx = (
                (own_ids, other_ids) if direction == "candidate_to_job" else (other_ids, own_ids)
            )
            frame = pd.DataFrame(
                {
                    "tenant_id": tenant,
                    "direction": direction,
                    "candidate_id": cands["candidate_id"].to_numpy()[cand_idx],
                    "job_id": jobs["job_id"].to_numpy()[job_idx],
                    "rank": np.tile(np.arange(1, kk + 1), mat.shape[0]).astype("int32"),
                    "score": s.astype(float).round(6),
                }
            )
            frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["semantic"] = out["score"]
    for name in COMPONENTS[1:]:
        out[name] = rng.uniform(0, 1, len(out)).round(4)
    out["matched_skills"] = [["python", "sql"]] * len(out)
    out["missing_essential"] = [["spark"]] * len(out)
    out["missing_optional"] = [[]] * len(out)
    return out


def write_run(
    spark,
    run_date: str,
    n_candidates: int = 40,
    n_jobs: int = 15,
    tenants: tuple[str, ...] = ("acme", "globex"),
    k: int = 5,
    dim: int = 16,
    seed: int = 7,
    weights_version: str = "w1",
    model_version: str = "synthetic-model",
    closed_share: float = 0.2,
) -> dict:
    """Write profiles, embeddings, matches and a `pending` ledger row for ``run_date``; returns them."""
    from spark_jobs import _runs
    from spark_jobs._lake import table_uri, write_partitions

    rng = np.random.default_rng(seed)
    cands = profiles(n_candidates, "candidate", list(tenants), rng)
    jobs = profiles(n_jobs, "job", list(tenants), rng, closed_share=closed_share)
    cvec, jvec = unit_vectors(n_candidates, dim, rng), unit_vectors(n_jobs, dim, rng)
    matches = exact_matches(cands, cvec, jobs, jvec, k, rng)
    run_id = _runs.make_run_id(run_date, weights_version)
    for side, frame in (("candidate", cands), ("job", jobs)):
        df = spark.createDataFrame(frame.assign(run_date=run_date))
        write_partitions(df, table_uri("gold", f"{side}_profiles"), ["run_date"])
    now = dt.datetime(2026, 1, 1)
    emb = pd.concat(
        [
            pd.DataFrame({"tenant_id": f["tenant_id"], "entity_id": f[idc], "content_hash": f["content_hash"],
                          "model_version": model_version, "vector": list(v), "embedded_at": now, "entity_type": side})
            for side, f, idc, v in (("candidate", cands, "candidate_id", cvec), ("job", jobs, "job_id", jvec))
        ],
        ignore_index=True,
    )  # fmt: skip
    from spark_jobs.embed import EMBEDDINGS_DDL

    emb["vector"] = emb["vector"].map(lambda v: [float(x) for x in v])
    spark.createDataFrame(emb, EMBEDDINGS_DDL).write.mode("append").partitionBy("entity_type").parquet(
        table_uri("gold", "embeddings")
    )
    gold = matches.assign(
        weights_version=weights_version, model_version=model_version, run_date=run_date, run_id=run_id
    )
    from spark_jobs.match import GOLD_MATCHES_DDL

    columns = [c.split()[0] for c in GOLD_MATCHES_DDL.split(", ")]
    write_partitions(
        spark.createDataFrame(gold[columns], GOLD_MATCHES_DDL), table_uri("gold", "matches"), ["run_id"]
    )
    _runs.write_run(
        spark,
        {
            "run_id": run_id, "run_date": run_date, "weights_version": weights_version, "model_version": model_version,
            "candidates": n_candidates, "jobs": n_jobs, "k": k, "pairs_scored": 0, "matches_written": len(matches),
            "status": "pending",
        },
    )  # fmt: skip
    return {"run_id": run_id, "candidates": cands, "jobs": jobs, "matches": matches, "k": k}

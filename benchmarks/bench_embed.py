"""Benchmark: embedding throughput (docs/s) per encoder, in-process and through the Spark UDF path.

Texts: real resumes from ../shared/data (livecareer / updated_resume_dataset) when present, else the
bundled-free synthetic fallback (repeated skill sentences) so the target still runs on a bare clone.
For each encoder (hashing, static, minilm): model load seconds, in-process docs/s (one process, BLAS/
torch threads as configured) and — with --spark — docs/s through spark_jobs.embed.embed_texts on
local[*] (one model per Python worker). Prints a table and writes JSON (--out).

--windows 256,128 compares MiniLM token windows on the same texts instead: --rounds rounds, each
encoding the texts once per window in turn (interleaved, so a shared machine's load hits every window
alike), --threads torch threads per encoder (1 = one Spark worker's setting); docs/s per round, the
median, and the mean input tokens actually read per window.

Usage: python benchmarks/bench_embed.py --docs 200 [--encoders hashing,static,minilm] [--spark]
       python benchmarks/bench_embed.py --docs 100 --windows 256,128 --rounds 3 [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("bench_embed")
SHARED = Path(os.environ.get("SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_texts(n: int, sources: tuple[str, ...] = ("updated_resume_dataset", "livecareer")) -> tuple[list[str], str]:
    csv.field_size_limit(sys.maxsize)
    for path in [p for source in sources for p in sorted(SHARED.glob(f"{source}/*.csv"))]:
        texts = []
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                text = max((v for v in row.values() if isinstance(v, str)), key=len, default="")
                if len(text) > 200:
                    texts.append(text)
                if len(texts) >= n:
                    return texts, str(path.relative_to(SHARED))
    base = (
        "Experienced data engineer skilled in Python, SQL, Apache Spark, cloud computing and data modelling. "
    )
    return [f"{base * 6} Candidate {i}." for i in range(n)], "synthetic"


def bench_in_process(name: str, texts: list[str]) -> dict:
    from matching.embeddings import get_encoder

    start = time.perf_counter()
    try:
        encoder = get_encoder(name)
    except Exception as exc:  # noqa: BLE001 - report an encoder that cannot load, do not crash the table
        return {"encoder": name, "error": f"{type(exc).__name__}: {exc}"}
    load = time.perf_counter() - start
    encoder.encode(texts[:4])  # warm-up
    start = time.perf_counter()
    vectors = encoder.encode(texts)
    seconds = time.perf_counter() - start
    return {
        "encoder": name,
        "model_version": encoder.model_version,
        "dim": int(vectors.shape[1]),
        "load_seconds": round(load, 2),
        "docs": len(texts),
        "docs_per_s": round(len(texts) / seconds, 1),
    }


def bench_spark(name: str, texts: list[str]) -> float:
    from matching.embeddings import get_encoder
    from spark_jobs.embed import embed_texts
    from spark_jobs.session import get_spark

    spark = get_spark("bench_embed")
    rows = [("bench", f"D{i}", f"h{i}", t, "candidate") for i, t in enumerate(texts)]
    df = spark.createDataFrame(
        rows, "tenant_id string, entity_id string, content_hash string, text string, entity_type string"
    )
    df.cache().count()
    version = get_encoder(name).model_version
    start = time.perf_counter()
    embed_texts(df, name, version, None, partitions=spark.sparkContext.defaultParallelism).write.format(
        "noop"
    ).mode("overwrite").save()
    return len(texts) / (time.perf_counter() - start)


def bench_windows(texts: list[str], windows: list[int], rounds: int, threads: int) -> list[dict]:
    """docs/s of MiniLM per token window, the windows interleaved round by round."""
    import statistics

    from matching.embeddings import MiniLMEncoder

    encoders = {w: MiniLMEncoder(max_seq_length=w, threads=threads) for w in windows}
    rates: dict[int, list[float]] = {w: [] for w in windows}
    cpu_rates: dict[int, list[float]] = {w: [] for w in windows}  # docs per CPU second: less load-bound
    for enc in encoders.values():
        enc.encode(texts[:4])  # warm-up
    for _ in range(rounds):
        for w, enc in encoders.items():
            start, cpu = time.perf_counter(), time.process_time()
            enc.encode(texts)
            rates[w].append(round(len(texts) / (time.perf_counter() - start), 2))
            cpu_rates[w].append(round(len(texts) / (time.process_time() - cpu), 2))
    rows = []
    for w, enc in encoders.items():
        tokens = [len(enc.model.preprocess([t])["input_ids"][0]) for t in texts]
        rows.append({"model_version": enc.model_version, "window": w, "threads": threads, "docs": len(texts),
                     "mean_input_tokens": round(sum(tokens) / len(tokens), 1),
                     "docs_per_s_rounds": rates[w], "docs_per_s_median": statistics.median(rates[w]),
                     "docs_per_cpu_s_rounds": cpu_rates[w],
                     "docs_per_cpu_s_median": statistics.median(cpu_rates[w])})
    return rows


def main_windows(args, texts: list[str], source: str) -> int:
    windows = [int(w) for w in args.windows.split(",")]
    load_before = os.getloadavg()
    rows = bench_windows(texts, windows, args.rounds, args.threads)
    load_after = os.getloadavg()
    base, cpu_base = rows[0]["docs_per_s_median"], rows[0]["docs_per_cpu_s_median"]
    print(f"\nMiniLM by token window: {len(texts)} documents from {source}, {args.rounds} interleaved rounds, "
          f"{args.threads} torch thread(s); load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"{'model_version':<24} {'tokens read':>11} {'median docs/s':>14} {'vs first':>9} "
          f"{'docs/CPU s':>11} {'vs first':>9}  rounds (docs/s)")
    for r in rows:
        print(f"{r['model_version']:<24} {r['mean_input_tokens']:>11} {r['docs_per_s_median']:>14} "
              f"{r['docs_per_s_median'] / base:>8.2f}x {r['docs_per_cpu_s_median']:>11} "
              f"{r['docs_per_cpu_s_median'] / cpu_base:>8.2f}x  {r['docs_per_s_rounds']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"source": source, "docs": len(texts), "cores": os.cpu_count(),
                               "load_average_before": load_before, "load_average_after": load_after,
                               "windows": rows}, indent=2))
    print(f"JSON: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--encoders", default="hashing,static,minilm")
    parser.add_argument(
        "--spark", action="store_true", help="also measure the Spark UDF path (incl. worker model load)"
    )
    parser.add_argument("--out", default=".local/bench/embed.json")
    parser.add_argument("--windows", help="compare MiniLM token windows, e.g. 256,128 (first = baseline)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per window (--windows)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per encoder (--windows)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.windows:  # livecareer first: the long resumes (~420 tokens) the window question is about
        texts, source = load_texts(args.docs, ("livecareer", "updated_resume_dataset"))
        return main_windows(args, texts, source)
    from tqdm import tqdm

    texts, source = load_texts(args.docs)
    results = []
    for name in tqdm(args.encoders.split(","), desc="encoders"):
        row = bench_in_process(name, texts)
        if args.spark and "error" not in row:
            row["spark_docs_per_s"] = round(bench_spark(name, texts), 1)
        results.append(row)
    print(f"\nEmbedding throughput: {len(texts)} documents from {source}, {os.cpu_count()} cores")
    print(f"{'encoder':<10} {'model_version':<28} {'load s':>7} {'docs/s':>10} {'spark docs/s':>13}")
    for r in results:
        if "error" in r:
            print(f"{r['encoder']:<10} error: {r['error']}")
            continue
        print(
            f"{r['encoder']:<10} {r['model_version']:<28} {r['load_seconds']:>7} {r['docs_per_s']:>10} {r.get('spark_docs_per_s', '-'):>13}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"source": source, "docs": len(texts), "cores": os.cpu_count(), "encoders": results}, indent=2
        )
    )
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

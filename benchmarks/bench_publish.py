"""Benchmark: DynamoDB publish throughput (items/s) of the BatchWriter against the configured endpoint.

Writes synthetic match items (the real item shape: keys, components, explanations) into a scratch
table with the serving table's key schema (`<table>-bench`, created and deleted here, so the serving
table is never polluted), at several concurrency levels. Locally that is dynalite on 127.0.0.1 — a
functional stand-in whose speed says little about DynamoDB's (which scales with provisioned or
on-demand capacity); the retry counters show how often UnprocessedItems came back.

Usage: python benchmarks/bench_publish.py --items 20000 [--concurrency 1,4,8] --out .local/bench/publish.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("bench_publish")


def scratch_table(ddb, name: str) -> None:
    from common.local_services.resources import serving_table_schema

    try:
        ddb.delete_table(TableName=name)
        ddb.get_waiter("table_not_exists").wait(TableName=name)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    ddb.create_table(TableName=name, **serving_table_schema())
    ddb.get_waiter("table_exists").wait(TableName=name)


def items(n: int, run_id: str):
    from spark_jobs._dynamo import match_item

    for i in range(n):
        yield match_item(
            {
                "tenant_id": "bench", "candidate_id": f"C{i // 20:06d}", "job_id": f"J{i % 997:05d}",
                "score": (i % 1000) / 1000, "semantic": 0.7, "skills": 0.5, "experience": 1.0, "location": 0.6,
                "salary": 0.5, "matched_skills": ["Python (computer programming)", "SQL"],
                "missing_essential": ["Apache Spark"], "missing_optional": [], "weights_version": "w1",
                "model_version": "bench", "candidate_rank": i % 20 + 1, "job_rank": (i % 20 + 1) if i % 3 == 0 else None,
            },
            run_id,
            expires_at=2_000_000_000,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--out", default=".local/bench/publish.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from tqdm import tqdm

    from common.aws import client
    from common.config import get_settings
    from spark_jobs._dynamo import BatchWriter

    settings = get_settings()
    ddb = client("dynamodb")
    table = f"{settings.dynamodb_table}-bench"
    results = []
    try:
        for level in tqdm([int(c) for c in args.concurrency.split(",")], desc="concurrency levels"):
            scratch_table(ddb, table)
            start = time.perf_counter()
            stats = BatchWriter(ddb, table, concurrency=level).write_all(items(args.items, f"bench-c{level}"))
            seconds = time.perf_counter() - start
            count = ddb.scan(TableName=table, Select="COUNT")["Count"] if args.items <= 50000 else None
            results.append({"concurrency": level, "items": stats.items, "seconds": round(seconds, 2),
                            "items_per_s": round(stats.items / seconds, 1), "batch_calls": stats.batches,
                            "unprocessed_retries": stats.retries, "items_in_table": count})  # fmt: skip
    finally:
        try:
            ddb.delete_table(TableName=table)
        except Exception:  # noqa: BLE001 - best effort clean-up of the scratch table
            log.warning("could not delete scratch table %s", table)
    endpoint = settings.endpoints.get("dynamodb") or "aws"
    print(f"\nDynamoDB publish throughput ({endpoint}), {args.items} items, 25 per BatchWriteItem")
    print(f"{'concurrency':>11} {'seconds':>8} {'items/s':>10} {'calls':>7} {'retries':>8} {'in table':>9}")
    for r in results:
        print(
            f"{r['concurrency']:>11} {r['seconds']:>8} {r['items_per_s']:>10} {r['batch_calls']:>7} {r['unprocessed_retries']:>8} {str(r['items_in_table']):>9}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"endpoint": endpoint, "items": args.items, "results": results}, indent=2))
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

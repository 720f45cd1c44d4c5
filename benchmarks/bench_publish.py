"""Benchmark: DynamoDB publish — a full publish (lists/s, entries/s) and a steady-day republish (what is written).

Runs the publish core itself (`spark_jobs._publish_lists.write_changed_lists`, what each Spark
partition of `spark_jobs.publish` runs) on synthetic ranked lists of the real shape (K entries per
candidate and per job, components and explanations), in `--writers` parallel processes (as Spark's
Python workers would), into a scratch table with the serving table's key schema (`<table>-bench`,
created and deleted here: the serving table is never touched).

1. full publish: every list is new → one conditional put per list (its CURRENT item holds the whole
   list): lists/s and ranked entries/s, at each `--concurrency` (puts in flight per writer);
2. steady day: `--changed` (default 5 %) of the entities get a different list, and the same lists
   are published again under the next publish sequence → what is written vs kept, and how long it took.

Locally that is dynalite on 127.0.0.1 — a functional stand-in (single-threaded node) whose speed says
little about DynamoDB's (which scales with partitions and capacity). Usage:
  python benchmarks/bench_publish.py --items 20000 [--k 20] [--writers 2] [--concurrency 4,8,16] --out .local/bench/publish.json
(`--items`: ranked entries of a full publish, i.e. `--items / --k` lists.)
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("bench_publish")
RUN_DATE = "2026-11-22"


def count_items(ddb, table: str) -> int:
    """Every item of the table: a Scan page stops at 1 MB read, COUNT or not, so follow the pages."""
    pages = ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def scratch_table(ddb, name: str) -> None:
    from common.local_services.resources import serving_table_schema

    try:
        ddb.delete_table(TableName=name)
        ddb.get_waiter("table_not_exists").wait(TableName=name)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    ddb.create_table(TableName=name, **serving_table_schema())
    ddb.get_waiter("table_exists").wait(TableName=name)


def synthetic_lists(n_items: int, k: int, changed: frozenset = frozenset(), seed: int = 7):
    """(n_items // k) entities, 2/3 candidates and 1/3 jobs, K entries each; `changed` entities differ."""
    from spark_jobs._dynamo import EntityList

    n_entities = max(1, n_items // k)
    n_candidates = max(1, 2 * n_entities // 3)
    lists = []
    for i in range(n_entities):
        kind, entity, other = ("CAND", f"C{i:07d}", "J") if i < n_candidates else ("JOB", f"J{i:07d}", "C")
        rng = random.Random(seed * 1_000_003 + i + (1 if i in changed else 0) * 7_919)
        scores = sorted((round(rng.random(), 6) for _ in range(k)), reverse=True)
        entries = [
            {"rank": r + 1, "other_id": f"{other}{rng.randrange(10**6):07d}", "score": s, "semantic": 0.7,
             "skills": 0.5, "experience": 1.0, "location": 0.6, "salary": 0.5,
             "matched_skills": ["Python (computer programming)", "SQL"], "missing_essential": ["Apache Spark"],
             "missing_optional": []}
            for r, s in enumerate(scores)
        ]  # fmt: skip
        lists.append(EntityList("bench", kind, entity, entries, "w1", "bench"))
    return lists


def _publish_share(args):
    """One writer process: publish its share of the lists; return its stats and seconds."""
    client_kwargs, plan, n_items, k, changed, writer, writers = args
    from spark_jobs._dynamo import dynamodb_client
    from spark_jobs._publish_lists import write_changed_lists

    share = synthetic_lists(n_items, k, changed)[writer::writers]
    started = time.perf_counter()
    stats = write_changed_lists(dynamodb_client(client_kwargs), plan, share)
    return stats.as_dict(), time.perf_counter() - started


def publish_once(pool, client_kwargs, plan, n_items, k, writers, changed=frozenset()):
    """Move the tenant's run pointer, then every writer publishes its share at once (as
    spark_jobs.publish's partitions do)."""
    from spark_jobs._dynamo import advance_tenant_run, dynamodb_client
    from spark_jobs._publish_lists import ListStats

    if not advance_tenant_run(dynamodb_client(client_kwargs), plan.table, "bench", run_id=plan.run_id,
                              run_order=plan.run_order, published_at="bench"):  # fmt: skip
        raise RuntimeError(f"the bench tenant is already at a run order ≥ {plan.run_order}")
    started = time.perf_counter()
    shares = list(pool.map(_publish_share, [(client_kwargs, plan, n_items, k, changed, w, writers)
                                            for w in range(writers)]))  # fmt: skip
    seconds = time.perf_counter() - started
    stats = ListStats()
    for part, _ in shares:
        stats.add(part)
    return {
        **stats.as_dict(),
        "seconds": round(seconds, 2),
        "lists_per_s": round(stats.lists_written / seconds, 1) if seconds else None,
        "entries_per_s": round(stats.entries_written / seconds, 1) if seconds else None,
    }


def _plan(table, sequence, concurrency):
    from spark_jobs._dynamo import make_generation, make_run_order
    from spark_jobs._publish_lists import PublishPlan
    from spark_jobs.publish import REFRESH_DAYS, expires_at_for

    run_id = f"{RUN_DATE}Tbench"
    return PublishPlan(table=table, run_id=run_id, generation=make_generation(run_id, sequence),
                       run_order=make_run_order(RUN_DATE, sequence), expires_at=expires_at_for(RUN_DATE, 30),
                       refresh_before=expires_at_for(RUN_DATE, REFRESH_DAYS), published_at="bench",
                       concurrency=concurrency)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20000, help="ranked entries of a full publish (/ K = lists)")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--writers", type=int, default=2, help="parallel writer processes (Spark task slots)")
    parser.add_argument("--concurrency", default="4,8,16", help="conditional puts in flight per writer")
    parser.add_argument("--changed", type=float, default=0.05, help="share of entities changed on the steady day")
    parser.add_argument("--out", default=".local/bench/publish.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from common.aws import client
    from common.config import get_settings

    settings = get_settings()
    ddb = client("dynamodb")
    table = f"{settings.dynamodb_table}-bench"
    client_kwargs = settings.boto3_kwargs("dynamodb")
    n_entities = max(1, args.items // args.k)
    changed = frozenset(random.Random(11).sample(range(n_entities), max(1, round(n_entities * args.changed))))
    full, steady = [], None
    try:
        with ProcessPoolExecutor(max_workers=args.writers) as pool:
            for level in [int(c) for c in args.concurrency.split(",")]:
                scratch_table(ddb, table)
                result = publish_once(pool, client_kwargs, _plan(table, 1, level), args.items, args.k, args.writers)
                result["items_in_table"] = count_items(ddb, table) if args.items <= 50000 else None
                full.append({"concurrency": level, **result})
            # Steady day on the last table: the same lists but `changed` entities, next publish sequence.
            steady = publish_once(pool, client_kwargs, _plan(table, 2, level), args.items, args.k, args.writers,
                                  changed=changed)  # fmt: skip
            steady["concurrency"] = level
    finally:
        try:
            ddb.delete_table(TableName=table)
        except Exception:  # noqa: BLE001 - best effort clean-up of the scratch table
            log.warning("could not delete scratch table %s", table)

    endpoint = settings.endpoints.get("dynamodb") or "aws"
    print(f"\nDynamoDB publish ({endpoint}): {args.items} ranked entries = {n_entities} lists x K={args.k}, "
          f"{args.writers} writer processes, one conditional put per list")  # fmt: skip
    print(f"{'run':>12} {'conc':>5} {'lists wr/kept':>14} {'entries':>8} {'lists/s':>8} {'entries/s':>10} "
          f"{'seconds':>8} {'diff reads':>10}")  # fmt: skip
    for name, r in [*(("full", r) for r in full), ("steady day", steady)]:
        print(f"{name:>12} {r['concurrency']:>5} {str(r['lists_written']) + '/' + str(r['lists_kept']):>14} "
              f"{r['entries_written']:>8} {r['lists_per_s']!s:>8} {r['entries_per_s']!s:>10} {r['seconds']:>8} "
              f"{r['diff_reads']:>10}")  # fmt: skip
    best = max(full, key=lambda r: r["lists_per_s"] or 0)
    summary = {
        "endpoint": endpoint, "entries": args.items, "k": args.k, "writers": args.writers, "lists": n_entities,
        "full_publish_lists_per_s": best["lists_per_s"], "full_publish_entries_per_s": best["entries_per_s"],
        "full_publish_seconds": best["seconds"], "best_concurrency": best["concurrency"],
        "steady_day_changed_share": args.changed, "steady_day_lists_written": steady["lists_written"],
        "steady_day_lists_kept": steady["lists_kept"], "steady_day_entries_written": steady["entries_written"],
        "steady_day_seconds": steady["seconds"], "full": full, "steady_day": steady,
    }  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"steady day: {steady['lists_written']} of {best['lists_written']} lists written "
          f"({steady['entries_written']} entries; {steady['lists_kept']} lists kept)\nJSON: {out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""DynamoDB serving-table keys and a resilient BatchWriteItem writer (no Spark here).

Keys follow docs/contracts.md: candidate → jobs on the table (PK/SK), job → candidates on `gsi1`.
The score in the sort key is inverted and zero-padded, so an ascending Query returns the best first.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

log = logging.getLogger(__name__)

BATCH_LIMIT = 25  # BatchWriteItem maximum
SCORE_SCALE = 10**6
COMPONENTS = ("semantic", "skills", "experience", "location", "salary")


class PublishError(RuntimeError):
    """Items stayed unprocessed after every retry, or DynamoDB refused the batch."""


def inverted_score(score: float | None) -> str:
    """`(10**6 - round(score * 10**6))` zero-padded to 7 digits; a null score sorts last."""
    value = 0.0 if score is None else min(max(float(score), 0.0), 1.0)
    return f"{SCORE_SCALE - round(value * SCORE_SCALE):07d}"


def entity_pk(tenant_id: str, kind: str, entity_id: str) -> str:
    return f"T#{tenant_id}#{kind}#{entity_id}"


def candidate_pk(tenant_id: str, candidate_id: str) -> str:
    return entity_pk(tenant_id, "CAND", candidate_id)


def job_pk(tenant_id: str, job_id: str) -> str:
    return entity_pk(tenant_id, "JOB", job_id)


def run_prefix(run_id: str) -> str:
    return f"RUN#{run_id}#"


def candidate_sk(run_id: str, score: float | None, job_id: str) -> str:
    return f"{run_prefix(run_id)}S#{inverted_score(score)}#JOB#{job_id}"


def job_gsi_sk(run_id: str, score: float | None, candidate_id: str) -> str:
    return f"{run_prefix(run_id)}S#{inverted_score(score)}#CAND#{candidate_id}"


def _number(value) -> dict:
    return {"N": str(Decimal(str(round(float(value), 6))))}


def _strings(values) -> dict:
    return {"L": [{"S": str(v)} for v in (values if values is not None else [])]}


def match_item(pair: dict, run_id: str, expires_at: int) -> dict:
    """One serving item per (tenant, candidate, job) pair in either direction's top-K.

    The item lives in the candidate's partition; the GSI keys are set only when the pair is in the
    job's top-K (a sparse index), so a job Query with Limit=K returns exactly that job's top-K. A pair
    that is only in the job's top-K scores no higher than the candidate's K-th job, so the candidate's
    Query with Limit=K still returns exactly the candidate's top-K.
    """
    tenant, cand, job = pair["tenant_id"], pair["candidate_id"], pair["job_id"]
    score = pair.get("score")
    item = {
        "PK": {"S": candidate_pk(tenant, cand)},
        "SK": {"S": candidate_sk(run_id, score, job)},
        "tenant_id": {"S": tenant},
        "candidate_id": {"S": cand},
        "job_id": {"S": job},
        "run_id": {"S": run_id},
        "expires_at": {"N": str(int(expires_at))},
        "matched_skills": _strings(pair.get("matched_skills")),
        "missing_essential": _strings(pair.get("missing_essential")),
        "missing_optional": _strings(pair.get("missing_optional")),
    }
    if score is not None:
        item["score"] = _number(score)
    for name in COMPONENTS:
        if pair.get(name) is not None:
            item[name] = _number(pair[name])
    for attr in ("weights_version", "model_version"):
        if pair.get(attr):
            item[attr] = {"S": str(pair[attr])}
    if pair.get("candidate_rank") is not None:
        item["rank"] = {"N": str(int(pair["candidate_rank"]))}
        item["candidate_rank"] = {"N": str(int(pair["candidate_rank"]))}
    if pair.get("job_rank") is not None:
        item["job_rank"] = {"N": str(int(pair["job_rank"]))}
        item["GSI1PK"] = {"S": job_pk(tenant, job)}
        item["GSI1SK"] = {"S": job_gsi_sk(run_id, score, cand)}
    return item


def pointer_item(tenant_id: str, kind: str, entity_id: str, run_id: str, published_at: str) -> dict:
    """The CURRENT run pointer of one candidate (kind CAND) or job (kind JOB); no TTL, it is overwritten."""
    return {
        "PK": {"S": entity_pk(tenant_id, kind, entity_id)},
        "SK": {"S": "CURRENT"},
        "run_id": {"S": run_id},
        "published_at": {"S": published_at},
    }


@dataclass
class WriteStats:
    items: int = 0
    batches: int = 0
    retries: int = 0  # BatchWriteItem calls that only re-sent UnprocessedItems
    throttled_items: int = 0  # items DynamoDB handed back at least once

    def add(self, other: WriteStats) -> None:
        self.items += other.items
        self.batches += other.batches
        self.retries += other.retries
        self.throttled_items += other.throttled_items

    def as_dict(self) -> dict:
        return {
            "items": self.items,
            "batches": self.batches,
            "retries": self.retries,
            "throttled_items": self.throttled_items,
        }


@dataclass
class BatchWriter:
    """BatchWriteItem with UnprocessedItems retry (exponential backoff, full jitter), bounded concurrency."""

    client: object
    table: str
    concurrency: int = 4
    max_attempts: int = 8
    base_delay: float = 0.05
    max_delay: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def write_batch(self, items: Sequence[dict]) -> WriteStats:
        """Write ≤ 25 items; re-send whatever DynamoDB returns unprocessed until none is left."""
        if len(items) > BATCH_LIMIT:
            raise ValueError(f"a batch holds at most {BATCH_LIMIT} items, got {len(items)}")
        stats = WriteStats(items=len(items))
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(self.max_attempts):
            if not pending:
                return stats
            if attempt:
                stats.retries += 1
                cap = min(self.max_delay, self.base_delay * 2**attempt)
                self.sleep(random.uniform(0, cap))
            response = self.client.batch_write_item(RequestItems={self.table: pending})
            stats.batches += 1
            pending = response.get("UnprocessedItems", {}).get(self.table, [])
            stats.throttled_items += len(pending)
        if pending:
            raise PublishError(
                f"{len(pending)} item(s) still unprocessed after {self.max_attempts} attempts on {self.table}"
            )
        return stats

    def write_all(self, items: Iterable[dict]) -> WriteStats:
        """Write every item, `concurrency` batches in flight at most."""
        total = WriteStats()
        batches = _chunks(items, BATCH_LIMIT)
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            in_flight = []
            for batch in batches:
                in_flight.append(pool.submit(self.write_batch, batch))
                if len(in_flight) >= self.concurrency * 4:  # back-pressure: never queue the whole run
                    for future in in_flight:
                        total.add(future.result())
                    in_flight = []
            for future in in_flight:
                total.add(future.result())
        return total


def _chunks(items: Iterable[dict], size: int):
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

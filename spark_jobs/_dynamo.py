"""DynamoDB serving-table keys, items, key validation and resilient batch I/O (no Spark here).

Layout (docs/contracts.md, "DynamoDB serving table"): every entity (candidate or job) owns a partition
`T#<tenant>#CAND|JOB#<id>` holding its ranked lists, one *generation* per list written, and its
`CURRENT` pointer naming the generation readers use. A list item's sort key is
`G#<generation>#R#<rank>#<other kind>#<other id>`, so one Query on the generation's prefix returns
the list in rank order and nothing of any other generation (a re-published run never mixes with
the items it replaced, which expire by TTL). Each tenant has one run pointer `T#<tenant>#RUN`
(newest published run order, moved only forward) and the table one publish sequence counter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

log = logging.getLogger(__name__)

BATCH_LIMIT = 25  # BatchWriteItem maximum
BATCH_GET_LIMIT = 100  # BatchGetItem maximum
COMPONENTS = ("semantic", "skills", "experience", "location", "salary")
KINDS = {"CAND": "JOB", "JOB": "CAND"}  # list owner kind → the kind of the ids in its list
POINTER_SK = "CURRENT"
SEQUENCE_KEY = {"PK": {"S": "PUBLISH"}, "SK": {"S": "SEQUENCE"}}
# Tenant ids are short slugs; entity ids anything printable without the key separator.
TENANT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
ENTITY_PATTERN = r"[^#\s][^#]{0,254}"
_TENANT_RE = re.compile(TENANT_PATTERN)
_ENTITY_RE = re.compile(ENTITY_PATTERN)


class PublishError(RuntimeError):
    """Items stayed unprocessed after every retry, or DynamoDB refused the batch."""


class ServingKeyError(ValueError):
    """A tenant or entity id cannot be part of a serving key ('#' separator, empty, not a tenant slug)."""


class UnknownTenant(LookupError):
    """The serving table has never had a run published for this tenant."""


def check_tenant(tenant_id) -> str:
    if not isinstance(tenant_id, str) or not _TENANT_RE.fullmatch(tenant_id):
        hint = " ('#' separates key parts)" if isinstance(tenant_id, str) and "#" in tenant_id else ""
        raise ServingKeyError(
            f"tenant id {tenant_id!r} is not a valid serving key part{hint}: expected {TENANT_PATTERN}"
        )
    return tenant_id


def check_entity(entity_id) -> str:
    if not isinstance(entity_id, str) or not _ENTITY_RE.fullmatch(entity_id):
        hint = " ('#' separates key parts)" if isinstance(entity_id, str) and "#" in entity_id else ""
        raise ServingKeyError(f"entity id {entity_id!r} is not a valid serving key part{hint}")
    return entity_id


def entity_pk(tenant_id: str, kind: str, entity_id: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown entity kind {kind!r}; expected one of {sorted(KINDS)}")
    return f"T#{check_tenant(tenant_id)}#{kind}#{check_entity(entity_id)}"


def candidate_pk(tenant_id: str, candidate_id: str) -> str:
    return entity_pk(tenant_id, "CAND", candidate_id)


def job_pk(tenant_id: str, job_id: str) -> str:
    return entity_pk(tenant_id, "JOB", job_id)


def tenant_run_pk(tenant_id: str) -> str:
    """The tenant's run pointer: which run (order) serving is at; moved only forward."""
    return f"T#{check_tenant(tenant_id)}#RUN"


def generation_prefix(generation: str) -> str:
    return f"G#{generation}#R#"


def list_sk(generation: str, rank: int, kind: str, other_id: str) -> str:
    return f"{generation_prefix(generation)}{int(rank):05d}#{KINDS[kind]}#{other_id}"


def make_generation(run_id: str, sequence: int) -> str:
    """`2026-11-22Tw1.p7`: the run and the publish that wrote it (a re-publish of a run is a new one)."""
    return f"{run_id}.p{int(sequence)}"


def make_run_order(run_date: str, sequence: int) -> str:
    """Sortable as a string: run date first (a backfill sorts below), then the publish sequence."""
    return f"{run_date}#{int(sequence):012d}"


def _round(value) -> float:
    return round(float(value), 6)


def _number(value) -> dict:
    return {"N": str(Decimal(str(_round(value))))}


def _strings(values) -> dict:
    return {"L": [{"S": str(v)} for v in (values if values is not None else [])]}


@dataclass
class EntityList:
    """One entity's complete ranked list in a run (entries best first; empty when nothing matched)."""

    tenant_id: str
    kind: str  # CAND (its jobs) | JOB (its candidates)
    entity_id: str
    entries: list[dict]  # rank, other_id, score, components, matched_skills, missing_essential, missing_optional
    weights_version: str | None = None
    model_version: str | None = None

    @property
    def pk(self) -> str:
        return entity_pk(self.tenant_id, self.kind, self.entity_id)

    @cached_property
    def digest(self) -> str:
        """Content digest of what a reader would see (not which run wrote it): equal lists, equal digest."""
        canonical = [
            [int(e["rank"]), str(e["other_id"]),
             *(None if e.get(c) is None else _round(e[c]) for c in ("score", *COMPONENTS)),
             list(e.get("matched_skills") or ()), list(e.get("missing_essential") or ()),
             list(e.get("missing_optional") or ())]
            for e in self.entries
        ]  # fmt: skip
        payload = json.dumps([self.weights_version, self.model_version, canonical], separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def list_items(entity: EntityList, generation: str, run_id: str, expires_at: int) -> list[dict]:
    """The list's items under its generation; candidate_id/job_id name both sides of each pair."""
    owner_attr, other_attr = ("candidate_id", "job_id") if entity.kind == "CAND" else ("job_id", "candidate_id")
    pk = entity.pk
    items = []
    for e in entity.entries:
        other = check_entity(e["other_id"])
        item = {
            "PK": {"S": pk},
            "SK": {"S": list_sk(generation, e["rank"], entity.kind, other)},
            "tenant_id": {"S": entity.tenant_id},
            owner_attr: {"S": entity.entity_id},
            other_attr: {"S": other},
            "rank": {"N": str(int(e["rank"]))},
            "run_id": {"S": run_id},
            "expires_at": {"N": str(int(expires_at))},
            "matched_skills": _strings(e.get("matched_skills")),
            "missing_essential": _strings(e.get("missing_essential")),
            "missing_optional": _strings(e.get("missing_optional")),
        }
        for name in ("score", *COMPONENTS):  # a null component is omitted, never written as 0
            if e.get(name) is not None:
                item[name] = _number(e[name])
        items.append(item)
    return items


def pointer_item(
    entity: EntityList, *, generation: str, run_id: str, run_order: str, expires_at: int, published_at: str
) -> dict:
    """The entity's CURRENT pointer: the generation holding its list (no TTL: it is replaced, not aged).

    `list_expires_at` is when that generation's items expire; publish rewrites a kept list before then.
    """
    item = {
        "PK": {"S": entity.pk},
        "SK": {"S": POINTER_SK},
        "tenant_id": {"S": entity.tenant_id},
        "generation": {"S": generation},
        "run_id": {"S": run_id},
        "run_order": {"S": run_order},
        "digest": {"S": entity.digest},
        "items": {"N": str(len(entity.entries))},
        "list_expires_at": {"N": str(int(expires_at))},
        "published_at": {"S": published_at},
    }
    for attr in ("weights_version", "model_version"):
        if getattr(entity, attr):
            item[attr] = {"S": str(getattr(entity, attr))}
    return item


def dynamodb_client(client_kwargs: dict, pool: int = 32):
    """A client for bulk I/O: no client-side parameter validation (the items are built here), wide pool."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=pool,
                    parameter_validation=False)  # fmt: skip
    return boto3.client("dynamodb", config=config, **client_kwargs)


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def next_publish_sequence(client, table: str) -> int:
    """Atomically increment the table's publish counter (monotonic across every publisher)."""
    response = client.update_item(
        TableName=table, Key=SEQUENCE_KEY, UpdateExpression="ADD seq :one",
        ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW",
    )  # fmt: skip
    return int(response["Attributes"]["seq"]["N"])


def advance_tenant_run(client, table: str, tenant_id: str, *, run_id: str, run_order: str, published_at: str) -> bool:
    """Move the tenant's run pointer to this run unless a newer run is already served (a backfill)."""
    try:
        client.put_item(
            TableName=table,
            Item={"PK": {"S": tenant_run_pk(tenant_id)}, "SK": {"S": POINTER_SK}, "tenant_id": {"S": tenant_id},
                  "run_id": {"S": run_id}, "run_order": {"S": run_order}, "published_at": {"S": published_at}},
            ConditionExpression="attribute_not_exists(run_order) OR run_order < :order",
            ExpressionAttributeValues={":order": {"S": run_order}},
        )  # fmt: skip
        return True
    except Exception as exc:  # botocore's ClientError; the client's modelled class varies per client
        if _error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise


def tenant_run(client, table: str, tenant_id: str) -> dict | None:
    response = client.get_item(
        TableName=table, Key={"PK": {"S": tenant_run_pk(tenant_id)}, "SK": {"S": POINTER_SK}}, ConsistentRead=True
    )
    return response.get("Item")


def read_pointers(client, table: str, pks: Sequence[str], max_attempts: int = 8, sleep=time.sleep) -> dict:
    """CURRENT pointers of up to 100 entities (consistent reads), retrying UnprocessedKeys. pk → item."""
    if len(pks) > BATCH_GET_LIMIT:
        raise ValueError(f"a BatchGetItem reads at most {BATCH_GET_LIMIT} keys, got {len(pks)}")
    found: dict[str, dict] = {}
    request = {table: {"Keys": [{"PK": {"S": pk}, "SK": {"S": POINTER_SK}} for pk in dict.fromkeys(pks)],
                       "ConsistentRead": True}}  # fmt: skip
    for attempt in range(max_attempts):
        if attempt:
            sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))
        response = client.batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(table, []):
            found[item["PK"]["S"]] = item
        request = response.get("UnprocessedKeys") or {}
        if not request.get(table, {}).get("Keys"):
            return found
    raise PublishError(f"pointers still unread after {max_attempts} BatchGetItem attempts on {table}")


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
        """Write every item, `concurrency` batches in flight; at most 2× that queued (never the whole run)."""
        total = WriteStats()
        queued: deque = deque()
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            for batch in chunks(items, BATCH_LIMIT):
                queued.append(pool.submit(self.write_batch, batch))
                if len(queued) >= 2 * max(1, self.concurrency):  # back-pressure on the oldest batch only
                    total.add(queued.popleft().result())
            while queued:
                total.add(queued.popleft().result())
        return total


def put_pointer(client, table: str, pointer: dict) -> bool:
    """Conditional put: a CURRENT pointer only moves forward in run order. False: a newer run holds it."""
    try:
        client.put_item(
            TableName=table, Item=pointer,
            ConditionExpression="attribute_not_exists(run_order) OR run_order < :order",
            ExpressionAttributeValues={":order": pointer["run_order"]},
        )  # fmt: skip
        return True
    except Exception as exc:  # botocore's ClientError
        if _error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise


def write_pointers(client, table: str, pointers: Iterable[dict], concurrency: int = 8) -> tuple[int, int]:
    """Write CURRENT pointers (conditional puts, `concurrency` in flight). Returns (written, superseded)."""
    written = superseded = 0
    queued: deque = deque()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for pointer in pointers:
            queued.append(pool.submit(put_pointer, client, table, pointer))
            if len(queued) >= 4 * max(1, concurrency):
                ok = queued.popleft().result()
                written, superseded = written + ok, superseded + (not ok)
        while queued:
            ok = queued.popleft().result()
            written, superseded = written + ok, superseded + (not ok)
    return written, superseded


def chunks(items: Iterable[dict], size: int):
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

"""DynamoDB serving-table keys, items, key validation and resilient I/O (no Spark here).

Layout (docs/contracts.md, "DynamoDB serving table"): every entity (candidate or job) owns a partition
`T#<tenant>#CAND|JOB#<id>` whose `CURRENT` item holds its whole ranked list of the latest publish that
changed it (`entries`, best first) with the run, publish generation and content digest that wrote it.
One item per list: a publish writes one conditional put per changed entity, a reader does one GetItem,
and a reader sees an entity's old list or its new one, never a mix. Each tenant has one run pointer
`T#<tenant>#RUN` (newest published run order, moved only forward) and the table one publish sequence
counter. Lists of the older layout (one item per rank under `G#<generation>#R#…`) are still read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

log = logging.getLogger(__name__)

BATCH_GET_LIMIT = 100  # BatchGetItem maximum
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
LAYOUT = 2  # the CURRENT item holds the list (1: one item per rank under the generation, pointer apart)
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
    """Sort-key prefix of a layout-1 list's items (read only: publish no longer writes them)."""
    return f"G#{generation}#R#"


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


OWNER_ATTR = {"CAND": "candidate_id", "JOB": "job_id"}  # the list owner's id attribute
OTHER_ATTR = {"CAND": "job_id", "JOB": "candidate_id"}  # a list owner's entries name the other side


def list_entries(entity: EntityList) -> dict:
    """The ranked entries as one DynamoDB list: rank, the other side's id, score, the components
    (omitted when null, never written as 0) and the skill explanation."""
    other_attr = OTHER_ATTR[entity.kind]
    entries = []
    for e in entity.entries:
        entry = {
            "rank": {"N": str(int(e["rank"]))},
            other_attr: {"S": check_entity(e["other_id"])},
            "matched_skills": _strings(e.get("matched_skills")),
            "missing_essential": _strings(e.get("missing_essential")),
            "missing_optional": _strings(e.get("missing_optional")),
        }
        for name in ("score", *COMPONENTS):
            if e.get(name) is not None:
                entry[name] = _number(e[name])
        entries.append({"M": entry})
    return {"L": entries}


def current_item(
    entity: EntityList, *, generation: str, run_id: str, run_order: str, expires_at: int, published_at: str
) -> dict:
    """The entity's CURRENT item: its whole ranked list and which publish wrote it.

    `expires_at` (TTL) is refreshed by every publish that has the entity (a kept list is rewritten before
    it gets close), so only the lists of entities that left the marketplace age out.
    """
    item = {
        "PK": {"S": entity.pk},
        "SK": {"S": POINTER_SK},
        "tenant_id": {"S": entity.tenant_id},
        OWNER_ATTR[entity.kind]: {"S": entity.entity_id},
        "layout": {"N": str(LAYOUT)},
        "generation": {"S": generation},
        "run_id": {"S": run_id},
        "run_order": {"S": run_order},
        "digest": {"S": entity.digest},
        "entry_count": {"N": str(len(entity.entries))},
        "entries": list_entries(entity),
        "expires_at": {"N": str(int(expires_at))},
        "published_at": {"S": published_at},
    }
    for attr in ("weights_version", "model_version"):
        if getattr(entity, attr):
            item[attr] = {"S": str(getattr(entity, attr))}
    size = item_bytes(item)
    if size > MAX_ITEM_BYTES:
        raise PublishError(f"the list of {entity.pk} is {size} bytes, over DynamoDB's {MAX_ITEM_BYTES}-byte item "
                           f"limit ({len(entity.entries)} entries): publish a smaller K")  # fmt: skip
    return item


def item_bytes(item: dict) -> int:
    """An upper bound of DynamoDB's size of an item (attribute names + values; JSON adds some quoting)."""
    return len(json.dumps(item, separators=(",", ":")).encode())


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


# What the diff needs of a CURRENT item — not its entries (a list can be tens of KB).
DIFF_ATTRIBUTES = ("PK", "layout", "run_order", "digest", "entry_count", "expires_at")


def read_current(client, table: str, pks: Sequence[str], max_attempts: int = 8, sleep=time.sleep) -> dict:
    """The diff attributes of up to 100 entities' CURRENT items (consistent reads), retrying
    UnprocessedKeys. pk → item (without its entries)."""
    if len(pks) > BATCH_GET_LIMIT:
        raise ValueError(f"a BatchGetItem reads at most {BATCH_GET_LIMIT} keys, got {len(pks)}")
    found: dict[str, dict] = {}
    names = {f"#a{i}": name for i, name in enumerate(DIFF_ATTRIBUTES)}
    request = {table: {"Keys": [{"PK": {"S": pk}, "SK": {"S": POINTER_SK}} for pk in dict.fromkeys(pks)],
                       "ConsistentRead": True, "ProjectionExpression": ", ".join(names),
                       "ExpressionAttributeNames": names}}  # fmt: skip
    for attempt in range(max_attempts):
        if attempt:
            sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))
        response = client.batch_get_item(RequestItems=request)
        for item in response.get("Responses", {}).get(table, []):
            found[item["PK"]["S"]] = item
        request = response.get("UnprocessedKeys") or {}
        if not request.get(table, {}).get("Keys"):
            return found
    raise PublishError(f"CURRENT items still unread after {max_attempts} BatchGetItem attempts on {table}")


def put_current(client, table: str, item: dict) -> bool:
    """Conditional put: a CURRENT item only moves forward in run order. False: a newer run holds it."""
    try:
        client.put_item(
            TableName=table, Item=item,
            ConditionExpression="attribute_not_exists(run_order) OR run_order < :order",
            ExpressionAttributeValues={":order": item["run_order"]},
        )  # fmt: skip
        return True
    except Exception as exc:  # botocore's ClientError
        if _error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise


def write_current(client, table: str, items: Iterable[dict], concurrency: int = 8) -> list[bool]:
    """Write CURRENT items (conditional puts, `concurrency` in flight; at most 4× that queued, never the
    whole run). Returns each item's outcome in order: True written, False a newer run holds it."""
    outcomes: list[bool] = []
    queued: deque = deque()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for item in items:
            queued.append(pool.submit(put_current, client, table, item))
            if len(queued) >= 4 * max(1, concurrency):
                outcomes.append(queued.popleft().result())
        while queued:
            outcomes.append(queued.popleft().result())
    return outcomes


def chunks(items: Iterable[dict], size: int):
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

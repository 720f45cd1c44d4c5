"""The publish core, without Spark: write only the lists that changed, then move their CURRENT pointers.

For each entity of a run, its new ranked list is compared (by content digest) with the list its
CURRENT pointer names, read in batches of 100 (BatchGetItem, consistent). Then:
- changed (or never published): the list is written as a new generation and its pointer is queued;
- equal: nothing is written, the pointer keeps naming the older generation (whose items are the same
  list) — unless those items expire within `refresh_before`, then the list is rewritten (refreshed);
- the pointer is already at a newer run order: a concurrent newer publish owns it (superseded).
Pointers are written by `spark_jobs._dynamo.write_pointers` only after every list item of the run
is in, with a conditional put that only moves forward, so a reader sees an entity's old list or its
new one, never a mix. `spark_jobs.publish` runs this per Spark partition; `bench_publish` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from spark_jobs._dynamo import (
    BATCH_GET_LIMIT,
    BatchWriter,
    EntityList,
    ServingKeyError,
    check_tenant,
    chunks,
    list_items,
    pointer_item,
    read_pointers,
)


@dataclass(frozen=True)
class PublishPlan:
    """What the driver decided for this publish; shipped unchanged to every writer."""

    table: str
    run_id: str
    generation: str
    run_order: str
    expires_at: int  # TTL (epoch s) of the items written now
    refresh_before: int  # a kept list whose items expire before this is rewritten
    published_at: str
    concurrency: int = 4  # BatchWriteItem calls in flight per writer


@dataclass
class ListStats:
    lists_written: int = 0  # changed or new lists (their pointers are queued)
    lists_refreshed: int = 0  # of those, unchanged lists rewritten because their items were about to expire
    lists_kept: int = 0  # unchanged: nothing written, the pointer keeps its generation
    lists_superseded: int = 0  # the pointer is already at a newer run: left alone
    items_written: int = 0
    items_kept: int = 0  # items of kept lists (already in the table)
    batch_calls: int = 0
    unprocessed_retries: int = 0
    pointer_reads: int = 0  # BatchGetItem calls

    def add(self, other: ListStats | dict) -> None:
        other = other if isinstance(other, dict) else asdict(other)
        for name, value in other.items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict:
        return asdict(self)


def checked_tenants(run_tenants: Iterable[str], matched_tenants: Iterable[str]) -> list[str]:
    """The run's tenants, re-checked in Python before the first tenant or CURRENT pointer is written.

    Each must be a serving-key tenant by ``check_tenant`` (no '#', a slug). The Spark-side check in
    publish is not enough on its own: Java's ``$`` also matches before a trailing newline, so
    ``"acme\n"`` passes ``rlike`` and would fail only inside the pointer loop — after the tenants sorted
    before it had their run pointers moved to a run whose lists were never written. Every tenant of the
    matches must own profiles in the run (an unknown tenant has no entity whose list could be served).
    Raises ServingKeyError naming every refused tenant; returns the run's tenants, sorted.
    """
    tenants = set(run_tenants)
    problems = []
    for tenant in sorted(tenants, key=repr):
        try:
            check_tenant(tenant)
        except ServingKeyError as exc:
            problems.append(str(exc))
    unknown = sorted(set(matched_tenants) - tenants, key=repr)
    if unknown:
        problems.append(f"tenants of the matches that own no profile of the run (unknown tenants): {unknown}")
    if problems:
        raise ServingKeyError("; ".join(problems))
    return sorted(tenants)


def decide(entity: EntityList, current: dict | None, plan: PublishPlan) -> str:
    """write | refresh | keep | superseded, from the entity's CURRENT pointer (None: never published)."""
    if current is None or "digest" not in current or "run_order" not in current:
        return "write"  # nothing published yet, or a pointer of the older layout
    if current["run_order"]["S"] >= plan.run_order:
        return "superseded"
    if current["digest"]["S"] != entity.digest:
        return "write"
    if int(current.get("list_expires_at", {}).get("N", "0")) < plan.refresh_before:
        return "refresh"
    return "keep"


def write_changed_lists(client, plan: PublishPlan, lists: Iterable[EntityList]) -> tuple[ListStats, list[dict]]:
    """Write the items of every changed list; return the stats and the pointers to write afterwards."""
    stats = ListStats()
    pointers: list[dict] = []

    def changed_items():  # runs in this thread, interleaved with the writer's batches
        for chunk in chunks(lists, BATCH_GET_LIMIT):
            current = read_pointers(client, plan.table, [entity.pk for entity in chunk])
            stats.pointer_reads += 1
            for entity in chunk:
                outcome = decide(entity, current.get(entity.pk), plan)
                if outcome == "superseded":
                    stats.lists_superseded += 1
                    continue
                if outcome == "keep":
                    stats.lists_kept += 1
                    stats.items_kept += int(current[entity.pk]["items"]["N"])
                    continue
                stats.lists_written += 1
                stats.lists_refreshed += outcome == "refresh"
                pointers.append(pointer_item(entity, generation=plan.generation, run_id=plan.run_id,
                                             run_order=plan.run_order, expires_at=plan.expires_at,
                                             published_at=plan.published_at))  # fmt: skip
                yield from list_items(entity, plan.generation, plan.run_id, plan.expires_at)

    written = BatchWriter(client, plan.table, concurrency=plan.concurrency).write_all(changed_items())
    stats.items_written += written.items
    stats.batch_calls += written.batches
    stats.unprocessed_retries += written.retries
    return stats, pointers

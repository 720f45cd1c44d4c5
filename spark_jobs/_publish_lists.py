"""The publish core, without Spark: write only the lists that changed, each as one conditional put.

For each entity of a run, its new ranked list is compared (by content digest) with the list its
CURRENT item holds, read in batches of 100 (BatchGetItem, consistent, the diff attributes only). Then:
- changed (or never published, or of the older layout): the CURRENT item is replaced by the new list,
  with a conditional put that only moves forward in run order;
- equal: nothing is written, the item keeps the older publish's list (the same content) — unless it
  expires within `refresh_before`, then the list is rewritten (refreshed);
- the item is already at a newer run order: a concurrent newer publish owns it (superseded).
Before each batch the tenants' run pointers are read again: once a newer publish has taken a tenant
over, this one writes nothing more for it (the conditional puts guard each entity in any case). The
whole list is one item, so a reader sees an entity's old list or its new one, never a mix.
`spark_jobs.publish` runs this per Spark partition; `bench_publish` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from spark_jobs._dynamo import (
    BATCH_GET_LIMIT,
    LAYOUT,
    EntityList,
    ServingKeyError,
    check_tenant,
    chunks,
    current_item,
    read_current,
    tenant_run,
    write_current,
)


@dataclass(frozen=True)
class PublishPlan:
    """What the driver decided for this publish; shipped unchanged to every writer."""

    table: str
    run_id: str
    generation: str
    run_order: str
    expires_at: int  # TTL (epoch s) of the lists written now
    refresh_before: int  # a kept list that expires before this is rewritten
    published_at: str
    concurrency: int = 8  # conditional puts in flight per writer


@dataclass
class ListStats:
    lists_written: int = 0  # changed or new lists written (one CURRENT item each)
    lists_refreshed: int = 0  # of those, unchanged lists rewritten because they were about to expire
    lists_kept: int = 0  # unchanged: nothing written, the item keeps the older publish's list
    lists_superseded: int = 0  # a newer publish holds the entity or the tenant: left alone
    entries_written: int = 0  # ranked entries in the lists written
    entries_kept: int = 0  # ranked entries in the kept lists (already in the table)
    diff_reads: int = 0  # BatchGetItem calls
    tenant_checks: int = 0  # GetItem calls on the tenants' run pointers

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
    """write | refresh | keep | superseded, from the entity's CURRENT item (None: never published)."""
    if current is None or "digest" not in current or "run_order" not in current:
        return "write"  # nothing published yet, or a pointer of the first layout
    if current["run_order"]["S"] >= plan.run_order:
        return "superseded"
    if current["digest"]["S"] != entity.digest or int(current.get("layout", {}).get("N", "1")) != LAYOUT:
        return "write"  # changed, or an older layout's pointer (its list is rewritten as one item)
    if int(current.get("expires_at", {}).get("N", "0")) < plan.refresh_before:
        return "refresh"
    return "keep"


def write_changed_lists(client, plan: PublishPlan, lists: Iterable[EntityList]) -> ListStats:
    """Replace the CURRENT item of every changed list (conditional puts); return the stats."""
    stats = ListStats()
    overtaken: set[str] = set()
    entry_counts: list[int] = []  # of each item handed to the writer, in order

    def changed_items():  # runs in this thread, interleaved with the writer's puts
        for chunk in chunks(lists, BATCH_GET_LIMIT):
            for tenant in {entity.tenant_id for entity in chunk} - overtaken:
                stats.tenant_checks += 1
                if (tenant_run(client, plan.table, tenant) or {}).get("run_order", {}).get("S") != plan.run_order:
                    overtaken.add(tenant)  # a newer publish took the tenant over: its lists are its own
            current = read_current(client, plan.table, [entity.pk for entity in chunk])
            stats.diff_reads += 1
            for entity in chunk:
                outcome = "superseded" if entity.tenant_id in overtaken else decide(entity, current.get(entity.pk), plan)
                if outcome == "superseded":
                    stats.lists_superseded += 1
                    continue
                if outcome == "keep":
                    stats.lists_kept += 1
                    stats.entries_kept += int(current[entity.pk]["entry_count"]["N"])
                    continue
                stats.lists_refreshed += outcome == "refresh"
                entry_counts.append(len(entity.entries))
                yield current_item(entity, generation=plan.generation, run_id=plan.run_id, run_order=plan.run_order,
                                   expires_at=plan.expires_at, published_at=plan.published_at)  # fmt: skip

    outcomes = write_current(client, plan.table, changed_items(), concurrency=plan.concurrency)
    stats.lists_written += sum(outcomes)
    stats.lists_superseded += len(outcomes) - sum(outcomes)
    stats.entries_written += sum(n for n, ok in zip(entry_counts, outcomes, strict=True) if ok)
    return stats

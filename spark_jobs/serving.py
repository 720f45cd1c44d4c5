"""Read API over the serving table: a candidate's top jobs / a job's top candidates, with explanations.

Each read is one GetItem, strongly consistent: the entity's CURRENT item holds its whole ranked list
(best first) of the publish that last changed it, so a reader never sees a mix of two runs. (A list
of the older layout — a pointer naming a generation of per-rank items — is read with one Query on that
generation's prefix, Limit=K, until the next publish rewrites it as one item.) The ids
are checked before any key is built ('#' is refused), and a tenant that never had a run published is
an `UnknownTenant` error, not an empty answer. Nothing here needs Spark; the notification service and
the web app can import it as is.

CLI:
  python -m spark_jobs.serving top-matches --candidate C123 --tenant acme [-k 10]
  python -m spark_jobs.serving top-candidates --job J9 --tenant acme [-k 10]
Exit status: 0 served, 1 the entity has no published list, 2 bad or unknown tenant/id.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field

from common.config import get_settings
from spark_jobs._dynamo import (
    COMPONENTS,
    OWNER_ATTR,
    POINTER_SK,
    ServingKeyError,
    UnknownTenant,
    candidate_pk,
    generation_prefix,
    job_pk,
    tenant_run,
)


@dataclass
class Match:
    rank: int
    candidate_id: str
    job_id: str
    score: float | None
    components: dict[str, float] = field(default_factory=dict)
    matched_skills: list[str] = field(default_factory=list)
    missing_essential: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)


@dataclass
class TopMatches:
    tenant_id: str
    entity: str  # "candidate" | "job"
    entity_id: str
    run_id: str | None  # the run that wrote the served list; None: the entity has no published list
    matches: list[Match]
    generation: str | None = None


def _attr(item: dict, name: str):
    value = item.get(name)
    if value is None:
        return None
    if "S" in value:
        return value["S"]
    if "N" in value:
        return float(value["N"])
    if "L" in value:
        return [_attr({"x": v}, "x") for v in value["L"]]
    return None


def _to_match(item: dict, rank: int, owner: dict) -> Match:
    """One entry of a list (`owner`: the list owner's id attribute, which a layout-2 entry leaves out)."""
    item = {**owner, **item}
    return Match(
        rank=rank,
        candidate_id=_attr(item, "candidate_id"),
        job_id=_attr(item, "job_id"),
        score=_attr(item, "score"),
        components={c: _attr(item, c) for c in COMPONENTS if c in item},
        matched_skills=_attr(item, "matched_skills") or [],
        missing_essential=_attr(item, "missing_essential") or [],
        missing_optional=_attr(item, "missing_optional") or [],
    )


def current_pointer(dynamodb, table: str, pk: str) -> dict | None:
    response = dynamodb.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": POINTER_SK}}, ConsistentRead=True)
    return response.get("Item")


def top_jobs_for_candidate(tenant_id: str, candidate_id: str, k: int = 10, dynamodb=None) -> TopMatches:
    """A candidate's top-K jobs from the generation its CURRENT pointer names."""
    return _top_of_current_list(tenant_id, "candidate", candidate_id, candidate_pk(tenant_id, candidate_id), k,
                                dynamodb)  # fmt: skip


def top_candidates_for_job(tenant_id: str, job_id: str, k: int = 10, dynamodb=None) -> TopMatches:
    """A job's top-K candidates from the generation its CURRENT pointer names."""
    return _top_of_current_list(tenant_id, "job", job_id, job_pk(tenant_id, job_id), k, dynamodb)


def _top_of_current_list(tenant_id, side, entity_id, pk, k, dynamodb) -> TopMatches:
    from common.aws import client

    dynamodb = dynamodb or client("dynamodb")
    table = get_settings().dynamodb_table
    pointer = current_pointer(dynamodb, table, pk)
    if pointer is None or "generation" not in pointer:  # none yet, or a pointer of the older layout
        if tenant_run(dynamodb, table, tenant_id) is None:
            raise UnknownTenant(f"unknown tenant {tenant_id!r}: no match run was ever published for it in {table}")
        return TopMatches(tenant_id, side, entity_id, None, [])
    generation, run_id = pointer["generation"]["S"], pointer["run_id"]["S"]
    owner = {OWNER_ATTR[pk.split("#")[2]]: {"S": entity_id}}
    if "entries" in pointer:
        entries = [e["M"] for e in pointer["entries"]["L"][: max(k, 0)]]
        return TopMatches(tenant_id, side, entity_id, run_id, [_to_match(e, i + 1, owner) for i, e in enumerate(entries)],
                          generation)  # fmt: skip
    matches: list[Match] = []  # a layout-1 pointer: its list is the generation's per-rank items
    if int(pointer.get("items", {}).get("N", "1")) and k > 0:
        response = dynamodb.query(
            TableName=table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :gen)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":gen": {"S": generation_prefix(generation)}},
            ScanIndexForward=True,
            Limit=k,
            ConsistentRead=True,
        )
        matches = [_to_match(item, i + 1, owner) for i, item in enumerate(response.get("Items", []))]
    return TopMatches(tenant_id, side, entity_id, run_id, matches, generation)


def render(result: TopMatches) -> str:
    """A readable table: rank, the other side's id, score, component scores and the skill explanation."""
    other = "job" if result.entity == "candidate" else "candidate"
    head = f"Top {other}s for {result.entity} {result.entity_id} (tenant {result.tenant_id})"
    if result.run_id is None:
        return f"{head}: no published match run for this {result.entity}."
    lines = [f"{head} — run {result.run_id}"]
    if not result.matches:
        lines.append(f"  (no matches in this run: no open {other} in the tenant scored for it)")
    for m in result.matches:
        other_id = m.job_id if other == "job" else m.candidate_id
        parts = " ".join(f"{c}={v:.2f}" for c, v in m.components.items() if v is not None)
        score = f"{m.score:.3f}" if m.score is not None else "  n/a"
        lines.append(f"{m.rank:>3}. {other_id:<24} score {score}  [{parts}]")
        if m.matched_skills:
            lines.append(f"      matched: {', '.join(m.matched_skills[:8])}")
        if m.missing_essential:
            lines.append(f"      missing essential: {', '.join(m.missing_essential[:8])}")
        if m.missing_optional:
            lines.append(f"      missing optional: {', '.join(m.missing_optional[:5])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Read top matches from the serving table")
    sub = parser.add_subparsers(dest="command", required=True)
    cand = sub.add_parser("top-matches", help="a candidate's top jobs")
    cand.add_argument("--candidate", required=True)
    job = sub.add_parser("top-candidates", help="a job's top candidates")
    job.add_argument("--job", required=True)
    for p in (cand, job):
        p.add_argument("--tenant", required=True)
        p.add_argument("-k", type=int, default=10)
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        if args.command == "top-matches":
            result = top_jobs_for_candidate(args.tenant, args.candidate, args.k)
        else:
            result = top_candidates_for_job(args.tenant, args.job, args.k)
    except (ServingKeyError, UnknownTenant) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(result), indent=2) if args.json else render(result))
    return 0 if result.run_id else 1


if __name__ == "__main__":
    sys.exit(main())

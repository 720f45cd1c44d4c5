"""Publish → DynamoDB (real dynalite on a free port) → read API, across reruns, backfills and steady days.

Each test writes a run's gold inputs (profiles, matches, an audited ledger row) into its own lake, runs
the real `spark_jobs.publish.run` (Spark local[1]) and reads back through `spark_jobs.serving`, the
path `make top-matches` uses. The stand-ins are started by common.local_services on free ports and
stopped at the end; every test gets a fresh serving table.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TENANT = "acme"
COMPONENT_VALUES = {"semantic": 0.5, "skills": 0.5, "experience": 1.0, "location": 1.0, "salary": 0.5}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    from common import local_services as ls
    from common.config import get_settings, reset_settings_cache

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLATFORM_ENV", "local")
        mp.setenv("LOCAL_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        for name, port in ls.pick_free_ports().items():
            mp.setenv(name, port)
        reset_settings_cache()
        settings = get_settings()
        try:
            ls.ensure_up(settings)
            yield settings
        finally:
            ls.stop_all(settings)
            reset_settings_cache()


@pytest.fixture()
def lake(stand_ins, tmp_path, monkeypatch):
    """A fresh lake and a fresh serving table for one test (the stand-ins are shared by the module)."""
    from common.aws import client
    from common.config import get_settings, reset_settings_cache
    from common.local_services.resources import serving_table_schema

    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    reset_settings_cache()
    settings = get_settings()
    ddb = client("dynamodb")
    try:
        ddb.delete_table(TableName=settings.dynamodb_table)
        ddb.get_waiter("table_not_exists").wait(TableName=settings.dynamodb_table)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    ddb.create_table(TableName=settings.dynamodb_table, **serving_table_schema())
    ddb.get_waiter("table_exists").wait(TableName=settings.dynamodb_table)
    yield settings
    reset_settings_cache()


def write_run(spark, run_date: str, c2j: dict, j2c: dict, *, closed=(), tenant=TENANT, extra_candidates=()):
    """Gold inputs of one audited run: profiles of every candidate/job named, both directions' lists.

    c2j: candidate → [(job, score), …] best first; j2c: job → [(candidate, score), …] best first.
    """
    from spark_jobs import _runs
    from spark_jobs._lake import table_uri, write_partitions
    from spark_jobs.build_profiles import PROFILE_DDL
    from spark_jobs.match import GOLD_MATCHES_DDL

    run_id = _runs.make_run_id(run_date, _runs.default_weights_version())
    candidates = sorted({*c2j, *(c for lst in j2c.values() for c, _ in lst), *extra_candidates})
    jobs = sorted({*j2c, *(j for lst in c2j.values() for j, _ in lst), *closed})
    cand_rows = [{"tenant_id": tenant, "candidate_id": c, "run_date": run_date} for c in candidates]
    job_rows = [
        {"tenant_id": tenant, "job_id": j, "job_status": "closed" if j in closed else "open", "run_date": run_date}
        for j in jobs
    ]
    for side, rows in (("candidate", cand_rows), ("job", job_rows)):
        df = spark.createDataFrame(rows, f"{PROFILE_DDL[side]}, run_date string")
        write_partitions(df, table_uri("gold", f"{side}_profiles"), ["run_date"])
    rows = []
    for direction, lists in (("candidate_to_job", c2j), ("job_to_candidate", j2c)):
        for owner, ranked in lists.items():
            for rank, (other, score) in enumerate(ranked, start=1):
                cand, job = (owner, other) if direction == "candidate_to_job" else (other, owner)
                rows.append({"tenant_id": tenant, "direction": direction, "candidate_id": cand, "job_id": job,
                             "rank": rank, "score": score, **COMPONENT_VALUES,
                             "matched_skills": ["Python (computer programming)"], "missing_essential": [],
                             "missing_optional": ["SQL"], "weights_version": "w1", "model_version": "test",
                             "run_date": run_date, "run_id": run_id})  # fmt: skip
    matches = spark.createDataFrame(rows, GOLD_MATCHES_DDL)
    write_partitions(matches, table_uri("gold", "matches"), ["run_id"])
    _runs.write_run(spark, {"run_id": run_id, "run_date": run_date, "weights_version": "w1",
                            "model_version": "test", "status": "audited"})  # fmt: skip
    return run_id


def served(tenant, candidates=(), jobs=(), k=2):
    """What the read API serves (top-k, k = the runs' K): entity → [(other id, score), …] in served order."""
    from spark_jobs import serving

    out = {}
    for c in candidates:
        out[c] = [(m.job_id, m.score) for m in serving.top_jobs_for_candidate(tenant, c, k=k).matches]
    for j in jobs:
        out[j] = [(m.candidate_id, m.score) for m in serving.top_candidates_for_job(tenant, j, k=k).matches]
    return out


DAY1_C2J = {"C1": [("J2", 0.99), ("J1", 0.9)], "C2": [("J1", 0.7), ("J3", 0.6)], "C3": [("J3", 0.5), ("J1", 0.4)]}
DAY1_J2C = {"J1": [("C1", 0.9), ("C3", 0.4)], "J2": [("C1", 0.99), ("C2", 0.3)], "J3": [("C2", 0.6), ("C3", 0.5)]}


def test_republish_of_a_date_with_changed_inputs_serves_exactly_the_new_top_k(spark, lake):
    """J2 closes and scores move; the same date is re-run: no stale item, no duplicate, no closed job."""
    from common.aws import client
    from spark_jobs import publish

    write_run(spark, "2026-11-22", DAY1_C2J, DAY1_J2C)
    first = publish.run("2026-11-22", spark=spark)
    everyone = {"candidates": ("C1", "C2", "C3"), "jobs": ("J1", "J2", "J3")}
    assert served(TENANT, **everyone) == {**DAY1_C2J, **DAY1_J2C}

    rerun_c2j = {"C1": [("J1", 0.97), ("J3", 0.95)], "C2": [("J3", 0.8), ("J1", 0.6)], "C3": DAY1_C2J["C3"]}
    rerun_j2c = {"J1": [("C1", 0.97), ("C2", 0.6)], "J3": [("C1", 0.95), ("C2", 0.8)]}
    write_run(spark, "2026-11-22", rerun_c2j, rerun_j2c, closed=("J2",), extra_candidates=("C3",))
    again = publish.run("2026-11-22", spark=spark)

    assert served(TENANT, **everyone) == {**rerun_c2j, **rerun_j2c, "J2": []}
    assert again["run_id"] == first["run_id"]
    # Only what changed was written: C1, C2, J1, J3 (and J2's now empty list); C3's list is kept.
    assert again["lists_written"] == 5 and again["lists_kept"] == 1
    assert again["entries_written"] == 4 * 2 and again["entries_kept"] == 2
    # One item per list, however long: 6 entities' CURRENT items, the tenant's run pointer, the sequence.
    items = client("dynamodb").scan(TableName=lake.dynamodb_table)["Items"]
    assert len(items) == 6 + 1 + 1 and {i["SK"]["S"] for i in items} == {"CURRENT", "SEQUENCE"}


def test_a_backfill_of_an_older_date_never_rolls_serving_back(spark, lake):
    from spark_jobs import publish, serving

    day1 = write_run(spark, "2026-11-20", DAY1_C2J, DAY1_J2C)
    publish.run("2026-11-20", spark=spark)
    # Day 3: only C1's and J1's lists change; C3 keeps day 1's list (not rewritten).
    day3_c2j = {**DAY1_C2J, "C1": [("J1", 0.95), ("J2", 0.9)]}
    day3_j2c = {**DAY1_J2C, "J1": [("C1", 0.95), ("C3", 0.4)], "J2": [("C1", 0.9), ("C2", 0.3)]}
    day3 = write_run(spark, "2026-11-22", day3_c2j, day3_j2c)
    steady = publish.run("2026-11-22", spark=spark)
    everyone = {"candidates": ("C1", "C2", "C3"), "jobs": ("J1", "J2", "J3")}
    assert served(TENANT, **everyone) == {**day3_c2j, **day3_j2c}

    # Backfill day 2 afterwards, where C3 (kept since day 1) differs: serving must stay on day 3.
    backfill_c2j = {**DAY1_C2J, "C3": [("J1", 0.8), ("J3", 0.2)]}
    write_run(spark, "2026-11-21", backfill_c2j, DAY1_J2C)
    late = publish.run("2026-11-21", spark=spark)
    assert served(TENANT, **everyone) == {**day3_c2j, **day3_j2c}
    assert serving.top_jobs_for_candidate(TENANT, "C1").run_id == day3
    assert serving.top_jobs_for_candidate(TENANT, "C3").run_id == day1  # its list was written by day 1
    assert late["tenants_superseded"] == [TENANT] and late["lists_written"] == 0
    assert steady["lists_written"] == 3 and steady["lists_kept"] == 3 and steady["entries_written"] == 6

    # Serving still moves forward after a backfill.
    day4_c2j = {**day3_c2j, "C3": [("J3", 0.7), ("J2", 0.1)]}
    write_run(spark, "2026-11-23", day4_c2j, day3_j2c)
    assert publish.run("2026-11-23", spark=spark)["lists_written"] == 1
    assert served(TENANT, candidates=("C3",)) == {"C3": day4_c2j["C3"]}


def test_keys_with_a_separator_or_a_foreign_tenant_are_refused_before_anything_is_written(spark, lake):
    from common.aws import client
    from spark_jobs import publish

    write_run(spark, "2026-11-22", {"C#1": [("J1", 0.9)]}, {"J1": [("C#1", 0.9)]})
    with pytest.raises(ValueError, match="C#1"):
        publish.run("2026-11-22", spark=spark)
    write_run(spark, "2026-11-22", {"C1": [("J1", 0.9)]}, {"J1": [("C1", 0.9)]}, tenant="ac#me")
    with pytest.raises(ValueError, match="ac#me"):
        publish.run("2026-11-22", spark=spark)
    # A match whose job is another tenant's profile (a cross-tenant pair) is an unknown key for its tenant.
    write_run(spark, "2026-11-22", {"C1": [("J1", 0.9)]}, {"J1": [("C1", 0.9)]})
    foreign = write_run(spark, "2026-11-21", {"C9": [("J1", 0.5)]}, {}, tenant="globex")
    _move_matches(spark, foreign, "2026-11-22")
    with pytest.raises(ValueError, match="globex/J1"):
        publish.run("2026-11-22", spark=spark)
    assert client("dynamodb").scan(TableName=lake.dynamodb_table, Select="COUNT")["Count"] == 0


def test_a_tenant_only_spark_accepts_is_refused_before_any_pointer_moves(spark, lake):
    """'acme\\n' passes Spark's rlike '^slug$' (Java's $ matches before a trailing newline); publish must
    refuse it before its first write, not inside the tenant loop after 'acme' (sorted first) was moved
    to a run whose lists were never written — which would also turn a later backfill away."""
    from common.aws import client
    from spark_jobs import publish, serving
    from spark_jobs._dynamo import ServingKeyError, tenant_run

    ddb, table = client("dynamodb"), lake.dynamodb_table
    served_run = write_run(spark, "2026-11-20", DAY1_C2J, DAY1_J2C)
    publish.run("2026-11-20", spark=spark)
    before = ddb.scan(TableName=table)["Items"]

    write_run(spark, "2026-11-22", {"C1": [("J1", 0.9)]}, {"J1": [("C1", 0.9)]})
    write_run(spark, "2026-11-21", {"C1": [("J1", 0.5)]}, {"J1": [("C1", 0.5)]}, tenant="acme\n")
    _append_run(spark, "2026-11-21", "2026-11-22")
    with pytest.raises(ServingKeyError, match=re.escape(repr("acme\n"))):
        publish.run("2026-11-22", spark=spark)
    assert ddb.scan(TableName=table)["Items"] == before  # not even the publish sequence moved
    assert tenant_run(ddb, table, TENANT)["run_id"]["S"] == served_run
    assert served(TENANT, candidates=("C1",)) == {"C1": DAY1_C2J["C1"]}
    assert serving.top_jobs_for_candidate(TENANT, "C1").run_id == served_run


def _append_run(spark, from_date: str, to_date: str) -> None:
    """Append another run's profiles and match rows to ``to_date``'s run (a second tenant in one run)."""
    from spark_jobs import _runs
    from spark_jobs._lake import table_uri

    for side in ("candidate", "job"):
        uri = table_uri("gold", f"{side}_profiles")
        spark.read.parquet(f"{uri}/run_date={from_date}").write.mode("append").parquet(f"{uri}/run_date={to_date}")
    _move_matches(spark, _runs.make_run_id(from_date, _runs.default_weights_version()), to_date)


def _move_matches(spark, from_run_id: str, run_date: str) -> None:
    """Append another run's match rows to ``run_date``'s run (a corrupted match output)."""
    from spark_jobs import _runs
    from spark_jobs._lake import table_uri
    from spark_jobs.match import GOLD_MATCHES_DDL

    run_id = _runs.make_run_id(run_date, _runs.default_weights_version())
    rows = [r.asDict() for r in spark.read.parquet(f"{table_uri('gold', 'matches')}/run_id={from_run_id}").collect()]
    extra = spark.createDataFrame([{**r, "run_id": run_id, "run_date": run_date} for r in rows], GOLD_MATCHES_DDL)
    extra.drop("run_id").write.mode("append").parquet(f"{table_uri('gold', 'matches')}/run_id={run_id}")


def test_an_entity_list_only_moves_forward_in_run_order(lake):
    """The conditional put itself, against dynalite: older orders are refused, newer ones accepted."""
    from common.aws import client
    from spark_jobs._dynamo import EntityList, current_item, make_run_order, put_current, write_current

    ddb, table = client("dynamodb"), lake.dynamodb_table
    entity = EntityList(TENANT, "CAND", "C1", [])

    def item(date, seq):
        return current_item(entity, generation=f"g{seq}", run_id=date, run_order=make_run_order(date, seq),
                            expires_at=1, published_at="t")  # fmt: skip

    def served_generation():
        key = {"PK": {"S": entity.pk}, "SK": {"S": "CURRENT"}}
        return ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["generation"]["S"]

    assert put_current(ddb, table, item("2026-11-22", 5))
    assert not put_current(ddb, table, item("2026-11-21", 9))  # a backfill, even with a later sequence
    assert not put_current(ddb, table, item("2026-11-22", 5))  # the same publish again
    assert served_generation() == "g5"
    assert write_current(ddb, table, [item("2026-11-22", 4), item("2026-11-22", 6)]) == [False, True]
    assert served_generation() == "g6"


def test_a_table_of_the_per_rank_layout_is_served_until_the_next_publish_rewrites_it(spark, lake):
    """Upgrade path: lists written by the older publish (a pointer naming a generation of per-rank items)
    are read as they are; the next publish rewrites each as one item, even where its content is equal."""
    from common.aws import client
    from spark_jobs import publish
    from spark_jobs._dynamo import EntityList, advance_tenant_run, make_run_order

    ddb, table = client("dynamodb"), lake.dynamodb_table
    old_order = make_run_order("2026-11-21", 1)
    advance_tenant_run(ddb, table, TENANT, run_id="old", run_order=old_order, published_at="then")
    for owner, ranked in {**DAY1_C2J, **DAY1_J2C}.items():
        kind = "CAND" if owner.startswith("C") else "JOB"
        owner_attr, other_attr = ("candidate_id", "job_id") if kind == "CAND" else ("job_id", "candidate_id")
        # The very list the new publish computes, so only the layout tells the two apart.
        entity = EntityList(TENANT, kind, owner, [
            {"rank": rank, "other_id": other, "score": score, **COMPONENT_VALUES,
             "matched_skills": ["Python (computer programming)"], "missing_essential": [], "missing_optional": ["SQL"]}
            for rank, (other, score) in enumerate(ranked, start=1)], "w1", "test")  # fmt: skip
        for rank, (other, score) in enumerate(ranked, start=1):
            ddb.put_item(TableName=table, Item={
                "PK": {"S": entity.pk}, "SK": {"S": f"G#old.p1#R#{rank:05d}#{'JOB' if kind == 'CAND' else 'CAND'}#{other}"},
                "tenant_id": {"S": TENANT}, owner_attr: {"S": owner}, other_attr: {"S": other},
                "rank": {"N": str(rank)}, "score": {"N": str(score)}})  # fmt: skip
        ddb.put_item(TableName=table, Item={
            "PK": {"S": entity.pk}, "SK": {"S": "CURRENT"}, "generation": {"S": "old.p1"}, "run_id": {"S": "old"},
            "run_order": {"S": old_order}, "items": {"N": str(len(ranked))}, "digest": {"S": entity.digest}})  # fmt: skip
    everyone = {"candidates": ("C1", "C2", "C3"), "jobs": ("J1", "J2", "J3")}
    assert served(TENANT, **everyone) == {**DAY1_C2J, **DAY1_J2C}

    write_run(spark, "2026-11-22", DAY1_C2J, DAY1_J2C)
    upgraded = publish.run("2026-11-22", spark=spark)
    assert upgraded["lists_written"] == 6 and upgraded["lists_kept"] == 0
    assert served(TENANT, **everyone) == {**DAY1_C2J, **DAY1_J2C}
    currents = [i for i in ddb.scan(TableName=table)["Items"] if i["SK"]["S"] == "CURRENT" and "#RUN" not in i["PK"]["S"]]
    assert len(currents) == 6 and all("entries" in i and i["layout"]["N"] == "2" for i in currents)


def test_read_api_cli_serves_the_current_lists_and_names_an_unknown_tenant(spark, lake, capsys):
    """`make top-matches` runs this CLI: it prints the served list; an unknown tenant is a clear error."""
    from spark_jobs import publish, serving

    write_run(spark, "2026-11-22", DAY1_C2J, DAY1_J2C)
    publish.run("2026-11-22", spark=spark)
    assert serving.main(["top-matches", "--candidate", "C1", "--tenant", TENANT]) == 0
    out = capsys.readouterr().out
    assert out.index("J2") < out.index("J1") and "matched: Python (computer programming)" in out
    assert serving.main(["top-candidates", "--job", "J3", "--tenant", TENANT, "--json"]) == 0
    assert '"candidate_id": "C2"' in capsys.readouterr().out
    assert serving.main(["top-matches", "--candidate", "C1", "--tenant", "initech"]) == 2
    assert "unknown tenant 'initech'" in capsys.readouterr().err
    assert serving.main(["top-matches", "--candidate", "C1", "--tenant", "ac#me"]) == 2
    assert "'#'" in capsys.readouterr().err

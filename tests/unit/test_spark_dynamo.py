"""Serving-table keys and items, key validation, the diff decision, the conditional-put writer, the
projected diff read (botocore Stubber) and the read API (Stubber). Against real dynalite:
tests/integration/test_serving_generations.py.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from spark_jobs._dynamo import (
    MAX_ITEM_BYTES,
    EntityList,
    PublishError,
    ServingKeyError,
    candidate_pk,
    current_item,
    entity_pk,
    item_bytes,
    make_generation,
    make_run_order,
    read_current,
    tenant_run_pk,
    write_current,
)

pytestmark = pytest.mark.unit


def _client():
    return boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _entry(rank=1, other="J1", **over):
    entry = {
        "rank": rank, "other_id": other, "score": 0.8123456, "semantic": 0.7, "skills": 0.9, "experience": 1.0,
        "location": 0.5, "salary": None, "matched_skills": ["python"], "missing_essential": ["sql"],
        "missing_optional": [],
    }  # fmt: skip
    entry.update(over)
    return entry


def _list(entries=None, kind="CAND", entity="C1", tenant="acme", **versions):
    entries = [_entry()] if entries is None else entries
    return EntityList(tenant, kind, entity, entries, versions.get("wv", "w1"), versions.get("mv", "m1"))


def test_keys_follow_the_contract():
    assert candidate_pk("acme", "C1") == "T#acme#CAND#C1"
    assert entity_pk("acme", "JOB", "J1") == "T#acme#JOB#J1" and tenant_run_pk("acme") == "T#acme#RUN"
    assert make_generation("2026-11-22Tw1", 7) == "2026-11-22Tw1.p7"


def test_run_order_sorts_by_date_then_publish_sequence():
    orders = [make_run_order("2026-11-22", 5), make_run_order("2026-11-21", 9), make_run_order("2026-11-22", 12)]
    assert sorted(orders) == [orders[1], orders[0], orders[2]]  # a backfill (11-21) sorts below, always


@pytest.mark.parametrize("tenant, entity", [("ac#me", "C1"), ("acme", "C#1"), ("", "C1"), ("acme", ""),
                                            (" acme", "C1"), ("acme", None), (None, "C1")])
def test_separators_and_empty_ids_never_become_keys(tenant, entity):
    with pytest.raises(ServingKeyError):
        candidate_pk(tenant, entity)


def _current(entity=None, **over):
    values = {"generation": "R.p3", "run_id": "R", "run_order": "o", "expires_at": 1_800_000_000, "published_at": "t"}
    values.update(over)
    return current_item(entity or _list(), **values)


def test_the_current_item_holds_the_whole_list_in_rank_order():
    entity = _list([_entry(1, "J1"), _entry(2, "J2", score=0.5, salary=0.25)])
    item = _current(entity)
    assert item["PK"] == {"S": "T#acme#CAND#C1"} and item["SK"] == {"S": "CURRENT"}
    assert item["tenant_id"] == {"S": "acme"} and item["candidate_id"] == {"S": "C1"}  # tenant on every record
    assert item["generation"] == {"S": "R.p3"} and item["run_id"] == {"S": "R"} and item["layout"] == {"N": "2"}
    assert item["entry_count"] == {"N": "2"} and item["digest"] == {"S": entity.digest}
    assert item["expires_at"] == {"N": "1800000000"}  # TTL: the list of an entity that left ages out
    first, second = (e["M"] for e in item["entries"]["L"])
    assert first["rank"] == {"N": "1"} and first["job_id"] == {"S": "J1"} and "candidate_id" not in first
    assert first["score"] == {"N": "0.812346"} and "salary" not in first  # null component omitted, not 0
    assert first["missing_essential"] == {"L": [{"S": "sql"}]} and first["matched_skills"] == {"L": [{"S": "python"}]}
    assert second["rank"] == {"N": "2"} and second["salary"] == {"N": "0.25"}
    job = _current(_list(kind="JOB", entity="J1", entries=[_entry(other="C9")]))
    assert job["PK"] == {"S": "T#acme#JOB#J1"} and job["job_id"] == {"S": "J1"}
    assert job["entries"]["L"][0]["M"]["candidate_id"] == {"S": "C9"}
    empty = _current(_list([], kind="JOB", entity="J3"))
    assert empty["entries"] == {"L": []} and empty["entry_count"] == {"N": "0"}


def test_a_matched_id_with_a_separator_is_refused_in_the_item():
    with pytest.raises(ServingKeyError, match="J#1"):
        _current(_list(entries=[_entry(other="J#1")]))


def test_a_list_over_the_item_size_limit_is_a_clear_error():
    entries = [_entry(r, f"J{r}", matched_skills=[f"skill {i} " * 20 for i in range(60)]) for r in range(1, 41)]
    assert item_bytes({"x": {"L": [{"S": "s" * 1000}]}}) > 1000
    with pytest.raises(PublishError, match=r"T#acme#CAND#C1 is \d+ bytes, over DynamoDB's 409600-byte .*40 entries"):
        _current(_list(entries))
    assert item_bytes(_current(_list(entries[:2]))) < MAX_ITEM_BYTES


def test_digest_changes_with_what_a_reader_sees_and_not_otherwise():
    base = _list([_entry(1, "J1"), _entry(2, "J2", score=0.5)])
    assert base.digest == _list([_entry(1, "J1"), _entry(2, "J2", score=0.5)]).digest
    assert base.digest == _list([_entry(1, "J1", score=0.81234561), _entry(2, "J2", score=0.5)]).digest  # 1e-6
    for changed in (
        _list([_entry(1, "J1"), _entry(2, "J3", score=0.5)]),  # another job
        _list([_entry(1, "J1"), _entry(2, "J2", score=0.4)]),  # another score
        _list([_entry(1, "J1"), _entry(2, "J2", score=0.5, missing_optional=["x"])]),  # explanation
        _list([_entry(1, "J1")]),  # shorter
        _list([_entry(1, "J1"), _entry(2, "J2", score=0.5)], mv="m2"),  # another model
    ):
        assert changed.digest != base.digest


def _plan(**over):
    from spark_jobs._publish_lists import PublishPlan

    values = {"table": "t", "run_id": "R2", "generation": "R2.p5", "run_order": make_run_order("2026-11-22", 5),
              "expires_at": 2000, "refresh_before": 1000, "published_at": "now"}  # fmt: skip
    values.update(over)
    return PublishPlan(**values)


@pytest.mark.parametrize("pointer_over, expected", [
    (None, "write"),
    ({}, "keep"),
    ({"digest": {"S": "other"}}, "write"),
    ({"expires_at": {"N": "999"}}, "refresh"),  # it expires before the refresh horizon
    ({"layout": {"N": "1"}}, "write"),  # same digest, but a pointer of the per-rank layout
    ({"run_order": {"S": make_run_order("2026-11-22", 6)}}, "superseded"),  # a newer publish holds it
    ({"run_order": {"S": make_run_order("2026-11-23", 1)}}, "superseded"),
    ("legacy", "write"),  # a pointer of the older layout (run_id only)
])  # fmt: skip
def test_diff_decision_from_the_current_pointer(pointer_over, expected):
    from spark_jobs._publish_lists import decide

    entity = _list()
    pointer = None
    if pointer_over == "legacy":
        pointer = {"PK": {"S": entity.pk}, "SK": {"S": "CURRENT"}, "run_id": {"S": "R1"}}
    elif pointer_over is not None:
        pointer = current_item(entity, generation="R1.p4", run_id="R1", run_order=make_run_order("2026-11-21", 4),
                               expires_at=1500, published_at="then")  # fmt: skip
        pointer.update(pointer_over)
    assert decide(entity, pointer, _plan()) == expected


@pytest.mark.parametrize("run_tenants, matched, refused", [
    (["acme", "ac#me"], ["acme"], "'ac#me'"),
    (["acme", "acme\n"], ["acme"], repr("acme\n")),  # Spark's rlike '^...$' lets a trailing newline through
    (["acme", None], ["acme"], "None"),
    (["acme"], ["acme", "initech"], "(unknown tenants): ['initech']"),
])  # fmt: skip
def test_publish_re_checks_every_tenant_before_a_pointer_is_written(run_tenants, matched, refused):
    import re

    from spark_jobs._publish_lists import checked_tenants

    with pytest.raises(ServingKeyError, match=re.escape(refused)):
        checked_tenants(run_tenants, matched)
    assert checked_tenants(["globex", "acme", "acme"], ["acme"]) == ["acme", "globex"]
    assert checked_tenants([], []) == []


class _RecordingClient:
    """Thread-safe fake: conditional puts (refused for ids in `held`, as if a newer run held them),
    recording the peak number of calls in flight."""

    def __init__(self, held=()):
        import threading

        self.lock = threading.Lock()
        self.in_flight = self.peak = 0
        self.held = set(held)
        self.put: list[str] = []

    def put_item(self, TableName, Item, ConditionExpression, ExpressionAttributeValues):  # noqa: N803 - boto3's names
        import time

        from botocore.exceptions import ClientError

        assert "run_order < :order" in ConditionExpression and ExpressionAttributeValues == {":order": Item["run_order"]}
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(0.005)
        with self.lock:
            self.in_flight -= 1
        if Item["PK"]["S"] in self.held:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "PutItem")
        with self.lock:
            self.put.append(Item["PK"]["S"])
        return {}


def test_write_current_reports_each_outcome_in_order_and_bounds_concurrency():
    items = [_current(_list(entity=f"C{i}")) for i in range(40)]
    fake = _RecordingClient(held={"T#acme#CAND#C7", "T#acme#CAND#C31"})
    outcomes = write_current(fake, "t", iter(items), concurrency=3)
    assert outcomes == [i not in (7, 31) for i in range(40)]
    assert sorted(fake.put) == sorted(f"T#acme#CAND#C{i}" for i in range(40) if i not in (7, 31))
    assert 1 < fake.peak <= 3


def test_write_current_raises_what_is_not_a_refused_condition():
    from botocore.exceptions import ClientError

    class Broken(_RecordingClient):
        def put_item(self, **kwargs):
            raise ClientError({"Error": {"Code": "ValidationException"}}, "PutItem")

    with pytest.raises(ClientError, match="ValidationException"):
        write_current(Broken(), "t", [_current()])


def test_the_diff_read_projects_away_the_entries_and_retries_unprocessed_keys():
    client = _client()
    keys = [{"PK": {"S": pk}, "SK": {"S": "CURRENT"}} for pk in ("T#acme#CAND#C1", "T#acme#CAND#C2")]
    names = {"#a0": "PK", "#a1": "layout", "#a2": "run_order", "#a3": "digest", "#a4": "entry_count",
             "#a5": "expires_at"}  # fmt: skip
    request = {"ConsistentRead": True, "ProjectionExpression": "#a0, #a1, #a2, #a3, #a4, #a5",
               "ExpressionAttributeNames": names}  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response("batch_get_item", {
            "Responses": {"t": [{"PK": {"S": "T#acme#CAND#C1"}, "digest": {"S": "d1"}}]},
            "UnprocessedKeys": {"t": {**request, "Keys": keys[1:]}},
        }, {"RequestItems": {"t": {**request, "Keys": keys}}})  # fmt: skip
        stub.add_response("batch_get_item", {"Responses": {"t": [{"PK": {"S": "T#acme#CAND#C2"}}]}},
                          {"RequestItems": {"t": {**request, "Keys": keys[1:]}}})  # fmt: skip
        found = read_current(client, "t", ["T#acme#CAND#C1", "T#acme#CAND#C2", "T#acme#CAND#C1"], sleep=lambda s: None)
        stub.assert_no_pending_responses()
    assert set(found) == {"T#acme#CAND#C1", "T#acme#CAND#C2"} and found["T#acme#CAND#C1"]["digest"] == {"S": "d1"}
    with pytest.raises(ValueError, match="at most 100"):
        read_current(client, "t", [f"T#acme#CAND#C{i}" for i in range(101)])


def test_read_api_serves_the_current_item_with_one_read_and_renders_explanations():
    from spark_jobs import serving

    client = _client()
    item = _current(_list([_entry(1, "J1"), _entry(2, "J2", score=0.5), _entry(3, "J3", score=0.4)]))
    with Stubber(client) as stub:  # one GetItem and nothing else: the list is in the item
        stub.add_response("get_item", {"Item": item}, {
            "TableName": "marketplace-matches", "Key": {"PK": {"S": "T#acme#CAND#C1"}, "SK": {"S": "CURRENT"}},
            "ConsistentRead": True})  # fmt: skip
        result = serving.top_jobs_for_candidate("acme", "C1", k=2, dynamodb=client)
        stub.assert_no_pending_responses()
    assert result.run_id == "R" and result.generation == "R.p3" and [m.job_id for m in result.matches] == ["J1", "J2"]
    assert [m.rank for m in result.matches] == [1, 2] and {m.candidate_id for m in result.matches} == {"C1"}
    assert result.matches[0].score == pytest.approx(0.812346) and "salary" not in result.matches[0].components
    text = serving.render(result)
    assert "J1" in text and "matched: python" in text and "missing essential: sql" in text


def test_read_api_still_reads_a_list_of_the_per_rank_layout():
    """Until the next publish rewrites it, a layout-1 pointer names a generation of per-rank items."""
    from spark_jobs import serving

    client = _client()
    pointer = {"PK": {"S": "T#acme#JOB#J1"}, "SK": {"S": "CURRENT"}, "generation": {"S": "R.p3"},
               "run_id": {"S": "R"}, "items": {"N": "1"}}  # fmt: skip
    old_item = {"PK": {"S": "T#acme#JOB#J1"}, "SK": {"S": "G#R.p3#R#00001#CAND#C9"}, "job_id": {"S": "J1"},
                "candidate_id": {"S": "C9"}, "rank": {"N": "1"}, "score": {"N": "0.7"}}  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": pointer})
        stub.add_response("query", {"Items": [old_item], "Count": 1}, {
            "TableName": "marketplace-matches", "KeyConditionExpression": "PK = :pk AND begins_with(SK, :gen)",
            "ExpressionAttributeValues": {":pk": {"S": "T#acme#JOB#J1"}, ":gen": {"S": "G#R.p3#R#"}},
            "ScanIndexForward": True, "Limit": 5, "ConsistentRead": True})  # fmt: skip
        result = serving.top_candidates_for_job("acme", "J1", k=5, dynamodb=client)
        stub.assert_no_pending_responses()
    assert [(m.candidate_id, m.job_id, m.score) for m in result.matches] == [("C9", "J1", 0.7)]


def test_read_api_of_an_empty_list_reads_no_items():
    from spark_jobs import serving

    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": _current(_list([], kind="JOB", entity="J3"))})
        result = serving.top_candidates_for_job("acme", "J3", dynamodb=client)
        stub.assert_no_pending_responses()
    assert result.run_id == "R" and result.matches == []
    assert "no matches in this run" in serving.render(result)


def test_read_api_without_pointer_reports_no_run_for_a_known_tenant():
    from spark_jobs import serving

    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_item", {})
        stub.add_response("get_item", {"Item": {"PK": {"S": "T#acme#RUN"}, "SK": {"S": "CURRENT"}}})
        result = serving.top_candidates_for_job("acme", "J404", dynamodb=client)
    assert result.run_id is None and result.matches == []
    assert "no published match run" in serving.render(result)


def test_read_api_names_an_unknown_tenant():
    from spark_jobs import serving
    from spark_jobs._dynamo import UnknownTenant

    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_item", {})
        stub.add_response("get_item", {}, {"TableName": "marketplace-matches", "ConsistentRead": True,
                                           "Key": {"PK": {"S": "T#initech#RUN"}, "SK": {"S": "CURRENT"}}})
        with pytest.raises(UnknownTenant, match="unknown tenant 'initech'"):
            serving.top_jobs_for_candidate("initech", "C1", dynamodb=client)


@pytest.mark.parametrize("tenant, entity", [("ac#me", "C1"), ("acme", "C#1")])
def test_read_api_refuses_a_separator_before_any_call(tenant, entity):
    from spark_jobs import serving

    client = _client()
    with Stubber(client), pytest.raises(ServingKeyError, match="'#'"):  # no response queued: no call allowed
        serving.top_jobs_for_candidate(tenant, entity, dynamodb=client)

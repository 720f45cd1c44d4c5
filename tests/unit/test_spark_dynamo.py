"""Serving-table keys and items, key validation, the diff decision, the BatchWriteItem retry path
(botocore Stubber) and the read API (Stubber). Against real dynalite: tests/integration/test_serving_generations.py.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from spark_jobs._dynamo import (
    BatchWriter,
    EntityList,
    PublishError,
    ServingKeyError,
    candidate_pk,
    entity_pk,
    list_items,
    list_sk,
    make_generation,
    make_run_order,
    pointer_item,
    tenant_run_pk,
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
    gen = make_generation("2026-11-22Tw1", 7)
    assert gen == "2026-11-22Tw1.p7"
    assert list_sk(gen, 3, "CAND", "J1") == "G#2026-11-22Tw1.p7#R#00003#JOB#J1"
    assert list_sk(gen, 12, "JOB", "C1") == "G#2026-11-22Tw1.p7#R#00012#CAND#C1"


def test_list_sort_keys_sort_by_rank():
    keys = [list_sk("g", rank, "CAND", f"J{rank}") for rank in (10, 2, 1, 100, 20)]
    assert [int(k.split("#")[3]) for k in sorted(keys)] == [1, 2, 10, 20, 100]


def test_run_order_sorts_by_date_then_publish_sequence():
    orders = [make_run_order("2026-11-22", 5), make_run_order("2026-11-21", 9), make_run_order("2026-11-22", 12)]
    assert sorted(orders) == [orders[1], orders[0], orders[2]]  # a backfill (11-21) sorts below, always


@pytest.mark.parametrize("tenant, entity", [("ac#me", "C1"), ("acme", "C#1"), ("", "C1"), ("acme", ""),
                                            (" acme", "C1"), ("acme", None), (None, "C1")])
def test_separators_and_empty_ids_never_become_keys(tenant, entity):
    with pytest.raises(ServingKeyError):
        candidate_pk(tenant, entity)


def test_a_list_item_in_a_matched_job_names_both_sides():
    item = list_items(_list(), "g1", "R", expires_at=1_800_000_000)[0]
    assert item["PK"] == {"S": "T#acme#CAND#C1"} and item["SK"] == {"S": "G#g1#R#00001#JOB#J1"}
    assert item["tenant_id"] == {"S": "acme"}  # tenant on every record, not only in the key
    assert item["candidate_id"] == {"S": "C1"} and item["job_id"] == {"S": "J1"} and item["rank"] == {"N": "1"}
    assert "salary" not in item  # null component omitted, not written as 0
    assert item["score"] == {"N": "0.812346"} and item["expires_at"] == {"N": "1800000000"}
    assert item["missing_essential"] == {"L": [{"S": "sql"}]}
    job_item = list_items(_list(kind="JOB", entity="J1", entries=[_entry(other="C9")]), "g1", "R", 1)[0]
    assert job_item["PK"] == {"S": "T#acme#JOB#J1"} and job_item["SK"]["S"].endswith("#CAND#C9")
    assert job_item["job_id"] == {"S": "J1"} and job_item["candidate_id"] == {"S": "C9"}


def test_a_matched_id_with_a_separator_is_refused_in_the_item():
    with pytest.raises(ServingKeyError, match="J#1"):
        list_items(_list(entries=[_entry(other="J#1")]), "g1", "R", 1)


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


def test_pointer_names_its_generation_and_has_no_ttl():
    item = pointer_item(_list(), generation="g1", run_id="R", run_order="o", expires_at=99, published_at="t")
    assert item["SK"] == {"S": "CURRENT"} and item["generation"] == {"S": "g1"} and item["run_id"] == {"S": "R"}
    assert item["items"] == {"N": "1"} and item["list_expires_at"] == {"N": "99"} and "expires_at" not in item
    assert item["digest"] == {"S": _list().digest}


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
    ({"list_expires_at": {"N": "999"}}, "refresh"),  # its items expire before the refresh horizon
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
        pointer = pointer_item(entity, generation="R1.p4", run_id="R1", run_order=make_run_order("2026-11-21", 4),
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


def _items(n):
    return [{"PK": {"S": f"P{i}"}, "SK": {"S": "S"}} for i in range(n)]


def test_unprocessed_items_are_retried_with_backoff_until_written():
    client = _client()
    items = _items(3)
    puts = [{"PutRequest": {"Item": i}} for i in items]
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_response(
            "batch_write_item", {"UnprocessedItems": {"t": puts[1:]}}, {"RequestItems": {"t": puts}}
        )
        stub.add_response(
            "batch_write_item", {"UnprocessedItems": {"t": puts[2:]}}, {"RequestItems": {"t": puts[1:]}}
        )
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"t": puts[2:]}})
        stats = BatchWriter(client, "t", base_delay=0.1, sleep=sleeps.append).write_batch(items)
        stub.assert_no_pending_responses()
    assert stats.items == 3 and stats.batches == 3 and stats.retries == 2 and stats.throttled_items == 3
    assert (
        len(sleeps) == 2 and 0 <= sleeps[0] <= 0.2 and 0 <= sleeps[1] <= 0.4
    )  # capped exponential, jittered


def test_items_still_unprocessed_after_all_attempts_raise():
    client = _client()
    puts = [{"PutRequest": {"Item": i}} for i in _items(2)]
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response(
                "batch_write_item", {"UnprocessedItems": {"t": puts}}, {"RequestItems": {"t": puts}}
            )
        with pytest.raises(PublishError, match="2 item\\(s\\) still unprocessed after 3 attempts"):
            BatchWriter(client, "t", max_attempts=3, sleep=lambda s: None).write_batch(_items(2))


class _RecordingClient:
    """Thread-safe fake: records batch sizes and the peak number of calls in flight."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.sizes: list[int] = []

    def batch_write_item(self, RequestItems):  # noqa: N803 - boto3's parameter name
        import time

        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(0.01)
        with self.lock:
            self.in_flight -= 1
            self.sizes.append(len(RequestItems["t"]))
        return {"UnprocessedItems": {}}


def test_write_all_chunks_by_25_and_bounds_concurrency():
    fake = _RecordingClient()
    stats = BatchWriter(fake, "t", concurrency=2).write_all(iter(_items(130)))
    assert stats.items == 130 and sorted(fake.sizes) == [5, 25, 25, 25, 25, 25]
    assert 1 <= fake.peak <= 2


def test_batch_over_limit_is_refused():
    with pytest.raises(ValueError):
        BatchWriter(_client(), "t").write_batch(_items(26))


def test_read_api_follows_the_pointer_to_its_generation_and_renders_explanations():
    from spark_jobs import serving

    client = _client()
    entity = _list([_entry(1, "J1"), _entry(2, "J2", score=0.5)])
    items = list_items(entity, "R.p3", "R", expires_at=1)
    pointer = pointer_item(entity, generation="R.p3", run_id="R", run_order="o", expires_at=1, published_at="x")
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": pointer})
        stub.add_response("query", {"Items": items, "Count": 2}, {
            "TableName": "marketplace-matches", "KeyConditionExpression": "PK = :pk AND begins_with(SK, :gen)",
            "ExpressionAttributeValues": {":pk": {"S": "T#acme#CAND#C1"}, ":gen": {"S": "G#R.p3#R#"}},
            "ScanIndexForward": True, "Limit": 5, "ConsistentRead": True})  # fmt: skip
        result = serving.top_jobs_for_candidate("acme", "C1", k=5, dynamodb=client)
        stub.assert_no_pending_responses()
    assert result.run_id == "R" and result.generation == "R.p3" and [m.job_id for m in result.matches] == ["J1", "J2"]
    assert result.matches[0].score == pytest.approx(0.812346)
    text = serving.render(result)
    assert "J1" in text and "matched: python" in text and "missing essential: sql" in text


def test_read_api_of_an_empty_list_reads_no_items():
    from spark_jobs import serving

    client = _client()
    pointer = pointer_item(_list([], kind="JOB", entity="J3"), generation="R.p3", run_id="R", run_order="o",
                           expires_at=1, published_at="x")  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": pointer})  # and no Query: the pointer says 0 items
        result = serving.top_candidates_for_job("acme", "J3", dynamodb=client)
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

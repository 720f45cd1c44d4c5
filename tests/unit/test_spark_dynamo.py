"""Serving-table keys, the BatchWriteItem retry path (botocore Stubber) and the read API rendering."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from spark_jobs._dynamo import (
    BatchWriter,
    PublishError,
    candidate_sk,
    inverted_score,
    job_gsi_sk,
    match_item,
    pointer_item,
)

pytestmark = pytest.mark.unit


def _client():
    return boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_inverted_score_sorts_descending_by_score():
    scores = [0.0, 0.25, 0.5, 0.999999, 1.0, 0.123456]
    keys = [inverted_score(s) for s in scores]
    assert all(len(k) == 7 for k in keys)
    assert inverted_score(1.0) == "0000000" and inverted_score(0.0) == "1000000"
    ascending_keys = sorted(zip(keys, scores, strict=True))
    assert [s for _, s in ascending_keys] == sorted(scores, reverse=True)


def test_inverted_score_clamps_and_handles_null():
    assert inverted_score(None) == inverted_score(0.0)
    assert inverted_score(1.7) == inverted_score(1.0)
    assert inverted_score(-0.2) == inverted_score(0.0)


def test_sort_keys_follow_the_contract():
    assert candidate_sk("2026-11-22Tw1", 0.75, "J1") == "RUN#2026-11-22Tw1#S#0250000#JOB#J1"
    assert job_gsi_sk("2026-11-22Tw1", 0.75, "C1") == "RUN#2026-11-22Tw1#S#0250000#CAND#C1"


def _pair(**over):
    pair = {
        "tenant_id": "acme", "candidate_id": "C1", "job_id": "J1", "score": 0.8123456,
        "semantic": 0.7, "skills": 0.9, "experience": 1.0, "location": 0.5, "salary": None,
        "matched_skills": ["python"], "missing_essential": ["sql"], "missing_optional": [],
        "weights_version": "w1", "model_version": "hashing-v1-384", "candidate_rank": 3, "job_rank": None,
    }  # fmt: skip
    pair.update(over)
    return pair


def test_match_item_in_candidate_topk_only_has_no_gsi_keys():
    item = match_item(_pair(), "R", expires_at=1_800_000_000)
    assert item["PK"] == {"S": "T#acme#CAND#C1"}
    assert item["SK"]["S"].startswith("RUN#R#S#0187654#JOB#J1")
    assert "GSI1PK" not in item and item["rank"] == {"N": "3"}
    assert "salary" not in item  # null component omitted, not written as 0
    assert item["expires_at"] == {"N": "1800000000"}
    assert item["missing_essential"] == {"L": [{"S": "sql"}]}


def test_match_item_in_job_topk_gets_sparse_gsi_keys():
    item = match_item(_pair(candidate_rank=None, job_rank=1), "R", expires_at=1)
    assert item["GSI1PK"] == {"S": "T#acme#JOB#J1"}
    assert item["GSI1SK"]["S"] == "RUN#R#S#0187654#CAND#C1"
    assert "rank" not in item and item["job_rank"] == {"N": "1"}


def test_pointer_item_has_no_ttl():
    item = pointer_item("acme", "JOB", "J1", "R", "2026-11-22T00:00:00")
    assert item["SK"] == {"S": "CURRENT"} and item["run_id"] == {"S": "R"} and "expires_at" not in item


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


def test_read_api_follows_the_current_pointer_and_renders_explanations():
    from spark_jobs import serving

    client = _client()
    item = match_item(_pair(), "2026-11-22Tw1", expires_at=1)
    with Stubber(client) as stub:
        stub.add_response("get_item", {"Item": pointer_item("acme", "CAND", "C1", "2026-11-22Tw1", "x")})
        stub.add_response("query", {"Items": [item], "Count": 1})
        result = serving.top_jobs_for_candidate("acme", "C1", k=5, dynamodb=client)
    assert result.run_id == "2026-11-22Tw1" and result.matches[0].job_id == "J1"
    assert result.matches[0].score == pytest.approx(0.812346)
    text = serving.render(result)
    assert "J1" in text and "matched: python" in text and "missing essential: sql" in text


def test_read_api_without_pointer_reports_no_run():
    from spark_jobs import serving

    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_item", {})
        result = serving.top_candidates_for_job("acme", "J404", dynamodb=client)
    assert result.run_id is None and result.matches == []
    assert "no published match run" in serving.render(result)

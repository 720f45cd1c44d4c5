"""bronze→silver pure DataFrame functions on a local[1] session."""

from __future__ import annotations

import json

import pytest

from ingestion.contracts import EVENT_TYPES
from spark_jobs.bronze_to_silver import (
    dedupe,
    quarantine_from_landing_errors,
    quarantine_from_rejects,
    raw_lines_to_bronze,
    silver_for,
    validate,
    window_dates,
)

pytestmark = pytest.mark.unit
PATH = "file:/lake/raw/events/event_type={t}/dt=2026-11-22/hour=10/kinesis-shardId-0-1.jsonl"


def ev(event_id: str, event_type: str = "candidate_registered", **payload) -> str:
    payload = payload or {"candidate_id": "c1", "location": {"city": "Austin", "country": "US"},
                          "self_reported": {"opt_in": True, "gender": "woman"}, "desired_salary_min": 50000}
    return json.dumps({"event_id": event_id, "event_type": event_type, "schema_version": 1,
                       "occurred_at": "2026-11-22T10:05:00Z", "tenant_id": "acme", "producer": "p", "payload": payload})


ID1, ID2, ID3 = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222",
                 "33333333-3333-4333-8333-333333333333")


@pytest.fixture(scope="module")
def lines(spark):
    rows = [
        (ev(ID1), PATH.format(t="candidate_registered")),
        (ev(ID1), PATH.format(t="candidate_registered").replace("-1.jsonl", "-9.jsonl")),  # duplicate delivery
        (ev(ID2, candidate_id=7), PATH.format(t="candidate_registered")),  # wrong type
        (ev(ID3, "match_clicked", impression_id="i", candidate_id="c1", job_id="j", match_run_id="r", rank=2),
         PATH.format(t="match_clicked")),
        (json.dumps({"event_type": "match_clicked", "occurred_at": "2026-11-22T10:00:00Z"}), PATH.format(t="match_clicked")),
        ("", PATH.format(t="match_clicked")),
    ]
    return spark.createDataFrame(rows, ["value", "_source_file"])


@pytest.fixture(scope="module")
def deduped(lines):
    """validate + dedupe once for the module (each run starts Python workers)."""
    frame = dedupe(validate(raw_lines_to_bronze(lines))).persist()
    yield frame
    frame.unpersist()


def test_window_dates():
    assert window_dates("2026-11-22", 2) == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert window_dates("2026-03-01", 1) == ["2026-02-28", "2026-03-01"]


def test_bronze_keeps_the_envelope_as_text_and_the_raw_line(lines):
    bronze = raw_lines_to_bronze(lines).collect()
    assert len(bronze) == 5  # the empty line is not a record
    first = bronze[0]
    assert (first.event_id, first.event_type, first.tenant_id, first.dt) == (ID1, "candidate_registered", "acme", "2026-11-22")
    assert json.loads(first.payload_json)["candidate_id"] == "c1"
    assert first._raw_record == ev(ID1) and first._ingested_at is not None


def test_validate_and_dedupe(deduped):
    rows = deduped.collect()
    by_key = {}
    for row in rows:
        by_key.setdefault(row._key, []).append(row)
    assert sorted(len(v) for v in by_key.values()) == [1, 1, 1, 2]
    dup = by_key["\x1f".join(("acme", "candidate_registered", ID1))]
    assert sum(r._is_duplicate for r in dup) == 1 and all(r.ok for r in dup)
    assert not next(r for r in dup if not r._is_duplicate)._source_file.endswith("-9.jsonl")  # stable choice
    bad = by_key["\x1f".join(("acme", "candidate_registered", ID2))][0]
    assert (bad.ok, bad.reason) == (False, "wrong_type")
    no_id = next(r for r in rows if r.event_id is None)
    assert no_id._key.startswith("sha256:") and no_id.reason == "missing_tenant"


def test_silver_is_flattened_and_typed(deduped):
    unique = deduped.where("ok and not _is_duplicate")
    silver = silver_for(unique, "candidate_registered")
    row = silver.collect()
    assert len(row) == 1
    row = row[0]
    assert (row.event_id, row.tenant_id, row.candidate_id, row.location_city, row.self_reported_opt_in) == (
        ID1, "acme", "c1", "Austin", True)
    assert row.desired_salary_min == 50000.0 and row.schema_version == 1
    assert str(row.occurred_at) == "2026-11-22 10:05:00" and row.dt == "2026-11-22"
    types = dict(silver.dtypes)
    assert types["occurred_at"] == "timestamp" and types["self_reported_opt_in"] == "boolean"
    assert "payload" not in types and "email" in types
    clicked = silver_for(unique, "match_clicked").collect()
    assert [r.rank for r in clicked] == [2]


def test_quarantine_rows_carry_stage_and_reason(deduped, spark):
    rejected = deduped.where("not ok and not _is_duplicate")
    q = quarantine_from_rejects(rejected).collect()
    assert sorted(r.reason for r in q) == ["missing_tenant", "wrong_type"]
    assert {r.stage for r in q} == {"silver"} and all(r.raw_record for r in q)

    error = json.dumps({"reason": "malformed_json", "detail": "x", "raw_record": "{oops", "source": "kinesis-1",
                        "arrived_at": "2026-11-22T10:00:00+00:00"})
    bad_type = json.dumps({"reason": "unknown_event_type", "detail": "y", "raw_record": ev(ID3, "match_liked"),
                           "source": "kinesis-1", "arrived_at": "2026-11-22T10:00:00+00:00"})
    errors = spark.createDataFrame([(error, "file:/lake/raw/errors/dt=2026-11-22/kinesis-1.jsonl"),
                                    (bad_type, "file:/lake/raw/errors/dt=2026-11-22/kinesis-1.jsonl"),
                                    (error, "file:/lake/raw/errors/dt=2026-11-22/kinesis-7.jsonl")],  # redelivered
                                   ["value", "_source_file"])
    rows = quarantine_from_landing_errors(errors).collect()
    assert len(rows) == 2
    landing = {r.reason: r for r in rows}
    assert landing["malformed_json"].stage == "landing" and landing["malformed_json"].dt == "2026-11-22"
    assert landing["malformed_json"].event_id is None
    assert (landing["unknown_event_type"].event_id, landing["unknown_event_type"].tenant_id) == (ID3, "acme")


# ---------------------------------------------------------------- dedupe key, conflicts, history, extra


def ev_for(event_id: str, tenant: str = "acme", occurred: str = "2026-11-22T10:05:00Z", **payload) -> str:
    body = json.loads(ev(event_id, **payload))
    return json.dumps({**body, "tenant_id": tenant, "occurred_at": occurred})


def _raw(settings, day: str, lines: list[str], name: str) -> None:
    from ingestion import lake_io

    by_type: dict[str, list[str]] = {}
    for line in lines:
        by_type.setdefault(json.loads(line)["event_type"], []).append(line)
    for event_type, rows in by_type.items():
        lake_io.write_bytes(f"{settings.zone_uri('raw')}/events/event_type={event_type}/dt={day}/hour=10/{name}.jsonl",
                            ("\n".join(rows) + "\n").encode())


def _silver(settings, event_type: str = "candidate_registered") -> list[dict]:
    import pyarrow.dataset as ds

    return ds.dataset(settings.table_uri("silver", event_type), format="parquet",
                      partitioning="hive").to_table().to_pylist()


def test_dedupe_keys_on_tenant_type_and_id_and_quarantines_payload_conflicts(spark):
    clicked = ev(ID1, "match_clicked", impression_id="i", candidate_id="c1", job_id="j", match_run_id="r", rank=2)
    records = [
        ev_for(ID1, "acme"), ev_for(ID1, "globex"),  # another tenant reusing the id: a different event
        clicked,  # another type reusing the id: a different event
        ev_for(ID2), ev_for(ID2),  # a true duplicate delivery
        ev_for(ID3), ev_for(ID3, candidate_id="c-other"),  # same key, different payload
    ]
    lines = spark.createDataFrame([(r, PATH.format(t=json.loads(r)["event_type"]).replace("-1.", f"-{i}."))
                                   for i, r in enumerate(records)], ["value", "_source_file"])
    rows = dedupe(validate(raw_lines_to_bronze(lines))).collect()
    kept = sorted((r.tenant_id, r.event_type, r.event_id) for r in rows if r.ok and not r._is_duplicate)
    assert kept == sorted([("acme", "candidate_registered", ID1), ("globex", "candidate_registered", ID1),
                           ("acme", "match_clicked", ID1), ("acme", "candidate_registered", ID2),
                           ("acme", "candidate_registered", ID3)])
    conflicts = [r for r in rows if r.reason == "payload_conflict"]
    assert [(r.event_id, r.ok, r._is_duplicate) for r in conflicts] == [(ID3, False, False)]
    assert "different payload" in conflicts[0].detail
    assert sum(r._is_duplicate for r in rows) == 1  # only the true duplicate of ID2


def test_a_retry_re_stamped_after_the_window_is_deduped_against_silver_history(spark, isolated_settings):
    from spark_jobs import bronze_to_silver

    settings = isolated_settings
    _raw(settings, "2026-11-22", [ev_for(ID1), ev_for(ID2)], "kinesis-shardId-0-1-a")
    bronze_to_silver.run("2026-11-22", spark=spark)
    # Four days later a producer retries ID1 with a fresh timestamp, and re-sends ID2 with another payload.
    late = "2026-11-26T00:02:00Z"
    _raw(settings, "2026-11-26", [ev_for(ID1, occurred=late), ev_for(ID2, occurred=late, candidate_id="c9"),
                                  ev_for(ID3, occurred=late)], "kinesis-shardId-0-9-b")
    result = bronze_to_silver.run("2026-11-26", spark=spark)
    ids = sorted(r["event_id"] for r in _silver(settings))
    assert ids == sorted([ID1, ID2, ID3])  # ID1 and ID2 once each, in their first partition
    assert result["duplicates_removed"] == 1 and result["quarantine_by_reason"] == {"silver:payload_conflict": 1}
    assert {r["event_id"]: r["dt"] for r in _silver(settings)}[ID1] == "2026-11-22"


def test_additive_fields_are_kept_in_extra_and_v2_lands_beside_v1(spark):
    additive = json.loads(ev_for(ID1))
    additive["payload"]["referral_code"] = "spring"
    additive["trace_id"] = "abc"
    job = {"job_id": "j1", "employer_id": "e1", "title": "Nurse", "description": "Care."}
    v1 = {**json.loads(ev(ID2)), "event_type": "job_posted",
          "payload": {**job, "salary_min": 50000.0, "salary_currency": "USD", "salary_period": "year"}}
    v2 = {**json.loads(ev(ID3)), "event_type": "job_posted", "schema_version": 2,
          "payload": {**job, "job_id": "j2", "salary": {"min": 60000.0, "currency": "USD", "period": "year"}}}
    lines = spark.createDataFrame([(json.dumps(r), PATH.format(t=r["event_type"])) for r in (additive, v1, v2)],
                                  ["value", "_source_file"])
    unique = dedupe(validate(raw_lines_to_bronze(lines))).persist()
    assert unique.where("not ok").count() == 0
    (row,) = silver_for(unique, "candidate_registered").collect()
    assert json.loads(row.extra) == {"payload.referral_code": "spring", "trace_id": "abc"}
    assert row.candidate_id == "c1"
    jobs = {r.job_id: r for r in silver_for(unique, "job_posted").collect()}
    assert {j: (r.schema_version, r.salary_min, r.salary_currency) for j, r in jobs.items()} == {
        "j1": (1, 50000.0, "USD"), "j2": (2, 60000.0, "USD")}
    assert jobs["j1"].extra is None
    unique.unpersist()


def _quarantine(settings) -> list[dict]:
    import pyarrow.dataset as ds

    return ds.dataset(settings.table_uri("quarantine", "events"), format="parquet",
                      partitioning="hive").to_table().to_pylist()


def test_every_input_line_is_in_silver_quarantine_or_a_true_duplicate(spark, isolated_settings):
    """Measured from outside the stage: the ids written into raw against the rows found in the silver and
    quarantine tables; the duplicates are the input's repeated identical lines, counted here."""
    from collections import Counter

    from spark_jobs import bronze_to_silver

    settings = isolated_settings
    ID4, ID5, ID6 = ("44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555",
                     "66666666-6666-4666-8666-666666666666")
    no_tenant = {k: v for k, v in json.loads(ev(ID4)).items() if k != "tenant_id"}
    first = [ev_for(ID1, "acme"), ev_for(ID1, "globex"), ev(ID2, candidate_id=7), ev_for(ID3),
             json.dumps(no_tenant),
             ev(ID5, "match_clicked", impression_id="i", candidate_id="c1", job_id="j", match_run_id="r", rank=2)]
    second = [ev_for(ID1, "acme"), ev_for(ID3, candidate_id="c-other")]  # a redelivery; a payload conflict
    _raw(settings, "2026-11-22", first, "kinesis-shardId-0-1-a")
    _raw(settings, "2026-11-22", second, "kinesis-shardId-0-1-b")
    landing_error = json.dumps({"reason": "unknown_event_type", "detail": "y", "raw_record": ev(ID6, "match_liked"),
                                "source": "kinesis-1", "arrived_at": "2026-11-22T10:00:00+00:00"})
    from ingestion import lake_io

    lake_io.write_bytes(f"{settings.zone_uri('raw')}/errors/dt=2026-11-22/kinesis-1.jsonl",
                        (landing_error + "\n").encode())
    result = bronze_to_silver.run("2026-11-22", spark=spark)

    lines_in = first + second
    true_duplicates = sum(n - 1 for n in Counter(lines_in).values())
    silver = [(r["tenant_id"], r["event_type"], r["event_id"])
              for t in ("candidate_registered", "match_clicked") for r in _silver(settings, t)]
    quarantine = _quarantine(settings)
    at_silver = [(r["event_id"], r["reason"]) for r in quarantine if r["stage"] == "silver"]
    assert sorted(silver) == sorted([("acme", "candidate_registered", ID1), ("globex", "candidate_registered", ID1),
                                     ("acme", "candidate_registered", ID3), ("acme", "match_clicked", ID5)])
    assert sorted(at_silver) == sorted([(ID2, "wrong_type"), (ID3, "payload_conflict"), (ID4, "missing_tenant")])
    assert [(r["event_id"], r["stage"]) for r in quarantine if r["stage"] == "landing"] == [(ID6, "landing")]
    # events in = silver + quarantined + duplicates, every side counted from its own table (0 lost)
    assert len(lines_in) == len(silver) + len(at_silver) + true_duplicates == 8
    ids_in = {json.loads(line)["event_id"] for line in lines_in}
    assert ids_in - {i for *_, i in silver} - {i for i, _ in at_silver} == set()
    # ...and the stage's own counters agree with those measurements
    assert (result["raw_lines"], result["silver_rows"], result["quarantined_silver"], result["duplicates_removed"]) \
        == (len(lines_in), len(silver), len(at_silver), true_duplicates)


def test_a_rerun_in_one_session_gives_the_same_silver(spark, isolated_settings):
    """Two overlapping windows, run twice in one session (a history rerun): each run rewrites its days whole,
    and the second pass leaves exactly the rows of the first."""
    from spark_jobs import bronze_to_silver

    settings = isolated_settings
    ids = iter(f"{n:08d}-0000-4000-8000-000000000000" for n in range(1000))
    for day in ("2026-11-21", "2026-11-22"):
        for hour in ("03", "15"):
            lines = [ev_for(next(ids), occurred=f"{day}T{hour}:00:00Z") for _ in range(5)]
            _raw(settings, day, lines, f"kinesis-shardId-0-{hour}")
    passes = []
    for _ in range(2):
        for run_date in ("2026-11-21", "2026-11-22"):
            bronze_to_silver.run(run_date, spark=spark, lookback_days=1)
        passes.append(sorted((r["dt"], r["event_id"]) for r in _silver(settings)))
    assert passes[0] == passes[1] and len(passes[0]) == 20


def _tables(settings) -> dict[str, list]:
    """Every bronze/silver/quarantine row of the lake, without the per-run timestamps, sorted."""
    import pyarrow.dataset as ds

    from ingestion import lake_io

    stamps = {"_ingested_at", "quarantined_at"}
    tables = {}
    for zone, table in [("bronze", "events"), ("quarantine", "events")] + [("silver", t) for t in EVENT_TYPES]:
        uri = settings.table_uri(zone, table)
        if not lake_io.list_files(uri, ".parquet"):
            continue
        rows = ds.dataset(uri, format="parquet", partitioning="hive").to_table().to_pylist()
        tables[f"{zone}/{table}"] = sorted(repr(sorted((k, v) for k, v in r.items() if k not in stamps)) for r in rows)
    return tables


def _many_small_raw_files(settings, files: int) -> list[str]:
    ids = iter(f"{n:08d}-0000-4000-8000-000000000000" for n in range(10_000))
    lines = []
    for n in range(files):
        batch = [ev_for(next(ids), occurred="2026-11-22T10:00:00Z") for _ in range(3)]
        if n % 7 == 0:
            batch.append(batch[0])  # a redelivered record: a duplicate
        if n % 11 == 0:
            batch.append(ev(next(ids), candidate_id=7))  # a contract violation: quarantined
        _raw(settings, "2026-11-22", batch, f"kinesis-shardId-0-{n:04d}")
        lines += batch
    from ingestion import lake_io

    partition = f"{settings.zone_uri('raw')}/events/event_type=candidate_registered/dt=2026-11-22"
    for not_raw in ("hour=10/notes.txt", "hour=10/.part-in-flight.jsonl"):  # neither listed nor read
        lake_io.write_bytes(f"{partition}/{not_raw}", (ev_for(next(ids)) + "\n").encode())
    return lines


def test_small_raw_files_are_packed_into_few_read_tasks_with_the_same_rows(spark, isolated_settings):
    """Oracle: the old read (every listed file by name, Spark's default 4 MB open cost per file) against the
    new one (the partition directories, small-file packing) on the same raw lake: equal bronze, silver and
    quarantine rows and counts; the packed read writes fewer bronze files (a read task per core, not per 32
    files)."""
    import contextlib
    import shutil

    from pyspark.sql import functions as F

    from ingestion import lake_io
    from spark_jobs import bronze_to_silver

    settings = isolated_settings
    lines = _many_small_raw_files(settings, 40)
    bronze_partition = f"{settings.table_uri('bronze', 'events')}/event_type=candidate_registered/dt=2026-11-22"
    runs = {}
    def old_read_lines(spark, files, suffix=""):
        return spark.read.text(files).withColumn("_source_file", F.input_file_name())

    for name in ("old", "new"):
        with pytest.MonkeyPatch.context() as patch:
            if name == "old":
                patch.setattr(bronze_to_silver, "_read_lines", old_read_lines)
                patch.setattr(bronze_to_silver, "_small_file_packing", lambda spark: contextlib.nullcontext())
            for zone in ("bronze", "silver", "quarantine"):
                shutil.rmtree(settings.zone_uri(zone), ignore_errors=True)
            result = bronze_to_silver.run("2026-11-22", spark=spark)
        runs[name] = ({k: result[k] for k in ("raw_files", "raw_lines", "silver_rows", "duplicates_removed",
                                                "quarantine_by_reason", "reconciled")},
                      _tables(settings), len(lake_io.list_files(bronze_partition, ".parquet")))
    (old_counts, old_tables, old_files), (new_counts, new_tables, new_files) = runs["old"], runs["new"]
    assert new_counts == old_counts and new_counts["raw_lines"] == len(lines) and new_counts["reconciled"]
    assert new_counts["duplicates_removed"] > 0 and new_counts["quarantine_by_reason"]
    assert new_tables == old_tables and set(new_tables) >= {"bronze/events", "silver/candidate_registered",
                                                            "quarantine/events"}
    assert old_files == 2 and new_files == 1  # local[1]: 40 files were 2 read tasks (32 a task), now 1
    assert spark.conf.get("spark.sql.files.openCostInBytes", None) in (None, "4194304", "4MB")  # restored


def test_silver_writes_do_not_re_run_the_validation_when_silver_history_exists(spark, isolated_settings, monkeypatch):
    """Writing a silver table re-caches every cached plan that reads it; `validated` reads silver history,
    so without cutting that lineage each table written re-validated the whole window once more."""
    from spark_jobs import bronze_to_silver

    settings = isolated_settings
    _raw(settings, "2026-11-20", [ev_for(ID1, occurred="2026-11-20T10:00:00Z")], "kinesis-shardId-0-1-a")
    bronze_to_silver.run("2026-11-20", spark=spark)  # the history the next run dedupes against
    day = "2026-11-26T09:00:00Z"
    clicked = ev(ID2, "match_clicked", impression_id="i", candidate_id="c1", job_id="j", match_run_id="r", rank=1)
    lines = [ev_for(ID3, occurred=day), ev_for("44444444-4444-4444-8444-444444444444", occurred=day),
             json.dumps({**json.loads(clicked), "occurred_at": day})]
    _raw(settings, "2026-11-26", lines, "kinesis-shardId-0-2-b")

    validated_rows = spark.sparkContext.accumulator(0)
    original = bronze_to_silver._validate_batches

    def counting(batches):
        for frame in original(batches):
            validated_rows.add(len(frame))
            yield frame

    monkeypatch.setattr(bronze_to_silver, "_validate_batches", counting)
    result = bronze_to_silver.run("2026-11-26", spark=spark)
    assert result["silver_by_type"] == {"candidate_registered": 2, "match_clicked": 1}
    assert validated_rows.value == result["raw_lines"] == 3  # each line validated once, not once per table written

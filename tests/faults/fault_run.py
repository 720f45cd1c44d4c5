"""`make test-faults`: one fault-injection run through the real code paths, on its own ports and directories.

Two marketplace days (D-1 and D = yesterday UTC, D continuing D-1's marketplace) go through the real
producers into the local stand-ins (kinesalite, moto EventBridge → SQS), with these faults injected:

- midnight: records stamped just before and just after midnight arrive while D's 23:00 run drains;
- two consumers: two landers drain the same stream and queue at once;
- duplicates: every 10th event is delivered twice;
- lone surrogate: one record per channel carries a JSON ``"\\ud83d"`` (valid JSON, not encodable UTF-8);
- additive field: a v1 event with one extra payload field;
- rerun with changed inputs: a job that is served gets closed, D is matched and published again;
- backfill: D-1 is published after D;
- DOCX bomb: a resume whose document.xml inflates to ~120 MB.

Each scenario is a list of checks measured from outside the code under test (DynamoDB through the serving
API, the lake's files). The ledger at the end compares the ids this run *produced* with the ids *found* in
silver and quarantine, and prints ``events in = silver + quarantined + duplicates``; it exits non-zero when
anything is lost or any scenario failed. The stand-ins, lake and state live in a temp dir (kept and named
on failure); every process it starts is stopped at the end.

    .venv/jobs/bin/python tests/faults/fault_run.py [--scale 0.05] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

K = 3
SEED = 17
BOMB_INFLATED_BYTES = 120 * 1024 * 1024
DUPLICATE_EVERY = 10


def isolate(root: Path) -> None:
    """Own ports, lake and state before anything reads the settings (the same seam tests/conftest.py uses)."""
    from common.local_services.processes import RUN_TAG_ENV, pick_free_ports

    os.environ.update(PLATFORM_ENV="local", LAKE_ROOT=str(root / "lake"), LOCAL_STATE_DIR=str(root / "state"),
                      EMBEDDING_ENCODER="hashing", SPARK_LOCAL_IP="127.0.0.1", OPENBLAS_NUM_THREADS="1",
                      HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **pick_free_ports())
    os.environ.setdefault(RUN_TAG_ENV, f"faults-{os.getpid()}")
    for name in ("KINESIS_ENDPOINT", "DYNAMODB_ENDPOINT", "MOTO_ENDPOINT", "WAREHOUSE_PATH"):
        os.environ.pop(name, None)


# ---- what this run produced ------------------------------------------------------------------


@dataclass
class Ledger:
    """Every event id this run sent, where it must end up, and how many lines went out."""

    expected: dict[str, tuple[str, str]] = field(default_factory=dict)  # event_id -> (scenario, silver|quarantine)
    lines_sent: int = 0
    duplicate_copies: int = 0

    def add(self, event_id: str, scenario: str, where: str = "silver") -> None:
        self.expected.setdefault(event_id, (scenario, where))


@dataclass
class Scenario:
    name: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    error: str | None = None

    def check(self, what: str, ok: bool, detail: object = "") -> bool:
        self.checks.append((what, bool(ok), str(detail)[:300]))
        return bool(ok)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(ok for _, ok, _ in self.checks)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def variant(event: dict, **changes) -> dict:
    """A copy of ``event`` with a fresh id; ``payload`` entries in ``changes`` are merged into the payload."""
    copy = json.loads(json.dumps(event))
    copy["event_id"] = str(uuid.uuid4())
    copy["payload"].update(changes.pop("payload", {}))
    copy.update(changes)
    return copy


class Delivery:
    """The real producers on the configured stream and bus; records every line in the ledger."""

    def __init__(self, ledger: Ledger):
        from common.aws import client
        from common.config import get_settings
        from ingestion.producers import EventBridgeProducer, KinesisProducer

        settings = get_settings()
        self.ledger = ledger
        self.kinesis = KinesisProducer(client("kinesis"), settings.kinesis_stream)
        self.bus = EventBridgeProducer(client("events"), settings.event_bus)

    def send(self, events: list[dict], scenario: str, where: str = "silver", raw: dict[str, bytes] | None = None):
        """Send events (``raw``: event_id -> exact bytes to send instead of the encoded event)."""
        from ingestion.producers import OutboundRecord, encode_event
        from ingestion.simulator import EVENTBRIDGE_TYPES

        to_kinesis, to_bus = [], []
        for event in events:
            record = encode_event(event)
            if raw and event["event_id"] in raw:
                record = OutboundRecord(raw[event["event_id"]], record.partition_key, record.detail_type,
                                        record.source)
            (to_bus if event["event_type"] in EVENTBRIDGE_TYPES else to_kinesis).append(record)
            if event["event_id"] in self.ledger.expected:
                self.ledger.duplicate_copies += 1
            self.ledger.add(event["event_id"], scenario, where)
        if to_kinesis:
            assert self.kinesis.put(to_kinesis).sent == len(to_kinesis)
        if to_bus:
            assert self.bus.put(to_bus).sent == len(to_bus)
        self.ledger.lines_sent += len(to_kinesis) + len(to_bus)


# ---- what the lake and DynamoDB hold (measured, not the stages' counters) ---------------------


def lake_rows(table_glob: str, columns: str) -> list[tuple]:
    import duckdb

    try:
        return duckdb.sql(f"select {columns} from read_parquet('{table_glob}/**/*.parquet', "
                          "hive_partitioning=true, union_by_name=true)").fetchall()
    except duckdb.IOException:
        return []  # no file yet


def silver_ids() -> Counter:
    from common.config import get_settings

    return Counter(row[0] for row in lake_rows(get_settings().zone_uri("silver") + "/*", "event_id"))


def quarantined() -> dict[str, str]:
    from common.config import get_settings

    rows = lake_rows(get_settings().table_uri("quarantine", "events"), "event_id, reason")
    return {event_id: reason for event_id, reason in rows if event_id}


def served(tenant: str, side: str, entity_id: str):
    from spark_jobs import serving

    lookup = serving.top_jobs_for_candidate if side == "candidate" else serving.top_candidates_for_job
    return lookup(tenant, entity_id, k=50)


def gold_lists(run_id: str) -> dict[tuple[str, str], list[str]]:
    """candidate -> ranked job ids of one match run, read from gold/matches."""
    from common.config import get_settings

    path = f"{get_settings().table_uri('gold', 'matches')}/run_id={run_id}"
    rows = lake_rows(path, "tenant_id, candidate_id, job_id, rank, direction")
    lists: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for tenant, cand, job, rank, direction in rows:
        if direction == "candidate_to_job":
            lists.setdefault((tenant, cand), []).append((rank, job))
    return {key: [job for _, job in sorted(value)] for key, value in lists.items()}


# ---- the run ------------------------------------------------------------------------------------


class FaultRun:
    def __init__(self, scale: float):
        self.scale = scale
        self.ledger = Ledger()
        self.scenarios: dict[str, Scenario] = {}
        now = dt.datetime.now(dt.UTC)
        self.now = now
        self.today = now.date()
        self.day = (self.today - dt.timedelta(days=1)).isoformat()  # D: yesterday, as the 00:00 DAG runs it
        self.prev = (self.today - dt.timedelta(days=2)).isoformat()  # D-1: the backfill's date
        self.spark = None
        self.published: dict[str, dict] = {}

    def scenario(self, name: str) -> Scenario:
        return self.scenarios.setdefault(name, Scenario(name))

    def guarded(self, name: str, step) -> None:
        """Run one step; an exception fails that scenario (with the error) and the run goes on."""
        try:
            step(self.scenario(name))
        except Exception as exc:  # noqa: BLE001 - a scenario's crash is its result, not the harness's
            self.scenario(name).error = f"{type(exc).__name__}: {str(exc)[:400]}"
            traceback.print_exc()

    # -- input -------------------------------------------------------------------------------

    def produce(self, send: Delivery) -> None:
        from ingestion import lake_io
        from ingestion.simulator import build_day

        prev = build_day(self.prev, SEED, self.scale, bad_records=False)
        day = build_day(self.day, SEED, self.scale, bad_records=False, state=prev.state)
        self.plan, self.events = day, prev.events + day.events
        raw_root = self._raw_root()
        for plan in (prev, day):
            for key, body in plan.documents:
                lake_io.write_bytes(f"{raw_root}/{key.removeprefix('raw/')}", body)
        send.send(prev.events, "days")
        send.send(day.events, "days")
        send.send((prev.events + day.events)[::DUPLICATE_EVERY], "duplicates")

        # midnight: one stamped in D's last second, one after midnight (today); both arrive now, after D.
        impression = next(e for e in day.events if e["event_type"] == "match_impression")
        midnight = dt.datetime.combine(self.today, dt.time(), tzinfo=dt.UTC)
        self.midnight = [variant(impression, occurred_at=iso(midnight - dt.timedelta(milliseconds=1))),
                         variant(impression, occurred_at=iso(self.now - dt.timedelta(minutes=1)))]
        send.send(self.midnight, "midnight")

        # additive field: a v1 event with one payload field the contract does not name
        registered = next(e for e in day.events if e["event_type"] == "candidate_registered")
        self.additive = variant(registered, payload={"referral_code": "fault-run"})
        send.send([self.additive], "additive field")

        # lone surrogate, one per channel: valid JSON whose string is not encodable as UTF-8
        posted = next(e for e in day.events if e["event_type"] == "job_posted")
        self.surrogates = [variant(impression, payload={"note": "SURROGATE"}),
                           variant(posted, payload={"note": "SURROGATE"})]
        raw = {e["event_id"]: json.dumps(e).replace("SURROGATE", "\\ud83d").encode() for e in self.surrogates}
        send.send(self.surrogates, "lone surrogate", where="quarantine", raw=raw)

        # DOCX bomb: a new resume for a candidate of D, uploaded today (its own run date: build_profiles(today))
        upload = next(e for e in day.events if e["event_type"] == "resume_uploaded")
        resume_id = str(uuid.uuid4())
        body = docx_bomb(BOMB_INFLATED_BYTES)
        key = f"documents/tenant_id={upload['tenant_id']}/resumes/{resume_id}.docx"
        lake_io.write_bytes(f"{raw_root}/{key}", body)
        self.bomb = variant(upload, occurred_at=iso(self.now - dt.timedelta(minutes=2)), payload={
            "resume_id": resume_id, "document_uri": f"raw/{key}", "size_bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
        send.send([self.bomb], "docx bomb")

    def _raw_root(self) -> str:
        from common.config import get_settings

        return get_settings().zone_uri("raw")

    # -- steps -------------------------------------------------------------------------------

    def land_with_two_consumers(self, sc: Scenario) -> None:
        from ingestion.landing import run_landing

        results, errors = [], []

        def lander():
            try:
                results.append(run_landing(self.day, hour=23, visibility_timeout=5))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=lander) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        sc.check("both landers finished without an error", not errors and len(results) == 2, errors)
        time.sleep(6)  # anything a lander received but did not delete becomes visible again
        again = run_landing(self.day, hour=23, visibility_timeout=5)
        after = run_landing(self.day, hour=23, visibility_timeout=5)
        sc.check("a later run drains the rest and then finds nothing (no stalled shard or queue)",
                 after["records_in"] == 0, {"again": again.get("records_in"), "after": after.get("records_in")})

    def silver(self, sc: Scenario, dates: list[str]) -> None:
        from spark_jobs import bronze_to_silver

        for run_date in dates:
            bronze_to_silver.run(run_date, spark=self.spark)
        sc.check(f"bronze_to_silver ran for {', '.join(dates)}", True)

    def check_ingest_faults(self) -> None:
        ids, quarantine = silver_ids(), quarantined()
        sc = self.scenario("midnight")
        for event in self.midnight:
            sc.check(f"{event['occurred_at']} (arrived after D ended) is in silver", ids[event["event_id"]] == 1,
                     quarantine.get(event["event_id"], "not in quarantine either"))
        sc = self.scenario("additive field")
        sc.check("the event with an added field is in silver", ids[self.additive["event_id"]] == 1,
                 quarantine.get(self.additive["event_id"], "not in quarantine either"))
        sc = self.scenario("lone surrogate")
        for event in self.surrogates:
            sc.check(f"{event['event_type']} with a lone surrogate is quarantined with a reason",
                     bool(quarantine.get(event["event_id"])), quarantine.get(event["event_id"], "not found"))
        sc = self.scenario("duplicates")
        sc.check("no event id twice in silver", max(ids.values(), default=0) == 1,
                 [i for i, n in ids.items() if n > 1][:3])

    def pipeline(self, run_date: str) -> dict:
        from spark_jobs import build_profiles, embed, match, publish, quality_gate

        build_profiles.run(run_date, spark=self.spark)
        embed.run(run_date, encoder="hashing", spark=self.spark)
        matched = match.run(run_date, k=K, spark=self.spark)
        quality_gate.run(run_date, spark=self.spark)
        published = publish.run(run_date, spark=self.spark)
        return {"match": matched, "publish": published}

    def served_lists(self, run_id: str) -> dict[tuple[str, str], tuple[str | None, list[str]]]:
        """For every candidate of the run's gold lists: (run_id CURRENT serves, job ids served)."""
        out = {}
        for tenant, cand in gold_lists(run_id):
            top = served(tenant, "candidate", cand)
            out[(tenant, cand)] = (top.run_id, [m.job_id for m in top.matches])
        return out

    def publish_day(self, sc: Scenario) -> None:
        first = self.pipeline(self.day)
        self.published["first"] = first
        run_id = first["match"]["run_id"]
        lists, serving_now = gold_lists(run_id), self.served_lists(run_id)
        sc.check("every candidate of D is served exactly its gold list",
                 lists and all(serving_now[key][1] == jobs for key, jobs in lists.items()),
                 {k: v for k, v in list(serving_now.items())[:2]})

    def rerun_with_changed_inputs(self, sc: Scenario, send: Delivery) -> None:
        from ingestion.landing import run_landing

        first_lists = gold_lists(self.published["first"]["match"]["run_id"])
        served_jobs = Counter(job for jobs in first_lists.values() for job in jobs)
        job_id = served_jobs.most_common(1)[0][0]  # the job served to the most candidates
        tenant = next(t for (t, _), jobs in first_lists.items() if job_id in jobs)
        posted = next(e for e in self.events if e["event_type"] == "job_posted"
                      and e["payload"]["job_id"] == job_id)
        closed_at = dt.datetime.combine(dt.date.fromisoformat(self.day), dt.time(23, 30), tzinfo=dt.UTC)
        closed = {"event_id": str(uuid.uuid4()), "event_type": "job_closed", "schema_version": 1,
                  "occurred_at": iso(closed_at), "tenant_id": tenant, "producer": posted["producer"],
                  "payload": {"job_id": job_id, "employer_id": posted["payload"]["employer_id"],
                              "reason": "filled"}}
        send.send([closed], "rerun with changed inputs")
        run_landing(self.day, hour=23, visibility_timeout=5)
        self.silver(sc, [self.day])
        second = self.pipeline(self.day)
        self.published["second"] = second
        run_id = second["match"]["run_id"]
        lists, serving_now = gold_lists(run_id), self.served_lists(run_id)
        stale = {key: jobs for key, (_, jobs) in serving_now.items() if job_id in jobs}
        sc.check(f"the closed job {job_id[:8]} is served to nobody", not stale, stale)
        sc.check("the closed job serves no candidates", served(tenant, "job", job_id).matches == [],
                 [m.candidate_id for m in served(tenant, "job", job_id).matches])
        wrong = {key: got for key, got in serving_now.items() if got[1] != lists[key]}
        sc.check("every candidate is served exactly the rerun's gold list (no stale or duplicate items)",
                 not wrong, dict(list(wrong.items())[:2]))
        before = {key for key in first_lists}
        dropped = {key: served(key[0], "candidate", key[1]).matches for key in before - set(lists)}
        sc.check("candidates that dropped out of the rerun are served nothing stale",
                 all(not matches for matches in dropped.values()), list(dropped)[:2])
        self.after_rerun = serving_now

    def backfill(self, sc: Scenario) -> None:
        self.silver(sc, [self.prev])
        backfilled = gold_lists(self.pipeline(self.prev)["match"]["run_id"])
        run_id = self.published["second"]["match"]["run_id"]
        now_serving = self.served_lists(run_id)
        moved = {key: got for key, got in now_serving.items() if got != self.after_rerun[key]}
        sc.check("publishing D-1 after D leaves every CURRENT pointer and list on D's latest run",
                 not moved, dict(list(moved.items())[:2]))
        sc.check("the backfill overlapped candidates served for D (the check had something to move)",
                 bool(set(backfilled) & set(now_serving)), len(backfilled))

    def docx_bomb(self, sc: Scenario) -> None:
        from common.config import get_settings
        from spark_jobs import build_profiles

        started = time.monotonic()
        build_profiles.run(self.today.isoformat(), spark=self.spark)
        cand = self.bomb["payload"]["candidate_id"]
        rows = lake_rows(get_settings().table_uri("quarantine", "documents"), "entity_id, reason")
        reasons = [reason for entity, reason in rows if entity == cand]
        sc.check(f"build_profiles finished ({time.monotonic() - started:.0f}s) and quarantined the bomb "
                 "with a reason", bool(reasons), reasons or "not quarantined (its text was extracted)")
        from spark_jobs.silver_reconcile import reconcile_profiles

        reconciled = reconcile_profiles(self.spark, self.today.isoformat())
        sc.check("today's profiles reconcile against silver (the bomb's candidate counts as quarantined)",
                 reconciled["reconciled"] and reconciled["candidates_in_silver"] > 0,
                 {k: v for k, v in reconciled.items() if k != "run_date"})

    # -- the ledger ----------------------------------------------------------------------------

    def reconcile(self) -> tuple[int, str]:
        ids, quarantine = silver_ids(), quarantined()
        in_silver = {i for i in self.ledger.expected if ids.get(i)}
        in_quarantine = {i for i in self.ledger.expected if i in quarantine} - in_silver
        lost = sorted(set(self.ledger.expected) - in_silver - in_quarantine)
        misplaced = sorted(i for i, (_, where) in self.ledger.expected.items()
                           if (where == "silver") != (i in in_silver) and i not in lost)
        line = (f"events in = silver + quarantined + duplicates: {self.ledger.lines_sent} = {len(in_silver)} + "
                f"{len(in_quarantine)} + {self.ledger.duplicate_copies}   (lost {len(lost)}, in the other place "
                f"than expected {len(misplaced)})")
        if lost:
            line += "\n  lost: " + ", ".join(f"{i} ({self.ledger.expected[i][0]})" for i in lost[:10])
        if misplaced:
            line += "\n  misplaced: " + ", ".join(f"{i} ({self.ledger.expected[i][0]})" for i in misplaced[:10])
        balanced = self.ledger.lines_sent == len(in_silver) + len(in_quarantine) + self.ledger.duplicate_copies
        return (0 if not lost and balanced else 1), line

    def run(self) -> int:
        from common.local_services import ensure_up
        from spark_jobs.session import get_spark

        ensure_up()
        self.spark = get_spark("fault-run", master="local[1]", shuffle_partitions=1)
        try:
            return self._scenarios(Delivery(self.ledger))
        finally:
            self.spark.stop()

    def _scenarios(self, send: Delivery) -> int:
        self.produce(send)
        self.guarded("two consumers", self.land_with_two_consumers)
        self.guarded("two consumers", lambda sc: self.silver(sc, [self.prev, self.day, self.today.isoformat()]))
        self.check_ingest_faults()
        self.guarded("publish D", self.publish_day)
        if self.scenario("publish D").passed:
            self.guarded("rerun with changed inputs", lambda sc: self.rerun_with_changed_inputs(sc, send))
        if self.scenario("rerun with changed inputs").passed or self.published.get("second"):
            self.guarded("backfill", self.backfill)
        self.guarded("docx bomb", self.docx_bomb)
        lost_code, line = self.reconcile()
        self.report(line)
        failed = [s.name for s in self.scenarios.values() if not s.passed]
        return 1 if lost_code or failed else 0

    def report(self, ledger_line: str) -> None:
        print("\n════ fault-injection run ════")
        print(f"D = {self.day}, D-1 = {self.prev}, today = {self.today}; scale {self.scale}, K = {K}")
        width = max(len(s.name) for s in self.scenarios.values())
        for sc in self.scenarios.values():
            print(f"{'PASS' if sc.passed else 'FAIL'}  {sc.name:<{width}}")
            for what, ok, detail in sc.checks:
                print(f"        {'ok ' if ok else 'NO '} {what}" + ("" if ok or not detail else f"  [{detail}]"))
            if sc.error:
                print(f"        error: {sc.error}")
        print(ledger_line)
        summary = {sc.name: sc.passed for sc in self.scenarios.values()}
        print("JSON " + json.dumps({"scenarios": summary, "ledger": ledger_line.splitlines()[0]}))


def docx_bomb(inflated_bytes: int) -> bytes:
    """A well-formed DOCX whose word/document.xml inflates to ``inflated_bytes`` (paragraphs of 8 KB)."""
    paragraph = "<w:p><w:r><w:t>" + "bomb " * 1600 + "</w:t></w:r></w:p>"
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
                         'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="'
                         'application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        archive.writestr("_rels/.rels",
                         '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
                         '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                         'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/'
                         'document.xml"/></Relationships>')
        with archive.open("word/document.xml", "w") as document:
            document.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document {ns}><w:body>'.encode())
            chunk = (paragraph * 128).encode()
            for _ in range(max(1, inflated_bytes // len(chunk))):
                document.write(chunk)
            document.write(b"</w:body></w:document>")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.05, help="of the simulator's small day")
    parser.add_argument("--keep", action="store_true", help="keep the run's temp dir even when it passes")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fault-run-"))
    isolate(root)
    from common.config import get_settings
    from common.local_services import stop_all

    code = 2
    try:
        code = FaultRun(args.scale).run()
    finally:
        stop_all(get_settings())
        if code == 0 and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"lake, state and service logs kept in {root}")
    return code


if __name__ == "__main__":
    sys.exit(main())

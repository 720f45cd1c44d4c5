"""Real kinesalite, dynalite and moto server on isolated 127.0.0.1 ports and a temporary state dir.

start → health → bootstrap → write → stop → start → data still there → stop leaves no process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common import local_services as ls
from common.config import REPO_ROOT, get_settings, reset_settings_cache
from common.local_services import definitions, health, processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PORT_ENVS = ("KINESIS_PORT", "DYNAMODB_PORT", "MOTO_PORT")


@pytest.fixture()
def settings(tmp_path, monkeypatch):
    """Isolated ports + state dir; whatever the test started is stopped afterwards."""
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    for name, port in ls.pick_free_ports().items():
        monkeypatch.setenv(name, port)
    reset_settings_cache()
    settings = get_settings()
    yield settings
    ls.stop_all(settings)
    reset_settings_cache()


def _pids(settings) -> dict[str, int]:
    return {row["service"]: row["pid"] for row in ls.status(settings)}


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on ``port`` (from /proc/net/tcp{,6})."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":
                addresses.add(address)
    return addresses


def _assert_no_process_left(pids: dict[str, int]) -> None:
    for name, pid in pids.items():
        assert not processes.group_alive(pid), f"{name} (process group {pid}) still has live processes"


def test_lifecycle_with_persistence_across_restart(settings):
    boto = health.client
    started = time.monotonic()
    endpoints = ls.ensure_up(settings)
    first_start_s = time.monotonic() - started
    assert endpoints["kinesis"] == f"http://127.0.0.1:{settings.ports['KINESIS_PORT']}"
    assert (
        endpoints["sqs"]
        == endpoints["events"]
        == endpoints["glue"]
        == f"http://127.0.0.1:{settings.ports['MOTO_PORT']}"
    )

    rows = {row["service"]: row for row in ls.status(settings)}
    assert {name: row["state"] for name, row in rows.items()} == {
        "kinesalite": "running",
        "dynalite": "running",
        "moto": "running",
    }
    for env_name in PORT_ENVS:  # loopback only (0100007F is 127.0.0.1 in /proc/net/tcp)
        assert _listening_addresses(settings.ports[env_name]) == {"0100007F"}

    # The resources docs/contracts.md names.
    kinesis, dynamodb = boto(settings, "kinesis"), boto(settings, "dynamodb")
    stream = kinesis.describe_stream_summary(StreamName="marketplace-events")["StreamDescriptionSummary"]
    assert stream["OpenShardCount"] == 2
    table = dynamodb.describe_table(TableName="marketplace-matches")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"PK": "HASH", "SK": "RANGE"}
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert boto(settings, "glue").get_database(Name="marketplace")["Database"]["Name"] == "marketplace"

    # EventBridge rule routes marketplace.* events (only those) to the landing queue.
    events, sqs = boto(settings, "events"), boto(settings, "sqs")
    result = events.put_events(
        Entries=[
            {
                "Source": "marketplace.simulator",
                "DetailType": "job_posted",
                "Detail": json.dumps({"tenant_id": "t1"}),
                "EventBusName": "marketplace-events",
            },
            {
                "Source": "elsewhere.app",
                "DetailType": "noise",
                "Detail": "{}",
                "EventBusName": "marketplace-events",
            },
        ]
    )
    assert result["FailedEntryCount"] == 0
    queue_url = sqs.get_queue_url(QueueName="marketplace-events-landing")["QueueUrl"]
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    assert [json.loads(m["Body"])["source"] for m in received] == ["marketplace.simulator"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(
        ":marketplace-events-landing-dlq"
    )

    # Write one record and one item.
    put = kinesis.put_record(StreamName="marketplace-events", Data=b'{"event_id": "e-1"}', PartitionKey="t1")
    item = {
        "PK": {"S": "T#t1#CAND#c1"},
        "SK": {"S": "RUN#2026-11-22Tw1#S#0100000#JOB#j1"},
        "GSI1PK": {"S": "T#t1#JOB#j1"},
        "GSI1SK": {"S": "RUN#2026-11-22Tw1#S#0100000#CAND#c1"},
        "score": {"N": "0.9"},
    }
    dynamodb.put_item(TableName="marketplace-matches", Item=item)

    # ensure_up again while running: nothing restarted, bootstrap is a no-op.
    pids_before = _pids(settings)
    ls.ensure_up(settings)
    assert _pids(settings) == pids_before

    # Stop: every process group gone, ports free, pid files removed.
    outcomes = ls.stop_all(settings)
    assert outcomes == {"kinesalite": "stopped", "dynalite": "stopped", "moto": "stopped"}
    _assert_no_process_left(pids_before)
    for env_name in PORT_ENVS:
        assert not ls.port_in_use(settings.ports[env_name])
    assert not list((settings.local_state_dir / "services").glob("*.pid"))

    # Start again: LevelDB data survived; moto (in-memory) was re-bootstrapped.
    ls.ensure_up(settings)
    assert _pids(settings) != pids_before
    stored = dynamodb.get_item(TableName="marketplace-matches", Key={"PK": item["PK"], "SK": item["SK"]})
    assert stored["Item"]["score"] == {"N": "0.9"}
    by_job = dynamodb.query(
        TableName="marketplace-matches",
        IndexName="gsi1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "T#t1#JOB#j1"}},
    )
    assert by_job["Count"] == 1
    shard_iterator = kinesis.get_shard_iterator(
        StreamName="marketplace-events",
        ShardId=put["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=put["SequenceNumber"],
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=shard_iterator, Limit=10)["Records"]
    assert records[0]["Data"] == b'{"event_id": "e-1"}'
    assert sqs.get_queue_url(QueueName="marketplace-events-landing")["QueueUrl"]
    assert boto(settings, "glue").get_database(Name="marketplace")["Database"]["Name"] == "marketplace"

    pids_second = _pids(settings)
    ls.stop_all(settings)
    _assert_no_process_left(pids_second)
    assert [row["state"] for row in ls.status(settings)] == ["stopped"] * 3
    print(f"\nfirst ensure_up (3 services + bootstrap): {first_start_s:.1f}s")


def test_a_killed_service_is_detected_and_restarted_with_its_data(settings):
    ls.ensure_up(settings)
    dynamodb = health.client(settings, "dynamodb")
    dynamodb.put_item(
        TableName="marketplace-matches", Item={"PK": {"S": "T#t1#JOB#j9"}, "SK": {"S": "CURRENT"}}
    )
    dynalite_pid = _pids(settings)["dynalite"]
    os.killpg(dynalite_pid, signal.SIGKILL)  # a crash: no clean shutdown, pid file left behind
    assert processes.wait_for(lambda: not processes.group_alive(dynalite_pid), 10.0)

    states = {row["service"]: row["state"] for row in ls.status(settings)}
    assert states["dynalite"] == "stale"
    assert states["kinesalite"] == "running"

    ls.ensure_up(settings)
    assert {row["service"]: row["state"] for row in ls.status(settings)}["dynalite"] == "running"
    key = {"PK": {"S": "T#t1#JOB#j9"}, "SK": {"S": "CURRENT"}}
    assert "Item" in dynamodb.get_item(TableName="marketplace-matches", Key=key)


def test_port_held_by_another_socket_gives_a_clear_error_and_starts_nothing(settings):
    port = settings.ports["DYNAMODB_PORT"]
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen(1)
    try:
        with pytest.raises(ls.PortInUseError) as error:
            ls.ensure_up(settings, timeout=30)
        message = str(error.value)
        assert f"port {port}" in message and "DYNAMODB_PORT" in message and "export DYNAMODB_PORT=" in message
        # Checked before spawning: the other two were not started either.
        assert [row["state"] for row in ls.status(settings) if row["service"] != "dynalite"] == [
            "stopped"
        ] * 2

        # The CLI prints the same message and exits 1, without a traceback.
        cli = subprocess.run(
            [sys.executable, "-m", "common.local_services", "up"],
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 1
        assert f"ERROR: port {port}" in cli.stderr and "DYNAMODB_PORT" in cli.stderr
        assert "Traceback" not in cli.stderr
    finally:
        blocker.close()


def test_cli_up_status_down(settings):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "common.local_services", *args],
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=180,
        )

    # Two `up` at once (e.g. parallel tasks): a lock serialises them, one starts, the other finds them running.
    racing = [
        subprocess.Popen(
            [sys.executable, "-m", "common.local_services", "up"],
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=180) + (process.returncode,) for process in racing]
    assert [code for _, _, code in results] == [0, 0], [err for _, err, _ in results]
    summaries = sorted(out.split("summary: ")[1].split(",")[0] for out, _, _ in results)
    assert summaries == ["0 started", "3 started"]
    status = cli("status")
    assert status.stdout.count(" running ") == 3
    rows = json.loads(cli("status", "--json").stdout)
    assert {row["service"]: row["state"] for row in rows} == {
        "kinesalite": "running",
        "dynalite": "running",
        "moto": "running",
    }
    bootstrap = cli("bootstrap")
    assert bootstrap.returncode == 0 and bootstrap.stdout.count(" exists") == 5
    pids = _pids(settings)
    down = cli("down")
    assert down.returncode == 0 and down.stdout.count(" stopped") == 3
    _assert_no_process_left(pids)
    assert cli("status").stdout.count(" stopped") == 3


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "70000", "--path", "/tmp/x"], "--port must be 1..65535"),
        (["--port", "4568"], "--path DIR is required"),
        (["--port"], "usage: --port N --path DIR"),
    ],
)
def test_node_launchers_reject_bad_arguments(args, expected):
    for launcher in ("kinesalite.js", "dynalite.js"):
        result = subprocess.run(
            ["node", str(definitions.LAUNCHER_DIR / launcher), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2
        assert expected in result.stderr


def test_node_launcher_reports_a_busy_port(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        result = subprocess.run(
            [
                "node",
                str(definitions.LAUNCHER_DIR / "kinesalite.js"),
                "--port",
                str(port),
                "--path",
                str(tmp_path / "k"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        blocker.close()
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "port already in use" in result.stderr


def test_a_store_held_by_another_process_fails_fast_with_its_log(settings):
    # Another dynalite (not ours, other port) holds the LevelDB directory this state dir uses.
    data_dir = settings.local_state_dir / "dynamodb"
    other_port = ls.pick_free_ports()["DYNAMODB_PORT"]
    holder = subprocess.Popen(
        [
            "node",
            str(definitions.LAUNCHER_DIR / "dynalite.js"),
            "--port",
            other_port,
            "--path",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in holder.stdout.readline()
        started = time.monotonic()
        with pytest.raises(ls.ServiceDiedError) as error:
            ls.ensure_up(settings, timeout=60)
        assert time.monotonic() - started < 30  # fails at once, not after the health timeout
        assert "dynalite exited during start-up" in str(error.value)
        assert "Is another dynalite using this directory?" in str(error.value)
    finally:
        holder.terminate()
        holder.wait(timeout=10)

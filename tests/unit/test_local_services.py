"""Unit tests for common.local_services: port checks, pid files, error messages, process-group shutdown.

Real sockets and tiny real processes; no stand-in is started here (see tests/integration).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common import local_services as ls
from common.config import REPO_ROOT, reset_settings_cache
from common.local_services import definitions, health, lifecycle, processes
from common.local_services.__main__ import main
from common.local_services.definitions import MOTO_LAUNCHER

pytestmark = pytest.mark.unit


@pytest.fixture()
def settings(isolated_settings, monkeypatch):
    """Isolated state dir and free ports, so a developer's running services never interfere."""
    from common.config import get_settings

    for name, port in ls.pick_free_ports().items():
        monkeypatch.setenv(name, port)
    reset_settings_cache()
    return get_settings()


@pytest.fixture()
def moto_service(settings):
    """The moto service definition for an isolated state dir, its services/ dir created."""
    service = next(s for s in ls.service_definitions(settings) if s.name == "moto")
    service.services_dir.mkdir(parents=True, exist_ok=True)
    return service


@pytest.fixture()
def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock
    sock.close()


def _spawn_group_leader(code: str, *extra_args: str, register: bool = True) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", code, *extra_args], start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    if (
        register
    ):  # as processes.spawn does; unregistered ones are judged by /proc like a process of another CLI run
        processes.CHILDREN[process.pid] = process
    return process


def test_definitions_follow_the_config_seam(settings):
    services = {s.name: s for s in ls.service_definitions(settings)}
    assert set(services) == {"kinesalite", "dynalite", "moto"}
    assert services["kinesalite"].port == settings.ports["KINESIS_PORT"]
    assert services["dynalite"].data_dir == settings.local_state_dir / "dynamodb"
    assert services["kinesalite"].data_dir == settings.local_state_dir / "kinesis"
    assert services["moto"].data_dir is None
    for service in services.values():
        assert service.pid_file.parent == settings.local_state_dir / "services"
    # moto is told to bind loopback; the node launchers bind 127.0.0.1 unless given --host (only docker does).
    assert services["moto"].command[-4:-2] == ("-H", "127.0.0.1")
    assert "--host" not in services["kinesalite"].command and "--host" not in services["dynalite"].command


def test_ports_move_with_their_env_vars(settings, monkeypatch):
    monkeypatch.setenv("DYNAMODB_PORT", "14568")
    reset_settings_cache()
    from common.config import get_settings

    dynalite = next(s for s in ls.service_definitions(get_settings()) if s.name == "dynalite")
    assert dynalite.port == 14568
    assert "14568" in dynalite.command


def test_pick_free_ports_gives_three_distinct_free_ports():
    ports = ls.pick_free_ports()
    assert set(ports) == {"KINESIS_PORT", "DYNAMODB_PORT", "MOTO_PORT"}
    assert len(set(ports.values())) == 3
    assert not any(ls.port_in_use(int(port)) for port in ports.values())


def test_port_in_use_detects_a_listener_and_a_free_port(listening_socket):
    busy_port = listening_socket.getsockname()[1]
    assert ls.port_in_use(busy_port) is True
    listening_socket.close()
    assert ls.port_in_use(busy_port) is False


def test_port_in_use_message_names_port_env_var_and_fix(moto_service):
    message = processes.port_in_use_message(moto_service)
    assert f"port {moto_service.port}" in message
    assert "MOTO_PORT" in message
    assert "export MOTO_PORT=" in message
    assert "moto" in message


def test_busy_port_that_does_not_answer_raises_port_in_use(settings, listening_socket, monkeypatch):
    port = listening_socket.getsockname()[1]
    monkeypatch.setenv("KINESIS_PORT", str(port))
    reset_settings_cache()
    from common.config import get_settings

    settings = get_settings()
    kinesalite = next(s for s in ls.service_definitions(settings) if s.name == "kinesalite")
    monkeypatch.setattr(health, "is_healthy", lambda service, settings, client=None: False)
    with pytest.raises(ls.PortInUseError, match=rf"port {port} .*KINESIS_PORT"):
        lifecycle.plan_start(kinesalite, settings)


def test_busy_port_that_answers_is_used_as_external(settings, listening_socket, monkeypatch):
    port = listening_socket.getsockname()[1]
    monkeypatch.setenv("DYNAMODB_PORT", str(port))
    reset_settings_cache()
    from common.config import get_settings

    settings = get_settings()
    dynalite = next(s for s in ls.service_definitions(settings) if s.name == "dynalite")
    monkeypatch.setattr(health, "is_healthy", lambda service, settings, client=None: True)
    assert lifecycle.plan_start(dynalite, settings) == "external"


def test_pid_file_of_a_dead_process_is_stale(moto_service):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(finished.stdout)
    moto_service.pid_file.write_text(json.dumps({"pid": dead_pid, "pgid": dead_pid}))
    assert processes.is_pid_file_stale(moto_service) is True


def test_pid_file_of_a_reused_pid_is_stale(moto_service):
    # This test process is alive but is not moto: the pid was "reused".
    moto_service.pid_file.write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0)}))
    assert processes.is_pid_file_stale(moto_service) is True


def test_unreadable_pid_file_is_stale(moto_service):
    moto_service.pid_file.write_text("not json")
    assert processes.is_pid_file_stale(moto_service) is True


def test_pid_file_of_our_live_process_is_not_stale(moto_service):
    # argv carries the service marker, as the real moto command line does.
    # Not registered: identified through its command line, as after `up` in another process.
    process = _spawn_group_leader(
        "import time; print('ready', flush=True); time.sleep(30)", moto_service.marker, register=False
    )
    assert process.stdout.readline().strip() == "ready"
    try:
        moto_service.pid_file.write_text(json.dumps({"pid": process.pid, "pgid": process.pid}))
        assert processes.is_pid_file_stale(moto_service) is False
    finally:
        process.kill()
        process.wait()
    assert processes.is_pid_file_stale(moto_service) is True


def test_no_pid_file_is_not_stale(moto_service):
    assert processes.is_pid_file_stale(moto_service) is False


def test_stop_removes_a_stale_pid_file(moto_service):
    moto_service.pid_file.write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0)}))
    assert processes.stop_service(moto_service, timeout=1.0) == "stale pid file removed"
    assert not moto_service.pid_file.exists()
    assert processes.stop_service(moto_service, timeout=1.0) == "not running"


def test_stop_escalates_to_sigkill_and_leaves_no_process_in_the_group(moto_service):
    # A leader that ignores SIGTERM and has a child that does too: both must be gone afterwards.
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    leader = _spawn_group_leader(code, moto_service.marker)
    child_pid = int(leader.stdout.readline())
    moto_service.pid_file.write_text(json.dumps({"pid": leader.pid, "pgid": leader.pid}))
    started = time.monotonic()
    assert processes.stop_service(moto_service, timeout=0.5) == "killed"
    assert time.monotonic() - started < 6
    assert not moto_service.pid_file.exists()
    assert not processes.group_alive(leader.pid)
    assert not processes.pid_alive(child_pid)
    assert leader.poll() is not None


def test_stop_with_sigterm_is_reported_as_stopped(moto_service):
    process = _spawn_group_leader("import time; time.sleep(60)", moto_service.marker)
    moto_service.pid_file.write_text(json.dumps({"pid": process.pid, "pgid": process.pid}))
    assert processes.stop_service(moto_service, timeout=5.0) == "stopped"
    assert process.poll() == -15


def test_service_that_dies_at_start_reports_its_log_tail(settings, moto_service):
    crashing = dataclasses.replace(
        moto_service,
        command=(
            "python",
            "-c",
            "import sys; print('boom: cannot open database'); sys.exit(3)",
            "moto.server",
        ),
    )
    pid = processes.spawn(crashing)
    with pytest.raises(ls.ServiceDiedError) as error:
        health.wait_healthy(crashing, settings, pid, timeout=20)
    assert "moto exited during start-up" in str(error.value)
    assert "boom: cannot open database" in str(error.value)
    assert not crashing.pid_file.exists()


def test_missing_node_names_the_fix(settings, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ls.ToolMissingError, match="install Node.js"):
        ls.start_services(settings)


def test_missing_npm_packages_name_the_fix(settings, monkeypatch, tmp_path):
    monkeypatch.setattr(definitions, "NODE_MODULES", tmp_path / "no_node_modules")
    with pytest.raises(ls.ToolMissingError, match=r"make node_modules/.installed"):
        ls.start_services(settings)


def test_aws_settings_have_no_local_services(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "aws")
    monkeypatch.setenv("LAKE_BUCKET_PREFIX", "marketplace-dev-123")
    reset_settings_cache()
    try:
        from common.config import get_settings

        with pytest.raises(ls.LocalServicesError, match="CDK"):
            ls.service_definitions(get_settings())
        assert ls.ensure_up(get_settings()) == {}  # callers in both environments need no branch
        assert main(["status"]) == 1
    finally:
        reset_settings_cache()


def test_bootstrap_without_services_names_the_fix(settings):
    # The settings' ports are free: nothing listens there.
    with pytest.raises(ls.LocalServicesError, match="common.local_services up"):
        ls.bootstrap(settings)


def test_status_of_nothing_running_is_stopped_or_stale(settings, moto_service):
    moto_service.pid_file.write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0)}))
    rows = {row["service"]: row for row in ls.status(settings)}
    assert rows["moto"]["state"] == "stale"
    assert rows["kinesalite"]["state"] == rows["dynalite"]["state"] == "stopped"
    assert rows["moto"]["port_env"] == "MOTO_PORT"
    assert rows["dynalite"]["endpoint"] == f"http://127.0.0.1:{settings.ports['DYNAMODB_PORT']}"


def test_endpoint_elsewhere_is_health_checked_not_started(settings, monkeypatch):
    # As inside docker compose: endpoints name other hosts; nothing may be spawned, node is not needed.
    remote = dataclasses.replace(
        settings,
        endpoints={
            **settings.endpoints,
            "kinesis": "http://kinesalite:4567",
            "dynamodb": "http://dynalite:4568",
            **{svc: "http://moto:4569" for svc in ("events", "sqs", "glue", "s3", "sts")},
        },
    )
    services = ls.service_definitions(remote)
    assert not any(service.managed_here for service in services)
    assert all(service.managed_here for service in ls.service_definitions(settings))
    monkeypatch.setattr("shutil.which", lambda name: None)
    probed = []
    monkeypatch.setattr(
        health, "is_healthy", lambda service, s, client=None: probed.append(service.name) or True
    )
    assert ls.start_services(remote, timeout=5) == {
        "kinesalite": "remote",
        "dynalite": "remote",
        "moto": "remote",
    }
    assert set(probed) == {"kinesalite", "dynalite", "moto"}
    assert not list(services[0].services_dir.glob("*.pid"))
    assert ls.stop_all(remote)["moto"] == "remote (not managed here)"
    assert {row["state"] for row in ls.status(remote)} == {"remote"}


def test_unreachable_remote_endpoint_names_the_fix(settings, monkeypatch):
    remote = dataclasses.replace(
        settings, endpoints={**settings.endpoints, "dynamodb": "http://dynalite:4568"}
    )
    monkeypatch.setattr(health, "is_healthy", lambda service, s, client=None: service.name != "dynalite")
    monkeypatch.setattr(lifecycle, "plan_start", lambda service, s: "remote")
    with pytest.raises(ls.LocalServicesError, match=r"dynalite at http://dynalite:4568 .*docker compose up"):
        ls.start_services(remote, timeout=1)


def test_a_big_log_is_rotated_at_start(moto_service):
    moto_service.log_file.write_text("x" * (processes.MAX_LOG_BYTES + 1))
    quick = dataclasses.replace(moto_service, command=("python", "-c", "print('fresh start')", "moto.server"))
    pid = processes.spawn(quick)
    assert processes.wait_for(lambda: not processes.pid_alive(pid), 20)
    assert moto_service.log_file.with_suffix(".log.1").stat().st_size == processes.MAX_LOG_BYTES + 1
    assert "fresh start" in moto_service.log_file.read_text()
    assert moto_service.log_file.stat().st_size < 1000


def test_running_on_another_port_than_configured_names_the_fix(moto_service, settings):
    process = _spawn_group_leader("import time; time.sleep(30)", moto_service.marker)
    try:
        old_port = moto_service.port + 1
        record = {"pid": process.pid, "pgid": process.pid, "port": old_port}
        moto_service.pid_file.write_text(json.dumps(record))
        with pytest.raises(
            ls.LocalServicesError, match=rf"port {old_port}, but MOTO_PORT is now {moto_service.port}"
        ):
            lifecycle.plan_start(moto_service, settings)
    finally:
        process.kill()
        process.wait()


# ---- test isolation: the session's own ports and dirs, and no leftovers -----------------------


def test_the_test_session_never_uses_the_default_ports_lake_or_state():
    """tests/conftest.py moves every port and directory before any settings are read (issue 14)."""
    from common.config import DEFAULT_PORTS, get_settings

    reset_settings_cache()
    settings = get_settings()
    assert not set(settings.ports.items()) & set(DEFAULT_PORTS.items()), settings.ports
    assert not settings.local_state_dir.is_relative_to(REPO_ROOT)
    assert not Path(settings.lake_root).is_relative_to(REPO_ROOT)
    assert not settings.warehouse_path.is_relative_to(REPO_ROOT)


def _tagged_sleeper(tag: str, marker: str = "moto.server") -> subprocess.Popen:
    """A stand-in look-alike started the way tests start services: in the checkout, own group, tagged."""
    env = {**os.environ, processes.RUN_TAG_ENV: tag}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker], cwd=REPO_ROOT,
                            env=env, start_new_session=True)


def test_leftovers_finds_only_the_tagged_run_and_kill_stops_it(capsys):
    mine, other = _tagged_sleeper("run-a"), _tagged_sleeper("run-b")
    try:
        rows = {row["pid"]: row for row in processes.checkout_processes(tag="run-a")}
        assert rows[mine.pid]["tagged"] and not rows[other.pid]["tagged"]
        assert main(["leftovers", "--tag", "run-b-not-started"]) == 0  # nothing of that run is alive
        assert main(["leftovers", "--tag", "run-a", "--kill"]) == 1
        assert "1 processes of test run run-a outlived it" in capsys.readouterr().err
        assert mine.wait(timeout=20) is not None
        assert other.poll() is None  # another run's (or a developer's) process is left alone
    finally:
        for process in (mine, other):
            process.kill()
            process.wait()


def test_a_session_that_leaves_a_service_running_fails_and_stops_it(tmp_path):
    """The real tests/conftest.py hook: a test that starts a stand-in and never stops it fails the session."""
    pid_file = tmp_path / "leaked.pid"
    (tmp_path / "test_leaky.py").write_text(
        "import os, subprocess, sys\n"
        "def test_starts_moto_and_forgets_it():\n"
        f"    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {MOTO_LAUNCHER!r}],\n"
        f"                         cwd={str(REPO_ROOT)!r}, start_new_session=True)\n"
        f"    open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != processes.RUN_TAG_ENV}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_leaky.py")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    leaked = int(pid_file.read_text())
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 passed" in done.stdout and "were still running (now stopped)" in done.stdout
    assert processes.wait_for(lambda: not processes.pid_alive(leaked), 10)


MOTO_PATCH_CHECK = r"""
import json, time
from moto import mock_aws
import boto3, jsonpath_ng.ext
from common.local_services.moto_server import apply_patches

apply_patches()
apply_patches()  # idempotent: one cache, not a cache of a cache
with mock_aws():
    sqs, events = boto3.client("sqs", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name="b")
    events.put_rule(Name="r", EventBusName="b", EventPattern=json.dumps({"source": [{"prefix": "marketplace."}]}))
    events.put_targets(Rule="r", EventBusName="b", Targets=[{"Id": "t", "Arn": arn}])
    entries = [{"EventBusName": "b", "Source": "marketplace.jobs", "DetailType": "job_posted",
                "Detail": json.dumps({"n": i})} for i in range(30)]
    entries.append({"EventBusName": "b", "Source": "other.app", "DetailType": "x", "Detail": "{}"})
    for start in range(0, len(entries), 10):
        assert not events.put_events(Entries=entries[start:start + 10]).get("FailedEntryCount")
    got = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                       AttributeNames=["SentTimestamp"]).get("Messages", [])
        if not messages:
            break
        got += messages
    bodies = [json.loads(m["Body"]) for m in got]
    in_flight = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "0", "ReceiptHandle": got[1]["ReceiptHandle"]}, {"Id": "1", "ReceiptHandle": got[2]["ReceiptHandle"]},
        {"Id": "2", "ReceiptHandle": "not-a-receipt-handle"}])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[1]["ReceiptHandle"])  # again: fine
    after_delete = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    hidden = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    short = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=short, MessageBody="old")
    from moto.sqs.models import sqs_backends
    for message in sqs_backends["123456789012"]["us-east-1"].queues["short"]._messages:
        message.sent_timestamp -= 61_000  # sent 61 s ago: past the 60 s retention
    expired = sqs.receive_message(QueueUrl=short).get("Messages", [])
    sqs.send_message(QueueUrl=short, MessageBody="new")
    fresh = sqs.receive_message(QueueUrl=short).get("Messages", [])
    print(json.dumps({
        "details": sorted(b["detail"]["n"] for b in bodies), "types": sorted({b["detail-type"] for b in bodies}),
        "sources": sorted({b["source"] for b in bodies}), "ids": len({b["id"] for b in bodies}),
        "sent_ms": [int(m["Attributes"]["SentTimestamp"]) for m in got][:1], "now_ms": int(time.time() * 1000),
        "hidden": len(hidden), "again": [m["MessageId"] for m in again], "first": got[0]["MessageId"],
        "expired": len(expired), "fresh": [m["Body"] for m in fresh],
        "parsers_built": jsonpath_ng.ext.parse.cache_info().misses,
        "in_flight": [in_flight[k] for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                             "ApproximateNumberOfMessagesDelayed")],
        "deleted_ok": sorted(e["Id"] for e in deleted.get("Successful", [])),
        "deleted_failed": [(e["Id"], e["Code"]) for e in deleted.get("Failed", [])],
        "not_visible_after_delete": after_delete["Attributes"]["ApproximateNumberOfMessagesNotVisible"],
    }))
"""


def test_moto_launcher_keeps_eventbridge_to_sqs_behaviour_and_parses_each_jsonpath_once():
    """The patched moto (common.local_services.moto_server) still routes by the rule, hides received
    messages, counts them, deletes (and refuses unknown receipts), honours visibility changes and retention — and builds each JSONPath parser once
    instead of eight per delivered event (moto's ~40 ms per event). A subprocess: the patches are global."""
    done = subprocess.run([sys.executable, "-c", MOTO_PATCH_CHECK], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["details"] == list(range(30))  # every matching event once, the non-matching one not at all
    assert result["types"] == ["job_posted"] and result["sources"] == ["marketplace.jobs"] and result["ids"] == 30
    assert 0 < result["now_ms"] - result["sent_ms"][0] < 120_000
    assert result["hidden"] == 0  # all 30 in flight
    assert result["again"] == [result["first"]]  # visible again after ChangeMessageVisibility 0, only that one
    assert result["expired"] == 0 and result["fresh"] == ["new"]
    assert result["parsers_built"] <= len("account detail detail-type source id region resources time".split())
    assert result["in_flight"] == ["0", "30", "0"]  # the queue's counts, all 30 received and not yet deleted
    assert result["deleted_ok"] == ["0", "1"]
    assert result["deleted_failed"] == [["2", "ReceiptHandleIsInvalid"]]
    assert result["not_visible_after_delete"] == "28"


def test_moto_is_started_through_the_patched_launcher(settings):
    moto = next(s for s in ls.service_definitions(settings) if s.name == "moto")
    assert moto.command[:3] == ("python", "-m", MOTO_LAUNCHER) and moto.marker == MOTO_LAUNCHER


@pytest.mark.parametrize("marker", [MOTO_LAUNCHER, "moto.server"])
def test_a_moto_started_by_this_or_an_older_checkout_is_ours_and_is_stopped(moto_service, marker):
    """An upgrade must not orphan the moto an older checkout started (`python -m moto.server`)."""
    process = _spawn_group_leader(
        "import time; print('ready', flush=True); time.sleep(30)", marker, register=False
    )
    assert process.stdout.readline().strip() == "ready"
    moto_service.pid_file.write_text(json.dumps({"pid": process.pid, "pgid": process.pid}))
    try:
        assert processes.is_pid_file_stale(moto_service) is False
        assert processes.stop_service(moto_service, timeout=5.0) == "stopped"
        assert process.wait(timeout=10) is not None
    finally:
        process.kill()
        process.wait()

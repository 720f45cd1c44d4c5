"""Local AWS stand-ins: start, health-check, bootstrap and stop them.

Three processes serve the AWS APIs the platform uses, all bound to 127.0.0.1 on the ports the
configuration seam names (``settings.ports``):

- kinesalite (Kinesis) and dynalite (DynamoDB): node, from the repo's ``node_modules``, launched by
  ``scripts/local_services/*.js``, persisted to LevelDB under ``<local_state_dir>/kinesis`` and
  ``/dynamodb`` so streams, records, tables and items survive a restart;
- moto server (EventBridge, SQS, Glue, S3, STS): in-memory, so :func:`bootstrap` re-creates its
  resources every time :func:`ensure_up` runs (every step is idempotent).

Pid files and logs live in ``<local_state_dir>/services/``. Each service runs in its own process
group so :func:`stop_all` can SIGTERM (then SIGKILL) the whole group and leave no orphans.

CLI: ``python -m common.local_services up|down|status|bootstrap``.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from common.config import REPO_ROOT, Settings, get_settings

log = logging.getLogger("common.local_services")

LAUNCHER_DIR = REPO_ROOT / "scripts" / "local_services"
NODE_MODULES = REPO_ROOT / "node_modules"
DEFAULT_START_TIMEOUT_S = 60.0
DEFAULT_STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 25
MAX_LOG_BYTES = 10 * 1024 * 1024
# Landing queue: messages that fail this many receives go to the DLQ.
LANDING_MAX_RECEIVE_COUNT = 5
EVENT_SOURCE_PREFIX = "marketplace."

# Popen objects of the services this interpreter started, so they can be reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen] = {}


class LocalServicesError(RuntimeError):
    """A local stand-in could not be started, reached or stopped; the message names the fix."""


class PortInUseError(LocalServicesError):
    """A service's port is held by a process that is not the stand-in."""


class ToolMissingError(LocalServicesError):
    """node, the npm packages, or moto are not installed."""


class ServiceDiedError(LocalServicesError):
    """A stand-in exited or never became healthy; the message carries the tail of its log."""


@dataclass(frozen=True)
class Service:
    """One stand-in process: how to start it and how to probe it."""

    name: str  # kinesalite | dynalite | moto
    port_env: str  # the env var that moves it (KINESIS_PORT, …)
    port: int
    probe_service: str  # boto3 service used for the health check
    command: tuple[str, ...]
    marker: str  # substring of the process command line that identifies our process
    data_dir: Path | None  # LevelDB directory (None: in-memory)
    services_dir: Path
    endpoint: str  # what the platform's boto3 clients use (settings.endpoints)

    @property
    def managed_here(self) -> bool:
        """True if the endpoint is this machine's 127.0.0.1:<port>, i.e. a process this module runs.
        Otherwise (e.g. http://kinesalite:4567 inside docker compose) it is only health-checked."""
        parsed = urlparse(self.endpoint)
        return parsed.hostname in ("127.0.0.1", "localhost") and parsed.port == self.port

    @property
    def pid_file(self) -> Path:
        return self.services_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.services_dir / f"{self.name}.log"


# --------------------------------------------------------------------------------------------
# Which services, and how to run them
# --------------------------------------------------------------------------------------------


def services_dir(settings: Settings) -> Path:
    return settings.local_state_dir / "services"


def _require_local(settings: Settings) -> None:
    # Asking the settings, not the environment name: no stand-in ports means there is nothing to run.
    if not settings.ports or not settings.endpoints.get("kinesis"):
        raise LocalServicesError(
            "no local service ports/endpoints are configured (PLATFORM_ENV is not 'local'?); "
            "in AWS these resources are created by the CDK stacks (`make deploy`)"
        )


def _moto_python() -> str:
    """An interpreter that has moto: this one, else the repo's jobs venv (e.g. when called from Airflow's)."""
    if importlib.util.find_spec("moto") is not None:
        return sys.executable
    jobs_python = REPO_ROOT / ".venv" / "jobs" / "bin" / "python"
    if jobs_python.exists():
        return str(jobs_python)
    raise ToolMissingError(
        "moto is not installed in this interpreter and .venv/jobs is missing: run `make install-jobs`"
    )


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolMissingError(
            "node not found on PATH: install Node.js 20 (e.g. `apt-get install nodejs npm`)"
        )
    for package in ("kinesalite", "dynalite"):
        if not (NODE_MODULES / package / "package.json").exists():
            raise ToolMissingError(
                f"npm package {package!r} is not installed in {NODE_MODULES}: run `make node_modules/.installed` "
                "(npm ci from the committed package-lock.json)"
            )
    return node


def service_definitions(settings: Settings | None = None) -> list[Service]:
    """The three stand-ins for these settings (ports and state dir come from the config seam)."""
    settings = settings or get_settings()
    _require_local(settings)
    state, ports, sdir = settings.local_state_dir, settings.ports, services_dir(settings)

    def node_service(name: str, port_env: str, probe: str, data_dir: Path) -> Service:
        launcher = LAUNCHER_DIR / f"{name}.js"
        return Service(
            name=name,
            port_env=port_env,
            port=ports[port_env],
            probe_service=probe,
            command=("node", str(launcher), "--port", str(ports[port_env]), "--path", str(data_dir)),
            marker=str(launcher),
            data_dir=data_dir,
            services_dir=sdir,
            endpoint=settings.endpoints[probe],
        )

    moto_port = ports["MOTO_PORT"]
    return [
        node_service("kinesalite", "KINESIS_PORT", "kinesis", state / "kinesis"),
        node_service("dynalite", "DYNAMODB_PORT", "dynamodb", state / "dynamodb"),
        Service(
            name="moto",
            port_env="MOTO_PORT",
            port=moto_port,
            probe_service="sqs",
            command=("python", "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)),
            marker="moto.server",
            data_dir=None,
            services_dir=sdir,
            endpoint=settings.endpoints["sqs"],
        ),
    ]


def _resolved_command(service: Service) -> list[str]:
    """The command with its interpreter resolved (raises ToolMissingError naming the fix)."""
    interpreter = _node() if service.command[0] == "node" else _moto_python()
    return [interpreter, *service.command[1:]]


# --------------------------------------------------------------------------------------------
# Processes, pid files, ports
# --------------------------------------------------------------------------------------------


def _read_pid_file(service: Service) -> dict | None:
    try:
        record = json.loads(service.pid_file.read_text())
        int(record["pid"]), int(record["pgid"])
        return record
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("%s: unreadable pid file %s, treating it as stale", service.name, service.pid_file)
        return {"pid": -1, "pgid": -1}


def _write_pid_file(service: Service, pid: int, command: list[str]) -> None:
    record = {"pid": pid, "pgid": pid, "port": service.port, "command": command, "started_at": time.time()}
    service.pid_file.write_text(json.dumps(record) + "\n")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None  # also reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None  # no /proc (macOS): trust the pid file


def is_pid_file_stale(service: Service) -> bool:
    """True if a pid file exists but its process is gone or is not this stand-in (pid reused)."""
    record = _read_pid_file(service)
    if record is None:
        return False
    return not _owns_process(service, int(record["pid"]))


def _owns_process(service: Service, pid: int) -> bool:
    if pid in _CHILDREN:  # started by this interpreter: poll() is exact (and avoids the fork/exec window)
        return _pid_alive(pid)
    if not _pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    return cmdline is None or service.marker in cmdline


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something already listens on host:port (the same test the stand-in's own bind would fail)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_in_use_message(service: Service) -> str:
    free = service.port + 10000 if service.port + 10000 < 65536 else service.port - 1000
    return (
        f"port {service.port} on 127.0.0.1 ({service.port_env}, needed by {service.name}) is already in use by "
        f"another process. Stop that process (`ss -ltnp 'sport = :{service.port}'` shows it) or choose a free "
        f"port, e.g. `export {service.port_env}={free}`, and run again."
    )


def log_tail(service: Service, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = service.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) or "(log is empty)"


def _live_group_members(pgid: int) -> list[int] | None:
    """Pids in process group ``pgid`` that are not zombies (None where there is no /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, …
            members.append(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    if pgid <= 0:
        return False
    for child_pid in list(_CHILDREN):  # reap our own exited children
        if _CHILDREN[child_pid].poll() is not None:
            _CHILDREN.pop(child_pid)
    members = _live_group_members(pgid)
    if members is not None:
        # Zombies (already dead, waiting for init to reap them) do not count.
        return bool(members)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------------


_CLIENTS: dict[tuple, object] = {}


def _cached_client(settings: Settings, service: str, config_kwargs: dict):
    """A boto3 client per (service, endpoint, config); not common.aws.client, which caches per service name
    only (tests and CLIs here switch ports). Building a client costs ~0.2 s, so reuse them."""
    import boto3
    from botocore.config import Config

    kwargs = settings.boto3_kwargs(service)
    key = (service, tuple(sorted(kwargs.items())), repr(sorted(config_kwargs.items())))
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.session.Session().client(service, config=Config(**config_kwargs), **kwargs)
    return _CLIENTS[key]


def _probe_client(settings: Settings, boto3_service: str, timeout: float = 2.0):
    # One attempt, short timeouts: a health probe must answer fast or count as down.
    config = {"connect_timeout": timeout, "read_timeout": timeout, "retries": {"total_max_attempts": 1}}
    return _cached_client(settings, boto3_service, config)


def _probe(client, boto3_service: str) -> None:
    if boto3_service == "kinesis":
        client.list_streams(Limit=1)
    elif boto3_service == "dynamodb":
        client.list_tables(Limit=1)
    else:
        client.list_queues()


def is_healthy(service: Service, settings: Settings, client=None) -> bool:
    """One API call against the stand-in (ListStreams / ListTables / ListQueues)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = client or _probe_client(settings, service.probe_service)
    try:
        _probe(client, service.probe_service)
        return True
    except (BotoCoreError, ClientError, OSError):
        return False


def _wait_healthy(service: Service, settings: Settings, pid: int, timeout: float) -> None:
    client = _probe_client(settings, service.probe_service, timeout=1.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _owns_process(service, pid):
            service.pid_file.unlink(missing_ok=True)
            raise ServiceDiedError(
                f"{service.name} exited during start-up. Last lines of {service.log_file}:\n{log_tail(service)}"
            )
        if is_healthy(service, settings, client):
            return
        time.sleep(0.2)
    raise ServiceDiedError(
        f"{service.name} did not answer on port {service.port} within {timeout:.0f}s (it is still running as pid "
        f"{pid}; `python -m common.local_services down` stops it). Last lines of {service.log_file}:\n"
        f"{log_tail(service)}"
    )


# --------------------------------------------------------------------------------------------
# Start / stop / status
# --------------------------------------------------------------------------------------------


def _spawn(service: Service) -> int:
    command = _resolved_command(service)
    service.services_dir.mkdir(parents=True, exist_ok=True)
    if service.data_dir is not None:
        service.data_dir.mkdir(parents=True, exist_ok=True)
    if service.log_file.exists() and service.log_file.stat().st_size > MAX_LOG_BYTES:
        service.log_file.replace(service.log_file.with_suffix(".log.1"))  # keep one previous log
    with service.log_file.open("a") as log_handle:
        log_handle.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting: {' '.join(command)}\n")
        log_handle.flush()
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop_all signals the whole group
        )
    _CHILDREN[process.pid] = process
    _write_pid_file(service, process.pid, command)
    log.info(
        "started %s (pid %d) on 127.0.0.1:%d, log %s",
        service.name,
        process.pid,
        service.port,
        service.log_file,
    )
    return process.pid


def _plan_start(service: Service, settings: Settings) -> str:
    """What ensure_up must do: 'running', 'external', 'remote' or 'start' (raises on a busy port)."""
    if not service.managed_here:
        return "remote"
    record = _read_pid_file(service)
    if record is not None:
        if _owns_process(service, int(record["pid"])):
            return "running"
        log.warning(
            "%s: removing stale pid file %s (pid %s is gone)", service.name, service.pid_file, record["pid"]
        )
        service.pid_file.unlink(missing_ok=True)
    if port_in_use(service.port):
        # A stand-in we did not start (e.g. `docker compose up`) is fine if it answers the API.
        if is_healthy(service, settings):
            log.warning(
                "%s: port %d is served by a process not started here; using it", service.name, service.port
            )
            return "external"
        raise PortInUseError(port_in_use_message(service))
    return "start"


def start_services(
    settings: Settings | None = None, timeout: float = DEFAULT_START_TIMEOUT_S
) -> dict[str, str]:
    """Start every stand-in that is not running and wait until all answer. Returns name -> outcome."""
    settings = settings or get_settings()
    definitions = service_definitions(settings)
    for service in definitions:  # fail on missing tools before touching anything
        if service.managed_here:
            _resolved_command(service)
    with _state_lock(settings):
        plans = {service.name: _plan_start(service, settings) for service in definitions}
        pids = {s.name: _spawn(s) for s in definitions if plans[s.name] == "start"}
        outcomes: dict[str, str] = {}
        for service in definitions:
            if plans[service.name] == "remote":
                _wait_remote_healthy(service, settings, timeout)
            if plans[service.name] in ("external", "remote"):
                outcomes[service.name] = plans[service.name]
                continue
            pid = pids.get(service.name) or int(_read_pid_file(service)["pid"])
            _wait_healthy(service, settings, pid, timeout)
            outcomes[service.name] = "started" if service.name in pids else "already running"
    return outcomes


def _wait_remote_healthy(service: Service, settings: Settings, timeout: float) -> None:
    client = _probe_client(settings, service.probe_service, timeout=1.0)
    if not _wait_for(lambda: is_healthy(service, settings, client), timeout, 0.5):
        raise LocalServicesError(
            f"{service.name} at {service.endpoint} (not started by this module) did not answer within "
            f"{timeout:.0f}s: start it (e.g. `docker compose up -d {service.name}`) or unset the endpoint override"
        )


def ensure_up(settings: Settings | None = None, timeout: float = DEFAULT_START_TIMEOUT_S) -> dict[str, str]:
    """Idempotently start, health-check and bootstrap the stand-ins. Returns boto3 service -> endpoint."""
    settings = settings or get_settings()
    outcomes = start_services(settings, timeout)
    resources = bootstrap(settings)
    log.info("local services: %s; resources: %s", outcomes, resources)
    return {service: endpoint for service, endpoint in settings.endpoints.items() if endpoint}


def _stop_service(service: Service, timeout: float) -> str:
    if not service.managed_here:
        return "remote (not managed here)"
    record = _read_pid_file(service)
    if record is None:
        return "not running"
    pid, pgid = int(record["pid"]), int(record["pgid"])
    if not _owns_process(service, pid):
        service.pid_file.unlink(missing_ok=True)
        # Leader gone but its group lives on: those are orphans of ours (a live pgid is never reused).
        if not _pid_alive(pid) and _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        return "stale pid file removed"
    _signal_group(pgid, signal.SIGTERM)
    outcome = "stopped"
    if not _wait_for(lambda: not _group_alive(pgid), timeout):
        log.warning("%s (pid %d) ignored SIGTERM for %.0fs, sending SIGKILL", service.name, pid, timeout)
        _signal_group(pgid, signal.SIGKILL)
        outcome = "killed"
        if not _wait_for(lambda: not _group_alive(pgid), 5.0):
            raise LocalServicesError(
                f"{service.name} (process group {pgid}) survived SIGKILL; check `ps -g {pgid}`"
            )
    _CHILDREN.pop(pid, None)
    service.pid_file.unlink(missing_ok=True)
    log.info("%s %s (pid %d)", outcome, service.name, pid)
    return outcome


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_all(settings: Settings | None = None, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> dict[str, str]:
    """SIGTERM (then SIGKILL) every stand-in this state dir started; stale pid files are removed."""
    settings = settings or get_settings()
    definitions = service_definitions(settings)
    with _state_lock(settings):
        return {service.name: _stop_service(service, timeout) for service in definitions}


@contextmanager
def _state_lock(settings: Settings):
    """Serialise start/stop across processes (e.g. parallel Airflow tasks calling ensure_up)."""
    directory = services_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def status(settings: Settings | None = None) -> list[dict]:
    """One row per stand-in: pid, port, endpoint and state: running, unhealthy, stopped, stale (pid file of a
    dead process), external (port served by a stand-in not started here), port-busy (served by something
    else), remote / remote-down (endpoint is not 127.0.0.1, e.g. a docker compose service name)."""
    settings = settings or get_settings()
    rows = []
    for service in service_definitions(settings):
        record = _read_pid_file(service)
        pid = int(record["pid"]) if record else None
        if not service.managed_here:
            state, pid = ("remote" if is_healthy(service, settings) else "remote-down"), None
        elif record is not None and _owns_process(service, pid):
            state = "running" if is_healthy(service, settings) else "unhealthy"
        elif port_in_use(service.port):
            state = "external" if is_healthy(service, settings) else "port-busy"
            pid = None
        else:
            state = "stale" if record is not None else "stopped"
        rows.append(
            {
                "service": service.name,
                "state": state,
                "pid": pid,
                "port": service.port,
                "port_env": service.port_env,
                "endpoint": service.endpoint,
                "log": str(service.log_file),
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Bootstrap: the resources docs/contracts.md names, created idempotently
# --------------------------------------------------------------------------------------------


def _client(settings: Settings, service: str):
    config = {"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 3, "mode": "standard"}}
    return _cached_client(settings, service, config)


def _error_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _bootstrap_kinesis(settings: Settings, shards: int = 2) -> str:
    from botocore.exceptions import ClientError

    kinesis = _client(settings, "kinesis")
    name = settings.kinesis_stream
    try:
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        outcome = "created"
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
        outcome = "exists"

    def active() -> bool:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return summary["StreamStatus"] == "ACTIVE"

    if not _wait_for(active, 30.0, 0.1):
        raise LocalServicesError(f"Kinesis stream {name!r} did not become ACTIVE within 30s")
    open_shards = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "OpenShardCount"
    ]
    if open_shards != shards:
        log.warning("Kinesis stream %s has %d open shards (contract: %d)", name, open_shards, shards)
    return outcome


def _bootstrap_dynamodb(settings: Settings) -> str:
    from botocore.exceptions import ClientError

    dynamodb = _client(settings, "dynamodb")
    name = settings.dynamodb_table
    keys = ("PK", "SK", "GSI1PK", "GSI1SK")
    try:
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                        {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        outcome = "created"
    except ClientError as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
        outcome = "exists"

    def active() -> bool:
        return dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"

    if not _wait_for(active, 30.0, 0.1):
        raise LocalServicesError(f"DynamoDB table {name!r} did not become ACTIVE within 30s")
    indexes = {
        i["IndexName"]
        for i in dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
    }
    if "gsi1" not in indexes:
        raise LocalServicesError(
            f"DynamoDB table {name!r} exists without GSI 'gsi1' (made by an older bootstrap?): "
            "run `python -m common.local_services down`, delete <local_state_dir>/dynamodb, and run `up` again"
        )
    try:
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
    except ClientError as exc:
        code = _error_code(exc)
        if code == "UnknownOperationException":
            # dynalite has no UpdateTimeToLive: items keep `expires_at`, only AWS enforces it.
            log.info("DynamoDB TTL on expires_at not supported by this stand-in (dynalite); skipped")
        elif code != "ValidationException" or "already enabled" not in str(exc):
            raise
    return outcome


def _bootstrap_sqs(settings: Settings) -> tuple[str, str]:
    """Landing queue + DLQ (redrive after LANDING_MAX_RECEIVE_COUNT receives). Returns (outcome, queue ARN)."""
    sqs = _client(settings, "sqs")
    existing = set(sqs.list_queues(QueueNamePrefix=settings.landing_queue).get("QueueUrls", []))
    dlq_url = sqs.create_queue(QueueName=f"{settings.landing_queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(QueueName=settings.landing_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(LANDING_MAX_RECEIVE_COUNT)}
    # EventBridge may deliver to the queue (a no-op for moto, required by real SQS).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowEventBridge",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        ],
    }
    # set_queue_attributes is an upsert, unlike create_queue with attributes (which rejects a changed queue).
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(redrive), "Policy": json.dumps(policy)}
    )
    outcome = "exists" if queue_url in existing and dlq_url in existing else "created"
    return outcome, queue_arn


def _bootstrap_eventbridge(settings: Settings, queue_arn: str) -> str:
    from botocore.exceptions import ClientError

    events = _client(settings, "events")
    try:
        events.create_event_bus(Name=settings.event_bus)
        outcome = "created"
    except ClientError as exc:
        if _error_code(exc) != "ResourceAlreadyExistsException":
            raise
        outcome = "exists"
    rule = f"{settings.event_bus}-to-landing"
    # put_rule / put_targets are upserts.
    events.put_rule(
        Name=rule,
        EventBusName=settings.event_bus,
        EventPattern=json.dumps({"source": [{"prefix": EVENT_SOURCE_PREFIX}]}),
        State="ENABLED",
        Description=f"All {EVENT_SOURCE_PREFIX}* events to the SQS landing queue",
    )
    events.put_targets(
        Rule=rule, EventBusName=settings.event_bus, Targets=[{"Id": "landing-queue", "Arn": queue_arn}]
    )
    return outcome


def _bootstrap_glue(settings: Settings) -> str:
    from botocore.exceptions import ClientError

    glue = _client(settings, "glue")
    try:
        glue.create_database(DatabaseInput={"Name": settings.glue_database})
        return "created"
    except ClientError as exc:
        if _error_code(exc) != "AlreadyExistsException":
            raise
        return "exists"


def bootstrap(settings: Settings | None = None) -> dict[str, str]:
    """Create (idempotently) the stream, table, queues, bus + rule and Glue database. Returns resource -> outcome."""
    from botocore.exceptions import EndpointConnectionError

    settings = settings or get_settings()
    _require_local(settings)
    try:
        sqs_outcome, queue_arn = _bootstrap_sqs(settings)
        return {
            f"kinesis:{settings.kinesis_stream}": _bootstrap_kinesis(settings),
            f"dynamodb:{settings.dynamodb_table}": _bootstrap_dynamodb(settings),
            f"sqs:{settings.landing_queue}(+dlq)": sqs_outcome,
            f"events:{settings.event_bus}(+rule)": _bootstrap_eventbridge(settings, queue_arn),
            f"glue:{settings.glue_database}": _bootstrap_glue(settings),
        }
    except EndpointConnectionError as exc:
        raise LocalServicesError(
            f"cannot reach a local stand-in ({exc}): start them with `python -m common.local_services up`"
        ) from exc


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print(
            "  ".join(
                str(row.get(c, "") if row.get(c) is not None else "-").ljust(widths[c]) for c in columns
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m common.local_services", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["up", "down", "status", "bootstrap"])
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for start-up / shutdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    started = time.monotonic()
    try:
        if args.command == "up":
            outcomes = start_services(settings, args.timeout or DEFAULT_START_TIMEOUT_S)
            resources = bootstrap(settings)
            print("\nlocal services up:")
            _print_table(status(settings), ["service", "state", "pid", "port", "port_env", "endpoint"])
            print("\nresources:")
            _print_table(
                [{"resource": k, "outcome": v} for k, v in resources.items()], ["resource", "outcome"]
            )
            print(
                f"\nsummary: {sum(v == 'started' for v in outcomes.values())} started, "
                f"{len(outcomes)} services healthy, {len(resources)} resources ready "
                f"in {time.monotonic() - started:.1f}s (logs: {services_dir(settings)})"
            )
        elif args.command == "down":
            outcomes = stop_all(settings, args.timeout or DEFAULT_STOP_TIMEOUT_S)
            _print_table([{"service": k, "outcome": v} for k, v in outcomes.items()], ["service", "outcome"])
        elif args.command == "status":
            _print_table(status(settings), ["service", "state", "pid", "port", "port_env", "endpoint", "log"])
        else:
            resources = bootstrap(settings)
            _print_table(
                [{"resource": k, "outcome": v} for k, v in resources.items()], ["resource", "outcome"]
            )
    except LocalServicesError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

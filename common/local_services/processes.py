"""Processes: pid files, ports, process groups, logs, and a cross-process lock."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from common.config import REPO_ROOT, Settings
from common.local_services.definitions import LocalServicesError, Service, resolved_command, services_dir

log = logging.getLogger("common.local_services")

LOG_TAIL_LINES = 25
MAX_LOG_BYTES = 10 * 1024 * 1024

# Popen objects of the services this interpreter started, so they can be reaped (no zombies).
CHILDREN: dict[int, subprocess.Popen] = {}


# ---- pid files -----------------------------------------------------------------------------


def read_pid_file(service: Service) -> dict | None:
    try:
        record = json.loads(service.pid_file.read_text())
        int(record["pid"]), int(record["pgid"])
        return record
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("%s: unreadable pid file %s, treating it as stale", service.name, service.pid_file)
        return {"pid": -1, "pgid": -1}


def write_pid_file(service: Service, pid: int, command: list[str]) -> None:
    record = {"pid": pid, "pgid": pid, "port": service.port, "command": command, "started_at": time.time()}
    service.pid_file.write_text(json.dumps(record) + "\n")


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    child = CHILDREN.get(pid)
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


def owns_process(service: Service, pid: int) -> bool:
    """True if ``pid`` is alive and is this stand-in (not a reused pid)."""
    if pid in CHILDREN:  # started by this interpreter: poll() is exact (and avoids the fork/exec window)
        return pid_alive(pid)
    if not pid_alive(pid):
        return False
    cmdline = _cmdline(pid)
    return cmdline is None or any(marker in cmdline for marker in (service.marker, *service.earlier_markers))


def is_pid_file_stale(service: Service) -> bool:
    """True if a pid file exists but its process is gone or is not this stand-in (pid reused)."""
    record = read_pid_file(service)
    if record is None:
        return False
    return not owns_process(service, int(record["pid"]))


# ---- ports ---------------------------------------------------------------------------------


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


def pick_free_ports(names: tuple[str, ...] = ("KINESIS_PORT", "DYNAMODB_PORT", "MOTO_PORT")) -> dict[str, str]:
    """Distinct free 127.0.0.1 ports for these env vars (default: the three stand-ins'), as env values.

    For tests and parallel runs that need their own stand-ins: set these (and LOCAL_STATE_DIR) in the
    environment, reset the settings cache, then call ensure_up()."""
    sockets = [socket.socket() for _ in names]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    return dict(zip(names, map(str, ports), strict=True))


def port_in_use_message(service: Service) -> str:
    free = service.port + 10000 if service.port + 10000 < 65536 else service.port - 1000
    return (
        f"port {service.port} on 127.0.0.1 ({service.port_env}, needed by {service.name}) is already in use by "
        f"another process. Stop that process (`ss -ltnp 'sport = :{service.port}'` shows it) or choose a free "
        f"port, e.g. `export {service.port_env}={free}`, and run again."
    )


# ---- process groups ------------------------------------------------------------------------


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


def group_alive(pgid: int) -> bool:
    if pgid <= 0:
        return False
    for child_pid in list(CHILDREN):  # reap our own exited children
        if CHILDREN[child_pid].poll() is not None:
            CHILDREN.pop(child_pid)
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


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# ---- start / stop --------------------------------------------------------------------------


def log_tail(service: Service, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = service.log_file.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) or "(log is empty)"


def spawn(service: Service) -> int:
    """Start the stand-in in its own process group, output appended to its log; returns the pid."""
    command = resolved_command(service)
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
            start_new_session=True,  # own process group: stop signals the whole group
        )
    CHILDREN[process.pid] = process
    write_pid_file(service, process.pid, command)
    log.info(
        "started %s (pid %d) on 127.0.0.1:%d, log %s",
        service.name,
        process.pid,
        service.port,
        service.log_file,
    )
    return process.pid


def stop_service(service: Service, timeout: float) -> str:
    """SIGTERM the service's process group, SIGKILL after ``timeout``; returns what happened."""
    if not service.managed_here:
        return "remote (not managed here)"
    record = read_pid_file(service)
    if record is None:
        return "not running"
    pid, pgid = int(record["pid"]), int(record["pgid"])
    if not owns_process(service, pid):
        service.pid_file.unlink(missing_ok=True)
        # Leader gone but its group lives on: those are orphans of ours (a live pgid is never reused).
        if not pid_alive(pid) and group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        return "stale pid file removed"
    _signal_group(pgid, signal.SIGTERM)
    outcome = "stopped"
    if not wait_for(lambda: not group_alive(pgid), timeout):
        log.warning("%s (pid %d) ignored SIGTERM for %.0fs, sending SIGKILL", service.name, pid, timeout)
        _signal_group(pgid, signal.SIGKILL)
        outcome = "killed"
        if not wait_for(lambda: not group_alive(pgid), 5.0):
            raise LocalServicesError(
                f"{service.name} (process group {pgid}) survived SIGKILL; check `ps -g {pgid}`"
            )
    CHILDREN.pop(pid, None)
    service.pid_file.unlink(missing_ok=True)
    log.info("%s %s (pid %d)", outcome, service.name, pid)
    return outcome


@contextmanager
def state_lock(settings: Settings):
    """Serialise start/stop across processes (e.g. parallel Airflow tasks calling ensure_up)."""
    directory = services_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- leftovers: processes of this checkout that outlived the run that started them ----------

# Set by scripts/run_tests.sh and tests/conftest.py; every process a test run starts inherits it, so a
# leftover can be told apart from a developer's own `make run` services in the same checkout.
RUN_TAG_ENV = "MARKETPLACE_TEST_RUN"


def _proc_text(pid: int, name: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().decode(errors="replace")
    except OSError:
        return None


def _ancestors(pid: int) -> set[int]:
    """pid and every parent up to init (a checker never reports the shells and make that run it)."""
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        stat = _proc_text(pid, "stat")
        if stat is None:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return seen


def checkout_processes(root: Path = REPO_ROOT, tag: str | None = None) -> list[dict]:
    """Live processes whose working directory is inside ``root`` or whose command line names it.

    Each row: pid, pgid, cmdline, cwd and ``tagged`` (its environment carries ``RUN_TAG_ENV=tag``).
    The calling process and its ancestors are left out. Empty where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    root_text, skip, rows = str(root.resolve()), _ancestors(os.getpid()), []
    needle = f"{RUN_TAG_ENV}={tag}".encode() if tag else None
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        pid = int(entry.name)
        stat = _proc_text(pid, "stat")
        cmdline = (_proc_text(pid, "cmdline") or "").replace("\0", " ").strip()
        if stat is None or not cmdline:  # gone, or a kernel thread
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        if not (cwd == root_text or cwd.startswith(root_text + "/") or root_text in cmdline):
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            environ = []
        rows.append({"pid": pid, "pgid": int(fields[2]), "cmdline": cmdline[:160], "cwd": cwd,
                     "tagged": needle is not None and needle in environ})
    return sorted(rows, key=lambda row: row["pid"])


def stop_leftovers(rows: list[dict], timeout: float = 10.0) -> None:
    """SIGTERM the processes of ``rows`` (their whole group when the group is theirs alone, not the caller's),
    SIGKILL what is still alive after ``timeout``."""
    protected = {os.getpgrp()}
    for pid in _ancestors(os.getpid()):
        try:
            protected.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups = {row["pgid"] for row in rows if row["pgid"] not in protected}
    singles = {row["pid"] for row in rows if row["pgid"] in protected}

    def send(sig: signal.Signals) -> None:
        for pgid in groups:
            _signal_group(pgid, sig)
        for pid in singles:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def all_gone() -> bool:
        return not any(group_alive(g) for g in groups) and not any(pid_alive(p) for p in singles)

    send(signal.SIGTERM)
    if not wait_for(all_gone, timeout):
        send(signal.SIGKILL)
        wait_for(all_gone, 5.0)

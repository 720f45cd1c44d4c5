"""Start, stop and report the stand-ins: ensure_up(), stop_all(), status()."""

from __future__ import annotations

import logging

from common.config import Settings, get_settings
from common.local_services import health
from common.local_services.definitions import (
    LocalServicesError,
    PortInUseError,
    Service,
    resolved_command,
    service_definitions,
)
from common.local_services.processes import (
    owns_process,
    port_in_use,
    port_in_use_message,
    read_pid_file,
    spawn,
    state_lock,
    stop_service,
)
from common.local_services.resources import bootstrap

log = logging.getLogger("common.local_services")

DEFAULT_START_TIMEOUT_S = 60.0
DEFAULT_STOP_TIMEOUT_S = 10.0


def plan_start(service: Service, settings: Settings) -> str:
    """What start_services must do: 'running', 'external', 'remote' or 'start' (raises on a busy port)."""
    if not service.managed_here:
        return "remote"
    record = read_pid_file(service)
    if record is not None:
        if owns_process(service, int(record["pid"])):
            if int(record.get("port", service.port)) != service.port:
                raise LocalServicesError(
                    f"{service.name} is already running (pid {record['pid']}) on port {record['port']}, but "
                    f"{service.port_env} is now {service.port}: run `python -m common.local_services down` "
                    f"with the old {service.port_env}={record['port']} first (it holds {service.data_dir or 'state'})"
                )
            return "running"
        log.warning(
            "%s: removing stale pid file %s (pid %s is gone)", service.name, service.pid_file, record["pid"]
        )
        service.pid_file.unlink(missing_ok=True)
    if port_in_use(service.port):
        # A stand-in we did not start (e.g. `docker compose up`) is fine if it answers the API.
        if health.is_healthy(service, settings):
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
            resolved_command(service)
    with state_lock(settings):
        # Every port is checked before anything is spawned: a conflict leaves nothing half-started.
        plans = {service.name: plan_start(service, settings) for service in definitions}
        pids = {s.name: spawn(s) for s in definitions if plans[s.name] == "start"}
        outcomes: dict[str, str] = {}
        for service in definitions:
            if plans[service.name] == "remote":
                health.wait_remote_healthy(service, settings, timeout)
            if plans[service.name] in ("external", "remote"):
                outcomes[service.name] = plans[service.name]
                continue
            pid = pids.get(service.name) or int(read_pid_file(service)["pid"])
            health.wait_healthy(service, settings, pid, timeout)
            outcomes[service.name] = "started" if service.name in pids else "already running"
    return outcomes


def ensure_up(settings: Settings | None = None, timeout: float = DEFAULT_START_TIMEOUT_S) -> dict[str, str]:
    """Idempotently start, health-check and bootstrap the stand-ins. Returns boto3 service -> endpoint.

    Safe to call from code that runs in both environments: with no local ports configured (AWS) there is
    nothing to start and it returns ``{}`` (boto3 then uses the real endpoints)."""
    settings = settings or get_settings()
    if not settings.ports:
        log.info("no local stand-ins configured (real AWS endpoints); nothing to start")
        return {}
    outcomes = start_services(settings, timeout)
    resources = bootstrap(settings)
    log.info("local services: %s; resources: %s", outcomes, resources)
    return {service: endpoint for service, endpoint in settings.endpoints.items() if endpoint}


def stop_all(settings: Settings | None = None, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> dict[str, str]:
    """SIGTERM (then SIGKILL) every stand-in this state dir started; stale pid files are removed."""
    settings = settings or get_settings()
    definitions = service_definitions(settings)
    with state_lock(settings):
        return {service.name: stop_service(service, timeout) for service in definitions}


def status(settings: Settings | None = None) -> list[dict]:
    """One row per stand-in: pid, port, endpoint and state: running, unhealthy, stopped, stale (pid file of a
    dead process), external (port served by a stand-in not started here), port-busy (served by something
    else), remote / remote-down (endpoint is not 127.0.0.1, e.g. a docker compose service name)."""
    settings = settings or get_settings()
    rows = []
    for service in service_definitions(settings):
        record = read_pid_file(service)
        pid = int(record["pid"]) if record else None
        if not service.managed_here:
            state, pid = ("remote" if health.is_healthy(service, settings) else "remote-down"), None
        elif record is not None and owns_process(service, pid):
            state = "running" if health.is_healthy(service, settings) else "unhealthy"
        elif port_in_use(service.port):
            state = "external" if health.is_healthy(service, settings) else "port-busy"
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

"""Health probes: one cheap API call per stand-in through boto3, with the settings' endpoints."""

from __future__ import annotations

import time

from common.config import Settings
from common.local_services.definitions import LocalServicesError, Service, ServiceDiedError
from common.local_services.processes import log_tail, owns_process, wait_for

_CLIENTS: dict[tuple, object] = {}
_SESSION = None


def cached_client(settings: Settings, service: str, config_kwargs: dict):
    """A boto3 client per (service, endpoint, config). Not common.aws.client, which caches per service name
    only (tests and parallel runs here switch ports). Building a client is costly, so reuse them."""
    import boto3
    from botocore.config import Config

    global _SESSION
    kwargs = settings.boto3_kwargs(service)
    key = (service, tuple(sorted(kwargs.items())), repr(sorted(config_kwargs.items())))
    if key not in _CLIENTS:
        # One session: its loader caches the parsed service models, which dominate client creation time.
        _SESSION = _SESSION or boto3.session.Session()
        _CLIENTS[key] = _SESSION.client(service, config=Config(**config_kwargs), **kwargs)
    return _CLIENTS[key]


def client(settings: Settings, service: str):
    """A client for real work (bootstrap, tests): standard retries."""
    config = {"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 3, "mode": "standard"}}
    return cached_client(settings, service, config)


def probe_client(settings: Settings, boto3_service: str, timeout: float = 2.0):
    # One attempt, short timeouts: a health probe must answer fast or count as down.
    config = {"connect_timeout": timeout, "read_timeout": timeout, "retries": {"total_max_attempts": 1}}
    return cached_client(settings, boto3_service, config)


def _probe(api, boto3_service: str) -> None:
    if boto3_service == "kinesis":
        api.list_streams(Limit=1)
    elif boto3_service == "dynamodb":
        api.list_tables(Limit=1)
    else:
        api.list_queues()


def is_healthy(service: Service, settings: Settings, api=None) -> bool:
    """One API call against the stand-in (ListStreams / ListTables / ListQueues)."""
    from botocore.exceptions import BotoCoreError, ClientError

    api = api or probe_client(settings, service.probe_service)
    try:
        _probe(api, service.probe_service)
        return True
    except (BotoCoreError, ClientError, OSError):
        return False


def wait_healthy(service: Service, settings: Settings, pid: int, timeout: float) -> None:
    """Poll until the service answers; raise with its log tail if it exits or stays silent."""
    api = probe_client(settings, service.probe_service)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not owns_process(service, pid):
            service.pid_file.unlink(missing_ok=True)
            raise ServiceDiedError(
                f"{service.name} exited during start-up. Last lines of {service.log_file}:\n{log_tail(service)}"
            )
        if is_healthy(service, settings, api):
            return
        time.sleep(0.2)
    raise ServiceDiedError(
        f"{service.name} did not answer on port {service.port} within {timeout:.0f}s (it is still running as pid "
        f"{pid}; `python -m common.local_services down` stops it). Last lines of {service.log_file}:\n"
        f"{log_tail(service)}"
    )


def wait_remote_healthy(service: Service, settings: Settings, timeout: float) -> None:
    """For an endpoint this package does not run (e.g. a docker compose service): wait until it answers."""
    api = probe_client(settings, service.probe_service)
    if not wait_for(lambda: is_healthy(service, settings, api), timeout, 0.5):
        raise LocalServicesError(
            f"{service.name} at {service.endpoint} (not started by this package) did not answer within "
            f"{timeout:.0f}s: start it (e.g. `docker compose up -d {service.name}`) or unset the endpoint override"
        )

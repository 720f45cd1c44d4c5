"""Local AWS stand-ins: start, health-check, bootstrap and stop them.

Three processes serve the AWS APIs the platform uses, all bound to 127.0.0.1 on the ports the
configuration seam names (``settings.ports``):

- kinesalite (Kinesis) and dynalite (DynamoDB): node, from the repo's ``node_modules``, launched by
  ``scripts/local_services/*.js``, persisted to LevelDB under ``<local_state_dir>/kinesis`` and
  ``/dynamodb`` so streams, records, tables and items survive a restart;
- moto server (EventBridge, SQS, Glue, S3, STS): in-memory, so :func:`bootstrap` re-creates its
  resources every time :func:`ensure_up` runs (every step is idempotent). Started through
  ``common.local_services.moto_server``: moto with its per-event JSONPath parsing and per-message
  queue rescans removed, same answers.

Pid files and logs live in ``<local_state_dir>/services/``. Each service runs in its own process
group so :func:`stop_all` can SIGTERM (then SIGKILL) the whole group and leave no orphans.
An endpoint that is not 127.0.0.1 (e.g. a docker compose service name) is only health-checked.

API: :func:`ensure_up`, :func:`stop_all`, :func:`status`, :func:`bootstrap`.
CLI: ``python -m common.local_services up|down|status|bootstrap``.

Modules: ``definitions`` (what runs, errors), ``processes`` (pid files, ports, process groups),
``health`` (boto3 probes), ``lifecycle`` (start/stop/status), ``resources`` (bootstrap), ``__main__`` (CLI),
``moto_server`` (the moto launcher).
"""

from common.local_services.definitions import (
    LocalServicesError,
    PortInUseError,
    Service,
    ServiceDiedError,
    ToolMissingError,
    service_definitions,
)
from common.local_services.lifecycle import ensure_up, start_services, status, stop_all
from common.local_services.processes import pick_free_ports, port_in_use
from common.local_services.resources import bootstrap

__all__ = [
    "LocalServicesError",
    "PortInUseError",
    "Service",
    "ServiceDiedError",
    "ToolMissingError",
    "bootstrap",
    "ensure_up",
    "pick_free_ports",
    "port_in_use",
    "service_definitions",
    "start_services",
    "status",
    "stop_all",
]

"""What runs: the three stand-ins, their commands, and the errors that name a fix."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from common.config import REPO_ROOT, Settings, get_settings

LAUNCHER_DIR = REPO_ROOT / "scripts" / "local_services"
NODE_MODULES = REPO_ROOT / "node_modules"
MOTO_LAUNCHER = "common.local_services.moto_server"


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
    command: tuple[str, ...]  # command[0] is "node" or "python", resolved at start
    marker: str  # substring of the process command line that identifies our process
    data_dir: Path | None  # LevelDB directory (None: in-memory)
    services_dir: Path  # pid file and log
    endpoint: str  # what the platform's boto3 clients use (settings.endpoints)
    # Markers of the same stand-in started by an older checkout (plain `python -m moto.server`), so a
    # process started before an upgrade is still recognised — and stopped — rather than orphaned.
    earlier_markers: tuple[str, ...] = ()

    @property
    def managed_here(self) -> bool:
        """True if the endpoint is this machine's 127.0.0.1:<port>, i.e. a process this package runs.
        Otherwise (e.g. http://kinesalite:4567 inside docker compose) it is only health-checked."""
        parsed = urlparse(self.endpoint)
        return parsed.hostname in ("127.0.0.1", "localhost") and parsed.port == self.port

    @property
    def pid_file(self) -> Path:
        return self.services_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.services_dir / f"{self.name}.log"


def services_dir(settings: Settings) -> Path:
    return settings.local_state_dir / "services"


def require_local(settings: Settings) -> None:
    # Asking the settings, not the environment name: no stand-in ports means there is nothing to run.
    if not settings.ports or not settings.endpoints.get("kinesis"):
        raise LocalServicesError(
            "no local service ports/endpoints are configured (PLATFORM_ENV is not 'local'?); "
            "in AWS these resources are created by the CDK stacks (`make deploy`)"
        )


def service_definitions(settings: Settings | None = None) -> list[Service]:
    """The three stand-ins for these settings (ports, endpoints and state dir come from the config seam)."""
    settings = settings or get_settings()
    require_local(settings)
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
            # moto.server minus its per-event JSONPath parsing and O(queue depth) receives (see the module).
            command=("python", "-m", MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", str(moto_port)),
            marker=MOTO_LAUNCHER,
            earlier_markers=("moto.server",),
            data_dir=None,
            services_dir=sdir,
            endpoint=settings.endpoints["sqs"],
        ),
    ]


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


def resolved_command(service: Service) -> list[str]:
    """The command with its interpreter resolved (raises ToolMissingError naming the fix)."""
    interpreter = _node() if service.command[0] == "node" else _moto_python()
    return [interpreter, *service.command[1:]]

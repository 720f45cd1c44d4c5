"""`make airflow`: Airflow 3 standalone on 127.0.0.1 with this repo's DAGs; prints the URL and the login.

Runs in the foreground until Ctrl-C, then stops the whole Airflow process group (api-server, scheduler,
dag-processor, triggerer). Home: ``<local state dir>/airflow`` (``AIRFLOW_HOME`` overrides).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `_platform` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _platform.airflow_env import ADMIN_USER, admin_password, airflow_environment, passwords_file  # noqa: E402
from _platform.run_dag import airflow_cli  # noqa: E402

log = logging.getLogger("marketplace.airflow")
START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 30


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_busy(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = airflow_environment()
    home = Path(env["AIRFLOW_HOME"])
    port = int(env["AIRFLOW__API__PORT"])
    if _port_busy(port):
        print(f"ERROR: 127.0.0.1:{port} is already in use. Stop that process or pick another port, "
              f"e.g. `make airflow AIRFLOW_PORT=8081`.", file=sys.stderr)
        return 1
    home.mkdir(parents=True, exist_ok=True)
    log_file = home / "standalone.log"
    log.info("starting Airflow standalone (home %s, log %s)", home, log_file)
    with log_file.open("ab") as sink:
        process = subprocess.Popen([*airflow_cli(env), "standalone"], env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)

    stopping: dict[str, float] = {}

    def request_stop(*_):
        # Only signal here; the main loop reaps (a handler waiting on the child would contend for its lock).
        stopping["requested"] = 1.0
        if "since" not in stopping:
            log.info("stopping Airflow (process group %s)", process.pid)
            request_stop_group()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    def wait_for_exit() -> int:
        """Until the standalone parent *and* its components (same process group) are gone."""
        while process.poll() is None or _group_alive(process.pid):
            if process.poll() is not None and "since" not in stopping:  # parent died: stop the rest too
                request_stop_group()
            if "since" in stopping and time.monotonic() - stopping["since"] > STOP_TIMEOUT_S:
                _signal_group(process.pid, signal.SIGKILL)
            time.sleep(0.5)
        return 0 if "requested" in stopping else (process.returncode or 1)

    def request_stop_group():
        stopping["since"] = time.monotonic()
        _signal_group(process.pid, signal.SIGTERM)

    deadline = time.monotonic() + START_TIMEOUT_S
    while not _healthy(port):
        if "requested" in stopping:
            return wait_for_exit()
        if process.poll() is not None:
            print(f"ERROR: Airflow exited with {process.returncode}; last lines of {log_file}:", file=sys.stderr)
            print("\n".join(log_file.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"ERROR: Airflow not healthy after {START_TIMEOUT_S}s; see {log_file}", file=sys.stderr)
            request_stop()
            wait_for_exit()
            return 1
        time.sleep(2)
    password = admin_password(home) or f"(see {passwords_file(home)})"
    print(
        f"\nAirflow is up: http://127.0.0.1:{port}\n"
        f"  login:    {ADMIN_USER} / {password}\n"
        f"  DAGs:     events_landing (hourly), match_daily (daily), backfill (manual)\n"
        f"  log:      {log_file}\n"
        f"Ctrl-C stops it.\n",
        flush=True,
    )
    return wait_for_exit()


if __name__ == "__main__":
    sys.exit(main())

"""`make airflow`: standalone Airflow on 127.0.0.1 serves the three DAGs, prints the login, stops cleanly."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT

pytestmark = [pytest.mark.integration]

STANDALONE = REPO_ROOT / "dags" / "_platform" / "standalone.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(url: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as response:
        return json.loads(response.read())


def test_standalone_serves_the_dags_on_localhost_and_stops_cleanly():
    port = _free_port()
    state = Path(tempfile.mkdtemp(prefix="airflow-standalone-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_PORT=str(port), LOCAL_STATE_DIR=str(state), PYTHONPATH="")
    out_path = state / "stdout.txt"
    with out_path.open("w") as out:
        process = subprocess.Popen([sys.executable, str(STANDALONE)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 300
        while "Airflow is up" not in out_path.read_text():
            assert process.poll() is None, out_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "standalone did not come up in 300 s"
            time.sleep(2)
        printed = out_path.read_text()
        assert f"http://127.0.0.1:{port}" in printed
        password = re.search(r"login:\s+admin / (\S+)", printed).group(1)

        base = f"http://127.0.0.1:{port}"
        token = _request(f"{base}/auth/token", body={"username": "admin", "password": password})["access_token"]
        dags: dict = {}
        while set(dags) != {"events_landing", "match_daily", "backfill"} and time.monotonic() < deadline:
            time.sleep(3)  # the dag processor parses the folder shortly after start
            dags = {d["dag_id"]: d for d in _request(f"{base}/api/v2/dags", token)["dags"]}
        assert set(dags) == {"events_landing", "match_daily", "backfill"}
        assert _request(f"{base}/api/v2/importErrors", token)["total_entries"] == 0
        assert {t["name"] for t in dags["match_daily"]["tags"]} >= {"marketplace", "matching"}
        # bound to loopback only: the machine's other addresses do not answer
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=90)
    assert code == 0
    time.sleep(2)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "Airflow still listening after stop"
    assert _processes_with_home(state / "airflow") == [], "Airflow processes left behind"
    shutil.rmtree(state, ignore_errors=True)


def _processes_with_home(home: Path) -> list[int]:
    """Pids whose environment has this AIRFLOW_HOME (the components' command lines do not show it)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found

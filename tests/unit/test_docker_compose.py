"""docker-compose.yml is valid against the vendored compose-spec schema and mirrors the local default.

No Docker engine here: the file is checked structurally (jsonschema) and for the properties that matter.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from common.config import DEFAULT_PORTS

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SCHEMA_FILE = REPO_ROOT / "tests" / "schemas" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _published_ports(compose: dict):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            yield name, port


def test_compose_file_is_valid_against_the_compose_spec(compose, validator):
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_compose_file(compose, validator):
    # Guards against a schema that accepts anything.
    broken = copy.deepcopy(compose)
    broken["services"]["kinesalite"]["ports"] = {"not": "a list"}
    broken["services"]["dynalite"]["restart_policy"] = "always"  # not a service key
    broken["services"]["moto"]["depends_on"] = {"jobs": {"condition": "service_ready"}}
    messages = [e.message for e in validator.iter_errors(broken)]
    assert len(messages) >= 3


def test_every_published_port_binds_loopback_only(compose):
    published = list(_published_ports(compose))
    assert published, "no ports published at all"
    for service, port in published:
        assert isinstance(port, str), f"{service}: use the 'HOST_IP:HOST:CONTAINER' string form, got {port!r}"
        parts = port.split(":")
        assert len(parts) == 3 and parts[0] == "127.0.0.1", f"{service} publishes {port!r} beyond 127.0.0.1"


def test_published_ports_match_the_config_seam_defaults(compose):
    expected = {
        "kinesalite": DEFAULT_PORTS["KINESIS_PORT"],
        "dynalite": DEFAULT_PORTS["DYNAMODB_PORT"],
        "moto": DEFAULT_PORTS["MOTO_PORT"],
        "airflow": DEFAULT_PORTS["AIRFLOW_PORT"],
    }
    published = {service: int(port.split(":")[1]) for service, port in _published_ports(compose)}
    assert published == expected


def test_stand_ins_persist_to_volumes_and_use_the_repo_launchers(compose):
    services = compose["services"]
    for name, data_dir in (("kinesalite", "/data/kinesis"), ("dynalite", "/data/dynamodb")):
        command = services[name]["command"]
        assert command[1] == f"scripts/local_services/{name}.js"
        assert command[command.index("--path") + 1] == data_dir
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} must persist to a named volume"
    assert services["moto"]["command"][:3] == ["python", "-m", "moto.server"]


def test_platform_services_run_locally_against_the_stand_ins(compose):
    for name in ("jobs", "airflow"):
        env = compose["services"][name]["environment"]
        assert env["PLATFORM_ENV"] == "local"
        assert env["KINESIS_ENDPOINT"] == "http://kinesalite:4567"
        assert env["DYNAMODB_ENDPOINT"] == "http://dynalite:4568"
        assert env["MOTO_ENDPOINT"] == "http://moto:4569"
    # Airflow starts only after the one-shot bootstrap succeeded, which waits for healthy stand-ins.
    assert (
        compose["services"]["airflow"]["depends_on"]["jobs"]["condition"] == "service_completed_successfully"
    )
    assert {c["condition"] for c in compose["services"]["jobs"]["depends_on"].values()} == {"service_healthy"}
    assert compose["services"]["jobs"]["command"] == ["python", "-m", "common.local_services", "bootstrap"]


def test_build_files_exist_and_install_the_committed_locks(compose):
    dockerfiles = {svc["build"]["dockerfile"] for svc in compose["services"].values() if "build" in svc}
    assert dockerfiles == {"docker/jobs.Dockerfile", "docker/node-services.Dockerfile"}
    for dockerfile in dockerfiles:
        assert (REPO_ROOT / dockerfile).is_file()
    jobs = (REPO_ROOT / "docker/jobs.Dockerfile").read_text()
    assert "requirements/jobs.lock" in jobs and "openjdk-17" in jobs
    assert "requirements/airflow.lock" in jobs and "airflow standalone" in jobs.replace('", "', " ")
    targets = {svc["build"].get("target") for svc in compose["services"].values() if "build" in svc}
    for target in targets - {None}:
        assert f" AS {target}" in jobs
    node = (REPO_ROOT / "docker/node-services.Dockerfile").read_text()
    assert "npm ci" in node and "package-lock.json" in node

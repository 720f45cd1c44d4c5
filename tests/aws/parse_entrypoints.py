"""Run the shipped EMR entry point for each job run's arguments, stopping right after argparse.

    cd <dir holding entrypoint.py and code/> && python parse_entrypoints.py jobs.json <repo root>

Mimics the job's driver: only ``./code`` (code.zip unpacked, as ``spark.archives=…#code`` does) holds the
project — the jobs venv's editable install of the repo is removed from the import system, so a module
missing from code.zip fails here as it would on EMR. ``ArgumentParser.parse_args`` is wrapped to stop
the job once its arguments parsed (nothing runs); an argparse error exits 2 with its message, as on EMR.
Prints one JSON list: per job, ``parsed`` (the namespace) or ``exit_code`` + ``stderr`` or ``error``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import runpy
import sys


class Parsed(BaseException):
    """Raised from parse_args once the arguments parsed: the job stops before doing anything."""


def _without_repo(repo_root: str) -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in repr(f)]
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.path.abspath(repo_root)]
    sys.path_importer_cache.clear()


def main(argv: list[str]) -> int:
    jobs = json.loads(open(argv[1]).read())
    _without_repo(argv[2])
    original = argparse.ArgumentParser.parse_args

    def parse_args(self, args=None, namespace=None):
        raise Parsed({k: str(v) for k, v in vars(original(self, args, namespace)).items()})

    argparse.ArgumentParser.parse_args = parse_args
    results = []
    for job in jobs:
        sys.argv = ["entrypoint.py", *job["arguments"]]
        stderr = io.StringIO()
        result = {"task": job["task"], "arguments": job["arguments"]}
        try:
            with contextlib.redirect_stderr(stderr):
                runpy.run_path("entrypoint.py", run_name="__main__")
            result["error"] = "the module's CLI returned without parsing any arguments"
        except Parsed as parsed:
            result["parsed"] = parsed.args[0]
        except SystemExit as exc:
            result["exit_code"], result["stderr"] = exc.code, stderr.getvalue()[-2000:]
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            result["error"] = f"{type(exc).__name__}: {exc}"
        results.append(result)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

#!/usr/bin/env python3
"""Turn `cdk deploy --outputs-file` JSON into the env file common/config.py reads (PLATFORM_ENV=aws).

    python infra/outputs_to_env.py infra/cdk-outputs-dev.json dev > infra/outputs-dev.env
    set -a; . infra/outputs-dev.env; set +a   # then `make run` etc. talk to AWS
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

# `stacks` (infra/) and the dependency-free common/config.py it takes names from (repo root): the documented
# command runs from a plain shell, without make's PYTHONPATH.
for _path in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from stacks.platform_stack import CONFIG_ENV_VARS, output_id  # noqa: E402


class OutputsError(RuntimeError):
    """The outputs file does not contain what the config seam needs."""


def env_lines(outputs: dict, env_name: str) -> list[str]:
    stack = f"Marketplace-{env_name}-Platform"
    if stack not in outputs:
        raise OutputsError(f"no outputs for stack {stack} (have {sorted(outputs)}); did `make deploy ENV={env_name}` run?")
    values = outputs[stack]
    missing = [name for name in CONFIG_ENV_VARS if output_id(name) not in values]
    if missing:
        raise OutputsError(f"stack {stack} is missing outputs for {missing}")
    return [f"{name}={shlex.quote(str(values[output_id(name)]))}" for name in CONFIG_ENV_VARS]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        lines = env_lines(json.loads(Path(argv[1]).read_text()), argv[2])
    except (OutputsError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

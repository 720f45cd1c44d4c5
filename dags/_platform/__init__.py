"""Orchestration helpers shared by the DAG files (not DAGs themselves; see dags/.airflowignore).

The Airflow venv does not have the project installed, so this package puts the repository root on
``sys.path``: ``common.config`` is stdlib-only on purpose and is the one local-vs-AWS seam the DAGs use.
Nothing here touches the Airflow metadata DB, the network or a subprocess at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"

if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))

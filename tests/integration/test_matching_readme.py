"""The README's evaluation commands, run exactly as it writes them (through `make`), on a small real sample.

Only the file arguments are pointed at a temporary folder (same file names); `make evaluate` and
`make eval-skills` get EVAL_LIMIT (a smoke run on a few records) and MATCHING_OUT (so the real report in
.local/matching is not overwritten). Nothing else is added to the command lines.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration
csv.field_size_limit(sys.maxsize)
FILE_VARIABLES = ("CANDIDATES", "JOBS", "OUT")


def readme_evaluation_commands() -> list[str]:
    """Every `make …` in the README's "Evaluations on real data" bullet, in order."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Tests, lint, benchmarks and evaluations", 1)[1].split("\n## ", 1)[0]
    bullet = section.split("- Evaluations on real data", 1)[1].split("\n- ", 1)[0]
    return re.findall(r"`(make [^`]+)`", bullet)


def test_readme_lists_the_contracted_commands():
    targets = [shlex.split(c)[1] for c in readme_evaluation_commands()]
    assert targets == ["evaluate", "eval-skills", "match-files", "occupations"]


@pytest.fixture(scope="module")
def sample(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    with open(shared_data / "livecareer" / "resumes_dev.csv", newline="", encoding="utf-8") as fh:
        resumes = [r for r in csv.DictReader(fh) if r["Category"] in {"ACCOUNTANT", "CHEF"}][::25][:4]
    with open(shared_data / "hahu_jobs_dev" / "hahu_jobs_dev.csv", newline="", encoding="utf-8") as fh:
        jobs = list(csv.DictReader(fh))[:12]
    with open(root / "c.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["candidate_id", "text"])
        w.writerows([r["ID"], r["Resume_str"]] for r in resumes)
    with open(root / "j.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["job_id", "title", "text"])
        w.writerows([j["ID"], j["title"], j["description"]] for j in jobs)
    return root, len(resumes), len(jobs)


def _run(command: str, root, **env) -> subprocess.CompletedProcess:
    words = shlex.split(command)
    for i, word in enumerate(words):
        name, _, value = word.partition("=")
        if name in FILE_VARIABLES:
            words[i] = f"{name}={root / value}"
    # the caller's make variables must not leak in (a developer's ENCODER=… would hide the bug)
    clean = {k: v for k, v in os.environ.items() if k not in {"ENCODER", "WEIGHTS", "MAKEFLAGS", "MFLAGS"}}
    done = subprocess.run(words, cwd=REPO_ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{command!r} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _command(target: str) -> str:
    return next(c for c in readme_evaluation_commands() if shlex.split(c)[1] == target)


def _run_as_written(target: str, root) -> tuple[list[dict], int]:
    """Run the README's line for ``target`` as written; return the CSV named by its OUT= and its K."""
    command = _command(target)
    _run(command, root)
    out_file = re.search(r"\bOUT=(\S+)", command).group(1)
    return _rows(root / out_file), int(re.search(r"\bK=(\d+)", command).group(1))


def test_match_files_as_written(sample):
    root, n_c, n_j = sample
    rows, k = _run_as_written("match-files", root)
    assert len(rows) == n_c * min(k, n_j)
    assert all(r["model_version"] and r["weights_version"] for r in rows)
    for cid in {r["candidate_id"] for r in rows}:
        assert [int(r["rank"]) for r in rows if r["candidate_id"] == cid] == list(range(1, min(k, n_j) + 1))


def test_occupations_as_written(sample):
    root, _, n_j = sample
    rows, k = _run_as_written("occupations", root)
    assert len(rows) == n_j * k
    assert all(r["esco_code"] for r in rows)


def test_evaluate_and_eval_skills_as_written_on_a_small_sample(sample):
    root, _, _ = sample
    out = root / "reports"
    _run(_command("evaluate"), root, EVAL_LIMIT="12", MATCHING_OUT=str(out))
    report = json.loads((out / "evaluate.json").read_text())
    assert report["occupations"]["all"]["n"] == 12
    assert report["ranking"]["resumes"] <= 12 and report["ranking"]["jobs"] == 12
    assert "tfidf" in report["ranking"]["results"]
    _run(_command("eval-skills"), root, EVAL_LIMIT="12", MATCHING_OUT=str(out))
    skills = json.loads((out / "eval_skills.json").read_text())
    assert skills["green_token_level"]["sentences"] == 12
    assert all(v["sentences"] == 12 for k, v in skills.items() if k.startswith("esco_"))

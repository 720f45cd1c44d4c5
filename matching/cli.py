"""Evaluation and batch CLI for the matching core.

    python -m matching.cli match-files --candidates c.csv --jobs j.csv --k 10 --out ranking.csv
    python -m matching.cli occupations --jobs j.csv --k 10 --out occ.csv
    python -m matching.cli evaluate [--shared-data ../shared/data] [--json out.json]
    python -m matching.cli eval-skills [--shared-data ../shared/data]

Input CSVs: candidates ``candidate_id,text``; jobs ``job_id,title,text`` (extra columns ignored;
``description`` is accepted for ``text``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("matching.cli")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_CACHE = REPO_ROOT / ".local" / "matching_cache"
RANKING_COLUMNS = ["candidate_id", "job_id", "rank", "score", "semantic", "skills", "experience", "location",
                   "salary", "occupation", "matched_skills", "missing_essential", "missing_optional",
                   "occupation_match", "weights_version", "model_version", "invalid_reason"]

LIMIT_HELP = "smoke run: at most N records of each data set (job ads, resumes, gold sentences); not comparable"

csv.field_size_limit(sys.maxsize)


class InputError(ValueError):
    """An input file is missing or lacks a required column."""


def _read(path: Path, required: list[str], aliases: dict[str, str] | None = None) -> list[dict]:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = list(reader)
    for want, alias in (aliases or {}).items():
        if want not in header and alias in header:
            for r in rows:
                r[want] = r[alias]
            header = [*header, want]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; found {header}")
    return rows


def _write(path: Path, rows: list[dict], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def rows_weights_version(version: str | None) -> str:
    from matching.scoring import resolve_weights

    return resolve_weights(version).version


def cmd_match_files(args) -> int:
    from matching.pipeline import candidate_side, embed_sides, job_side, ranking_rows

    started = time.time()
    from matching.embeddings import get_cache

    if not args.no_cache:
        get_cache("minilm").attach(Path(args.cache_dir))  # occupation ranking embeds documents too
    cand_rows = _read(Path(args.candidates), ["candidate_id", "text"], {"text": "Resume_str"})
    job_rows = _read(Path(args.jobs), ["job_id", "title", "text"], {"text": "description"})
    log.info("read %d candidates, %d jobs", len(cand_rows), len(job_rows))
    cands = candidate_side([r["candidate_id"] for r in cand_rows], [r["text"] for r in cand_rows])
    jobs = job_side([r["job_id"] for r in job_rows], [r["title"] for r in job_rows], [r["text"] for r in job_rows])
    t_profiles = time.time() - started
    model_version = embed_sides([(cands, "candidate"), (jobs, "job")], args.encoder,
                                None if args.no_cache else Path(args.cache_dir))
    t_embed = time.time() - started - t_profiles
    if not args.no_cache:
        get_cache("minilm").save()
    rows = ranking_rows(cands, jobs, args.k, args.weights, model_version, block_size=args.block_size)
    _write(Path(args.out), rows, RANKING_COLUMNS)
    invalid_c = int((~cands.features.valid).sum())
    invalid_j = int((~jobs.features.valid).sum())
    ranked = len(rows) - invalid_c
    summary = {
        "candidates": len(cand_rows), "jobs": len(job_rows), "invalid_candidates": invalid_c,
        "invalid_jobs": invalid_j, "k": args.k, "rows_written": len(rows), "ranked_rows": ranked,
        "pairs_scored": (len(cand_rows) - invalid_c) * (len(job_rows) - invalid_j),
        "encoder": model_version, "weights": rows_weights_version(args.weights),
        "seconds": {"profiles": round(t_profiles, 1), "embeddings": round(t_embed, 1),
                    "total": round(time.time() - started, 1)},
        "out": str(args.out),
    }
    print(json.dumps(summary, indent=1))
    return 0


def cmd_occupations(args) -> int:
    from matching.occupations import get_ranker

    started = time.time()
    job_rows = _read(Path(args.jobs), ["job_id", "title"], {"text": "description"})
    ranker = get_ranker()
    out = []
    from matching.profiles import job_document

    titles = [r["title"] for r in job_rows]
    texts = [job_document(r["title"], r.get("text") or "") for r in job_rows]
    ranked = ranker.rank(titles, texts, k=args.k)
    for row, matches in zip(job_rows, ranked, strict=True):
        for rank, m in enumerate(matches, start=1):
            out.append({"job_id": row["job_id"], "rank": rank, "esco_code": m.code, "score": round(m.score, 6),
                        "esco_label": m.label})
    _write(Path(args.out), out, ["job_id", "rank", "esco_code", "score", "esco_label"])
    print(json.dumps({"jobs": len(job_rows), "rows_written": len(out), "k": args.k,
                      "seconds": round(time.time() - started, 1), "out": str(args.out)}, indent=1))
    return 0


def _table(title: str, rows: list[tuple], header: tuple) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [title, fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(x) for x in r]) for r in rows]
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    from matching.evaluation import occupation_eval, ranking_eval

    shared = Path(args.shared_data)
    report: dict = {}
    if args.what in ("all", "occupations"):
        occ = occupation_eval(shared, limit=args.limit)
        report["occupations"] = occ
        print(_table("job -> ESCO occupation (hahu, split by ID hash; weights chosen on dev)",
                     [(s, v["n"], v["hybrid_hit@1"], v["hybrid_hit@10"], v["tfidf_hit@1"], v["tfidf_hit@10"])
                      for s, v in occ.items()],
                     ("split", "n", "ours hit@1", "ours hit@10", "tfidf hit@1", "tfidf hit@10")))
        print(_table("occupation signals (ablation; + dev-ad kNN: evaluation only, fit on dev ads, not shipped)",
                     [(name, *(occ[s]["ablation"].get(name, {}).get(m, "") for s in ("dev", "test")
                               for m in ("hit@1", "hit@10"))) for name in occ["dev"]["ablation"]]
                     + [("+ dev-ad kNN", *(occ[s][f"dev_ad_knn_hit@{k}"] for s in ("dev", "test") for k in (1, 10)))],
                     ("variant", "dev hit@1", "dev hit@10", "test hit@1", "test hit@10")))
    if args.what in ("all", "ranking"):
        rk = ranking_eval(shared, encoders=tuple(args.encoders.split(",")), per_category=args.per_category,
                          split=args.split, k=args.k, cache_dir=None if args.no_cache else Path(args.cache_dir),
                          tune=args.tune, limit=args.limit)
        tuning = rk["results"].pop("tuning", None)
        if tuning:
            report["tuning"] = tuning
            print(f"learning-to-rank fit on this split ({rk['split']}): {json.dumps(tuning)}")
        report["ranking"] = rk
        k = rk["k"]
        print(_table(f"resume -> job ranking ({rk['resumes']} {rk['split']} resumes x {rk['jobs']} jobs)",
                     [(m, v[f"precision@{k}"], v[f"ndcg@{k}"], v["mrr"]) for m, v in rk["results"].items()],
                     ("method", f"precision@{k}", f"ndcg@{k}", "mrr")))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    return 0


def cmd_eval_skills(args) -> int:
    from matching.skill_evaluation import evaluate_extractor, fit_link_models, skill_eval_green
    from matching.skills import get_extractor

    shared = Path(args.shared_data)
    phrase = get_extractor()
    # The profile extractor's numbers stay top-level (green_token_level = all Green sentences, as before).
    report: dict = {"green_token_level": skill_eval_green(shared, phrase, None, args.limit),
                    **evaluate_extractor(shared, phrase, args.limit)}
    if args.extractor == "both":
        from dataclasses import asdict

        from matching.skill_linker import get_linker

        linker = get_linker()
        fitted = fit_link_models(shared, linker, limit=args.limit)
        shipped = {"mention_model": linker.mention_model, "link_model": linker.link_model}
        # Refits differ from the shipped constants in the 3rd decimal (BLAS rounding); that is the same model.
        if not all(fitted[k].close_to(v) for k, v in shipped.items()):
            log.warning("models fitted on the fit halves differ from the shipped matching.skill_linker ones; "
                        "the held-out numbers below use the fitted ones")
            linker.mention_model, linker.link_model = fitted["mention_model"], fitted["link_model"]
        report["linker"] = evaluate_extractor(shared, linker, args.limit)
        report["linker_models"] = {"fitted": {k: (asdict(v) if k in shipped else v) for k, v in fitted.items()},
                                   "shipped": {k: asdict(v) for k, v in shipped.items()}}
    rows = [(f"{name} [phrase]", v["precision"], v["recall"], v["f1"]) for name, v in report.items()
            if name.startswith(("green_", "esco_"))]
    rows += [(f"{name} [linker]", v["precision"], v["recall"], v["f1"]) for name, v in report.get("linker", {}).items()]
    print(_table("skill extraction: phrase matching (profiles) vs span linker; fit = green_fit + *_validation, "
                 "held-out = green_heldout + *_test", rows, ("gold set [extractor]", "precision", "recall", "f1")))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.cli", description="matching core CLI")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("match-files", help="rank jobs for every candidate")
    m.add_argument("--candidates", required=True)
    m.add_argument("--jobs", required=True)
    m.add_argument("--k", type=int, default=10)
    m.add_argument("--out", required=True)
    m.add_argument("--encoder", default="minilm", choices=["minilm", "static", "hashing"])
    m.add_argument("--weights", default=None, help="weights version (default: matching.scoring's default)")
    m.add_argument("--block-size", type=int, default=512)
    m.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    m.add_argument("--no-cache", action="store_true")
    o = sub.add_parser("occupations", help="top-k ESCO occupations per job")
    o.add_argument("--jobs", required=True)
    o.add_argument("--k", type=int, default=10)
    o.add_argument("--out", required=True)
    e = sub.add_parser("evaluate", help="occupation + ranking evaluation on ../shared/data")
    e.add_argument("--shared-data", default=str(DEFAULT_SHARED))
    e.add_argument("--what", default="all", choices=["all", "occupations", "ranking"])
    e.add_argument("--encoders", default="minilm,static")
    e.add_argument("--per-category", type=int, default=8)
    e.add_argument("--split", default="test", choices=["dev", "test"])
    e.add_argument("--k", type=int, default=10)
    e.add_argument("--tune", action="store_true",
                   help="also fit the component weights on this split (pairwise LTR, 5-fold CV; use --split dev)")
    e.add_argument("--json")
    e.add_argument("--limit", type=int, help=LIMIT_HELP)
    e.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    e.add_argument("--no-cache", action="store_true")
    s = sub.add_parser("eval-skills", help="skill extraction P/R/F1 on the gold sets")
    s.add_argument("--shared-data", default=str(DEFAULT_SHARED))
    s.add_argument("--json")
    s.add_argument("--limit", type=int, help=LIMIT_HELP)
    s.add_argument("--extractor", default="both", choices=["both", "phrase"],
                   help="phrase: only the profile extractor (seconds); both: also the span linker (minutes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers = {"match-files": cmd_match_files, "occupations": cmd_occupations, "evaluate": cmd_evaluate,
                "eval-skills": cmd_eval_skills}
    try:
        return handlers[args.command](args)
    except InputError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

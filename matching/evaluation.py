"""Offline evaluation on the real data in ../shared/data (never bundled).

- Occupations: hahu job ads labelled with ESCO codes, split dev/test by a hash of the ad ID (the
  weights in matching.occupations were chosen on dev only); hit@1/hit@10 vs a word TF-IDF baseline.
- Resume -> job ranking: livecareer resumes (category label) against the hahu ads (ESCO code),
  relevant when the ad's ISCO group is in the crosswalk of the resume's category (CROSSWALK,
  documented in docs/matching.md). precision@k, NDCG@k, MRR for hybrid, lexical TF-IDF,
  embedding-only and random rankings; held-out resumes = the "test" half by ID hash.
- Skills: matching.skill_evaluation — token-level P/R/F1 on the Green et al. benchmark and ESCO-label
  P/R/F1 on the SkillSpan HOUSE/TECH sentences linked to ESCO (Decorte et al.), fit vs held-out.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# livecareer category -> ISCO-08 group prefixes (of the ESCO occupation `code`) that count as relevant.
CROSSWALK: dict[str, tuple[str, ...]] = {
    "ACCOUNTANT": ("241", "331", "431"),
    "ADVOCATE": ("261", "341"),
    "AGRICULTURE": ("213", "314", "6", "92", "1311"),
    "APPAREL": ("753", "2163", "522"),
    "ARTS": ("265", "264", "343", "2166"),
    "AUTOMOBILE": ("723", "311", "2144", "832"),
    "AVIATION": ("315", "2144", "5111", "3115"),
    "BANKING": ("241", "331", "421", "1346"),
    "BPO": ("422", "421", "4222"),
    "BUSINESS-DEVELOPMENT": ("122", "243", "332", "121"),
    "CHEF": ("343", "512", "141", "941"),
    "CONSTRUCTION": ("132", "312", "214", "71", "216"),
    "CONSULTANT": ("242", "121", "241", "263"),
    "DESIGNER": ("216", "343", "2166"),
    "DIGITAL-MEDIA": ("264", "2166", "243", "352"),
    "ENGINEERING": ("214", "215", "311", "132"),
    "FINANCE": ("241", "331", "1211", "431"),
    "FITNESS": ("342", "226", "3423"),
    "HEALTHCARE": ("22", "32", "1342", "53"),
    "HR": ("1212", "2423", "4416", "242"),
    "INFORMATION-TECHNOLOGY": ("25", "35", "133"),
    "PUBLIC-RELATIONS": ("2432", "243", "122", "264"),
    "SALES": ("243", "332", "52", "122"),
    "TEACHER": ("23", "531"),
}


def split_of(key: str) -> str:
    """Deterministic 50/50 dev/test split by the record's own ID."""
    return "test" if int(hashlib.sha1(str(key).encode()).hexdigest(), 16) % 2 else "dev"


def precision_at_k(rel: np.ndarray, k: int) -> float:
    return float(np.mean(rel[:, :k].sum(axis=1) / k))


def ndcg_at_k(rel: np.ndarray, k: int, n_relevant: np.ndarray) -> float:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (rel[:, :k] * discounts).sum(axis=1)
    ideal = np.array([discounts[: min(int(n), k)].sum() for n in n_relevant])
    return float(np.mean(np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)))


def mrr(rel: np.ndarray) -> float:
    first = np.argmax(rel > 0, axis=1)
    has = rel.max(axis=1) > 0
    return float(np.mean(np.where(has, 1.0 / (first + 1), 0.0)))


def hit_at_k(ranked_codes: list[list[str]], gold: list[str], k: int) -> float:
    return round(float(np.mean([g in r[:k] for r, g in zip(ranked_codes, gold, strict=True)])), 4)


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------- occupations
# Supervised component, evaluation only (not shipped): a test ad's nearest dev ads by title (char
# 2-4-gram TF-IDF fit on dev titles) vote for their gold occupation with their similarity; dev ads are
# scored leave-one-out. k and weight chosen on dev (leave-one-out) from k in {1, 3, 5} x {0.1 .. 0.5}.
DEV_AD_KNN = {"k": 3, "weight": 0.2}


def _top_codes(scores: np.ndarray, codes: list[str], k: int = 10) -> list[list[str]]:
    return [[codes[i] for i in row] for row in np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def dev_ad_votes(titles: list[str], is_dev: list[bool], dev_gold: list[int], n_occupations: int,
                 k: int = DEV_AD_KNN["k"]) -> np.ndarray:
    """(ads, occupations): similarity-weighted votes of each ad's k nearest *dev* ads (by title) for
    their gold occupation indices ``dev_gold`` (one per dev ad, in order); a dev ad never votes for itself."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    dev_titles = [t for t, d in zip(titles, is_dev, strict=True) if d]
    votes = np.zeros((len(titles), n_occupations))
    if not dev_titles:
        return votes
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    sims = (vec.fit(dev_titles).transform(titles) @ vec.transform(dev_titles).T).toarray()
    dev_rows = np.flatnonzero(is_dev)
    sims[dev_rows, np.arange(len(dev_rows))] = -1.0  # leave one out
    for i, row in enumerate(sims):
        for j in np.argsort(-row, kind="stable")[:k]:
            if row[j] > 0:
                votes[i, dev_gold[j]] += row[j]
    return votes


def occupation_eval(shared: Path, limit: int | None = None) -> dict:
    """hit@1/hit@10 per split (dev, test, all) for the ranker, a word TF-IDF baseline, every signal's
    ablation (left out with the rest renormalised, and alone) and the evaluation-only dev-ad kNN."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from matching.occupations import get_ranker
    from matching.profiles import job_document
    from matching.taxonomy import load_taxonomy

    tax = load_taxonomy()
    rows = _read_csv(shared / "hahu_jobs_dev" / "hahu_jobs_dev.csv")[:limit]
    docs = [f"{lab} {' '.join(alts)} {desc}" for lab, alts, desc in
            zip(tax.occupation_labels, tax.occupation_alt_labels, tax.occupation_descriptions, strict=True)]
    baseline = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    occ_matrix = baseline.fit_transform(docs)
    ranker = get_ranker()
    codes = tax.occupation_codes
    gold_index = [tax.occupation_index_by_code.get(r["esco_code"], -1) for r in rows]
    is_dev = [split_of(r["ID"]) == "dev" for r in rows]
    votes = dev_ad_votes([r["title"] for r in rows], is_dev, [g for g, d in zip(gold_index, is_dev, strict=True)
                                                             if d], tax.n_occupations)
    out = {}
    for split in ("dev", "test", "all"):
        keep = [i for i, r in enumerate(rows) if split == "all" or split_of(r["ID"]) == split]
        subset = [rows[i] for i in keep]
        gold = [r["esco_code"] for r in subset]
        titles = [r["title"] for r in subset]
        documents = [job_document(r["title"], r["description"]) for r in subset]
        started = time.time()
        ranked = ranker.rank(titles, documents, k=10)
        seconds = time.time() - started
        ours = [[m.code for m in row] for row in ranked]
        sims = (baseline.transform([f"{r['title']} {r['description']}" for r in subset]) @ occ_matrix.T).toarray()
        base = [[codes[i] for i in np.argsort(-row, kind="stable")[:10]] for row in sims]
        signals = ranker.signals(titles, documents) if subset else {}
        weights = {name: ranker.weights[name] for name in signals if ranker.weights[name]}

        def combined(names, signals=signals, weights=weights):
            return np.round(sum(weights[n] * signals[n] for n in names) / sum(weights[n] for n in names), 6)

        ablation = {}
        if subset:
            variants = {"all signals": list(weights)}
            variants.update({f"- {n}": [m for m in weights if m != n] for n in weights if len(weights) > 1})
            variants.update({f"{n} alone": [n] for n in weights})
            for variant, names in variants.items():
                top = _top_codes(combined(names), codes)
                ablation[variant] = {"hit@1": hit_at_k(top, gold, 1), "hit@10": hit_at_k(top, gold, 10)}
            knn = _top_codes(ranker.scores(titles, documents) + DEV_AD_KNN["weight"] * votes[keep], codes)
        out[split] = {
            "n": len(subset),
            "hybrid_hit@1": hit_at_k(ours, gold, 1), "hybrid_hit@10": hit_at_k(ours, gold, 10),
            "tfidf_hit@1": hit_at_k(base, gold, 1), "tfidf_hit@10": hit_at_k(base, gold, 10),
            "dev_ad_knn_hit@1": hit_at_k(knn, gold, 1) if subset else None,
            "dev_ad_knn_hit@10": hit_at_k(knn, gold, 10) if subset else None,
            "ablation": ablation,
            "jobs_per_s": round(len(subset) / max(seconds, 1e-9), 1),
        }
    return out


# ---------------------------------------------------------------- resume -> job ranking
def _relevance(categories: list[str], codes: list[str]) -> np.ndarray:
    return np.array([[any(code.startswith(p) for p in CROSSWALK[c]) for code in codes] for c in categories],
                    dtype=np.float64)


def _rank_by(scores: np.ndarray, k: int) -> np.ndarray:
    from matching.topk import select_topk

    cols, _ = select_topk(scores, k)
    return cols


def _metrics(order: np.ndarray, relevance: np.ndarray, k: int) -> dict:
    rel = np.take_along_axis(relevance, np.where(order >= 0, order, 0), axis=1) * (order >= 0)
    n_rel = relevance.sum(axis=1)
    full = np.take_along_axis(relevance, np.where(order >= 0, order, 0), axis=1)
    return {f"precision@{k}": round(precision_at_k(rel, k), 4), f"ndcg@{k}": round(ndcg_at_k(rel, k, n_rel), 4),
            "mrr": round(mrr(full), 4)}


def _pair_differences(parts: np.ndarray, relevance: np.ndarray, rows: np.ndarray, rng, per_query: int) -> np.ndarray:
    """(pairs, components): relevant minus irrelevant job's components, ``per_query`` sampled pairs a resume."""
    out = []
    for i in rows:
        pos, neg = np.flatnonzero(relevance[i] > 0), np.flatnonzero(relevance[i] == 0)
        if len(pos) and len(neg):
            out.append(parts[i, rng.choice(pos, per_query)] - parts[i, rng.choice(neg, per_query)])
    return np.concatenate(out) if out else np.zeros((0, parts.shape[2]))


def _fit_pairwise(diff: np.ndarray, l2: float) -> np.ndarray:
    """Non-negative weights minimising the pairwise logistic loss (RankNet with a linear scorer) + L2."""
    from scipy.optimize import minimize

    def loss(w):
        z = diff @ w
        value = np.logaddexp(0.0, -z).sum() + l2 * w @ w
        grad = -(diff.T @ (1.0 / (1.0 + np.exp(z)))) + 2 * l2 * w
        return value / len(z), grad / len(z)

    start = np.full(diff.shape[1], 0.1)
    w = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * diff.shape[1]).x
    return w / w.sum() if w.sum() > 0 else start / start.sum()


def _cv_fit(parts: np.ndarray, relevance: np.ndarray, active: list[int], k: int, fold: np.ndarray,
            per_query: int, l2: float, seed: int) -> tuple[float, np.ndarray]:
    """Cross-validated precision@k of fitting only the ``active`` components, and the fit on all rows."""
    rng = np.random.default_rng(seed)
    sub = parts[..., active]
    cv = []
    for f in np.unique(fold):
        w = _fit_pairwise(_pair_differences(sub, relevance, np.flatnonzero(fold != f), rng, per_query), l2)
        held = fold == f
        cv.append(_metrics(_rank_by(sub[held] @ w, k), relevance[held], k)[f"precision@{k}"])
    full = np.zeros(parts.shape[-1])
    full[active] = _fit_pairwise(_pair_differences(sub, relevance, np.arange(len(relevance)), rng, per_query), l2)
    return float(np.mean(cv)), full


def fit_weights(parts: np.ndarray, relevance: np.ndarray, k: int = 10, folds: int = 5, per_query: int = 400,
                l2: float = 1.0, seed: int = 0, keep: int = 0, min_gain: float = 0.002) -> dict:
    """Learning-to-rank fit of the component weights on one split (use the dev half only).

    ``parts``: (resumes, jobs, components). Pairwise logistic loss over (relevant, irrelevant) jobs of each
    resume (RankNet with a linear scorer), weights >= 0 summing to 1. Components are then dropped one at a
    time, backwards, while leaving one out raises the ``folds``-fold cross-validated precision@k by at least
    ``min_gain`` (component ``keep`` — the semantic one — always stays): a component must earn its place
    on held-out resumes, not just lower the training loss."""
    fold = np.random.default_rng(seed).permutation(len(relevance)) % folds
    active = list(range(parts.shape[-1]))
    score, weights = _cv_fit(parts, relevance, active, k, fold, per_query, l2, seed)
    path = [{"components": list(active), "cv_precision": round(score, 4)}]
    while len(active) > 1:
        trials = [(_cv_fit(parts, relevance, [a for a in active if a != d], k, fold, per_query, l2, seed), d)
                  for d in active if d != keep]
        (best, best_w), dropped = max(trials, key=lambda t: t[0][0])
        if best < score + min_gain:
            break
        active.remove(dropped)
        score, weights = best, best_w
        path.append({"dropped": dropped, "cv_precision": round(score, 4)})
    return {"weights": [round(float(x), 4) for x in weights], "cv_precision": round(score, 4), "path": path}


def ranking_eval(shared: Path, encoders: tuple[str, ...] = ("minilm", "static"), per_category: int = 10,
                 split: str = "test", k: int = 10, cache_dir: Path | None = None, tune: bool = False,
                 limit: int | None = None) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from matching.embeddings import get_cache
    from matching.pipeline import candidate_side, embed_sides, job_side
    from matching.scoring import COMPONENTS, DEFAULT_WEIGHTS_VERSION, WEIGHTS, score_matrix

    get_cache("minilm").attach(cache_dir)  # profiles embed documents too: reuse earlier runs' vectors

    jobs = _read_csv(shared / "hahu_jobs_dev" / "hahu_jobs_dev.csv")[:limit]
    resumes = [r for r in _read_csv(shared / "livecareer" / "resumes_dev.csv")
               if split_of(r["ID"]) == split and r["Category"] in CROSSWALK and r["Resume_str"].strip()]
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(resumes, key=lambda r: hashlib.sha1(r["ID"].encode()).hexdigest()):
        if len(by_cat[r["Category"]]) < per_category:
            by_cat[r["Category"]].append(r)
    sample = [r for cat in sorted(by_cat) for r in by_cat[cat]]
    relevance = _relevance([r["Category"] for r in sample], [j["esco_code"] for j in jobs])
    keep = relevance.sum(axis=1) > 0  # categories with no relevant ad cannot be evaluated
    sample = [r for r, ok in zip(sample, keep, strict=True) if ok][:limit]
    relevance = relevance[keep][:limit]
    cands = candidate_side([r["ID"] for r in sample], [r["Resume_str"] for r in sample])
    job_s = job_side([j["ID"] for j in jobs], [j["title"] for j in jobs], [j["description"] for j in jobs])
    results: dict[str, dict] = {}
    # Lexical baseline: TF-IDF cosine fitted on both sides.
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    tfidf.fit([r["Resume_str"] for r in sample] + [f"{j['title']} {j['description']}" for j in jobs])
    lex = (tfidf.transform([r["Resume_str"] for r in sample])
           @ tfidf.transform([f"{j['title']} {j['description']}" for j in jobs]).T).toarray()
    results["tfidf"] = _metrics(_rank_by(lex, k), relevance, k)
    rng = np.random.default_rng(0)
    results["random"] = _metrics(_rank_by(rng.random(relevance.shape), k), relevance, k)
    for name in encoders:
        # before: document-only vectors (the first MAX_SEQ_LENGTH tokens) and weights w1
        embed_sides([(cands, "candidate"), (job_s, "job")], name, cache_dir, title_weight=0.0)
        results[f"embedding[{name}]"] = _metrics(_rank_by(score_matrix(
            cands.features, job_s.features, WEIGHTS["semantic_only"])["score"], k), relevance, k)
        results[f"hybrid w1 (before)[{name}]"] = _metrics(_rank_by(score_matrix(
            cands.features, job_s.features, WEIGHTS["w1"])["score"], k), relevance, k)
        plain = score_matrix(cands.features, job_s.features, WEIGHTS[DEFAULT_WEIGHTS_VERSION])
        # now: title-emphasised vectors and the default (learned) weights
        embed_sides([(cands, "candidate"), (job_s, "job")], name, cache_dir)
        results[f"embedding+title[{name}]"] = _metrics(_rank_by(score_matrix(
            cands.features, job_s.features, WEIGHTS["semantic_only"])["score"], k), relevance, k)
        weights = WEIGHTS[DEFAULT_WEIGHTS_VERSION]
        parts = score_matrix(cands.features, job_s.features, weights)
        results[f"hybrid {weights.version}[{name}]"] = _metrics(_rank_by(parts["score"], k), relevance, k)
        if name != encoders[0]:
            continue
        # ablations of the default weights: each component left out (the rest renormalised), and alone
        norm = dict(zip(COMPONENTS, weights.component_weights(), strict=True))
        without_title = sum(norm[c] * (plain if c == "semantic" else parts)[c] for c in COMPONENTS)
        results[f"{weights.version} - title emphasis"] = _metrics(_rank_by(np.round(without_title, 6), k),
                                                                  relevance, k)
        for dropped in COMPONENTS:
            rest = {c: norm[c] for c in COMPONENTS if c != dropped}
            if not norm[dropped] or not sum(rest.values()):
                continue
            combined = sum(w * parts[c] for c, w in rest.items()) / sum(rest.values())
            results[f"{weights.version} - {dropped}"] = _metrics(_rank_by(np.round(combined, 6), k), relevance, k)
        for alone in COMPONENTS[1:]:  # semantic alone = embedding+title; ties broken by column order
            results[f"{alone} only"] = _metrics(_rank_by(parts[alone], k), relevance, k)
        if tune:
            stacked = np.stack([parts[c] for c in COMPONENTS], axis=-1)
            fit = fit_weights(stacked, relevance, k)
            fit["weights"] = dict(zip(COMPONENTS, fit["weights"], strict=True))
            for step in fit["path"]:
                if "dropped" in step:
                    step["dropped"] = COMPONENTS[step["dropped"]]
                else:
                    step["components"] = [COMPONENTS[c] for c in step["components"]]
            fitted = stacked @ np.array(list(fit["weights"].values()))
            fit[f"precision@{k}_on_this_split"] = _metrics(_rank_by(fitted, k), relevance, k)[f"precision@{k}"]
            results["tuning"] = fit
    get_cache("minilm").save()
    return {"split": split, "resumes": len(sample), "jobs": len(jobs), "k": k, "results": results}


# ---------------------------------------------------------------- skills
# Moved to matching.skill_evaluation (fit/held-out splits, any extractor); re-exported for callers.
from matching.skill_evaluation import skill_eval_green, skill_eval_sentences  # noqa: E402, F401

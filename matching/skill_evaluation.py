"""Skill extraction P/R/F1 on the gold sets in ../shared/data (never bundled).

- Green et al. benchmark (``green_skill_benchmark/df_testset.csv``, the only split published):
  token level, a word is a predicted skill token when it lies inside an extracted mention. The
  sentences are split deterministically by sha1 of the sentence id into a ``fit`` half (thresholds
  and tagger weights are chosen there) and a ``heldout`` half (the reported number).
- SkillSpan HOUSE/TECH sentences linked to ESCO (Decorte et al.): ESCO-label level, the set of
  predicted preferred labels per sentence vs the gold labels. ``*_validation`` is the fit data,
  ``*_test`` the held-out report.

Every function takes the extractor to evaluate (default: the profile extractor of matching.skills),
so the phrase-matching baseline and the linker are scored by the same code on the same sentences.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np

GREEN_FILE = Path("green_skill_benchmark") / "df_testset.csv"
NOT_LINKED = frozenset({"LABEL NOT PRESENT", "UNDERSPECIFIED"})


def green_split(sentence_id: str) -> str:
    """``fit`` or ``heldout``: a fixed 50/50 split by the sentence id's own hash."""
    return "heldout" if int(hashlib.sha1(str(sentence_id).encode()).hexdigest(), 16) % 2 else "fit"


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def green_sentences(shared: Path, split: str | None = None,
                    limit: int | None = None) -> dict[str, list[tuple[str, str]]]:
    """sentence id -> [(word, BIO tag)], in file order; ``split`` = fit | heldout | None (all)."""
    sentences: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in _read_csv(shared / GREEN_FILE):
        if split is None or green_split(row["sentence_id"]) == split:
            sentences[row["sentence_id"]].append((row["word"], row["tag"]))
    if limit is not None:
        sentences = dict(list(sentences.items())[:limit])
    return dict(sentences)


def join_words(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The sentence text (words joined by one space) and each word's character span in it."""
    text, offsets, pos = "", [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        text += w + " "
        pos += len(w) + 1
    return text, offsets


def predicted_words(extractor, words: list[str]) -> list[bool]:
    """Which words lie inside a mention the extractor finds in the joined sentence."""
    text, offsets = join_words(words)
    covered = np.zeros(len(text) + 1, dtype=bool)
    for m in extractor.find(text):
        covered[m.start:m.end] = True
    return [bool(covered[a:b].any()) for a, b in offsets]


def _gold_spans(tags: list[str]) -> list[list[int]]:
    spans, span = [], []
    for i, tag in enumerate(tags):
        if tag == "B-Skill" or (tag == "I-Skill" and not span):
            if span:
                spans.append(span)
            span = [i]
        elif tag == "I-Skill":
            span.append(i)
        elif span:
            spans.append(span)
            span = []
    if span:
        spans.append(span)
    return spans


def skill_eval_green(shared: Path, extractor=None, split: str | None = "heldout", limit: int | None = None) -> dict:
    """Token level (Skill tags): a word is predicted when it lies inside an extracted mention."""
    if extractor is None:
        from matching.skills import get_extractor

        extractor = get_extractor()
    sentences = green_sentences(shared, split, limit)
    tp = fp = fn = 0
    span_hit = span_total = 0
    for words in sentences.values():
        pred = predicted_words(extractor, [w for w, _ in words])
        gold = [tag.endswith("-Skill") for _, tag in words]
        for p_, g in zip(pred, gold, strict=True):
            tp += p_ and g
            fp += p_ and not g
            fn += g and not p_
        # span recall: a gold Skill span counts as found when any of its words is predicted
        for span in _gold_spans([tag for _, tag in words]):
            span_total += 1
            span_hit += any(pred[j] for j in span)
    out = prf(int(tp), int(fp), int(fn))
    out["span_recall_any_overlap"] = round(span_hit / span_total, 4) if span_total else 0.0
    out["sentences"] = len(sentences)
    out["split"] = split or "all"
    return out


def sentence_gold(shared: Path, name: str, limit: int | None = None) -> dict[str, set[str]]:
    """sentence -> lower-cased gold ESCO preferred labels (empty when no span links to ESCO)."""
    gold: dict[str, set[str]] = {}
    for row in _read_csv(shared / "skill_sentences" / f"{name}_annotations.csv"):
        label = row["label"].strip()
        gold.setdefault(row["sentence"], set())
        if label and label not in NOT_LINKED:
            gold[row["sentence"]].add(label.lower())
    if limit is not None:
        gold = dict(list(gold.items())[:limit])
    return gold


def skill_eval_sentences(shared: Path, files: tuple[str, ...] = ("house_test", "tech_test"),
                         limit: int | None = None, extractor=None) -> dict:
    """ESCO level: predicted preferred labels vs the gold ESCO labels of each sentence."""
    if extractor is None:
        from matching.skills import get_extractor

        extractor = get_extractor()
    tax = extractor.taxonomy
    out = {}
    for name in files:
        gold = sentence_gold(shared, name, limit)
        tp = fp = fn = 0
        for sentence, labels in gold.items():
            pred = {tax.skill_labels[i].lower() for i in extractor.extract(sentence)}
            tp += len(pred & labels)
            fp += len(pred - labels)
            fn += len(labels - pred)
        out[name] = {**prf(tp, fp, fn), "sentences": len(gold)}
    return out


FIT_SETS = ("house_validation", "tech_validation")
HELDOUT_SETS = ("house_test", "tech_test")
DECISION_GRID = tuple(round(-4.0 + 0.25 * i, 2) for i in range(33))  # logistic decision values -4 .. 4


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, ...], float]:
    """L2 logistic regression on standardised features, folded back into raw-feature weights."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / std, y)
    w = lr.coef_[0] / std
    return tuple(round(float(v), 5) for v in w), round(float(lr.intercept_[0] - (w * mean).sum()), 5)


def _best_threshold(weights, bias, evaluate, grid=DECISION_GRID):
    """The grid threshold with the best fit F1 (the lowest one on ties) and that F1."""
    from matching.skill_linker import LinkModel

    results = [(evaluate(LinkModel(weights, bias, th)), -th) for th in grid]
    f1, neg = max(results)
    return LinkModel(weights, bias, -neg), f1


def fit_link_models(shared: Path, linker, limit: int | None = None) -> dict:
    """Both models of the linker, fitted on fit data only.

    mention: a candidate is positive when most of its words carry a Green Skill tag (Green fit half);
    its threshold maximises token F1 there. link: a candidate is positive when its skill is among
    the sentence's gold ESCO labels (HOUSE+TECH validation); its threshold maximises the micro F1
    over both validation sets. The linker's own models are restored afterwards."""
    saved = linker.mention_model, linker.link_model
    try:
        xs, ys = [], []
        for words in green_sentences(shared, "fit", limit).values():
            text, offsets = join_words([w for w, _ in words])
            gold = np.array([tag.endswith("-Skill") for _, tag in words])
            cands, _, features = linker.link(text)
            for cand, row in zip(cands, features, strict=True):
                inside = [k for k, (a, b) in enumerate(offsets) if a < cand.end and cand.start < b]
                xs.append(row)
                ys.append(bool(inside) and gold[inside].mean() >= 0.5)
        weights, bias = _fit_logistic(np.array(xs), np.array(ys))

        def green_f1(model):
            linker.mention_model = model
            return skill_eval_green(shared, linker, "fit", limit)["f1"]

        mention, mention_f1 = _best_threshold(weights, bias, green_f1)
        xs, ys = [], []
        for name in FIT_SETS:
            for sentence, labels in sentence_gold(shared, name, limit).items():
                _, skills, features = linker.link(sentence)
                xs.extend(features)
                ys.extend(linker.taxonomy.skill_labels[k].lower() in labels for k in skills)
        weights, bias = _fit_logistic(np.array(xs), np.array(ys))

        def link_f1(model):
            linker.link_model = model
            parts = skill_eval_sentences(shared, FIT_SETS, limit, linker).values()
            return prf(*(sum(p[k] for p in parts) for k in ("tp", "fp", "fn")))["f1"]

        link, link_f1_value = _best_threshold(weights, bias, link_f1)
    finally:
        linker.mention_model, linker.link_model = saved
    return {"mention_model": mention, "link_model": link, "green_fit_f1": mention_f1,
            "validation_micro_f1": link_f1_value}


def evaluate_extractor(shared: Path, extractor, limit: int | None = None) -> dict:
    """Every gold set, fit and held-out parts side by side."""
    report = {f"green_{split}": skill_eval_green(shared, extractor, split, limit) for split in ("fit", "heldout")}
    report.update({f"esco_{k}": v for k, v in
                   skill_eval_sentences(shared, FIT_SETS + HELDOUT_SETS, limit, extractor).items()})
    return report

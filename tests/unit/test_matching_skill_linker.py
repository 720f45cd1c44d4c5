"""Span -> ESCO skill linker and the skill evaluation it is measured by (fit/held-out splits)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matching.skill_evaluation import (
    FIT_SETS,
    fit_link_models,
    green_split,
    skill_eval_green,
    skill_eval_sentences,
)
from matching.skill_linker import (
    FEATURES,
    LinkModel,
    SkillLinker,
    candidates,
    label_vectors,
    phrase_skill_counts,
)
from matching.skills import SkillExtractor, SkillMatch
from matching.taxonomy import load_taxonomy

pytestmark = pytest.mark.unit

SMALL = ["liaise with colleagues", "communication", "work in teams", "Python (computer programming)",
         "manage budgets", "debug software", "SQL", "project management"]


@pytest.fixture(scope="module")
def small_linker() -> SkillLinker:
    """The real linker over eight real ESCO skills (fast to build; same code path as the full one)."""
    tax = load_taxonomy()
    keep = [tax.skill_labels.index(label) for label in SMALL]

    def sub(values):
        return [values[i] for i in keep]

    small = replace(tax, skill_ids=sub(tax.skill_ids), skill_labels=sub(tax.skill_labels),
                    skill_alt_labels=sub(tax.skill_alt_labels), skill_types=sub(tax.skill_types),
                    essential={}, optional={})
    return SkillLinker(SkillExtractor(small), mention_model=LinkModel.plain(0.75), link_model=LinkModel.plain(0.85),
                       vectors_dir=None)


def _labels(linker: SkillLinker, indices) -> set[str]:
    return {linker.taxonomy.skill_labels[i] for i in indices}


def test_green_split_is_deterministic_and_about_half():
    ids = [str(i) for i in range(1, 337)]
    halves = [green_split(i) for i in ids]
    assert set(halves) == {"fit", "heldout"}
    assert 0.4 < halves.count("heldout") / len(ids) < 0.6
    assert halves == [green_split(i) for i in ids]


def test_candidates_stay_inside_one_clause_and_skip_stop_word_edges():
    text = "Manage the budget, and debug software; with a team"
    got = [c.text for c in candidates(text)]
    assert "manage the budget" in got and "debug software" in got and "team" in got
    assert not any("budget, and" in t or "software; with" in t for t in got)  # punctuation ends a clause
    assert not any(t.split()[0] in {"the", "and", "with", "a"} or t.split()[-1] in {"the", "with", "a"}
                   for t in got)
    folded = text.lower()
    assert all(folded[c.start:c.end] == c.text for c in candidates(text))


def test_linker_keeps_every_phrase_match_and_links_paraphrases(small_linker):
    text = "Great communication skills; likes to engage with colleagues, strong Python and SQL."
    phrase = small_linker.extractor.find(text)
    found = small_linker.find(text)
    assert {(m.start, m.end, m.skill_index) for m in phrase} <= {(m.start, m.end, m.skill_index) for m in found}
    assert "liaise with colleagues" in _labels(small_linker, [m.skill_index for m in found])
    assert "liaise with colleagues" not in _labels(small_linker, small_linker.extractor.extract(text))
    # mentions never overlap each other
    spans = sorted((m.start, m.end) for m in found)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_a_link_threshold_no_score_reaches_gives_exactly_the_phrase_matcher(small_linker):
    strict = SkillLinker(small_linker.extractor, link_model=LinkModel.plain(1.01), vectors_dir=None)
    for text in ("Strong Python and SQL; managing budgets and projects", "engage with colleagues", ""):
        assert strict.extract(text) == small_linker.extractor.extract(text)
    assert small_linker.extract("managing budgets") != strict.extract("managing budgets")


def test_link_features_mark_an_exact_label_and_its_score(small_linker):
    cands, skills, features = small_linker.link("project management")
    exact = [r for r, c in enumerate(cands) if c.text == "project management"][0]
    assert small_linker.taxonomy.skill_labels[skills[exact]] == "project management"
    assert features[exact, 0] == pytest.approx(1.0, abs=1e-3) and features[exact, 6] == 1.0


class _FixedSpans:
    """A stand-in extractor that returns known mentions, to check the metric arithmetic."""

    def __init__(self, taxonomy, spans_by_text, skills_by_text):
        self.taxonomy, self.spans, self.skills = taxonomy, spans_by_text, skills_by_text

    def find(self, text):
        return [SkillMatch(0, a, b, text[a:b]) for a, b in self.spans.get(text, [])]

    def extract(self, text):
        return self.skills.get(text, [])


def test_green_token_metric_counts_words_inside_mentions(tmp_path):
    folder = tmp_path / "green_skill_benchmark"
    folder.mkdir()
    rows = [("1", "Proven", "O"), ("1", "ability", "O"), ("1", "to", "O"), ("1", "influence", "B-Skill"),
            ("1", "teams", "I-Skill"), ("1", ".", "O")]
    with open(folder / "df_testset.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence_id", "word", "pos", "tag"])
        w.writerows([(sid, word, "X", tag) for sid, word, tag in rows])
    text = "Proven ability to influence teams . "
    # a mention over "ability to influence": 1 true positive (influence), 2 false (ability, to), 1 missed (teams)
    fake = _FixedSpans(load_taxonomy(), {text: [(7, 27)]}, {})
    out = skill_eval_green(tmp_path, fake, split=None)
    assert (out["tp"], out["fp"], out["fn"]) == (1, 2, 1)
    assert out["span_recall_any_overlap"] == 1.0


def test_sentence_metric_compares_preferred_labels(tmp_path):
    tax = load_taxonomy()
    folder = tmp_path / "skill_sentences"
    folder.mkdir()
    with open(folder / "x_annotations.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence", "span", "sub_span", "label"])
        w.writerows([("s1", "a", "", "SQL"), ("s1", "b", "", "LABEL NOT PRESENT"), ("s2", "c", "", "UNDERSPECIFIED")])
    sql, comm = tax.skill_labels.index("SQL"), tax.skill_labels.index("communication")
    out = skill_eval_sentences(tmp_path, ("x",), extractor=_FixedSpans(tax, {}, {"s1": [sql, comm], "s2": [comm]}))
    assert (out["x"]["tp"], out["x"]["fp"], out["x"]["fn"], out["x"]["sentences"]) == (1, 2, 0, 2)


def test_models_are_fitted_without_any_held_out_file(small_linker, shared_data, tmp_path):
    """Only the Green file (its fit half is used) and the *_validation sets exist here: a fit that
    touched a test set would fail to find it."""
    shutil.copytree(shared_data / "green_skill_benchmark", tmp_path / "green_skill_benchmark")
    (tmp_path / "skill_sentences").mkdir()
    for name in FIT_SETS:
        shutil.copy(shared_data / "skill_sentences" / f"{name}_annotations.csv", tmp_path / "skill_sentences")
    before = small_linker.mention_model, small_linker.link_model
    fit = fit_link_models(Path(tmp_path), small_linker, limit=30)
    assert (small_linker.mention_model, small_linker.link_model) == before  # the linker is left as it was
    assert 0.0 < fit["green_fit_f1"] <= 1.0
    assert isinstance(fit["link_model"], LinkModel) and len(fit["link_model"].weights) == len(FEATURES)


def test_long_texts_are_scored_in_blocks_with_the_same_result(small_linker):
    from matching.skill_linker import CANDIDATE_BLOCK

    clause = "manage budgets and debug software for project management teams"
    text = "; ".join([clause] * 12)  # a resume-sized list of candidates, several blocks
    cands, skills, features = small_linker.link(text)
    assert len(cands) > 2 * CANDIDATE_BLOCK
    one_cands, one_skills, one_features = small_linker.link(clause)
    per_clause = len(one_cands)
    context = FEATURES.index("context")
    local = [i for i in range(len(FEATURES)) if i != context]
    for k in range(12):
        block = slice(k * per_clause, (k + 1) * per_clause)
        assert [c.text for c in cands[block]] == [c.text for c in one_cands]
        assert list(skills[block]) == list(one_skills)
        # every candidate feature is the same; "context" is the whole text's cosine to the skill, so it
        # belongs to the text, not to the block: equal across the twelve repeats of the clause
        assert features[block][:, local] == pytest.approx(one_features[:, local], abs=1e-5)
        assert features[block][:, context] == pytest.approx(features[:per_clause, context], abs=1e-6)


def test_a_refit_with_float_noise_is_the_same_model_but_another_threshold_is_not():
    model = LinkModel((1.0, -2.0), 0.5, -0.75)
    assert model.close_to(LinkModel((1.003, -2.002), 0.501, -0.75))
    assert not model.close_to(LinkModel((1.0, -2.0), 0.5, -0.5))
    assert not model.close_to(LinkModel((1.3, -2.0), 0.5, -0.75))
    assert not model.close_to(LinkModel((1.0, -2.0, 0.0), 0.5, -0.75))


def test_phrase_genericity_counts_distinct_skills_whose_labels_contain_the_phrase():
    labels = ["data analysis", "analyse data", "data mining", "Java", "Java EE", "databases"]
    owners = [0, 0, 1, 2, 2, 3]
    counts = phrase_skill_counts(labels, owners, max_len=6)
    assert counts["data"] == 2  # skills 0 and 1; two labels of skill 0 count once; "databases" is another token
    assert counts["java"] == 1 and counts["data analysis"] == 1 and counts["database"] == 1  # stemmed as text is
    assert "analysis data" not in counts  # token order is kept


def test_phrase_genericity_reaches_the_features(small_linker):
    cands, _, features = small_linker.link("project management")
    col = FEATURES.index("log_phrase_skills")
    by_text = {c.text: row[col] for c, row in zip(cands, features, strict=True)}
    assert by_text["project management"] == pytest.approx(np.log1p(1))  # inside one of the eight skills' labels
    assert by_text["management"] >= by_text["project management"]


class _CountingEncoder:
    model_version = "fake@8"

    def __init__(self):
        self.calls = 0

    def encode_phrases(self, texts, threads=None):
        self.calls += 1
        rng = np.random.default_rng(len(texts))
        v = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_label_vectors_are_computed_once_and_kept_per_label_set(tmp_path):
    enc = _CountingEncoder()
    first = label_vectors(enc, ["sql", "java", "communication"], tmp_path)
    again = label_vectors(enc, ["sql", "java", "communication"], tmp_path)
    assert enc.calls == 1 and again.tobytes() == first.tobytes()
    assert len(list(tmp_path.glob("skill_label_vectors_fake_8_*.npz"))) == 1
    other = label_vectors(enc, ["sql", "java"], tmp_path)  # another label set: another file, computed anew
    assert enc.calls == 2 and other.shape == (2, 8) and len(list(tmp_path.glob("*.npz"))) == 2
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-3)  # int8 round trip stays unit length
    label_vectors(enc, ["sql"], None)  # no directory: nothing written
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_batched_phrase_vectors_are_repeatable_and_close_to_one_at_a_time(small_linker):
    enc = small_linker._minilm
    texts = ["debug software", "engage with colleagues", "SQL", "a much longer phrase about managing budgets"]
    batched = enc.encode_phrases(texts)
    assert batched.tobytes() == enc.encode_phrases(texts).tobytes()
    single = enc.encode(texts)
    assert (batched * single).sum(axis=1).min() > 0.999


def test_context_feature_is_the_whole_texts_cosine_to_the_skill(small_linker):
    text = "debug software and SQL queries for the data team"
    cands, skills, features = small_linker.link(text)
    whole = small_linker._minilm.encode_phrases([text])[0]
    col = FEATURES.index("context")
    for skill, value in zip(skills, features[:, col], strict=True):
        # the cosine to the label of that skill the candidate matched best: one of the skill's labels
        per_label = whole @ small_linker._label_minilm[:, small_linker.owners == skill]
        assert np.abs(per_label - value).min() < 1e-5

"""Incremental embedding on local[1] with the tiny deterministic `hashing` encoder."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.unit

TEXTS_DDL = "tenant_id string, entity_id string, content_hash string, text string, entity_type string, run_date string"


def _write_texts(spark, settings, rows):
    from spark_jobs._lake import write_partitions

    df = spark.createDataFrame(rows, TEXTS_DDL)
    write_partitions(df, settings.table_uri("gold", "profile_texts"), ["entity_type", "run_date"])


def test_unchanged_documents_are_never_re_embedded(spark, isolated_settings):
    from spark_jobs import embed

    day1 = [
        ("acme", "C1", "h1", "python developer with spark", "candidate", "2026-11-21"),
        ("acme", "C2", "h2", "registered nurse", "candidate", "2026-11-21"),
        ("acme", "J1", "h3", "data engineer\n\nspark and python", "job", "2026-11-21"),
    ]
    _write_texts(spark, isolated_settings, day1)
    first = embed.run("2026-11-21", encoder="hashing", spark=spark)
    assert first["embedded"] == 3 and first["unchanged_skipped"] == 0

    again = embed.run("2026-11-21", encoder="hashing", spark=spark)
    assert again["embedded"] == 0 and again["unchanged_skipped"] == 3  # idempotent re-run

    day2 = [
        ("acme", "C1", "h1", "python developer with spark", "candidate", "2026-11-22"),  # unchanged
        ("acme", "C2", "h2b", "registered nurse, intensive care", "candidate", "2026-11-22"),  # new resume
        ("acme", "J1", "h3", "data engineer\n\nspark and python", "job", "2026-11-22"),
    ]
    _write_texts(spark, isolated_settings, day2)
    second = embed.run("2026-11-22", encoder="hashing", spark=spark)
    assert second["embedded"] == 1 and second["unchanged_skipped"] == 2

    stored = embed.read_embeddings(spark).collect()
    assert len(stored) == 4  # h1, h2, h2b, h3 — nothing duplicated
    assert {r.model_version for r in stored} == {"hashing-v1-384"}
    for r in stored:
        vec = np.asarray(r.vector, dtype=np.float64)
        assert vec.shape == (384,) and abs(np.linalg.norm(vec) - 1.0) < 1e-5


def test_vectors_for_takes_the_current_hash_and_model(spark, isolated_settings):
    from spark_jobs import embed

    _write_texts(
        spark,
        isolated_settings,
        [
            ("acme", "C1", "old", "old text", "candidate", "2026-11-20"),
            ("acme", "C1", "new", "new text", "candidate", "2026-11-21"),
        ],
    )
    embed.run("2026-11-20", encoder="hashing", spark=spark)
    embed.run("2026-11-21", encoder="hashing", spark=spark)
    profiles = spark.createDataFrame(
        [("acme", "C1", "new"), ("acme", "C9", "x")],
        "tenant_id string, candidate_id string, content_hash string",
    )
    joined = {
        r.candidate_id: r
        for r in embed.vectors_for(
            profiles, embed.read_embeddings(spark), "candidate", "hashing-v1-384"
        ).collect()
    }
    from matching.embeddings import get_encoder

    expected = get_encoder("hashing").encode(["new text"])[0]
    assert np.allclose(joined["C1"].vector, expected, atol=1e-6)
    assert joined["C9"].vector is None
    none = embed.vectors_for(profiles, embed.read_embeddings(spark), "candidate", "other-model").collect()
    assert all(r.vector is None for r in none)


def test_bad_run_date_is_a_clear_error(spark, isolated_settings):
    from spark_jobs import embed

    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        embed.run("22/11/2026", encoder="hashing", spark=spark)


class _CountingEncoder:
    """A stand-in transformer: its 'model input' is the lower-cased first three words (a window), and
    it counts forward passes — so the test sees which texts the cache actually sends to the model."""

    model_version = "counting-v1"
    dim = 4

    def __init__(self):
        self.forward_passes = 0

    def _window(self, text):
        return " ".join((text or "").lower().split()[:3])

    def input_keys(self, texts):
        return [self._window(t).encode() for t in texts]

    def encode(self, texts, batch_size=32):
        self.forward_passes += len(texts)
        return np.array([[len(self._window(t)), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def test_cache_runs_the_model_once_per_distinct_model_input():
    """Texts with different content hashes but the same model input (here: the same first three
    words; for MiniLM: the same token ids after truncation) share one forward pass and one vector."""
    from matching.embeddings import EmbeddingCache

    encoder = _CountingEncoder()
    cache = EmbeddingCache(encoder)
    first = cache.encode(["Data engineer Spark and more", "Nurse in ICU"])
    assert encoder.forward_passes == 2
    # same window, different tails (a redacted phone number past the window) and a within-call duplicate
    second = cache.encode(["data ENGINEER spark — call 555 0100", "Welder MIG TIG", "welder  mig tig with 10 years"])
    assert encoder.forward_passes == 3  # only "Welder MIG TIG" reaches the model
    assert second[0].tobytes() == first[0].tobytes() and second[2].tobytes() == second[1].tobytes()
    assert cache.same_input == 2 and cache.misses == 3 and cache.hits == 2
    # an encoder without input_keys keeps the plain content-hash behaviour
    from matching.embeddings import get_encoder

    plain = EmbeddingCache(get_encoder("hashing"))
    plain.encode(["data engineer", "data engineer spark"])
    assert plain.misses == 2 and plain.same_input == 0


def test_minilm_input_keys_match_what_the_model_reads():
    """Real MiniLM: whitespace variants and text past the token window give the same key, and
    texts with the same key get the same vector from the model (so reusing it changes nothing)."""
    from matching.embeddings import MAX_SEQ_LENGTH, get_encoder

    encoder = get_encoder("minilm")
    long_text = " ".join(f"skill{i % 50} python spark" for i in range(MAX_SEQ_LENGTH))
    texts = ["Data Engineer\nBuild Spark pipelines.", "Data Engineer\n\nBuild  Spark pipelines.",
             long_text, long_text + " phone 555-0100", "Registered nurse"]
    keys = encoder.input_keys(texts)
    assert keys[0] == keys[1] and keys[2] == keys[3]
    assert len({keys[0], keys[2], keys[4]}) == 3
    vectors = encoder.encode(texts)
    assert vectors[0].tobytes() == vectors[1].tobytes() and vectors[2].tobytes() == vectors[3].tobytes()
    assert float(vectors[0] @ vectors[4]) < 0.99

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

"""The MiniLM token window is one setting (MINILM_MAX_SEQ_LENGTH) that reaches the encoder, its
model_version, the cache file and the occupation matrices, so vectors of two windows never mix."""

import numpy as np
import pytest

from matching import embeddings, occupations
from matching.embeddings import MAX_SEQ_LENGTH, WINDOW_ENV, EmbeddingCache, HashingEncoder, minilm_window


def test_window_defaults_to_the_constant_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv(WINDOW_ENV, raising=False)
    assert minilm_window() == MAX_SEQ_LENGTH
    monkeypatch.setenv(WINDOW_ENV, " 128 ")
    assert minilm_window() == 128
    monkeypatch.setenv(WINDOW_ENV, "")
    assert minilm_window() == MAX_SEQ_LENGTH


@pytest.mark.parametrize("raw", ["abc", "12.5", "8", "513", "-128"])
def test_a_bad_window_is_a_clear_error(monkeypatch, raw):
    monkeypatch.setenv(WINDOW_ENV, raw)
    with pytest.raises(ValueError, match=WINDOW_ENV):
        minilm_window()


def test_occupation_matrices_are_one_file_per_window():
    default = occupations.vectors_file(f"all-MiniLM-L6-v2@{MAX_SEQ_LENGTH}")
    assert default == occupations.VECTORS_FILE
    other = occupations.vectors_file("all-MiniLM-L6-v2@64")
    assert other != default and "64" in other.name
    assert other.parent != default.parent  # the bundle (hashed into the extractor version) stays as shipped


def test_cache_files_of_two_model_versions_do_not_mix(tmp_path):
    a, b = HashingEncoder(), HashingEncoder()
    b.model_version = "hashing-v1-384@other-window"
    first = EmbeddingCache(a, tmp_path)
    first.encode(["data engineer"])
    first.save()
    second = EmbeddingCache(b, tmp_path)
    assert second.path != first.path and second.vectors == {}


def test_the_encoder_truncates_at_the_chosen_window(monkeypatch):
    """Real MiniLM: at a 32-token window two texts that differ only after token 32 read the same
    input and get the same vector; at the default window they differ."""
    monkeypatch.setenv(WINDOW_ENV, "32")
    short = embeddings.MiniLMEncoder()
    assert short.model_version == "all-MiniLM-L6-v2@32" and short.model.max_seq_length == 32
    head = " ".join(["python spark airflow"] * 20)
    texts = [head + " registered nurse", head + " truck driver"]
    assert len(set(short.input_keys(texts))) == 1
    v = short.encode(texts)
    assert np.array_equal(v[0], v[1])
    monkeypatch.delenv(WINDOW_ENV)
    wide = embeddings.MiniLMEncoder()
    assert wide.model_version == f"all-MiniLM-L6-v2@{MAX_SEQ_LENGTH}"
    assert len(set(wide.input_keys(texts))) == 2


def test_the_minilm_window_is_part_of_the_extractor_version(monkeypatch):
    # A window change moves the occupation's transformer signals, so it must re-profile every entity.
    from matching.profiles import extractor_version

    monkeypatch.delenv("MINILM_MAX_SEQ_LENGTH", raising=False)
    default = extractor_version()
    monkeypatch.setenv("MINILM_MAX_SEQ_LENGTH", "256")
    assert extractor_version() != default
    monkeypatch.setenv("MINILM_MAX_SEQ_LENGTH", "128")
    assert extractor_version() == default

"""The data configs: the canonical source and the seed notes' preprocessing, validated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imdb_rnn.config import CANONICAL_URL, PreprocessConfig, SourceConfig
from tests.samples import assert_only_field_refused


def test_preprocess_defaults_match_the_seed_notes():
    config = PreprocessConfig()

    assert config.vocab_size == 10_000  # imdb.load_data(num_words=10000)
    assert config.maxlen == 200  # pad_sequences(maxlen=200)
    assert config.padding == "pre"  # Keras' pad_sequences defaults
    assert config.truncating == "pre"
    assert config.validation_fraction == 0.2
    assert config.split_seed == 42
    assert config.max_reviews_per_split is None


def test_source_defaults_to_the_canonical_archive():
    config = SourceConfig()

    assert config.source == CANONICAL_URL
    assert config.source == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert config.sha256 is None
    assert config.timeout_seconds == 60.0


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (PreprocessConfig, "maxlen", 0),
        (PreprocessConfig, "maxlen", -5),
        (PreprocessConfig, "vocab_size", 2),  # needs room for padding, unknown and one word
        (PreprocessConfig, "validation_fraction", 0.0),
        (PreprocessConfig, "validation_fraction", 1.0),
        (PreprocessConfig, "padding", "middle"),
        (PreprocessConfig, "truncating", "both"),
        (PreprocessConfig, "split_seed", -1),
        (PreprocessConfig, "max_reviews_per_split", 3),
        (SourceConfig, "timeout_seconds", 0),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else str(value),
)
def test_out_of_range_values_are_rejected(model, field, value):
    assert_only_field_refused(model, field, value)


def test_smallest_valid_values_are_accepted():
    config = PreprocessConfig(maxlen=1, vocab_size=3, validation_fraction=0.01)

    assert (config.maxlen, config.vocab_size, config.validation_fraction) == (1, 3, 0.01)


@pytest.mark.parametrize(
    "sha256",
    ["xyz", "a" * 63, "a" * 65, "g" * 64, "a" * 62 + " a"],
    ids=["short-word", "63-digits", "65-digits", "not-hex", "inner-space"],
)
def test_bad_sha256_is_rejected(sha256):
    with pytest.raises(ValidationError, match="sha256 must be 64 hex digits") as caught:
        SourceConfig(sha256=sha256)

    assert repr(sha256) in str(caught.value)


def test_sha256_is_normalised_to_lowercase():
    assert SourceConfig(sha256=" " + "AB" * 32 + "\n").sha256 == "ab" * 32


def test_blank_source_is_rejected():
    with pytest.raises(ValidationError, match="source is empty"):
        SourceConfig(source="   ")


def test_source_is_stripped():
    assert SourceConfig(source="  data/aclImdb  ").source == "data/aclImdb"

"""What every config shares: frozen, comparable by value, strict about unknown fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imdb_rnn.config import BaselineConfig, PreprocessConfig, SourceConfig, TrainingConfig
from imdb_rnn.config.base import comma_separated
from rnn_models.config import ModelConfig


def test_unknown_field_is_rejected():
    with pytest.raises(ValidationError, match="extra"):
        PreprocessConfig(max_len=100)


@pytest.mark.parametrize(
    ("config", "field", "value"),
    [
        (PreprocessConfig(), "maxlen", 100),
        (ModelConfig(), "units", 64),
        (TrainingConfig(), "epochs", 5),
        (SourceConfig(), "sha256", "a" * 64),
        (BaselineConfig(), "enabled", False),
    ],
    ids=["preprocess", "model", "training", "source", "baseline"],
)
def test_configs_are_frozen(config, field, value):
    before = getattr(config, field)

    with pytest.raises(ValidationError, match="frozen"):
        setattr(config, field, value)

    assert getattr(config, field) == before


def test_frozen_configs_are_hashable_and_compare_by_value():
    assert PreprocessConfig(maxlen=100) == PreprocessConfig(maxlen=100)
    assert hash(PreprocessConfig(maxlen=100)) == hash(PreprocessConfig(maxlen=100))
    assert PreprocessConfig(maxlen=100) != PreprocessConfig(maxlen=101)


def test_a_comma_separated_string_becomes_a_tuple_and_other_values_pass_through():
    assert comma_separated(" lstm, gru ,,bigru") == ("lstm", "gru", "bigru")
    assert comma_separated("") == ()
    assert comma_separated(["lstm"]) == ["lstm"]
    assert comma_separated(3) == 3

"""The model shape config: the seed notes' defaults and its own checks."""

from __future__ import annotations

import pytest

from rnn_models.config import ModelConfig
from tests.samples import assert_only_field_refused


def test_model_defaults_match_the_seed_notes():
    config = ModelConfig()

    assert config.embedding_dim == 32  # Embedding(10000, 32)
    assert config.units == 32  # RNN(32)
    assert config.dropout == 0.0


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (ModelConfig, "embedding_dim", 0),
        (ModelConfig, "units", 0),
        (ModelConfig, "dropout", 1.0),
        (ModelConfig, "embedding_dropout", -0.1),
        (ModelConfig, "pooling", "sum"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else str(value),
)
def test_out_of_range_values_are_rejected(model, field, value):
    assert_only_field_refused(model, field, value)

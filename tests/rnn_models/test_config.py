"""The model shape config: the seed notes' defaults and its own checks."""

from __future__ import annotations

from rnn_models.config import ModelConfig


def test_model_defaults_match_the_seed_notes():
    config = ModelConfig()

    assert config.embedding_dim == 32  # Embedding(10000, 32)
    assert config.units == 32  # RNN(32)
    assert config.dropout == 0.0

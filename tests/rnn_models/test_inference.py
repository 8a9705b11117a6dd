"""The one inference function: padded and length-sorted batches score as plain prediction."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import build_model
from rnn_models.config import ModelConfig
from rnn_models.datasets import (
    length_sorted_dataset,
)
from rnn_models.inference import predict_probabilities

pytestmark = pytest.mark.slow

MAXLEN = 40


def _reviews(rows: int, seed: int = 0) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    return [generator.integers(2, 50, size=generator.integers(1, MAXLEN)) for _ in range(rows)]


def _padded(reviews: list[np.ndarray], side: str, maxlen: int = MAXLEN) -> np.ndarray:
    tokens = np.zeros((len(reviews), maxlen), dtype=np.int32)
    for row, review in enumerate(reviews):
        if side == "post":
            tokens[row, : len(review)] = review
        else:
            tokens[row, maxlen - len(review) :] = review
    return tokens


def _config(**overrides) -> ModelConfig:
    settings = {"embedding_dim": 6, "units": 5, "skip_padding": True, **overrides}
    return ModelConfig(**settings)


def test_padded_prediction_equals_plain_prediction_row_for_row():
    model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 30, 9)
    tokens = np.random.default_rng(0).integers(0, 30, size=(37, 9)).astype(np.int32)
    expected = model.predict(tokens, batch_size=37, verbose=0).reshape(-1)
    got = predict_probabilities(model, tokens, batch_size=16)  # 16+16+5: the last one padded
    assert got.shape == (37,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert predict_probabilities(model, tokens[:0]).shape == (0,)


def test_length_sorted_validation_and_prediction_equal_full_width_prediction():
    model = build_model("gru", _config(pooling="max"), 50, MAXLEN)
    tokens = _padded(_reviews(37, seed=4), "pre")
    expected = model.predict(tokens, verbose=0).reshape(-1)
    got = predict_probabilities(model, tokens, batch_size=16)
    assert got.shape == (37,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    labels = np.arange(37, dtype=np.float32)
    batches = list(length_sorted_dataset(tokens, labels, 16, step=8))
    assert [len(b[1]) for b in batches] == [16, 16, 5]
    assert sorted(np.concatenate([b[1].numpy() for b in batches]).tolist()) == labels.tolist()
    batched = np.concatenate([model.predict_on_batch(b[0]).reshape(-1) for b in batches])
    order = np.concatenate([b[1].numpy() for b in batches]).astype(int)
    np.testing.assert_allclose(batched, expected[order], rtol=1e-5, atol=1e-6)

"""The one inference function: padded and length-sorted batches score as plain prediction."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from rnn_models import build_model, reads_any_length
from rnn_models.config import ModelConfig
from rnn_models.datasets import (
    batched_dataset,
    length_sorted_dataset,
)
from rnn_models.inference import PREDICT_BATCH_SIZE, predict_probabilities
from tests.samples import REVIEW_MAXLEN, padded, random_reviews

pytestmark = pytest.mark.slow


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
    model = build_model("gru", _config(pooling="max"), 50, REVIEW_MAXLEN)
    tokens = padded(random_reviews(37, seed=4), "pre")
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


@pytest.mark.parametrize("skip_padding", [False, True])
def test_a_three_class_model_gives_a_row_of_three_probabilities_per_review(skip_padding):
    model = build_model("gru", _config(skip_padding=skip_padding), 50, REVIEW_MAXLEN, classes=3)
    tokens = padded(random_reviews(37, seed=6), "pre")
    # Row by row, so that neither batching nor the length sort can be what is compared.
    expected = np.concatenate([model.predict_on_batch(tokens[i : i + 1]) for i in range(37)])
    got = predict_probabilities(model, tokens, batch_size=16)
    assert got.shape == (37, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), np.ones(37), rtol=1e-5)
    assert predict_probabilities(model, tokens[:0]).shape == (0, 3)


@pytest.mark.parametrize(
    ("architecture", "pooling", "side"),
    [("gru", "last", "pre"), ("lstm", "mean", "post"), ("bigru", "max_mean", "pre")],
)
def test_length_sorted_cut_batches_score_as_keras_on_full_width_batches(
    architecture, pooling, side
):
    from rnn_models.runtime import seeded_construction

    with seeded_construction(1):
        model = build_model(architecture, _config(pooling=pooling), 50, REVIEW_MAXLEN)
    assert reads_any_length(model)
    reviews = random_reviews(45, seed=7)
    reviews[3] = reviews[3][:1]  # a one-word review
    reviews[10] = np.arange(2, 2 + REVIEW_MAXLEN)  # one that fills every column
    tokens = padded(reviews, side)

    full_width = model.predict(batched_dataset(tokens, None, 16), verbose=0).reshape(-1)
    got = predict_probabilities(model, tokens, batch_size=16)  # 16 + 16 + 13 rows

    assert got.shape == (45,) and got.dtype == np.float32
    np.testing.assert_allclose(got, full_width, atol=1e-6)
    assert np.ptp(full_width) > 0  # the reviews are told apart: the check is not vacuous


def test_a_batch_size_that_does_not_divide_the_rows_scores_as_one_that_does():
    model = build_model("lstm", ModelConfig(embedding_dim=4, units=3), 30, 9)
    assert not reads_any_length(model)
    tokens = np.random.default_rng(2).integers(0, 30, size=(36, 9)).astype(np.int32)

    dividing = predict_probabilities(model, tokens, batch_size=12)  # 3 x 12
    not_dividing = predict_probabilities(model, tokens, batch_size=10)  # 10 + 10 + 10 + 6

    assert not_dividing.shape == dividing.shape == (36,)
    np.testing.assert_allclose(not_dividing, dividing, atol=1e-6)
    rows_alone = np.concatenate([predict_probabilities(model, tokens[i : i + 1]) for i in (0, 35)])
    np.testing.assert_allclose(rows_alone, dividing[[0, 35]], atol=1e-6)


@pytest.mark.parametrize(("rows", "batches"), [(2_500, [1024, 1024, 1024]), (300, [300])])
def test_prediction_batches_are_predict_batch_size_rows_by_default(monkeypatch, rows, batches):
    assert inspect.signature(predict_probabilities).parameters["batch_size"].default == (
        PREDICT_BATCH_SIZE
    )
    model = build_model("simple_rnn", ModelConfig(embedding_dim=2, units=2), 10, 3)
    seen = []
    keras_predict = model.predict

    def spy(dataset, **kwargs):
        seen.extend(int(batch.shape[0]) for batch in dataset)
        return keras_predict(dataset, **kwargs)

    monkeypatch.setattr(model, "predict", spy)
    tokens = np.random.default_rng(3).integers(0, 10, size=(rows, 3)).astype(np.int32)
    assert predict_probabilities(model, tokens).shape == (rows,)
    assert seen == [min(rows, PREDICT_BATCH_SIZE)] * len(batches) == batches

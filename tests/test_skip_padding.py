"""Models that skip padding: the same output whatever the padding, and batches cut to length."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import build_model, reads_any_length
from rnn_models.config import ModelConfig
from rnn_models.datasets import (
    TokenSpans,
    length_grouped_batches,
    length_grouped_dataset,
    length_sorted_dataset,
    width_step,
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


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("lstm", {}),
        ("bigru", {"pooling": "max_mean", "bigram_buckets": 97}),
        ("simple_rnn", {"pooling": "mean"}),
    ],
)
def test_a_review_scores_the_same_alone_or_in_any_padding(name, overrides):
    model = build_model(name, _config(**overrides), 50, MAXLEN)
    assert reads_any_length(model)
    reviews = _reviews(6)
    left = model.predict(_padded(reviews, "pre"), verbose=0).reshape(-1)
    right = model.predict(_padded(reviews, "post"), verbose=0).reshape(-1)
    alone = [model.predict(review[None, :].astype(np.int32), verbose=0)[0, 0] for review in reviews]
    np.testing.assert_allclose(left, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(right, alone, rtol=1e-5, atol=1e-6)


def test_without_skip_padding_the_padding_changes_the_output():
    model = build_model("lstm", _config(skip_padding=False), 50, MAXLEN)
    assert not reads_any_length(model)
    reviews = _reviews(6)
    left = model.predict(_padded(reviews, "pre"), verbose=0).reshape(-1)
    right = model.predict(_padded(reviews, "post"), verbose=0).reshape(-1)
    assert np.abs(left - right).max() > 1e-4


def test_token_spans_and_batch_cuts_keep_every_token_in_few_columns():
    tokens = np.array(
        [
            [0, 0, 0, 0, 5, 6, 7, 0],  # a token span in the middle: columns 4..7
            [0, 0, 0, 0, 0, 0, 0, 0],  # no tokens
            [3, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 9],
        ],
        dtype=np.int32,
    )
    spans = TokenSpans.of(tokens)
    assert spans.start.tolist() == [4, 8, 0, 7]
    assert spans.end.tolist() == [7, 0, 1, 8]
    assert spans.lengths.tolist() == [3, 0, 1, 1]
    cuts = spans.batch_cuts(np.array([[0, 1], [1, 3], [1, 1], [0, 2]]), step=2)
    assert cuts.tolist() == [[4, 8], [6, 8], [0, 2], [0, 8]]
    # a cut never leaves a token out, and never reaches past the last column
    for rows, (start, stop) in zip([[0, 1], [1, 3], [1, 1], [0, 2]], cuts, strict=True):
        assert tokens[rows][:, start:stop].sum() == tokens[rows].sum()
        assert (stop - start) % 2 == 0 and stop <= 8


def test_width_steps_give_xla_at_most_four_shapes():
    assert width_step(600, few_shapes=True) == 150
    assert width_step(600, few_shapes=False) == 16
    assert width_step(10, few_shapes=False) == 10


def test_length_grouped_epochs_see_each_row_once_in_batches_of_similar_length():
    lengths = np.random.default_rng(1).integers(1, 600, size=1003)
    batches = length_grouped_batches(lengths, 10, seed=5, epoch=0, group=20)
    assert batches.shape == (100, 10)
    assert len(np.unique(batches)) == 1000  # 3 rows dropped, none twice
    # within a group of 20 batches the rows are sorted, so a batch spans little length
    spread = lengths[batches].max(axis=1) - lengths[batches].min(axis=1)
    random_spread = np.ptp(lengths[:1000].reshape(100, 10), axis=1)
    assert np.median(spread) < np.median(random_spread) / 5
    again = length_grouped_batches(lengths, 10, seed=5, epoch=0, group=20)
    assert np.array_equal(batches, again)  # fixed by (seed, epoch): resumable
    next_epoch = length_grouped_batches(lengths, 10, seed=5, epoch=1, group=20)
    assert not np.array_equal(batches, next_epoch)  # new companions and order every epoch


def test_length_grouped_dataset_cuts_each_batch_to_its_longest_review():
    reviews = _reviews(64, seed=2)
    tokens = _padded(reviews, "post", maxlen=64)
    labels = np.arange(64, dtype=np.float32)  # a label that names its row
    seen = []
    widths = []
    for batch_tokens, batch_labels in length_grouped_dataset(
        tokens, labels, 8, seed=3, first_epoch=0, epochs=2, step=4
    ):
        rows = batch_labels.numpy().astype(int)
        longest = max(len(reviews[row]) for row in rows)
        width = batch_tokens.shape[1]
        assert longest <= width < longest + 4 and width % 4 == 0
        assert np.array_equal(batch_tokens.numpy(), tokens[rows, :width])
        seen.extend(rows)
        widths.append(width)
    assert len(seen) == 128 and sorted(seen[:64]) == list(range(64))
    assert np.mean(widths) < 64 * 0.9


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

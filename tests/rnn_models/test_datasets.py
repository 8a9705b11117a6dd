"""Input pipelines: shuffled full batches, resumable epochs, length-grouped batches."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models.datasets import (
    TokenSpans,
    batched_dataset,
    even_batch_size,
    length_grouped_batches,
    length_grouped_dataset,
    length_sorted_dataset,
    steps_per_epoch,
    training_dataset,
    width_step,
)
from tests.samples import padded, random_reviews

pytestmark = pytest.mark.slow


def _epochs(dataset, steps: int) -> list[list[np.ndarray]]:
    """The dataset's label batches, split into epochs of ``steps`` batches."""
    batches = [labels.numpy() for _, labels in dataset]
    return [batches[i : i + steps] for i in range(0, len(batches), steps)]


def _autotuned(dataset) -> bool:
    return dataset.options().autotune.enabled is not False


def test_each_epoch_is_a_reshuffled_subset_of_full_batches():
    rows, batch = 103, 10
    tokens = np.arange(rows, dtype=np.int32).reshape(rows, 1).repeat(3, axis=1)
    labels = np.arange(rows, dtype=np.float32)  # a label that names its row
    steps = steps_per_epoch(rows, batch)
    assert steps == 10
    epochs = _epochs(training_dataset(tokens, labels, batch, seed=7, first_epoch=0, epochs=3), 10)
    assert len(epochs) == 3
    seen = []
    for epoch in epochs:
        assert [len(b) for b in epoch] == [batch] * steps  # one shape: one XLA compilation
        rows_seen = np.concatenate(epoch)
        assert len(set(rows_seen)) == steps * batch  # no row twice within an epoch
        seen.append(rows_seen)
    assert not np.array_equal(seen[0], seen[1])  # a new order every epoch
    # tokens travel with their labels
    first_tokens, first_labels = next(iter(training_dataset(tokens, labels, batch, 7, 0, 1)))
    assert np.array_equal(first_tokens.numpy()[:, 0], first_labels.numpy().astype(np.int32))


def test_a_resumed_run_sees_the_batches_an_uninterrupted_run_would_have_seen():
    rows, batch = 64, 8
    tokens = np.zeros((rows, 2), dtype=np.int32)
    labels = np.arange(rows, dtype=np.float32)
    whole = _epochs(training_dataset(tokens, labels, batch, seed=3, first_epoch=0, epochs=3), 8)
    resumed = _epochs(training_dataset(tokens, labels, batch, seed=3, first_epoch=2, epochs=3), 8)
    assert len(resumed) == 1
    assert all(np.array_equal(a, b) for a, b in zip(whole[2], resumed[0], strict=True))
    other_seed = _epochs(training_dataset(tokens, labels, batch, 4, 0, 1), 8)
    assert not np.array_equal(np.concatenate(whole[0]), np.concatenate(other_seed[0]))


def test_fewer_rows_than_a_batch_train_as_one_smaller_batch():
    tokens = np.zeros((5, 2), dtype=np.int32)
    labels = np.arange(5, dtype=np.float32)
    assert steps_per_epoch(5, 64) == 1
    (batch,) = _epochs(training_dataset(tokens, labels, 64, 0, 0, 1), 1)[0]
    assert sorted(batch) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [(5000, 1000), (25000, 1000), (300, 300), (1031, 1024), (2048, 1024), (1536, 768)],
)
def test_even_batch_size_splits_rows_evenly_when_it_can(rows, expected):
    assert even_batch_size(rows) == expected


def test_every_input_pipeline_runs_without_autotuning():
    # Deleting an autotuned iterator can hang for tens of seconds (rnn_models.datasets.untuned).
    tokens = np.array([[0, 0, 3], [0, 4, 5], [6, 7, 8], [0, 0, 9]], dtype=np.int32)
    labels = np.array([0, 1, 0, 1], dtype=np.float32)
    pipelines = {
        "training": training_dataset(tokens, labels, 2, seed=1, first_epoch=0, epochs=1),
        "length grouped": length_grouped_dataset(tokens, labels, 2, 1, 0, 1, step=1),
        "length sorted": length_sorted_dataset(tokens, labels, 2, step=1),
        "batched with labels": batched_dataset(tokens, labels, 3),
        "batched tokens": batched_dataset(tokens, None, 3),
    }
    assert [name for name, dataset in pipelines.items() if _autotuned(dataset)] == []


def test_batched_dataset_keeps_row_order_and_the_last_partial_batch():
    tokens = np.arange(14, dtype=np.int32).reshape(7, 2)
    labels = np.arange(7, dtype=np.float32) / 10
    batches = list(batched_dataset(tokens, labels, 3))
    assert [len(batch_labels) for _, batch_labels in batches] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([t.numpy() for t, _ in batches]), tokens)
    np.testing.assert_allclose(np.concatenate([y.numpy() for _, y in batches]), labels)
    token_batches = [t.numpy() for t in batched_dataset(tokens, None, 3)]
    np.testing.assert_array_equal(np.concatenate(token_batches), tokens)


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
    reviews = random_reviews(64, seed=2)
    tokens = padded(reviews, "post", maxlen=64)
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

"""Streamed input: rows read a window of row groups at a time, shuffled per (seed, epoch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from rnn_models.datasets import steps_per_epoch
from rnn_models.streaming import (
    streamed_epoch_batches,
    streamed_training_dataset,
    streamed_validation_dataset,
)
from tests.samples import padded, random_reviews


@dataclass(frozen=True)
class ArrayGroups:
    """``tokens`` and ``labels`` cut into row groups of ``group_rows`` rows, read from memory."""

    tokens: np.ndarray
    labels: np.ndarray
    group_rows: tuple[int, ...]

    @property
    def maxlen(self) -> int:
        return self.tokens.shape[1]

    @property
    def rows(self) -> int:
        return sum(self.group_rows)

    def read(self, groups: Sequence[int]):
        starts = np.cumsum((0, *self.group_rows))
        rows = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in groups])
        return self.tokens[rows], self.labels[rows], (self.tokens[rows] != 0).sum(axis=1)


def numbered(rows: int, group: int, width: int = 3) -> ArrayGroups:
    """Rows whose label and every token is their own number (+1, as 0 is padding)."""
    tokens = np.repeat(np.arange(1, rows + 1, dtype=np.int32)[:, None], width, axis=1)
    labels = np.arange(1, rows + 1)
    sizes = (group,) * (rows // group) + ((rows % group,) if rows % group else ())
    return ArrayGroups(tokens, labels, sizes)


def _rows_of(batches) -> list[np.ndarray]:
    return [labels.astype(int) for _, labels in batches]


def test_an_epoch_sees_every_row_once_in_full_batches_across_windows():
    source = numbered(64, group=10)  # 7 groups, the last of 4 rows
    batches = list(streamed_epoch_batches(source, 8, seed=1, epoch=0, window_groups=2))
    assert [tokens.shape for tokens, _ in batches] == [(8, 3)] * steps_per_epoch(64, 8)
    assert all(labels.dtype == np.float32 for _, labels in batches)
    seen = np.concatenate(_rows_of(batches))
    assert sorted(seen.tolist()) == list(range(1, 65))
    # tokens travel with their labels
    assert all((tokens[:, 0] == labels).all() for tokens, labels in batches)


def test_only_the_epochs_last_partial_batch_is_dropped():
    source = numbered(67, group=10)
    batches = list(streamed_epoch_batches(source, 8, seed=1, epoch=0, window_groups=3))
    seen = np.concatenate(_rows_of(batches))
    assert len(batches) == steps_per_epoch(67, 8) == 8 and len(set(seen.tolist())) == 64


def test_the_order_depends_only_on_seed_and_epoch():
    source = numbered(64, group=10)

    def order(seed: int, epoch: int) -> list[int]:
        batches = streamed_epoch_batches(source, 8, seed, epoch, window_groups=2)
        return np.concatenate(_rows_of(batches)).tolist()

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)
    # the row groups come in another order too: the first batch's rows differ by more
    # than a reshuffle within the same first window
    first_windows = {frozenset(order(1, epoch)[:16]) for epoch in range(4)}
    assert len(first_windows) > 1


def test_fewer_rows_than_a_batch_make_one_smaller_batch():
    source = numbered(5, group=2)
    (batch,) = _rows_of(streamed_epoch_batches(source, 64, 0, 0, window_groups=1))
    assert sorted(batch.tolist()) == [1, 2, 3, 4, 5]


def test_batches_of_a_model_that_skips_padding_are_cut_to_their_longest_review():
    reviews = random_reviews(64, seed=2)
    tokens = padded(reviews, "post", maxlen=64)
    source = ArrayGroups(tokens, np.arange(64), (16, 16, 16, 16))
    widths = []
    seen = []
    for batch_tokens, labels in streamed_epoch_batches(source, 8, 3, 0, window_groups=2, step=4):
        rows = labels.astype(int)
        longest = max(len(reviews[row]) for row in rows)
        width = batch_tokens.shape[1]
        assert longest <= width < longest + 4 and width % 4 == 0
        np.testing.assert_array_equal(batch_tokens, tokens[rows, :width])
        widths.append(width)
        seen.extend(rows)
    assert sorted(seen) == list(range(64))
    assert np.mean(widths) < 64 * 0.9


@pytest.mark.parametrize("step", [None, 1])
def test_windows_smaller_than_a_batch_pass_their_rows_on_in_the_dataset_too(step):
    source = numbered(20, group=3)  # 7 windows of one group, 2 full batches of 8 an epoch
    dataset = streamed_training_dataset(source, 8, 4, 0, 2, window_groups=1, step=step)
    batches = [(tokens.numpy(), labels.numpy()) for tokens, labels in dataset]
    assert len(batches) == dataset.cardinality().numpy() == 4
    assert all(len(labels) == 8 for _, labels in batches)
    for epoch in (batches[:2], batches[2:]):
        assert len(set(np.concatenate(_rows_of(epoch)).tolist())) == 16
    again = [labels.numpy() for _, labels in dataset]  # a second pass: the same batches
    assert all(np.array_equal(a, b) for a, (_, b) in zip(again, batches, strict=True))


def _validation(source, batch_size, step=None) -> list[tuple[np.ndarray, np.ndarray]]:
    dataset = streamed_validation_dataset(source, batch_size, step)
    assert dataset.options().autotune.enabled is False
    batches = [(tokens.numpy(), labels.numpy()) for tokens, labels in dataset]
    assert len(batches) == dataset.cardinality().numpy()
    return batches


def test_validation_rows_come_once_in_file_order_a_row_group_at_a_time():
    source = numbered(23, group=10, width=4)  # groups of 10, 10 and 3 rows
    batches = _validation(source, 5)
    assert [tokens.shape for tokens, _ in batches] == [(5, 4)] * 4 + [(3, 4)]
    assert np.concatenate(_rows_of(batches)).tolist() == list(range(1, 24))
    # a batch that does not divide a group leaves that group a smaller last batch
    assert [len(labels) for _, labels in _validation(source, 6)] == [6, 4, 6, 4, 3]


def test_validation_batches_of_a_model_that_skips_padding_are_cut_to_their_longest_review():
    reviews = random_reviews(20, seed=4)
    tokens = padded(reviews, "pre", maxlen=64)
    source = ArrayGroups(tokens, np.arange(20), (8, 8, 4))
    first = 0
    for batch_tokens, labels in _validation(source, 4, step=4):
        rows = np.arange(first, first + len(labels))
        np.testing.assert_array_equal(labels, rows)
        longest = max(len(reviews[row]) for row in rows)
        width = batch_tokens.shape[1]
        assert longest <= width < longest + 4 and width % 4 == 0
        np.testing.assert_array_equal(batch_tokens, tokens[rows, 64 - width :])  # padded in front
        first += len(labels)
    assert first == 20


@pytest.mark.slow
def test_the_streamed_dataset_of_a_prepared_split_yields_every_row_once_per_epoch(tmp_path):
    from imdb_rnn.prepared import load_arrays, split_row_groups
    from tests.conftest import small_prepared
    from tests.samples import regroup

    prepared = regroup(small_prepared(tmp_path), rows_per_group=10)
    source = split_row_groups(prepared, "train")
    assert source.group_rows == (10,) * 6 + (4,) and source.maxlen == 30
    tokens, labels, _ = load_arrays(prepared, "train")
    everything = np.column_stack([tokens, labels])

    def epochs(first_epoch: int, epochs: int) -> list[np.ndarray]:
        dataset = streamed_training_dataset(source, 8, 5, first_epoch, epochs, window_groups=2)
        assert dataset.element_spec[0].shape.as_list() == [8, 30]
        batches = [np.column_stack([x.numpy(), y.numpy()]) for x, y in dataset]
        assert all(batch.shape == (8, 31) for batch in batches)
        return [np.concatenate(batches[i : i + 8]) for i in range(0, len(batches), 8)]

    whole = epochs(0, 3)
    assert len(whole) == 3
    for epoch in whole:  # the same rows as loaded, each once (as a multiset: rows may repeat)
        np.testing.assert_array_equal(_sorted_rows(epoch), _sorted_rows(everything))
    assert not np.array_equal(whole[0], whole[1])
    (resumed,) = epochs(2, 3)
    np.testing.assert_array_equal(resumed, whole[2])

    validation = streamed_validation_dataset(split_row_groups(prepared, "validation"), 6)
    validation_tokens, validation_labels, _ = load_arrays(prepared, "validation")
    streamed = list(validation)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in streamed]), validation_tokens)
    np.testing.assert_array_equal(np.concatenate([y for _, y in streamed]), validation_labels)
    assert validation.options().autotune.enabled is False


def _sorted_rows(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort(rows.T[::-1])]

"""Input pipelines for training rows too many to hold in memory, read a few Parquet row
groups at a time.

An epoch visits the row groups in an order drawn from ``(seed, epoch)``, reads them a
window of a few groups at a time, shuffles the window's rows (with the rows the last window
left over) and cuts them into full batches. Only the last partial batch of the epoch is
dropped, so an epoch has as many steps as ``training_dataset`` gives the same rows, each of
one shape. Every draw comes from one generator seeded with ``(seed, epoch)``: a run resumed
after epoch ``e`` sees the batches an uninterrupted run would have seen.

The order is not ``training_dataset``'s: a batch mixes the rows of one window, not of the
whole split. Rows are read through ``RowGroups`` (``imdb_rnn.prepared.SplitRowGroups``
is one), since the models sit below the library that knows the Parquet contract.
TensorFlow is imported inside the functions, so importing this module stays instant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from rnn_models.datasets import (
    TokenSpans,
    grouped_by_length,
    steps_per_epoch,
    untuned,
)

# As the in-memory pipelines. A window is read and shuffled when the one before is used up:
# a pause of well under a second per window of tens of thousands of rows.
_PREFETCHED_BATCHES = 2
# Batches a window's rows are sorted by length in, as ``length_grouped_batches`` does.
_LENGTH_GROUP = 50

Batch = tuple[np.ndarray, np.ndarray]
Window = tuple[np.ndarray, np.ndarray, np.ndarray]


class RowGroups(Protocol):
    """A split's padded rows, stored in groups that can be read a few at a time."""

    maxlen: int
    group_rows: tuple[int, ...]

    @property
    def rows(self) -> int: ...

    def read(self, groups: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tokens, labels, lengths)`` of ``groups``, in that order."""
        ...


def streamed_epoch_windows(
    source: RowGroups,
    batch_size: int,
    seed: int,
    epoch: int,
    window_groups: int,
    step: int | None = None,
) -> Iterator[Window]:
    """One epoch's batches, a window of row groups at a time, each row at most once.

    Each window comes as ``(tokens[steps, batch, maxlen], labels[steps, batch],
    cuts[steps, 2])``: batch ``i`` is ``tokens[i][:, start:stop]`` for ``(start, stop) =
    cuts[i]``.

    Args:
        window_groups: Row groups read and shuffled together; what the epoch holds in memory.
        step: For a model that skips padding: the rows of a window are grouped in batches of
            similar length and each batch is cut to its longest review, in widths a multiple
            of ``step`` (``width_step``). None: full width.
    """
    batch = min(batch_size, source.rows)
    generator = np.random.default_rng([seed, epoch])
    group_order = generator.permutation(len(source.group_rows))
    left: Batch | None = None
    for first in range(0, len(group_order), window_groups):
        tokens, labels = _after(left, source.read(group_order[first : first + window_groups]))
        order = generator.permutation(len(tokens))
        full = len(order) // batch * batch
        # Rows past the last full batch wait for the next window's; the epoch's last are dropped.
        left = tokens[order[full:]], labels[order[full:]]
        window = _window_batches(tokens, labels, order[:full], batch, generator, step)
        del tokens, labels  # held while the window trains otherwise: twice the memory
        yield window  # even an empty one: an epoch has ``windows_per_epoch`` windows


def streamed_epoch_batches(
    source: RowGroups,
    batch_size: int,
    seed: int,
    epoch: int,
    window_groups: int,
    step: int | None = None,
) -> Iterator[Batch]:
    """The ``(tokens, labels)`` batches of ``streamed_epoch_windows``, one by one."""
    windows = streamed_epoch_windows(source, batch_size, seed, epoch, window_groups, step)
    for tokens, labels, cuts in windows:
        for batch_tokens, batch_labels, (start, stop) in zip(tokens, labels, cuts, strict=True):
            yield batch_tokens[:, start:stop], batch_labels


def _after(left: Batch | None, read: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Batch:
    """The tokens and labels just ``read``, after the rows ``left`` over before them."""
    tokens, labels, _ = read
    if left is None:
        return tokens, labels
    return np.concatenate([left[0], tokens]), np.concatenate([left[1], labels])


def _window_batches(
    tokens: np.ndarray,
    labels: np.ndarray,
    order: np.ndarray,
    batch: int,
    generator: np.random.Generator,
    step: int | None,
) -> Window:
    width = tokens.shape[1]
    if step is None or not len(order):
        batches = order.reshape(-1, batch)
        cuts = np.tile(np.array([0, width], dtype=np.int64), (len(batches), 1))
    else:
        spans = TokenSpans.of(tokens)
        batches = grouped_by_length(order, spans.lengths, batch, _LENGTH_GROUP, generator)
        cuts = spans.batch_cuts(batches, step).astype(np.int64)
    return tokens[batches], labels[batches].astype(np.float32), cuts


def _in_order_cuts(tokens: np.ndarray, batch_size: int, step: int | None) -> np.ndarray:
    """``(start, stop)`` for each row: the columns of its batch, when ``tokens`` are cut into
    batches of ``batch_size`` in order (the last one smaller), each cut to its longest review
    in widths a multiple of ``step``; all columns when ``step`` is None."""
    rows, width = tokens.shape
    if step is None or not rows:
        return np.tile(np.array([0, width], dtype=np.int64), (rows, 1))
    spans = TokenSpans.of(tokens)
    firsts = range(0, rows, batch_size)
    cuts = [
        spans.batch_cuts(np.arange(f, min(f + batch_size, rows))[None, :], step)[0] for f in firsts
    ]
    sizes = [min(batch_size, rows - first) for first in firsts]
    return np.repeat(np.array(cuts, dtype=np.int64), sizes, axis=0)


class _WindowReader:
    """``streamed_epoch_windows`` by (epoch, index), for ``tf.numpy_function``.

    A window holds the rows the one before it left over, so windows are read in order; a
    request out of order (a new pass over the dataset) reads its epoch again from the start.
    """

    def __init__(
        self, source: RowGroups, batch: int, seed: int, window_groups: int, step: int | None
    ) -> None:
        self._source, self._batch, self._seed = source, batch, seed
        self._window_groups, self._step = window_groups, step
        self._next: tuple[int, int] | None = None
        self._windows: Iterator[Window] = iter(())

    def __call__(self, epoch: np.int64, index: np.int64) -> Window:
        at = (int(epoch), int(index))
        if self._next != at:
            self._windows = streamed_epoch_windows(
                self._source, self._batch, self._seed, at[0], self._window_groups, self._step
            )
            for _ in range(at[1]):
                next(self._windows)
        self._next = (at[0], at[1] + 1)
        return next(self._windows)


def streamed_training_dataset(
    source: RowGroups,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    window_groups: int,
    step: int | None = None,
) -> Any:
    """``training_dataset`` for rows read from ``source``: batches for ``epochs -
    first_epoch`` epochs (``streamed_epoch_windows``), each of ``batch_size`` rows."""
    import tensorflow as tf

    batch = min(batch_size, source.rows)
    steps = steps_per_epoch(source.rows, batch)
    windows = windows_per_epoch(source, window_groups)
    reader = _WindowReader(source, batch, seed, window_groups, step)

    # Python runs once a window, through tf.numpy_function, not at every step, and not
    # through Dataset.from_generator: that sets glibc's M_TRIM_THRESHOLD for the whole
    # process ("Memory patch applied", TensorFlow 2.21), and every train step slows down.
    # An epoch of 200,000 rows of a small GRU, in memory, took 24.5 s with that setting
    # instead of 18.2 s on a 2-core CPU.
    def window(position: Any) -> tuple[Any, Any, Any]:
        epoch, index = position // windows, position % windows
        tokens, labels, cuts = tf.numpy_function(
            reader, [epoch, index], [tf.int32, tf.float32, tf.int64], stateful=True
        )
        return (
            tf.ensure_shape(tokens, (None, batch, source.maxlen)),
            tf.ensure_shape(labels, (None, batch)),
            tf.ensure_shape(cuts, (None, 2)),
        )

    def cut(tokens: Any, labels: Any, columns: Any) -> tuple[Any, Any]:
        return (tokens if step is None else tokens[:, columns[0] : columns[1]]), labels

    return untuned(
        tf.data.Dataset.range(first_epoch * windows, epochs * windows)
        .map(window)
        .unbatch()
        .map(cut)
        .apply(tf.data.experimental.assert_cardinality((epochs - first_epoch) * steps))
        .prefetch(_PREFETCHED_BATCHES)
    )


def windows_per_epoch(source: RowGroups, window_groups: int) -> int:
    """Windows ``streamed_epoch_windows`` yields per epoch (some may hold no full batch)."""
    return -(-len(source.group_rows) // window_groups)


def streamed_validation_dataset(source: RowGroups, batch_size: int, step: int | None = None) -> Any:
    """Every row of ``source`` once, in order, one row group at a time: each group in batches
    of ``batch_size`` (its last one smaller), cut to their longest review with ``step``."""
    import tensorflow as tf

    def read(group: np.int64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tokens, labels, _ = source.read([int(group)])
        return tokens, labels.astype(np.float32), _in_order_cuts(tokens, batch_size, step)

    def group_batches(group: Any) -> Any:
        tokens, labels, cuts = tf.numpy_function(
            read, [group], [tf.int32, tf.float32, tf.int64], stateful=False
        )
        rows = (
            tf.ensure_shape(tokens, (None, source.maxlen)),
            tf.ensure_shape(labels, (None,)),
            tf.ensure_shape(cuts, (None, 2)),
        )
        return tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)

    def cut(tokens: Any, labels: Any, columns: Any) -> tuple[Any, Any]:
        return (tokens if step is None else tokens[:, columns[0, 0] : columns[0, 1]]), labels

    batches = sum(-(-rows // batch_size) for rows in source.group_rows)
    return untuned(
        tf.data.Dataset.range(len(source.group_rows))
        .flat_map(group_batches)
        .map(cut)
        .apply(tf.data.experimental.assert_cardinality(batches))
        .prefetch(_PREFETCHED_BATCHES)
    )

"""Input pipelines: how token matrices become the batches Keras trains and predicts on.

XLA compiles once per input shape, so every batch here has one shape: training drops the
last partial batch of each (reshuffled) epoch. Models that skip padding
(``ModelConfig.skip_padding``) are the exception: their batches are grouped by review length
and cut to their longest review, which saves far more than a compilation costs, in a few
widths only.

Every pipeline is built here with tf.data's autotuning off (``untuned``), because deleting
an autotuned iterator can stall for many seconds. TensorFlow is imported inside the
functions, so importing this module stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# A gather from memory takes well under a millisecond and a train step tens of them: two
# batches in flight keep the model fed, with nothing left for autotuning to find.
_PARALLEL_GATHERS = 2
_PREFETCHED_BATCHES = 2


def untuned(dataset: Any) -> Any:
    """``dataset`` with tf.data's autotuning off.

    Deleting an autotuned iterator waits for tf.data's tuning thread. With TensorFlow 2.21
    on a 2-core CPU that thread was seen asleep in its tuning loop while ``fit`` waited to
    return, 17-37 s after the last epoch of a seed-sized fit, in 2 of 8 fresh processes
    (``python -m bench.iterator_stall``; docs/BENCHMARKS.md). Without autotuning none
    waited. Keras builds an autotuned pipeline for arrays it is given, so every ``fit`` and
    ``predict`` here gets a dataset from this module instead.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def batched_dataset(tokens: np.ndarray, labels: np.ndarray | None, batch_size: int) -> Any:
    """``tokens`` (with ``labels``, if given) in order, in batches of ``batch_size``."""
    import tensorflow as tf

    rows = tf.constant(tokens, dtype=tf.int32)
    if labels is not None:
        rows = (rows, tf.constant(labels, dtype=tf.float32))
    return untuned(
        tf.data.Dataset.from_tensor_slices(rows).batch(batch_size).prefetch(_PREFETCHED_BATCHES)
    )


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Full batches per epoch; one smaller batch when there are fewer rows than a batch."""
    return max(1, rows // batch_size)


def training_dataset(
    tokens: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
) -> Any:
    """Batches for ``epochs - first_epoch`` epochs, each in its own shuffled order.

    Epoch ``e``'s order depends only on ``(seed, e)``, so a run resumed after epoch ``e``
    sees exactly the batches an uninterrupted run would have seen. Each epoch drops its last
    partial batch (fewer than ``batch_size`` rows, different ones every epoch) so that every
    step has one shape and XLA compiles the train step once.
    """
    import tensorflow as tf

    rows = len(tokens)
    batch = min(batch_size, rows)
    steps = steps_per_epoch(rows, batch)
    all_tokens = tf.constant(tokens, dtype=tf.int32)
    all_labels = tf.constant(labels, dtype=tf.float32)

    def epoch_batches(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(rows, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[: steps * batch], (steps, batch))
        )

    def gather(indices: Any) -> tuple[Any, Any]:
        return tf.gather(all_tokens, indices), tf.gather(all_labels, indices)

    return untuned(
        tf.data.Dataset.range(first_epoch, epochs)
        .flat_map(epoch_batches)
        .map(gather, num_parallel_calls=_PARALLEL_GATHERS, deterministic=True)
        .prefetch(_PREFETCHED_BATCHES)
    )


def width_step(maxlen: int, few_shapes: bool) -> int:
    """Batches cut to their longest review get a width that is a multiple of this.

    Every width is a new input shape: cheap to trace, but one XLA compilation each, so an
    XLA-compiled model gets at most 4 widths and any other one a width in steps of 16.
    """
    return max(1, -(-maxlen // 4)) if few_shapes else min(16, maxlen)


@dataclass(frozen=True)
class TokenSpans:
    """Where each row's tokens lie: columns ``start[i]`` up to ``end[i]``, padding around."""

    start: np.ndarray
    end: np.ndarray
    width: int

    @classmethod
    def of(cls, tokens: np.ndarray) -> TokenSpans:
        present = tokens != 0
        width = tokens.shape[1]
        has_tokens = present.any(axis=1)
        # A row without tokens (an empty review, or a padding row) gets start > end, so it
        # never widens a batch's cut.
        start = np.where(has_tokens, present.argmax(axis=1), width)
        end = np.where(has_tokens, width - present[:, ::-1].argmax(axis=1), 0)
        return cls(start, end, width)

    @property
    def lengths(self) -> np.ndarray:
        return np.maximum(self.end - self.start, 0)

    def batch_cuts(self, batches: np.ndarray, step: int) -> np.ndarray:
        """``(start, stop)`` columns for each row of ``batches`` (row indices): the fewest
        columns, in a multiple of ``step`` (or all of them), that hold every token of the batch."""
        first = self.start[batches].min(axis=1)
        last = self.end[batches].max(axis=1)
        first = np.where(last > first, first, 0)
        needed = np.maximum(last - first, 1)
        widths = np.minimum(-(-needed // step) * step, self.width)
        starts = np.minimum(first, self.width - widths)
        return np.stack([starts, starts + widths], axis=1)


def length_grouped_batches(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int, group: int = 50
) -> np.ndarray:
    """One epoch's batches as row indices ``(steps, batch)``, each of reviews of similar length.

    The rows are shuffled, cut into groups of ``group`` batches, each group sorted by length
    and cut into batches, and the batches shuffled again: batches are short or long as
    their reviews are, yet every epoch sees new companions and a new order. The last partial
    batch is dropped, as in ``training_dataset``. The order depends only on
    ``(seed, epoch)``, so a resumed run sees the batches an uninterrupted one would have.
    """
    rows = len(lengths)
    batch = min(batch_size, rows)
    steps = steps_per_epoch(rows, batch)
    generator = np.random.default_rng([seed, epoch])
    order = generator.permutation(rows)[: steps * batch]
    return grouped_by_length(order, lengths, batch, group, generator)


def grouped_by_length(
    order: np.ndarray, lengths: np.ndarray, batch: int, group: int, generator: np.random.Generator
) -> np.ndarray:
    """``order`` (shuffled row indices, a whole number of batches) cut into batches of
    similar length, in an order drawn from ``generator``: see ``length_grouped_batches``."""
    steps = len(order) // batch
    batches = []
    for first in range(0, steps * batch, group * batch):
        part = order[first : first + group * batch]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part.reshape(-1, batch))
    return np.stack(batches)[generator.permutation(steps)]


def length_grouped_dataset(
    tokens: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    step: int,
) -> Any:
    """``training_dataset`` for a model that skips padding: batches of similar length, each
    cut to the columns that hold its tokens (``length_grouped_batches``)."""
    import tensorflow as tf

    spans = TokenSpans.of(tokens)
    batches = np.concatenate(
        [
            length_grouped_batches(spans.lengths, batch_size, seed, epoch)
            for epoch in range(first_epoch, epochs)
        ]
    )
    cuts = spans.batch_cuts(batches, step)
    all_tokens = tf.constant(tokens, dtype=tf.int32)
    all_labels = tf.constant(labels, dtype=tf.float32)

    def gather(indices: Any, cut: Any) -> tuple[Any, Any]:
        return tf.gather(all_tokens, indices)[:, cut[0] : cut[1]], tf.gather(all_labels, indices)

    return untuned(
        tf.data.Dataset.from_tensor_slices((batches, cuts))
        .map(gather, num_parallel_calls=_PARALLEL_GATHERS, deterministic=True)
        .prefetch(_PREFETCHED_BATCHES)
    )


def length_sorted_batches(
    spans: TokenSpans, batch_size: int, step: int
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Every row once, in order of length: ``(order, batches of row indices, cuts)``."""
    order = np.argsort(spans.lengths, kind="stable")
    batches = [order[first : first + batch_size] for first in range(0, len(order), batch_size)]
    cuts = np.array([spans.batch_cuts(rows[None, :], step)[0] for rows in batches])
    return order, batches, cuts


def cut_batches_dataset(
    tokens: np.ndarray, batches: list[np.ndarray], cuts: np.ndarray, labels: np.ndarray | None
) -> Any:
    """``tokens[rows, start:stop]`` for each batch of rows and its cut, with the labels if given."""
    import tensorflow as tf

    def batch_of(rows: np.ndarray, cut: np.ndarray) -> Any:
        batch_tokens = tokens[rows, cut[0] : cut[1]].astype(np.int32)
        return batch_tokens if labels is None else (batch_tokens, labels[rows].astype(np.float32))

    token_spec = tf.TensorSpec((None, None), tf.int32)
    spec = token_spec if labels is None else (token_spec, tf.TensorSpec((None,), tf.float32))
    return untuned(
        tf.data.Dataset.from_generator(
            lambda: (batch_of(rows, cut) for rows, cut in zip(batches, cuts, strict=True)),
            output_signature=spec,
        ).apply(tf.data.experimental.assert_cardinality(len(batches)))
    )


def length_sorted_dataset(
    tokens: np.ndarray, labels: np.ndarray, batch_size: int, step: int
) -> Any:
    """Validation data for a model that skips padding: every row once, in order of length,
    each batch cut to the columns that hold its tokens."""
    _, batches, cuts = length_sorted_batches(TokenSpans.of(tokens), batch_size, step)
    return cut_batches_dataset(tokens, batches, cuts, labels)


def even_batch_size(rows: int, largest: int = 1024) -> int:
    """A batch size that splits ``rows`` into equal batches when one close to ``largest`` does.

    Validation inside ``fit`` cannot pad its last batch, so an even split saves XLA a
    second compilation; otherwise ``largest`` is used as it is.
    """
    if rows <= largest:
        return max(1, rows)
    for size in range(largest, largest // 2, -1):
        if rows % size == 0:
            return size
    return largest

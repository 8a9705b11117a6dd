"""How a built model is compiled and fed for training: one home for the loss, the metrics,
the optimizer, XLA, the batch parts and the fit's data arguments.

The pipeline's train step and the claims' brief synthetic trainings both compile here, so
every model this project trains learns with the same loss and reports the same metrics.
Keras and TensorFlow are imported inside the functions, so importing this module stays
instant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnn_models.datasets import (
    batched_dataset,
    even_batch_size,
    length_grouped_dataset,
    length_sorted_dataset,
    steps_per_epoch,
    training_dataset,
    width_step,
)
from rnn_models.runtime import create_training_state, jit_compile_setting, steps_per_execution
from rnn_models.streaming import RowGroups, streamed_training_dataset, streamed_validation_dataset

log = logging.getLogger(__name__)

LOSS = "binary_crossentropy"
# K > 2 classes: integer labels against K softmax outputs.
MULTICLASS_LOSS = "sparse_categorical_crossentropy"
METRICS = ("accuracy",)
# What a model trained with ``gradient_norm_adam`` adds to each epoch's history.
NORM_MEAN_KEY, NORM_MAX_KEY = "gradient_norm_mean", "gradient_norm_max"


def compile_for_training(
    model: Any,
    optimizer: Any,
    jit_compile: bool | str,
    steps_per_call: int = 1,
    classes: int = 2,
) -> None:
    """Compile ``model`` with the project's loss and metrics, and create its training state.

    Two classes: binary cross-entropy on the one sigmoid output. ``classes`` > 2: sparse
    categorical cross-entropy of the integer labels against the K softmax outputs, and
    accuracy as the share of rows whose most probable class is the label. Both log it as
    "accuracy", so histories and reports read the same key for every K.

    ``steps_per_call`` train steps run per call into TensorFlow (Keras'
    ``steps_per_execution``). The optimizer's and the metrics' variables are created now,
    so that TensorFlow traces the train step once (``create_training_state``).
    """
    model.compile(
        optimizer=optimizer,
        loss=MULTICLASS_LOSS if classes > 2 else LOSS,
        metrics=_multiclass_metrics() if classes > 2 else list(METRICS),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_call,
    )
    create_training_state(model)


def _multiclass_metrics() -> list[Any]:
    # Named outright rather than left to Keras' "accuracy", which picks its kind from the
    # shapes of the first batch it sees: integer labels need the sparse kind whatever they are.
    import keras

    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


@dataclass(frozen=True)
class StepSettings:
    """How the train step of one fit runs."""

    jit_compile: bool | str
    # Every step is the same XLA-compiled shape: full-width batches of one size.
    one_xla_shape: bool
    steps_per_call: int


def train_step_settings(
    xla: str,
    *,
    pools_over_time: bool,
    skip_padding: bool,
    mirrored: bool,
    lazy_embeddings: bool,
    fit_rows: int,
    batch_size: int,
) -> StepSettings:
    """XLA, and the train steps per call, for one fit (batch parts are decided once built).

    XLA refuses MirroredStrategy's per-replica variables ("Trying to access resource ...
    located in device CPU:1 from device CPU:0"), and cannot compile the lazy update's
    ``tf.unique``. Several steps per call only where every step is one XLA-compiled shape:
    there the weights are the same to the bit. The best profile (no XLA, batches of many
    widths) trained slower and to other weights with several steps per call.
    """
    jit_compile = (
        False if mirrored or lazy_embeddings else jit_compile_setting(xla, pools_over_time)
    )
    one_shape = jit_compile is True and not skip_padding
    steps = steps_per_execution(steps_per_epoch(fit_rows, batch_size)) if one_shape else 1
    return StepSettings(jit_compile, one_shape, steps)


def train_in_batch_parts(
    model: Any,
    parts: int,
    batch_size: int,
    fit_rows: int,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> int:
    """Give the XLA-compiled ``model`` a train step over ``parts`` parts of each batch where
    it can take one; the number of parts each batch trains in (1: whole)."""
    if parts == 1:
        return 1
    from rnn_models.batch_parts import can_split, train_in_parts

    batch = min(batch_size, fit_rows)  # as training_dataset batches them
    if not can_split(model, batch, parts):
        logger.info(
            "Training whole batches: %d parts need batches they divide (of %d reviews here) "
            "and a model whose training changes nothing but its weights (no dropout)",
            parts,
            batch,
        )
        return 1
    train_in_parts(model, parts)
    return parts


def fit_inputs(
    fit: tuple[np.ndarray, np.ndarray],
    holdout: tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    skip_padding: bool,
    few_shapes: bool,
) -> dict[str, Any]:
    """``model.fit``'s data arguments for ``fit`` and ``holdout`` (tokens, labels).

    The rows in full width, or, for a model that skips padding, in batches of similar length
    cut to their longest review (in widths a multiple of ``width_step``; ``few_shapes`` for
    an XLA-compiled model, which compiles once per width).
    """
    x_train, y_train = fit
    batches = dict(batch_size=batch_size, seed=seed, first_epoch=first_epoch, epochs=epochs)
    steps = {"steps_per_epoch": steps_per_epoch(len(x_train), batch_size)}
    if skip_padding:
        step = width_step(x_train.shape[1], few_shapes=few_shapes)
        return {
            "x": length_grouped_dataset(x_train, y_train, **batches, step=step),
            "validation_data": _validation_in_memory(holdout, step),
            **steps,
        }
    return {
        "x": training_dataset(x_train, y_train, **batches),
        "validation_data": _validation_in_memory(holdout, None),
        **steps,
    }


def streamed_fit_inputs(
    fit: RowGroups,
    holdout: RowGroups | tuple[np.ndarray, np.ndarray],
    *,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    skip_padding: bool,
    few_shapes: bool,
    window_groups: int,
) -> dict[str, Any]:
    """``fit_inputs`` for training rows read from their row groups (``rnn_models.streaming``),
    ``window_groups`` at a time; ``holdout`` is read the same way or given as arrays."""
    step = width_step(fit.maxlen, few_shapes=few_shapes) if skip_padding else None
    if isinstance(holdout, tuple):
        validation = _validation_in_memory(holdout, step)
    else:
        # Batches that split a row group evenly: the validation step compiles fewer shapes.
        batch = even_batch_size(max(holdout.group_rows))
        validation = streamed_validation_dataset(holdout, batch, step)
    return {
        "x": streamed_training_dataset(
            fit, batch_size, seed, first_epoch, epochs, window_groups, step
        ),
        "validation_data": validation,
        "steps_per_epoch": steps_per_epoch(fit.rows, batch_size),
    }


def _validation_in_memory(holdout: tuple[np.ndarray, np.ndarray], step: int | None) -> Any:
    """Every validation row once: in order, or, with ``step`` (a model that skips padding),
    in order of length, each batch cut to its longest review."""
    tokens, labels = holdout
    batch = even_batch_size(len(tokens))
    if step is None:
        return batched_dataset(tokens, labels, batch)
    return length_sorted_dataset(tokens, labels, batch, step)

"""Probes that measure what a recurrent model remembers, for the seed notes' claims.

- ``gradient_by_position``: how much the loss moves with the embedding at each position of
  real reviews, for a trained model;
- ``synthetic_accuracies``: how far back an architecture, trained briefly, can carry one marker
  token that decides the label (``synthetic_task``).

What the numbers mean for the claims (the verdict rules) is decided elsewhere
(``imdb_rnn.claims``). Keras and TensorFlow are imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnn_models.config import ModelConfig

# Synthetic token ids: 0 and 1 stay unused (padding and unknown in the real data), the two
# markers decide the label, every other position holds a distractor that is never a marker.
MARKER_NEGATIVE, MARKER_POSITIVE = 2, 3
FIRST_DISTRACTOR = 4
# The synthetic training stops early once the training accuracy reaches this: the task is
# learnt, and more epochs would only cost time. Accuracy is measured on held-out data.
SOLVED_TRAIN_ACCURACY = 0.99


@dataclass(frozen=True)
class SyntheticBudget:
    """How each architecture is trained and tested on the synthetic task."""

    length: int  # every sequence is this long
    vocab_size: int  # token ids 0..vocab_size-1
    train_rows: int
    test_rows: int
    epochs: int  # at most; training stops once the task is learnt
    learning_rate: float
    batch_size: int


def gradient_by_position(
    model: Any, tokens: np.ndarray, labels: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """Mean over reviews of ``|d loss / d embedding output|`` at each position, shape ``(T,)``.

    The model is split at its ``Embedding`` layer: the embedding output is computed, watched
    by a ``GradientTape``, and the rest of the graph (a functional model from the embedding
    output and the token ids to the model's output, so pooling branches work too) is applied
    to it in inference mode. Each review's loss is summed, not averaged, so every review's
    gradient is its own.
    """
    import keras
    import tensorflow as tf

    # An ensemble averages members of one architecture: its first member speaks for them.
    model = next((layer for layer in model.layers if isinstance(layer, keras.Model)), model)
    embedding = next(
        (layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)), None
    )
    if embedding is None:
        raise ValueError(f"model {model.name!r} has no Embedding layer to measure gradients at")
    # The token ids stay an input: pooling over time reads them to leave padding out.
    tokens_input = model.inputs[0]
    after_embedding = keras.Model([tokens_input, embedding.output], model.outputs[0])
    tokens = np.asarray(tokens)
    # The loss the model was trained with: one sigmoid output, or K softmax outputs.
    several_classes = (model.outputs[0].shape[-1] or 1) > 1
    if several_classes:
        labels = np.asarray(labels, dtype=np.int64)
        loss_of = keras.losses.sparse_categorical_crossentropy
    else:
        labels = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
        loss_of = keras.losses.binary_crossentropy

    # One traced graph for every batch: run eagerly, each of the recurrent loop's steps was
    # dispatched from Python, 2 to 6 s a model on a 2-core CPU instead of about 0.5.
    @tf.function(reduce_retracing=True)
    def norms_by_position(token_batch: Any, target: Any) -> Any:
        embedded = embedding(token_batch)
        with tf.GradientTape() as tape:
            tape.watch(embedded)
            output = after_embedding([token_batch, embedded], training=False)
            loss = tf.reduce_sum(loss_of(target, output))
        return tf.norm(tape.gradient(loss, embedded), axis=-1)

    total = np.zeros(tokens.shape[1], dtype=np.float64)
    for start in range(0, len(tokens), batch_size):
        norms = norms_by_position(
            tf.convert_to_tensor(tokens[start : start + batch_size]),
            tf.convert_to_tensor(labels[start : start + batch_size]),
        )
        total += norms.numpy().sum(axis=0)
    return total / max(1, len(tokens))


def synthetic_task(
    n: int, length: int, distance: int, vocab_size: int, seed: int, *, exact: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random sequences whose label is the marker ``distance`` steps before the end.

    Exactly ``distance`` distractors follow the marker, so the model must carry it that
    many steps; with ``exact=False`` each sequence gets its own distance in
    ``1..distance``. Half the labels are 1 (one more 0 when ``n`` is odd), in random order.
    Distractors are drawn from ``FIRST_DISTRACTOR..vocab_size-1`` and never equal a marker.
    """
    if not 1 <= distance < length:
        raise ValueError(f"distance {distance} must be in 1..{length - 1} for length {length}")
    if vocab_size <= FIRST_DISTRACTOR:
        raise ValueError(f"vocab_size must be > {FIRST_DISTRACTOR}, got {vocab_size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2).astype(np.int8)
    tokens = rng.integers(FIRST_DISTRACTOR, vocab_size, size=(n, length), dtype=np.int32)
    distances = np.full(n, distance) if exact else rng.integers(1, distance + 1, size=n)
    markers = np.where(labels == 1, MARKER_POSITIVE, MARKER_NEGATIVE)
    tokens[np.arange(n), length - 1 - distances] = markers
    return tokens, labels


def synthetic_accuracies(
    architecture: str,
    model_config: ModelConfig,
    budget: SyntheticBudget,
    distances: tuple[int, ...],
    seed: int,
    check_stop: Callable[[], None] = lambda: None,
) -> Iterator[tuple[int, dict[str, float]]]:
    """Train ``architecture`` briefly on the synthetic task at each distance; held-out accuracy.

    Yields ``(distance, {"accuracy", "epochs", "seconds"})`` as each is measured. The test
    sequences (another seed, never seen in training) all have the marker exactly
    ``distance`` steps before the end. In training it is anywhere from 1 to ``distance``
    steps before the end: with the marker always far back, a brief training gets no learning
    signal at all (a GRU trained on 4,096 sequences with d=50 for 4 epochs stayed at chance),
    so the result would measure the training budget, not whether the architecture can carry
    the marker ``distance`` steps. The nearer markers teach what to keep; the test asks how
    far it is kept. (One training on markers up to the largest distance, tested at each, is
    no substitute: after 5 epochs SimpleRNN and LSTM were at chance even at d=10.)

    Every distance starts from the same seeded weights and a fresh optimizer state. The
    model is built and compiled once and its weights and optimizer variables are put back
    before each distance: the same arithmetic as a model built anew for each, without a
    new trace and XLA compilation each time (about 1.5 s of each distance's 3 to 11 s).
    ``check_stop`` is called after every batch; what it raises ends the training.
    """
    import keras

    from rnn_models.datasets import steps_per_epoch, training_dataset
    from rnn_models.inference import predict_probabilities
    from rnn_models.registry import build_model
    from rnn_models.runtime import configure_tensorflow, jit_compile_setting, seeded_construction
    from rnn_models.training import compile_for_training

    configure_tensorflow(seed)
    with seeded_construction(seed):
        model = build_model(architecture, model_config, budget.vocab_size, budget.length)
    compile_for_training(
        model,
        keras.optimizers.Adam(learning_rate=budget.learning_rate),
        jit_compile=jit_compile_setting("auto", model_config.pooling != "last"),
    )
    initial_weights = model.get_weights()
    initial_optimizer = [variable.numpy() for variable in model.optimizer.variables]

    class _StopWhenSolved(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if (logs or {}).get("accuracy", 0.0) >= SOLVED_TRAIN_ACCURACY:
                self.model.stop_training = True

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            check_stop()

    for distance in distances:
        x_train, y_train = synthetic_task(
            budget.train_rows, budget.length, distance, budget.vocab_size, seed, exact=False
        )
        x_test, y_test = synthetic_task(
            budget.test_rows, budget.length, distance, budget.vocab_size, seed + 1
        )
        model.set_weights(initial_weights)
        for variable, value in zip(model.optimizer.variables, initial_optimizer, strict=True):
            variable.assign(value)
        started = time.perf_counter()
        history = model.fit(
            training_dataset(x_train, y_train, budget.batch_size, seed, 0, budget.epochs),
            steps_per_epoch=steps_per_epoch(len(x_train), budget.batch_size),
            epochs=budget.epochs,
            shuffle=False,  # the dataset shuffles itself
            verbose=0,
            callbacks=[_StopWhenSolved()],
        )
        probabilities = predict_probabilities(model, x_test)
        accuracy = float(((probabilities >= 0.5).astype(np.int8) == y_test).mean())
        yield (
            distance,
            {
                "accuracy": accuracy,
                "epochs": len(history.history["loss"]),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

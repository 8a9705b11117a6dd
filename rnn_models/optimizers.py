"""Adam that also measures the global gradient norm, and the callback that logs it per epoch.

The seed notes say vanilla RNNs suffer from exploding gradients. To see it, every training
step's gradient norm (before any clipping) is added to optimizer variables inside ``apply``,
so it is measured in the compiled train step itself (``jit_compile`` included) without a
custom ``train_step``. A callback reads the sums at the end of each epoch and resets them at
the start of the next.

This module imports Keras and TensorFlow when imported. Import it only where Keras is loaded
anyway: training, and before ``keras.models.load_model`` (``load_model`` below does both),
because a saved model names this optimizer and Keras must know the class to rebuild it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from rnn_models.training import NORM_MAX_KEY, NORM_MEAN_KEY


def global_gradient_norm(grads: list[Any], sparse: bool = False) -> Any:
    """The L2 norm of all gradients together, as one float32 scalar tensor.

    Embedding gradients come as ``tf.IndexedSlices`` with one row per token occurrence.
    Repeated tokens are summed first, so the norm is that of the true dense gradient. By
    default that builds the dense table, which XLA can compile. ``sparse`` sums only the
    rows that occur (``tf.unique``, which XLA cannot compile): with a 200,000-bucket bigram
    table, densifying took about a sixth of each training step on this CPU.
    """
    squares = []
    for grad in grads:
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            grad = summed_slices(grad).values if sparse else tf.convert_to_tensor(grad)
        squares.append(tf.reduce_sum(tf.square(tf.cast(grad, tf.float32))))
    if not squares:
        return tf.constant(0.0, tf.float32)
    return tf.sqrt(tf.add_n(squares))


def summed_slices(grad: Any) -> Any:
    """``grad`` (``tf.IndexedSlices``) with each row index once, its repeats summed."""
    unique, positions = tf.unique(grad.indices)
    values = tf.math.unsorted_segment_sum(grad.values, positions, tf.size(unique))
    return tf.IndexedSlices(values, unique, grad.dense_shape)


@keras.saving.register_keras_serializable(package="imdb_rnn")
class GradientNormAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` that sums, counts and tracks the max of the gradient norm.

    The updates are Adam's (with ``clipnorm`` when given): the norm is only read. Its three
    scalars are optimizer variables, so they are saved and restored with the rest of the
    optimizer state (``BackupAndRestore`` included).

    With ``lazy_embeddings``, a gradient that comes as ``tf.IndexedSlices`` (an embedding
    table's) updates only the rows that occur in the batch, and only their moments: Adam
    as TensorFlow's ``LazyAdamOptimizer`` and PyTorch's ``SparseAdam`` do it. Plain Adam
    decays and applies the moments of every row at every step; with the ``best`` profile's
    220,000 x 64 tables, lazy updates took a third off each training step on a 2-core CPU
    (docs/BENCHMARKS.md). Other variables get plain Adam. It needs a train step that is not
    XLA-compiled (``tf.unique``).
    """

    def __init__(
        self, *args: Any, sparse_norm: bool = False, lazy_embeddings: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if lazy_embeddings and self.amsgrad:
            raise ValueError("lazy_embeddings updates follow Adam without amsgrad")
        # True only for train steps that are not XLA-compiled; see global_gradient_norm.
        self.sparse_norm = sparse_norm
        self.lazy_embeddings = lazy_embeddings

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "sparse_norm": self.sparse_norm,
            "lazy_embeddings": self.lazy_embeddings,
        }

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        super().build(variables)
        self.gradient_norm_sum = self.add_variable((), name="gradient_norm_sum")
        self.gradient_norm_max = self.add_variable((), name="gradient_norm_max")
        self.gradient_norm_steps = self.add_variable((), name="gradient_norm_steps")

    def apply(self, grads: list[Any], trainable_variables: list[Any] | None = None) -> None:
        # Measured before Adam clips, so a clipped run still shows how large gradients got.
        if self.lazy_embeddings:
            # Each row once: what the lazy update needs, and then the values' norm is the
            # dense gradient's.
            grads = [summed_slices(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
            norm = global_gradient_norm(
                [g.values if isinstance(g, tf.IndexedSlices) else g for g in grads]
            )
        else:
            norm = global_gradient_norm(list(grads), self.sparse_norm)
        super().apply(grads, trainable_variables)  # builds the variables on the first call
        self.gradient_norm_sum.assign_add(norm)
        self.gradient_norm_steps.assign_add(1.0)
        self.gradient_norm_max.assign(tf.maximum(self.gradient_norm_max, norm))

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if not (self.lazy_embeddings and isinstance(gradient, tf.IndexedSlices)):
            super().update_step(gradient, variable, learning_rate)
            return
        # The rows of ``gradient`` are unique (``apply`` summed them).
        rows = gradient.indices
        values = tf.cast(gradient.values, variable.dtype)
        step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1 = tf.cast(self.beta_1, variable.dtype)
        beta_2 = tf.cast(self.beta_2, variable.dtype)
        alpha = (
            tf.cast(learning_rate, variable.dtype)
            * tf.sqrt(1 - tf.pow(beta_2, step))
            / (1 - tf.pow(beta_1, step))
        )
        index = self._get_variable_index(variable)
        momentum, velocity = self._momentums[index], self._velocities[index]
        momentum_rows = beta_1 * tf.gather(momentum, rows) + (1 - beta_1) * values
        velocity_rows = beta_2 * tf.gather(velocity, rows) + (1 - beta_2) * tf.square(values)
        self.assign(momentum, tf.IndexedSlices(momentum_rows, rows))
        self.assign(velocity, tf.IndexedSlices(velocity_rows, rows))
        change = alpha * momentum_rows / (tf.sqrt(velocity_rows) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(change, rows))

    def reset_gradient_norm(self) -> None:
        for variable in (self.gradient_norm_sum, self.gradient_norm_max, self.gradient_norm_steps):
            variable.assign(0.0)

    def gradient_norm_stats(self) -> dict[str, float]:
        """``{gradient_norm_mean, gradient_norm_max}`` since the last reset (NaN if no step)."""
        steps = float(self.gradient_norm_steps.numpy())
        if steps == 0:
            return {NORM_MEAN_KEY: float("nan"), NORM_MAX_KEY: float("nan")}
        return {
            NORM_MEAN_KEY: float(self.gradient_norm_sum.numpy()) / steps,
            NORM_MAX_KEY: float(self.gradient_norm_max.numpy()),
        }


class LogGradientNorm(keras.callbacks.Callback):
    """Adds ``gradient_norm_mean`` and ``gradient_norm_max`` of the epoch to its logs.

    Put it before callbacks that read the logs: Keras hands the same dict to each in turn.
    The sums are reset when an epoch begins (not when it ends), so that an epoch resumed
    from a backup taken at an epoch's end starts from zero too.
    """

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if isinstance(optimizer, GradientNormAdam) and optimizer.built:
            optimizer.reset_gradient_norm()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if logs is not None and isinstance(optimizer, GradientNormAdam):
            logs.update(optimizer.gradient_norm_stats())


def load_model(path: str | Path) -> Any:
    """``keras.models.load_model`` that knows ``GradientNormAdam`` and our own layers."""
    # Imported for their registration of the custom layers a model may be saved with.
    import rnn_models.bigrams
    import rnn_models.pooling  # noqa: F401

    return keras.models.load_model(path)

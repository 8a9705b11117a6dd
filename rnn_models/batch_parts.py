"""A train step that works out the gradients of a batch's parts side by side.

At the seed sizes (batch 64, 32 units) an XLA-compiled recurrent train step keeps one CPU
core busy: its matrix products are too small for two threads to share, so the second core
of a small machine idles. This step cuts each batch into equal parts and computes each
part's loss and gradients in an XLA program of its own. Those programs touch no variable
(they are given the weights' values), so TensorFlow's executor is free to run them at the
same time, one per core. Their mean gradient, which is the whole batch's gradient up to the
order of floating-point sums, is then applied once with the model's own optimizer. It
suits optimizers that do not scale the loss (no mixed-precision loss scaling).

Measured on 2 cores, one process, the three models' steps interleaved (docs/BENCHMARKS.md):
on an Intel host a seed GRU step took 23.0 ms in two parts against 31.6 ms whole, an LSTM
22.5 against 25.5 ms, a SimpleRNN 12.6 against 13.4 ms. On an AMD host the gated models'
fits were as fast or faster in parts, while a SimpleRNN's were 10 % slower (4.5 against
4.1 s): its step is a single small matrix product per position, too little work for the
halves to pay for the third program. So only models with gated recurrent layers (LSTM,
GRU) split their batches.

The model itself is unchanged: it is saved, loaded and served as Keras built it, and on a
GPU, where XLA stays off, Keras' own train step runs as before.

This module imports Keras and TensorFlow when imported; import it where training does.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from rnn_models.runtime import model_layers


def can_split(model: Any, batch_size: int, parts: int) -> bool:
    """Whether ``model`` can train on ``parts`` equal parts of each ``batch_size`` batch,
    and gains from it.

    A model whose training changes state besides its weights (a dropout layer draws from
    its seed, batch normalisation moves its statistics) would have to pass that state from
    one part to the next, so it trains whole. So does a model without gated recurrent
    layers, whose parts cost more than they save (see the module's docstring).
    """
    return (
        parts > 1
        and batch_size % parts == 0
        and _has_gated_recurrence(model)
        and not _training_changes_state(model)
    )


def _has_gated_recurrence(model: Any) -> bool:
    return any(
        isinstance(layer, keras.layers.LSTM | keras.layers.GRU) for layer in model_layers(model)
    )


def _training_changes_state(model: Any) -> bool:
    # Traces one review through the model in training mode without running it (0.1 s
    # against about 1 s eagerly): Keras hands back the very tensors it was given for the
    # non-trainable variables that nothing assigned.
    changed: list[bool] = []

    def probe(example: Any) -> Any:
        trainable, non_trainable, _ = _variable_values(model)
        _, updated = model.stateless_call(trainable, non_trainable, example, training=True)
        changed.append(any(new is not old for new, old in zip(updated, non_trainable, strict=True)))
        return tf.constant(0)

    shape = [1 if size is None else size for size in model.inputs[0].shape]
    example = tf.TensorSpec(shape, model.inputs[0].dtype)
    tf.function(probe, autograph=False).get_concrete_function(example)
    return changed[0]


def train_in_parts(model: Any, parts: int) -> None:
    """Give the compiled ``model`` a train step that computes ``parts`` parts side by side.

    Call after ``model.compile`` and before ``fit``; check ``can_split`` first. Training
    batches must divide into ``parts`` (drop the last partial batch). The logged loss and
    metrics are those Keras' own step reports.

    The step is three kinds of XLA program in a TensorFlow graph, rather than one XLA
    program as Keras compiles it, because XLA runs a program's loops one after the other:
    one program per part (loss and gradients), then one that averages them, applies them
    and updates the metrics. Validation runs Keras' own test step, compiled with XLA.
    """
    part_gradients = _compiled(_part_gradients_function(model))
    finish = _compiled(_finish_function(model, parts))

    def train_step(data: Any) -> dict[str, Any]:
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        state = _variable_values(model)
        x_parts, y_parts = tf.split(x, parts), tf.split(y, parts)
        weight_parts = [None] * parts if sample_weight is None else tf.split(sample_weight, parts)
        results = [
            part_gradients(*state, x_part, y_part, weight_part)
            for x_part, y_part, weight_part in zip(x_parts, y_parts, weight_parts, strict=True)
        ]
        return finish(results, x, y, sample_weight)

    model.train_step = train_step
    # The step around the programs stays a graph: built now, without XLA. Validation keeps
    # Keras' own test function, which Keras builds with XLA once jit_compile is back on
    # (compiling a wrapped test step inside a graph cost 0.3 s more per fit here).
    model.jit_compile = False
    model.make_train_function(force=True)
    model.jit_compile = True
    model.test_function = None


def _compiled(function: Any) -> Any:
    # Plain Python, no control flow to convert: autograph would only re-parse the source.
    return tf.function(function, jit_compile=True, reduce_retracing=True, autograph=False)


def _variable_values(model: Any) -> tuple[list[Any], list[Any], list[Any]]:
    return (
        [variable.value for variable in model.trainable_variables],
        [variable.value for variable in model.non_trainable_variables],
        [variable.value for variable in model.metrics_variables],
    )


def _part_gradients_function(model: Any) -> Any:
    def part_gradients(
        trainable: list[Any],
        non_trainable: list[Any],
        metrics_state: list[Any],
        x: Any,
        y: Any,
        sample_weight: Any,
    ) -> tuple[Any, list[Any], Any]:
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            loss, _ = model.stateless_compute_loss(
                trainable,
                non_trainable,
                metrics_state,
                x=x,
                y=y,
                y_pred=y_pred,
                sample_weight=sample_weight,
                training=True,
            )
        return loss, tape.gradient(loss, trainable), y_pred

    return part_gradients


def _mean_gradient(part_gradients: tuple[Any, ...]) -> Any:
    """One variable's gradient of the whole batch's mean loss, from its equal parts' ones.

    An embedding's gradient comes as slices, one row per token of the batch. Its parts are
    joined in batch order rather than added up as dense tables, because Keras' optimizers
    treat slices differently from a dense gradient: Adam squares each slice before
    repeated rows are summed. Joined, the optimizer gets what Keras' own step gives it.
    """
    parts = len(part_gradients)
    if all(isinstance(grad, tf.IndexedSlices) for grad in part_gradients):
        return tf.IndexedSlices(
            tf.concat([grad.values for grad in part_gradients], axis=0) / parts,
            tf.concat([grad.indices for grad in part_gradients], axis=0),
            part_gradients[0].dense_shape,
        )
    return tf.add_n([tf.convert_to_tensor(grad) for grad in part_gradients]) / parts


def _finish_function(model: Any, parts: int) -> Any:
    def finish(
        results: list[tuple[Any, list[Any], Any]], x: Any, y: Any, sample_weight: Any
    ) -> dict[str, Any]:
        # Equal parts: the mean of the parts' mean losses is the batch's mean loss.
        loss = tf.add_n([part_loss for part_loss, _, _ in results]) / parts
        gradients = [
            _mean_gradient(part_grads)
            for part_grads in zip(*(grads for _, grads, _ in results), strict=True)
        ]
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        y_pred = tf.concat([prediction for _, _, prediction in results], axis=0)
        # The loss and the compiled metrics, updated as Keras' own train step does.
        for metric in model.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=tf.shape(x)[0])
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    return finish

"""The one way this project turns token ids into probabilities.

Evaluation, the champion step, the ensembles' out-of-fold scores, the claims' synthetic
test and ``imdb-rnn predict`` all score through ``predict_probabilities``, so a review gets
the same probability wherever it is scored. TensorFlow is imported inside the function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnn_models.datasets import (
    TokenSpans,
    batched_dataset,
    cut_batches_dataset,
    length_sorted_batches,
    width_step,
)
from rnn_models.registry import reads_any_length
from rnn_models.runtime import jit_compile_setting, model_layers

# Rows per prediction batch: large enough that a batch's fixed cost is small, small enough
# that a seed model's batch takes little memory.
PREDICT_BATCH_SIZE = 1024


def predict_probabilities(
    model: Any, tokens: np.ndarray, batch_size: int = PREDICT_BATCH_SIZE
) -> np.ndarray:
    """``model``'s output for every row: a flat float array, or rows x outputs when it has
    several.

    A two-class model (one sigmoid output) gives the probability of the second class per
    row, shape ``(rows,)``; a K-class model (``Dense(K, softmax)``) gives each class's
    probability, shape ``(rows, K)``, rows summing to one; the recurrent part of a stack
    gives a column per member. No rows give ``(0,)`` or ``(0, K)`` alike.

    The last batch is padded with empty sequences and the padding's outputs dropped, so
    every batch has one shape; the model is XLA-compiled for it when XLA is on (see
    ``jit_compile_setting``). A model that skips padding (``reads_any_length``) is fed the
    rows in order of length instead, each batch cut to the columns that hold its tokens: the
    same outputs for much less work when most reviews are far shorter than ``maxlen``.
    """
    rows = len(tokens)
    if rows == 0:
        width = int(model.outputs[0].shape[-1] or 1)
        return np.zeros(0 if width == 1 else (0, width), dtype=np.float32)
    batch = min(batch_size, rows)
    padded_rows = -(-rows // batch) * batch
    if padded_rows != rows:
        padding = np.zeros((padded_rows - rows, *tokens.shape[1:]), dtype=tokens.dtype)
        tokens = np.concatenate([tokens, padding])
    every_step_output = any(
        getattr(layer, "return_sequences", False) for layer in model_layers(model)
    )
    xla = jit_compile_setting("auto", every_step_output) is True
    if xla and not model.jit_compile:
        model.jit_compile = True  # a loaded model resolves "auto" to off on CPU
    if not reads_any_length(model):
        outputs = model.predict(batched_dataset(tokens, None, batch), verbose=0)
        return _one_column_flat(outputs.reshape(padded_rows, -1)[:rows])
    step = width_step(tokens.shape[1], few_shapes=xla)
    order, batches, cuts = length_sorted_batches(TokenSpans.of(tokens), batch, step)
    dataset = cut_batches_dataset(tokens, batches, cuts, labels=None)
    outputs = model.predict(dataset, verbose=0).reshape(padded_rows, -1)
    probabilities = np.empty_like(outputs)
    probabilities[order] = outputs
    return _one_column_flat(probabilities[:rows])


def _one_column_flat(outputs: np.ndarray) -> np.ndarray:
    """A model of one output gives a flat array; one of several (a stack's recurrent members)
    a column per output."""
    return outputs.reshape(-1) if outputs.shape[1] == 1 else outputs

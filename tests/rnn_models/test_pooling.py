"""Pooling over time: every position read, padding left out."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import build_model
from rnn_models.config import ModelConfig

pytestmark = pytest.mark.slow

VOCAB, EMBED, UNITS, MAXLEN = 50, 8, 4, 12


def _masked_pool_reference(sequence: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Max and mean over the positions that hold a token, one review at a time."""
    rows = []
    for values, ids in zip(sequence, tokens, strict=True):
        kept = values[ids != 0]
        if len(kept) == 0:
            rows.append(np.zeros(2 * values.shape[-1]))
        else:
            rows.append(np.concatenate([kept.max(axis=0), kept.mean(axis=0)]))
    return np.array(rows)


def _to_pooling(model):
    return model.inputs[0], model.get_layer("max_mean_over_time").output


def test_pooling_over_time_leaves_padding_out():
    from rnn_models.pooling import PoolOverTime

    rng = np.random.default_rng(3)
    # Padding positions carry the largest values, so any leak shows in both max and mean.
    sequence = rng.normal(size=(3, 6, 2)).astype(np.float32)
    tokens = np.array([[0, 0, 0, 4, 5, 6], [1, 2, 3, 4, 5, 6], [0] * 6], dtype=np.int32)
    sequence[tokens == 0] = 50.0
    pooled = np.asarray(PoolOverTime("max_mean")(sequence, tokens))
    np.testing.assert_allclose(pooled, _masked_pool_reference(sequence, tokens), rtol=1e-6)
    only_max = np.asarray(PoolOverTime("max")(sequence, tokens))
    np.testing.assert_allclose(only_max, pooled[:, :2], rtol=1e-6)
    only_mean = np.asarray(PoolOverTime("mean")(sequence, tokens))
    np.testing.assert_allclose(only_mean, pooled[:, 2:], rtol=1e-6)


def test_pooling_passes_no_gradient_to_padding():
    import tensorflow as tf

    from rnn_models.pooling import PoolOverTime

    sequence = tf.Variable(np.random.default_rng(4).normal(size=(2, 5, 3)).astype(np.float32))
    tokens = tf.constant([[0, 0, 7, 8, 9], [0, 1, 2, 3, 4]], dtype=tf.int32)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(PoolOverTime("max_mean")(sequence, tokens))
    gradient = tape.gradient(total, sequence).numpy()
    assert np.all(gradient[tokens.numpy() == 0] == 0)
    # Every kept position gets the mean's share, 1 / (tokens in its review), at least.
    assert np.all(gradient[0, 2:] >= 1 / 3 - 1e-6) and np.all(gradient[1, 1:] >= 1 / 4 - 1e-6)


def test_pooled_backward_features_do_not_depend_on_how_much_padding_there_is():
    # The backward direction reads the review before its padding, so with padding left out
    # of the pooling its half of the features (max and mean) cannot depend on the padded
    # length. The forward half can: over left padding it starts from a state the padding
    # moved.
    review = np.array([3, 9, 4, 7], dtype=np.int32)
    short = np.zeros((1, 6), dtype=np.int32)
    short[0, -4:] = review
    long = np.zeros((1, MAXLEN), dtype=np.int32)
    long[0, -4:] = review
    import keras

    config = ModelConfig(embedding_dim=EMBED, units=UNITS, pooling="max_mean")
    pooled_short = keras.Model(*_to_pooling(build_model("bigru", config, VOCAB, 6)))
    pooled_long = keras.Model(*_to_pooling(build_model("bigru", config, VOCAB, MAXLEN)))
    pooled_long.set_weights(pooled_short.get_weights())
    backward = np.r_[UNITS : 2 * UNITS, 3 * UNITS : 4 * UNITS]
    np.testing.assert_allclose(
        np.asarray(pooled_short(short))[:, backward],
        np.asarray(pooled_long(long))[:, backward],
        rtol=1e-5,
    )


@pytest.mark.parametrize("pooling", ["max", "mean", "max_mean"])
def test_pooling_reads_every_position_and_adds_no_parameters_except_wider_output(pooling):
    last = build_model("bigru", ModelConfig(embedding_dim=4, units=3), 30, 9)
    pooled = build_model("bigru", ModelConfig(embedding_dim=4, units=3, pooling=pooling), 30, 9)
    width = 2 * 3 * (2 if pooling == "max_mean" else 1)  # two directions, one or two pools
    dense = pooled.get_layer("positive_probability")
    assert dense.kernel.shape == (width, 1)
    assert pooled.count_params() - last.count_params() == width - 2 * 3
    tokens = np.zeros((2, 9), dtype=np.int32)
    tokens[0, 0] = 5  # a token at the start reaches the output through the pooling
    out = np.asarray(pooled(tokens)).reshape(-1)
    assert out.shape == (2,)
    assert out[0] != out[1]

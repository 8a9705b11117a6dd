"""Adam that logs the gradient norm, and its lazy embedding updates."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models.training import NORM_MAX_KEY, NORM_MEAN_KEY

BETA_1, BETA_2, EPSILON, LEARNING_RATE = 0.9, 0.999, 1e-7, 0.1


def _adam_reference(weights, moments, gradient, step):
    """One Adam step, by the formulas of Kingma and Ba as Keras writes them."""
    m, v = moments
    m = BETA_1 * m + (1 - BETA_1) * gradient
    v = BETA_2 * v + (1 - BETA_2) * gradient**2
    alpha = LEARNING_RATE * np.sqrt(1 - BETA_2**step) / (1 - BETA_1**step)
    return weights - alpha * m / (np.sqrt(v) + EPSILON), (m, v)


@pytest.mark.slow
def test_gradient_norm_is_measured_before_clipping_and_clipnorm_is_applied():
    import keras

    from rnn_models.optimizers import GradientNormAdam

    def one_step(clipnorm):
        variable = keras.Variable([0.0, 0.0])
        optimizer = GradientNormAdam(learning_rate=0.1, clipnorm=clipnorm)
        optimizer.apply([keras.ops.convert_to_tensor([3.0, 4.0])], [variable])
        return np.abs(variable.numpy()).max(), optimizer.gradient_norm_stats()

    moved, stats = one_step(None)
    assert stats == {NORM_MEAN_KEY: pytest.approx(5.0), NORM_MAX_KEY: pytest.approx(5.0)}
    assert moved == pytest.approx(0.1, rel=1e-3)  # Adam's first step is the learning rate
    # Clipped to norm 1e-10, the gradient drowns in Adam's epsilon (1e-7): a tiny step.
    moved, stats = one_step(1e-10)
    assert stats[NORM_MEAN_KEY] == pytest.approx(5.0)  # the norm is the one before clipping
    assert moved < 1e-3


def test_sparse_gradient_norm_sums_repeated_rows_like_the_dense_one():
    import tensorflow as tf

    from rnn_models.optimizers import global_gradient_norm

    # Rows 2, 0, 2 of a 5-row table: row 2 gets [1, 2] + [3, 4] = [4, 6], row 0 gets [0, 3].
    rows = tf.IndexedSlices(
        tf.constant([[1.0, 2.0], [0.0, 3.0], [3.0, 4.0]]),
        tf.constant([2, 0, 2]),
        tf.constant([5, 2]),
    )
    dense = tf.constant([1.0, 2.0])
    expected = np.sqrt(4**2 + 6**2 + 3**2 + 1**2 + 2**2)
    for sparse in (False, True):
        norm = float(global_gradient_norm([rows, dense, None], sparse=sparse))
        assert norm == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_lazy_updates_move_only_the_rows_in_the_batch_and_the_rest_is_adam():
    import keras
    import tensorflow as tf

    from rnn_models.optimizers import GradientNormAdam

    generator = np.random.default_rng(0)
    table_start = generator.normal(size=(6, 3)).astype(np.float32)
    bias_start = generator.normal(size=(2,)).astype(np.float32)
    table, bias = keras.Variable(table_start), keras.Variable(bias_start)
    optimizer = GradientNormAdam(learning_rate=LEARNING_RATE, epsilon=EPSILON, lazy_embeddings=True)
    # Step 1 uses rows 1, 4 and 1 again; step 2 rows 4 and 0. Rows 2, 3 and 5 never occur.
    batches = [([1, 4, 1], generator.normal(size=(3, 3))), ([4, 0], generator.normal(size=(2, 3)))]
    expected_table = table_start.astype(np.float64)
    table_moments = (np.zeros((6, 3)), np.zeros((6, 3)))
    expected_bias, bias_moments = bias_start.astype(np.float64), (np.zeros(2), np.zeros(2))
    norms = []
    for step, (rows, values) in enumerate(batches, start=1):
        bias_gradient = generator.normal(size=(2,))
        optimizer.apply(
            [
                tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(rows), (6, 3)),
                tf.constant(bias_gradient, tf.float32),
            ],
            [table, bias],
        )
        dense = np.zeros((6, 3))
        np.add.at(dense, rows, values)
        norms.append(np.sqrt((dense**2).sum() + (bias_gradient**2).sum()))
        used = sorted(set(rows))
        moved, (m, v) = _adam_reference(
            expected_table[used],
            (table_moments[0][used], table_moments[1][used]),
            dense[used],
            step,
        )
        expected_table[used] = moved
        table_moments[0][used], table_moments[1][used] = m, v
        expected_bias, bias_moments = _adam_reference(
            expected_bias, bias_moments, bias_gradient, step
        )

    np.testing.assert_allclose(table.numpy(), expected_table, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(table.numpy()[[2, 3, 5]], table_start[[2, 3, 5]])
    np.testing.assert_allclose(bias.numpy(), expected_bias, rtol=1e-5, atol=1e-6)
    # The logged norm is the dense gradient's, repeated rows summed.
    stats = optimizer.gradient_norm_stats()
    assert stats["gradient_norm_max"] == pytest.approx(max(norms), rel=1e-5)
    assert stats["gradient_norm_mean"] == pytest.approx(np.mean(norms), rel=1e-5)


@pytest.mark.slow
def test_plain_adam_moves_rows_that_were_used_before_even_when_absent():
    import keras
    import tensorflow as tf

    from rnn_models.optimizers import GradientNormAdam

    table = keras.Variable(np.zeros((3, 2), np.float32))
    optimizer = GradientNormAdam(learning_rate=LEARNING_RATE)
    for rows in ([0], [1]):
        gradient = tf.IndexedSlices(tf.ones((1, 2)), tf.constant(rows), (3, 2))
        optimizer.apply([gradient], [table])
    # Row 0's momentum keeps moving it in step 2, which the lazy update would not do.
    assert table.numpy()[0, 0] < -LEARNING_RATE
    assert table.numpy()[2].tolist() == [0.0, 0.0]


@pytest.mark.slow
def test_lazy_updates_refuse_amsgrad_which_they_do_not_follow():
    from rnn_models.optimizers import GradientNormAdam

    with pytest.raises(ValueError, match="without amsgrad"):
        GradientNormAdam(lazy_embeddings=True, amsgrad=True)

"""Lazy embedding updates: Adam for the rows a batch uses, nothing for the others."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

BETA_1, BETA_2, EPSILON, LEARNING_RATE = 0.9, 0.999, 1e-7, 0.1


def _adam_reference(weights, moments, gradient, step):
    """One Adam step, by the formulas of Kingma and Ba as Keras writes them."""
    m, v = moments
    m = BETA_1 * m + (1 - BETA_1) * gradient
    v = BETA_2 * v + (1 - BETA_2) * gradient**2
    alpha = LEARNING_RATE * np.sqrt(1 - BETA_2**step) / (1 - BETA_1**step)
    return weights - alpha * m / (np.sqrt(v) + EPSILON), (m, v)


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


def test_training_with_lazy_updates_runs_without_xla_and_saves_the_choice(tmp_path):
    from imdb_rnn.aclimdb import RawDataset
    from imdb_rnn.config import PreprocessConfig, TrainingConfig
    from rnn_models.config import ModelConfig
    from rnn_models.optimizers import load_model
    from tasks.prepare import prepare_dataset
    from tests.conftest import make_aclimdb, train_model

    dataset = make_aclimdb(tmp_path / "source", per_label=16)
    raw = RawDataset(dataset.root, "d" * 64, "generated")
    prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=20), tmp_path / "p")
    model_config = ModelConfig(embedding_dim=4, units=4, bigram_buckets=50)
    lazy = TrainingConfig(epochs=2, batch_size=8, lazy_embeddings=True)
    trained = train_model("gru", prepared, model_config, lazy, tmp_path / "m")
    assert len(trained.history["loss"]) == 2 and np.isfinite(trained.history["loss"]).all()
    model = load_model(trained.model_path)
    assert model.optimizer.lazy_embeddings is True
    # A last-state GRU trains with XLA on this CPU, except with lazy updates (tf.unique).
    assert model.optimizer.sparse_norm is True
    dense = TrainingConfig(epochs=2, batch_size=8)
    other = train_model("gru", prepared, model_config, dense, tmp_path / "m")
    assert other.fingerprint != trained.fingerprint
    assert load_model(other.model_path).optimizer.sparse_norm is False


def test_lazy_updates_refuse_amsgrad_which_they_do_not_follow():
    from rnn_models.optimizers import GradientNormAdam

    with pytest.raises(ValueError, match="without amsgrad"):
        GradientNormAdam(lazy_embeddings=True, amsgrad=True)

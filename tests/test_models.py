"""The architecture registry: names, shapes and exact parameter counts."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import ARCHITECTURE_NAMES, build_model
from rnn_models.config import ModelConfig

pytestmark = pytest.mark.slow

VOCAB, EMBED, UNITS, MAXLEN = 50, 8, 4, 12
EMBEDDING_PARAMS = VOCAB * EMBED  # 400
# Per-layer counts from the cell equations (Keras 3 GRU uses reset_after: two bias vectors).
EXPECTED_PARAMS = {
    "simple_rnn": EMBEDDING_PARAMS + UNITS * (EMBED + UNITS + 1) + (UNITS + 1),  # 457
    "lstm": EMBEDDING_PARAMS + 4 * UNITS * (EMBED + UNITS + 1) + (UNITS + 1),  # 613
    "gru": EMBEDDING_PARAMS + 3 * UNITS * (EMBED + UNITS + 2) + (UNITS + 1),  # 573
    "bilstm": EMBEDDING_PARAMS + 2 * 4 * UNITS * (EMBED + UNITS + 1) + (2 * UNITS + 1),  # 825
    "bigru": EMBEDDING_PARAMS + 2 * 3 * UNITS * (EMBED + UNITS + 2) + (2 * UNITS + 1),  # 745
}


def test_registry_lists_the_seed_architectures_and_the_bidirectional_ones():
    assert set(ARCHITECTURE_NAMES) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_build_model_has_expected_parameters_and_output(name):
    model = build_model(name, ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, MAXLEN)
    assert model.count_params() == EXPECTED_PARAMS[name]
    batch = np.zeros((2, MAXLEN), dtype=np.int32)
    batch[1, -3:] = [5, 6, 7]
    out = np.asarray(model(batch))
    assert out.shape == (2, 1)
    assert np.all((out > 0) & (out < 1))


@pytest.mark.parametrize("name", ["simple_rnn", "lstm", "gru"])
def test_a_seed_model_starts_from_the_weights_of_the_notes_script_at_the_same_seed(name):
    """The benchmark pairs each pipeline fit with the plain script's at the same seed."""
    import keras

    from rnn_models.runtime import configure_tensorflow, seeded_construction

    keras.utils.set_random_seed(44)  # as bench/plain_keras.py does, before its Sequential
    layer = {
        "simple_rnn": keras.layers.SimpleRNN,
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
    }[name]
    notes = keras.Sequential(
        [
            keras.Input(shape=(MAXLEN,), dtype="int32"),
            keras.layers.Embedding(VOCAB, EMBED),
            layer(UNITS),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    configure_tensorflow(44)
    with seeded_construction(44):
        ours = build_model(name, ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, MAXLEN)
    for mine, theirs in zip(ours.get_weights(), notes.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_dropout_adds_a_layer_but_no_parameters():
    plain = build_model("lstm", ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, MAXLEN)
    dropped = build_model(
        "lstm", ModelConfig(embedding_dim=EMBED, units=UNITS, dropout=0.5), VOCAB, MAXLEN
    )
    assert dropped.count_params() == plain.count_params()
    assert "dropout" in [layer.name for layer in dropped.layers]


def test_unknown_architecture_names_the_choices():
    with pytest.raises(KeyError, match=r"transformer.*simple_rnn"):
        build_model("transformer", ModelConfig(), VOCAB, MAXLEN)


# ------------------------------------------------------------------------- hashed bigrams

BUCKETS = 101


def _bigram_config(**overrides) -> ModelConfig:
    return ModelConfig(embedding_dim=EMBED, units=UNITS, bigram_buckets=BUCKETS, **overrides)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_bigram_buckets_add_one_bigram_table_and_keep_the_output_shape(name):
    model = build_model(name, _bigram_config(), VOCAB, MAXLEN)
    assert model.count_params() == EXPECTED_PARAMS[name] + BUCKETS * EMBED
    batch = np.zeros((2, MAXLEN), dtype=np.int32)
    batch[1, -3:] = [5, 6, 7]
    out = np.asarray(model(batch))
    assert out.shape == (2, 1)
    assert np.all((out > 0) & (out < 1))


def test_bigram_ids_depend_on_word_order_and_are_zero_for_padding_pairs():
    from rnn_models.bigrams import BigramIds, bigram_ids_numpy

    tokens = np.array([[0, 0, 3, 4, 3], [0, 0, 4, 3, 4], [7, 0, 0, 9, 2]], dtype=np.int32)
    ids = np.asarray(BigramIds(VOCAB, BUCKETS)(tokens))

    # Worked by hand: pair id (previous * vocab + token), scattered modulo the prime
    # 2**31 - 1, folded into buckets 1..100; 0 wherever either token is padding.
    prime, multiplier = 2_147_483_647, 1_597_334_677

    def by_hand(previous: int, token: int) -> int:
        return 1 + ((previous * VOCAB + token) * multiplier % prime) % (BUCKETS - 1)

    three_four, four_three = by_hand(3, 4), by_hand(4, 3)
    assert three_four != four_three
    np.testing.assert_array_equal(
        ids,
        [
            [0, 0, 0, three_four, four_three],
            [0, 0, 0, four_three, three_four],
            [0, 0, 0, 0, by_hand(9, 2)],
        ],
    )
    np.testing.assert_array_equal(ids, bigram_ids_numpy(tokens, VOCAB, BUCKETS))
    assert ids.min() >= 0 and ids.max() < BUCKETS


def test_bigram_ids_stay_in_range_for_a_large_vocabulary():
    from rnn_models.bigrams import BigramIds, bigram_ids_numpy

    vocab, buckets = 100_000, 500_000
    tokens = np.random.default_rng(0).integers(0, vocab, size=(8, 50)).astype(np.int32)
    ids = np.asarray(BigramIds(vocab, buckets)(tokens))
    np.testing.assert_array_equal(ids, bigram_ids_numpy(tokens, vocab, buckets))
    assert ids.min() >= 0 and ids.max() < buckets


def test_a_bigram_model_saves_and_loads_with_identical_predictions(tmp_path):
    import keras

    from rnn_models.optimizers import load_model

    model = build_model("bigru", _bigram_config(pooling="max_mean", dropout=0.2), VOCAB, MAXLEN)
    tokens = np.random.default_rng(1).integers(0, VOCAB, size=(6, MAXLEN)).astype(np.int32)
    tokens[0, :5] = 0
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(tokens, np.array([0, 1, 0, 1, 0, 1], dtype=np.float32), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)

    for loaded in (load_model(path), keras.saving.load_model(path)):
        np.testing.assert_array_equal(
            loaded.predict(tokens, verbose=0), model.predict(tokens, verbose=0)
        )
        assert loaded.get_layer("embedding").buckets == BUCKETS


def test_gradient_by_position_splits_a_bigram_model_at_its_embedding():
    from rnn_models.probes import gradient_by_position

    model = build_model("gru", _bigram_config(pooling="max"), VOCAB, MAXLEN)
    tokens = np.random.default_rng(2).integers(1, VOCAB, size=(4, MAXLEN)).astype(np.int32)
    curve = gradient_by_position(model, tokens, np.array([0, 1, 0, 1]))
    assert curve.shape == (MAXLEN,)
    assert np.all(np.isfinite(curve)) and curve.max() > 0


def test_bigram_buckets_of_one_are_refused():
    with pytest.raises(ValueError, match="bigram_buckets"):
        ModelConfig(bigram_buckets=1)


# ------------------------------------------------------------------ pooling over time


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


def _to_pooling(model):
    return model.inputs[0], model.get_layer("max_mean_over_time").output

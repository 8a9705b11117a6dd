"""Hashed word-bigram embeddings: ids, ranges, and a model that saves and loads."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import build_model
from rnn_models.config import ModelConfig
from tests.samples import EMBED, EXPECTED_PARAMS, SMALL_MAXLEN, UNITS, VOCAB

pytestmark = pytest.mark.slow


BUCKETS = 101


def _bigram_config(**overrides) -> ModelConfig:
    return ModelConfig(embedding_dim=EMBED, units=UNITS, bigram_buckets=BUCKETS, **overrides)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_bigram_buckets_add_one_bigram_table_and_keep_the_output_shape(name):
    model = build_model(name, _bigram_config(), VOCAB, SMALL_MAXLEN)
    assert model.count_params() == EXPECTED_PARAMS[name] + BUCKETS * EMBED
    batch = np.zeros((2, SMALL_MAXLEN), dtype=np.int32)
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

    model = build_model(
        "bigru", _bigram_config(pooling="max_mean", dropout=0.2), VOCAB, SMALL_MAXLEN
    )
    tokens = np.random.default_rng(1).integers(0, VOCAB, size=(6, SMALL_MAXLEN)).astype(np.int32)
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


def test_bigram_buckets_of_one_are_refused():
    with pytest.raises(ValueError, match="bigram_buckets"):
        ModelConfig(bigram_buckets=1)

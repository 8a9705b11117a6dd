"""The claims' probes: gradient by position and the synthetic long-range task."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_rnn.claim_rules import (
    effective_span,
)
from rnn_models import build_model
from rnn_models.config import ModelConfig
from rnn_models.probes import FIRST_DISTRACTOR, MARKER_NEGATIVE, MARKER_POSITIVE, synthetic_task

VOCAB, EMBED, UNITS, MAXLEN = 50, 8, 4, 12


BUCKETS = 101


def _bigram_config(**overrides) -> ModelConfig:
    return ModelConfig(embedding_dim=EMBED, units=UNITS, bigram_buckets=BUCKETS, **overrides)


@pytest.mark.parametrize("distance", [1, 5, 19])
def test_synthetic_label_is_the_marker_at_distance_d_and_classes_balance(distance):
    tokens, labels = synthetic_task(200, 20, distance, vocab_size=12, seed=3)
    assert tokens.shape == (200, 20) and tokens.dtype == np.int32 and labels.shape == (200,)
    assert labels.sum() == 100  # exactly balanced
    marker = tokens[:, 20 - 1 - distance]
    assert (marker == np.where(labels == 1, MARKER_POSITIVE, MARKER_NEGATIVE)).all()
    others = np.delete(tokens, 20 - 1 - distance, axis=1)
    assert others.min() >= FIRST_DISTRACTOR and others.max() < 12  # never a marker, nor 0/1
    assert len(np.unique(others)) == 12 - FIRST_DISTRACTOR  # every distractor is used


def test_synthetic_training_set_places_the_marker_up_to_d_steps_back():
    tokens, labels = synthetic_task(301, 30, 10, vocab_size=50, seed=0, exact=False)
    assert labels.sum() == 150  # odd n: one more 0
    is_marker = (tokens == MARKER_POSITIVE) | (tokens == MARKER_NEGATIVE)
    assert (is_marker.sum(axis=1) == 1).all()
    position = is_marker.argmax(axis=1)
    distance = 30 - 1 - position
    assert distance.min() >= 1 and distance.max() <= 10 and len(np.unique(distance)) == 10
    assert (tokens[np.arange(301), position] == np.where(labels == 1, 3, 2)).all()


def test_synthetic_task_refuses_a_distance_that_does_not_fit():
    with pytest.raises(ValueError, match=r"distance 20 must be in 1\.\.19"):
        synthetic_task(4, 20, 20, vocab_size=12, seed=0)


def test_same_seed_gives_the_same_synthetic_data():
    first, second = synthetic_task(16, 12, 4, 20, 7), synthetic_task(16, 12, 4, 20, 7)
    assert (first[0] == second[0]).all() and (first[1] == second[1]).all()


@pytest.mark.slow
def test_a_model_that_reads_only_the_last_token_has_zero_gradient_elsewhere():
    import keras

    from rnn_models.probes import gradient_by_position

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(6,), dtype="int32"),
            keras.layers.Embedding(10, 4, name="embedding"),
            keras.layers.Lambda(lambda x: x[:, -1, :]),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    tokens = np.random.default_rng(0).integers(0, 10, size=(70, 6)).astype("int32")
    labels = np.arange(70) % 2
    curve = gradient_by_position(model, tokens, labels, batch_size=32)  # 3 batches, one short
    assert curve.shape == (6,)
    assert (curve[:-1] == 0).all() and curve[-1] > 0
    assert effective_span(curve) == 1


@pytest.mark.slow
def test_gradient_by_position_splits_a_bigram_model_at_its_embedding():
    from rnn_models.probes import gradient_by_position

    model = build_model("gru", _bigram_config(pooling="max"), VOCAB, MAXLEN)
    tokens = np.random.default_rng(2).integers(1, VOCAB, size=(4, MAXLEN)).astype(np.int32)
    curve = gradient_by_position(model, tokens, np.array([0, 1, 0, 1]))
    assert curve.shape == (MAXLEN,)
    assert np.all(np.isfinite(curve)) and curve.max() > 0


@pytest.mark.slow
def test_one_compiled_model_for_every_distance_measures_what_a_model_each_would():
    from rnn_models.probes import SyntheticBudget, synthetic_accuracies

    budget = SyntheticBudget(
        length=13,
        vocab_size=12,
        train_rows=128,
        test_rows=64,
        epochs=2,
        learning_rate=0.01,
        batch_size=32,
    )
    config = ModelConfig(embedding_dim=8, units=8)

    together = dict(synthetic_accuracies("gru", config, budget, (3, 12), seed=5))
    apart = {
        distance: result
        for d in (3, 12)
        for distance, result in synthetic_accuracies("gru", config, budget, (d,), seed=5)
    }

    assert set(together) == {3, 12}
    for distance in (3, 12):
        assert together[distance]["accuracy"] == apart[distance]["accuracy"]
        assert together[distance]["epochs"] == apart[distance]["epochs"]


@pytest.mark.slow
def test_the_synthetic_training_stops_when_asked():
    from rnn_models.probes import SyntheticBudget, synthetic_accuracies

    budget = SyntheticBudget(13, 12, 128, 64, 2, 0.01, 32)
    batches = []

    def stop_after_three():
        batches.append(1)
        if len(batches) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(
            synthetic_accuracies(
                "simple_rnn",
                ModelConfig(embedding_dim=8, units=8),
                budget,
                (3,),
                5,
                check_stop=stop_after_three,
            )
        )
    assert len(batches) == 3

"""The architecture registry: names, shapes, exact parameter counts, padding."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import ARCHITECTURE_NAMES, build_model, reads_any_length
from rnn_models.config import ModelConfig
from tests.samples import (
    EMBED,
    EXPECTED_PARAMS,
    REVIEW_MAXLEN,
    SMALL_MAXLEN,
    UNITS,
    VOCAB,
    padded,
    random_reviews,
)

pytestmark = pytest.mark.slow


def _config(**overrides) -> ModelConfig:
    settings = {"embedding_dim": 6, "units": 5, "skip_padding": True, **overrides}
    return ModelConfig(**settings)


def test_registry_lists_the_seed_architectures_and_the_bidirectional_ones():
    assert set(ARCHITECTURE_NAMES) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_build_model_has_expected_parameters_and_output(name):
    model = build_model(name, ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, SMALL_MAXLEN)
    assert model.count_params() == EXPECTED_PARAMS[name]
    batch = np.zeros((2, SMALL_MAXLEN), dtype=np.int32)
    batch[1, -3:] = [5, 6, 7]
    out = np.asarray(model(batch))
    assert out.shape == (2, 1)
    assert np.all((out > 0) & (out < 1))


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_three_classes_end_in_a_softmax_of_three(name):
    model = build_model(
        name, ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, SMALL_MAXLEN, classes=3
    )
    # The recurrent block gives UNITS features (twice that when bidirectional): the dense
    # layer has three weights and a bias per class instead of one of each.
    features = 2 * UNITS if name.startswith("bi") else UNITS
    assert model.count_params() == EXPECTED_PARAMS[name] + 2 * (features + 1)
    output = model.layers[-1]
    assert output.name == "class_probabilities"
    assert output.activation.__name__ == "softmax"
    batch = np.zeros((2, SMALL_MAXLEN), dtype=np.int32)
    batch[1, -3:] = [5, 6, 7]
    out = np.asarray(model(batch))
    assert out.shape == (2, 3)
    assert np.all(out > 0)
    np.testing.assert_allclose(out.sum(axis=1), [1.0, 1.0], rtol=1e-6)


def test_two_classes_build_the_binary_model_weight_for_weight():
    from rnn_models.runtime import seeded_construction

    config = ModelConfig(embedding_dim=EMBED, units=UNITS)
    with seeded_construction(9):
        default = build_model("gru", config, VOCAB, SMALL_MAXLEN)
    with seeded_construction(9):
        two = build_model("gru", config, VOCAB, SMALL_MAXLEN, classes=2)
    assert [layer.name for layer in two.layers] == [layer.name for layer in default.layers]
    assert two.layers[-1].name == "positive_probability"
    assert two.outputs[0].shape[-1] == 1
    for mine, theirs in zip(two.get_weights(), default.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_fewer_than_two_classes_are_refused():
    with pytest.raises(ValueError, match="at least two classes, not 1"):
        build_model("gru", ModelConfig(), VOCAB, SMALL_MAXLEN, classes=1)


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
            keras.Input(shape=(SMALL_MAXLEN,), dtype="int32"),
            keras.layers.Embedding(VOCAB, EMBED),
            layer(UNITS),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    configure_tensorflow(44)
    with seeded_construction(44):
        ours = build_model(name, ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, SMALL_MAXLEN)
    for mine, theirs in zip(ours.get_weights(), notes.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_dropout_adds_a_layer_but_no_parameters():
    plain = build_model("lstm", ModelConfig(embedding_dim=EMBED, units=UNITS), VOCAB, SMALL_MAXLEN)
    dropped = build_model(
        "lstm", ModelConfig(embedding_dim=EMBED, units=UNITS, dropout=0.5), VOCAB, SMALL_MAXLEN
    )
    assert dropped.count_params() == plain.count_params()
    assert "dropout" in [layer.name for layer in dropped.layers]


def test_unknown_architecture_names_the_choices():
    with pytest.raises(KeyError, match=r"transformer.*simple_rnn"):
        build_model("transformer", ModelConfig(), VOCAB, SMALL_MAXLEN)


def test_embedding_dropout_is_a_layer_without_parameters():
    plain = build_model("lstm", ModelConfig(embedding_dim=4, units=3), 30, 9)
    dropped = build_model(
        "lstm", ModelConfig(embedding_dim=4, units=3, embedding_dropout=0.5), 30, 9
    )
    assert "embedding_dropout" in [layer.name for layer in dropped.layers]
    assert dropped.count_params() == plain.count_params()


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("lstm", {}),
        ("bigru", {"pooling": "max_mean", "bigram_buckets": 97}),
        ("simple_rnn", {"pooling": "mean"}),
    ],
)
def test_a_review_scores_the_same_alone_or_in_any_padding(name, overrides):
    model = build_model(name, _config(**overrides), 50, REVIEW_MAXLEN)
    assert reads_any_length(model)
    reviews = random_reviews(6)
    left = model.predict(padded(reviews, "pre"), verbose=0).reshape(-1)
    right = model.predict(padded(reviews, "post"), verbose=0).reshape(-1)
    alone = [model.predict(review[None, :].astype(np.int32), verbose=0)[0, 0] for review in reviews]
    np.testing.assert_allclose(left, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(right, alone, rtol=1e-5, atol=1e-6)


def test_without_skip_padding_the_padding_changes_the_output():
    model = build_model("lstm", _config(skip_padding=False), 50, REVIEW_MAXLEN)
    assert not reads_any_length(model)
    reviews = random_reviews(6)
    left = model.predict(padded(reviews, "pre"), verbose=0).reshape(-1)
    right = model.predict(padded(reviews, "post"), verbose=0).reshape(-1)
    assert np.abs(left - right).max() > 1e-4

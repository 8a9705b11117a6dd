"""The train step over parts of a batch computes what Keras' own step computes."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models.config import ModelConfig

SMALL = ModelConfig(embedding_dim=4, units=4)


VOCAB, LENGTH, BATCH = 30, 12, 8


def _model(architecture: str, config: ModelConfig = SMALL, parts: int = 1):
    import keras

    from rnn_models import build_model
    from rnn_models.batch_parts import train_in_parts
    from rnn_models.runtime import seeded_construction

    with seeded_construction(5):
        model = build_model(architecture, config, VOCAB, LENGTH)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=True,
    )
    if parts > 1:
        train_in_parts(model, parts)
    return model


def _data(rows: int, seed: int):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, VOCAB, (rows, LENGTH)).astype(np.int32)
    labels = (tokens[:, -1] % 2).astype(np.float32)  # learnable from the last token
    return tokens, labels


@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_two_parts_train_the_weights_and_report_the_metrics_of_whole_batches(architecture):
    import tensorflow as tf

    tokens, labels = _data(4 * BATCH, seed=1)
    val_tokens, val_labels = _data(3 * BATCH, seed=2)

    def fit(model):
        return model.fit(
            tf.data.Dataset.from_tensor_slices((tokens, labels)).batch(BATCH),
            validation_data=tf.data.Dataset.from_tensor_slices((val_tokens, val_labels)).batch(12),
            epochs=3,
            shuffle=False,
            verbose=0,
        ).history

    whole, parts = _model(architecture), _model(architecture, parts=2)
    whole_history, parts_history = fit(whole), fit(parts)
    assert set(parts_history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for name, values in whole_history.items():
        np.testing.assert_allclose(parts_history[name], values, rtol=1e-4, err_msg=name)
    # Twelve Adam steps at a high learning rate: the same weights up to summation order.
    for a, b in zip(whole.get_weights(), parts.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    assert whole_history["loss"][-1] < whole_history["loss"][0]  # it did learn something


def test_a_model_trained_in_parts_saves_and_loads_as_the_plain_model(tmp_path):
    import keras

    model = _model("lstm", parts=2)
    tokens, labels = _data(2 * BATCH, seed=3)
    model.fit(tokens, labels, batch_size=BATCH, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model) and "train_step" not in vars(loaded)
    np.testing.assert_allclose(
        loaded.predict(tokens, verbose=0), model.predict(tokens, verbose=0), rtol=1e-6
    )


@pytest.mark.parametrize(
    ("architecture", "config", "batch", "parts", "expected"),
    [
        ("gru", SMALL, 64, 2, True),
        ("gru", SMALL, 64, 4, True),
        ("lstm", SMALL, 64, 2, True),
        ("bilstm", SMALL, 64, 2, True),  # gated layers inside the wrapper
        ("simple_rnn", SMALL, 64, 2, False),  # too little work per part
        ("gru", SMALL, 64, 1, False),  # nothing to split
        ("gru", SMALL, 63, 2, False),  # the parts would differ in size
        ("gru", SMALL.model_copy(update={"dropout": 0.5}), 64, 2, False),  # a mask per step
        ("gru", SMALL.model_copy(update={"embedding_dropout": 0.2}), 64, 2, False),
    ],
)
def test_only_gated_models_that_change_nothing_but_weights_split_batches_they_divide(
    architecture, config, batch, parts, expected
):
    from rnn_models.batch_parts import can_split

    assert can_split(_model(architecture, config), batch, parts) is expected


def test_three_classes_train_in_two_parts_as_in_whole_batches():
    import keras
    import tensorflow as tf

    from rnn_models import build_model
    from rnn_models.batch_parts import train_in_parts
    from rnn_models.runtime import seeded_construction
    from rnn_models.training import compile_for_training

    def model(parts: int):
        with seeded_construction(5):
            built = build_model("gru", SMALL, VOCAB, LENGTH, classes=3)
        compile_for_training(built, keras.optimizers.Adam(learning_rate=0.01), True, classes=3)
        if parts > 1:
            train_in_parts(built, parts)
        return built

    rng = np.random.default_rng(4)
    tokens = rng.integers(1, VOCAB, (4 * BATCH, LENGTH)).astype(np.int32)
    labels = (tokens[:, -1] % 3).astype(np.float32)  # as the input pipelines give them

    def fit(built):
        data = tf.data.Dataset.from_tensor_slices((tokens, labels)).batch(BATCH)
        return built.fit(data, epochs=3, shuffle=False, verbose=0).history

    whole, parts = model(1), model(2)
    whole_history, parts_history = fit(whole), fit(parts)
    assert set(parts_history) == {"loss", "accuracy"}
    for name, values in whole_history.items():
        np.testing.assert_allclose(parts_history[name], values, rtol=1e-4, err_msg=name)
    for a, b in zip(whole.get_weights(), parts.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    assert whole_history["loss"][-1] < whole_history["loss"][0]

"""How a model is compiled and fed for training."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rnn_models import build_model
from rnn_models.config import ModelConfig
from rnn_models.inference import predict_probabilities

pytestmark = pytest.mark.slow


def _autotuned(dataset) -> bool:
    return dataset.options().autotune.enabled is not False


@pytest.mark.parametrize("skip_padding", [False, True])
def test_fit_and_predict_get_untuned_datasets_never_arrays(monkeypatch, skip_padding):
    from rnn_models.training import fit_inputs

    generator = np.random.default_rng(3)
    tokens = generator.integers(1, 50, size=(40, 6)).astype(np.int32)
    labels = (generator.random(40) > 0.5).astype(np.float32)
    inputs = fit_inputs(
        (tokens[:30], labels[:30]),
        (tokens[30:], labels[30:]),
        batch_size=8,
        seed=1,
        first_epoch=0,
        epochs=2,
        skip_padding=skip_padding,
        few_shapes=False,
    )
    assert not _autotuned(inputs["x"])
    assert not _autotuned(inputs["validation_data"])
    assert "validation_batch_size" not in inputs  # batch size lives in the dataset
    validation_labels = np.concatenate([y.numpy() for _, y in inputs["validation_data"]])
    np.testing.assert_array_equal(np.sort(validation_labels), np.sort(labels[30:]))

    model = build_model("gru", ModelConfig(units=4, skip_padding=skip_padding), 50, 6)
    given = []
    keras_predict = model.predict

    def spy(x, **kwargs):
        given.append(x)
        return keras_predict(x, **kwargs)

    monkeypatch.setattr(model, "predict", spy)
    assert predict_probabilities(model, tokens, batch_size=16).shape == (40,)
    assert len(given) == 1
    assert not isinstance(given[0], np.ndarray)
    assert not _autotuned(given[0])


@pytest.fixture
def no_gpu(monkeypatch):
    """TensorFlow sees no GPU, whatever machine the tests run on."""
    import tensorflow as tf

    real = tf.config.list_physical_devices
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: [] if kind == "GPU" else real(kind),
    )


def _settings(xla="auto", **overrides):
    from rnn_models.training import train_step_settings

    values = {
        "pools_over_time": False,
        "skip_padding": False,
        "mirrored": False,
        "lazy_embeddings": False,
        "fit_rows": 20_000,
        "batch_size": 64,
        **overrides,
    }
    return train_step_settings(xla, **values)


@pytest.mark.parametrize(
    ("fit_rows", "batch_size", "steps_per_call"),
    [
        (20_000, 64, 26),  # 312 steps = 2^3 * 3 * 13: 26 is its largest divisor up to 32
        (640, 64, 10),  # 10 steps: all of them in one call
        (2_368, 64, 1),  # 37 steps, a prime above 32
        (2_048, 64, 32),  # 32 steps
        (100, 64, 1),  # fewer rows than two batches: one step
    ],
)
def test_a_last_state_model_without_gpu_trains_xla_compiled_in_one_shape(
    no_gpu, fit_rows, batch_size, steps_per_call
):
    from rnn_models.training import StepSettings

    settings = _settings(fit_rows=fit_rows, batch_size=batch_size)
    assert settings == StepSettings(
        jit_compile=True, one_xla_shape=True, steps_per_call=steps_per_call
    )


def test_a_model_that_pools_over_time_trains_without_xla_one_step_per_call(no_gpu):
    from rnn_models.training import StepSettings

    assert _settings(pools_over_time=True) == StepSettings(False, False, 1)


def test_xla_forced_on_or_off_decides_for_the_model(no_gpu):
    from rnn_models.training import StepSettings

    assert _settings("on", pools_over_time=True) == StepSettings(True, True, 26)
    assert _settings("off") == StepSettings(False, False, 1)


@pytest.mark.parametrize("xla", ["auto", "on"])
@pytest.mark.parametrize("switch", ["mirrored", "lazy_embeddings"])
def test_mirrored_training_and_lazy_embeddings_train_without_xla(no_gpu, xla, switch):
    from rnn_models.training import StepSettings

    assert _settings(xla, **{switch: True}) == StepSettings(False, False, 1)


def test_skipping_padding_with_xla_gives_many_shapes_and_one_step_per_call(no_gpu):
    from rnn_models.training import StepSettings

    assert _settings(skip_padding=True) == StepSettings(True, False, 1)
    assert _settings("on", skip_padding=True, pools_over_time=True) == StepSettings(True, False, 1)


def _tiny_model(**config):
    from rnn_models.runtime import seeded_construction

    with seeded_construction(0):
        return build_model("gru", ModelConfig(embedding_dim=4, units=3, **config), 20, 5)


def test_compiling_for_training_uses_binary_cross_entropy_and_accuracy_and_builds_the_optimizer():
    import keras

    from rnn_models.datasets import batched_dataset
    from rnn_models.training import compile_for_training

    model = _tiny_model()
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    assert not optimizer.built
    compile_for_training(model, optimizer, jit_compile=False, steps_per_call=4)

    assert model.optimizer is optimizer
    assert model.optimizer.built  # its variables exist before fit traces the train step
    assert int(model.optimizer.iterations.numpy()) == 0  # built, not stepped
    assert model.steps_per_execution == 4
    assert model.jit_compile is False
    assert model.loss == "binary_crossentropy"
    assert set(model.get_metrics_result()) == {"loss", "accuracy"}

    tokens = np.random.default_rng(1).integers(0, 20, size=(12, 5)).astype(np.int32)
    labels = np.array([0, 1] * 6, dtype=np.float32)
    probabilities = model.predict(batched_dataset(tokens, None, 12), verbose=0).reshape(-1)
    scores = model.evaluate(batched_dataset(tokens, labels, 12), verbose=0, return_dict=True)
    p = probabilities.astype(np.float64)
    cross_entropy = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    accuracy = np.mean((p > 0.5) == (labels == 1))
    np.testing.assert_allclose(scores["loss"], cross_entropy, rtol=1e-5)
    np.testing.assert_allclose(scores["accuracy"], accuracy)


def test_compiling_three_classes_uses_sparse_cross_entropy_and_argmax_accuracy():
    import keras

    from rnn_models.datasets import batched_dataset
    from rnn_models.runtime import seeded_construction
    from rnn_models.training import compile_for_training

    with seeded_construction(0):
        model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 20, 5, classes=3)
    compile_for_training(model, keras.optimizers.Adam(), jit_compile=False, classes=3)

    assert model.loss == "sparse_categorical_crossentropy"
    assert set(model.get_metrics_result()) == {"loss", "accuracy"}
    tokens = np.random.default_rng(1).integers(0, 20, size=(12, 5)).astype(np.int32)
    labels = np.array([0, 1, 2] * 4)
    p = model.predict(batched_dataset(tokens, None, 12), verbose=0).astype(np.float64)
    assert p.shape == (12, 3)
    scores = model.evaluate(batched_dataset(tokens, labels, 12), verbose=0, return_dict=True)
    # By hand: the mean of -log p(label), and the share of rows whose largest p is the label.
    cross_entropy = -np.mean(np.log(p[np.arange(12), labels]))
    accuracy = np.mean(p.argmax(axis=1) == labels)
    np.testing.assert_allclose(scores["loss"], cross_entropy, rtol=1e-5)
    np.testing.assert_allclose(scores["accuracy"], accuracy)


def test_three_class_accuracy_counts_the_most_probable_class_of_each_row():
    import keras

    from rnn_models.training import compile_for_training

    model = keras.Sequential([keras.Input((3,)), keras.layers.Softmax()])
    compile_for_training(model, keras.optimizers.Adam(), jit_compile=False, classes=3)
    # Rows 1, 2 and 4 pick their label; row 3 picks class 0 for label 2: accuracy 3/4.
    labels = np.array([0.0, 1.0, 2.0, 1.0], dtype=np.float32)
    probabilities = np.array(
        [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.8, 0.1]], dtype=np.float32
    )
    model.reset_metrics()
    result = model.compute_metrics(None, labels, probabilities)
    assert float(result["accuracy"]) == pytest.approx(0.75)


def test_one_part_trains_whole_batches():
    from rnn_models.training import train_in_batch_parts

    model = _tiny_model()
    assert train_in_batch_parts(model, 1, batch_size=64, fit_rows=1_000) == 1


def test_a_model_with_dropout_trains_whole_batches(caplog):
    import keras

    from rnn_models.training import compile_for_training, train_in_batch_parts

    logger = logging.getLogger("test_batch_parts")
    with_dropout = _tiny_model(dropout=0.5)
    compile_for_training(with_dropout, keras.optimizers.Adam(), jit_compile=True)
    with caplog.at_level(logging.INFO, logger="test_batch_parts"):
        assert train_in_batch_parts(with_dropout, 2, 64, 1_000, logger) == 1
    assert "Training whole batches" in caplog.text
    # The same model without dropout does train in parts: the dropout made the difference.
    without = _tiny_model()
    compile_for_training(without, keras.optimizers.Adam(), jit_compile=True)
    assert train_in_batch_parts(without, 2, 64, 1_000) == 2

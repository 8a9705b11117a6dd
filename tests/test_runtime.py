"""How models run: the per-epoch input order, even batches, padded prediction, XLA choice."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import build_model
from rnn_models.config import ModelConfig
from rnn_models.datasets import (
    batched_dataset,
    even_batch_size,
    length_grouped_dataset,
    length_sorted_dataset,
    steps_per_epoch,
    training_dataset,
)
from rnn_models.inference import predict_probabilities
from rnn_models.runtime import jit_compile_setting, steps_per_execution

pytestmark = pytest.mark.slow


def _epochs(dataset, steps: int) -> list[list[np.ndarray]]:
    """The dataset's label batches, split into epochs of ``steps`` batches."""
    batches = [labels.numpy() for _, labels in dataset]
    return [batches[i : i + steps] for i in range(0, len(batches), steps)]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(312, 26), (64, 32), (13, 13), (37, 1), (1, 1), (96, 32), (100, 25)],
)
def test_steps_per_execution_is_the_largest_divisor_of_an_epoch_up_to_32(steps, expected):
    assert steps_per_execution(steps) == expected
    assert steps % steps_per_execution(steps) == 0


def test_each_epoch_is_a_reshuffled_subset_of_full_batches():
    rows, batch = 103, 10
    tokens = np.arange(rows, dtype=np.int32).reshape(rows, 1).repeat(3, axis=1)
    labels = np.arange(rows, dtype=np.float32)  # a label that names its row
    steps = steps_per_epoch(rows, batch)
    assert steps == 10
    epochs = _epochs(training_dataset(tokens, labels, batch, seed=7, first_epoch=0, epochs=3), 10)
    assert len(epochs) == 3
    seen = []
    for epoch in epochs:
        assert [len(b) for b in epoch] == [batch] * steps  # one shape: one XLA compilation
        rows_seen = np.concatenate(epoch)
        assert len(set(rows_seen)) == steps * batch  # no row twice within an epoch
        seen.append(rows_seen)
    assert not np.array_equal(seen[0], seen[1])  # a new order every epoch
    # tokens travel with their labels
    first_tokens, first_labels = next(iter(training_dataset(tokens, labels, batch, 7, 0, 1)))
    assert np.array_equal(first_tokens.numpy()[:, 0], first_labels.numpy().astype(np.int32))


def test_a_resumed_run_sees_the_batches_an_uninterrupted_run_would_have_seen():
    rows, batch = 64, 8
    tokens = np.zeros((rows, 2), dtype=np.int32)
    labels = np.arange(rows, dtype=np.float32)
    whole = _epochs(training_dataset(tokens, labels, batch, seed=3, first_epoch=0, epochs=3), 8)
    resumed = _epochs(training_dataset(tokens, labels, batch, seed=3, first_epoch=2, epochs=3), 8)
    assert len(resumed) == 1
    assert all(np.array_equal(a, b) for a, b in zip(whole[2], resumed[0], strict=True))
    other_seed = _epochs(training_dataset(tokens, labels, batch, 4, 0, 1), 8)
    assert not np.array_equal(np.concatenate(whole[0]), np.concatenate(other_seed[0]))


def test_fewer_rows_than_a_batch_train_as_one_smaller_batch():
    tokens = np.zeros((5, 2), dtype=np.int32)
    labels = np.arange(5, dtype=np.float32)
    assert steps_per_epoch(5, 64) == 1
    (batch,) = _epochs(training_dataset(tokens, labels, 64, 0, 0, 1), 1)[0]
    assert sorted(batch) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [(5000, 1000), (25000, 1000), (300, 300), (1031, 1024), (2048, 1024), (1536, 768)],
)
def test_even_batch_size_splits_rows_evenly_when_it_can(rows, expected):
    assert even_batch_size(rows) == expected


def test_padded_prediction_equals_plain_prediction_row_for_row():
    model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 30, 9)
    tokens = np.random.default_rng(0).integers(0, 30, size=(37, 9)).astype(np.int32)
    expected = model.predict(tokens, batch_size=37, verbose=0).reshape(-1)
    got = predict_probabilities(model, tokens, batch_size=16)  # 16+16+5: the last one padded
    assert got.shape == (37,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert predict_probabilities(model, tokens[:0]).shape == (0,)


def test_xla_choice_on_a_machine_without_gpu():
    assert jit_compile_setting("on") is True
    assert jit_compile_setting("off") is False
    assert jit_compile_setting("auto") is True
    # sequence-returning recurrent layers were measured slower under XLA on CPU
    assert jit_compile_setting("auto", every_step_output=True) is False


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


def test_embedding_dropout_is_a_layer_without_parameters():
    plain = build_model("lstm", ModelConfig(embedding_dim=4, units=3), 30, 9)
    dropped = build_model(
        "lstm", ModelConfig(embedding_dim=4, units=3, embedding_dropout=0.5), 30, 9
    )
    assert "embedding_dropout" in [layer.name for layer in dropped.layers]
    assert dropped.count_params() == plain.count_params()


def test_initial_weights_depend_on_the_seed_alone_whatever_else_draws_from_random():
    import random

    import keras

    from rnn_models.runtime import configure_tensorflow, seeded_construction

    def weights(disturb: bool, seeded: bool) -> list:
        configure_tensorflow(7)
        if disturb:
            random.random()  # what another thread (a client's retry jitter) may do meanwhile
        if seeded:
            with seeded_construction(7):
                model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 30, 9)
        else:
            model = build_model("gru", ModelConfig(embedding_dim=4, units=3), 30, 9)
        return [w.copy() for w in model.get_weights()]

    def same(a: list, b: list) -> bool:
        return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    undisturbed = weights(disturb=False, seeded=False)
    # Without the private generator a single draw elsewhere changes every initial weight...
    assert not same(weights(disturb=True, seeded=False), undisturbed)
    # ...with it, the weights are those of the undisturbed build, bit for bit.
    assert same(weights(disturb=True, seeded=True), undisturbed)
    assert same(weights(disturb=False, seeded=True), undisturbed)
    keras.backend.clear_session()


def _autotuned(dataset) -> bool:
    return dataset.options().autotune.enabled is not False


def test_every_input_pipeline_runs_without_autotuning():
    # Deleting an autotuned iterator can hang for tens of seconds (rnn_models.datasets.untuned).
    tokens = np.array([[0, 0, 3], [0, 4, 5], [6, 7, 8], [0, 0, 9]], dtype=np.int32)
    labels = np.array([0, 1, 0, 1], dtype=np.float32)
    pipelines = {
        "training": training_dataset(tokens, labels, 2, seed=1, first_epoch=0, epochs=1),
        "length grouped": length_grouped_dataset(tokens, labels, 2, 1, 0, 1, step=1),
        "length sorted": length_sorted_dataset(tokens, labels, 2, step=1),
        "batched with labels": batched_dataset(tokens, labels, 3),
        "batched tokens": batched_dataset(tokens, None, 3),
    }
    assert [name for name, dataset in pipelines.items() if _autotuned(dataset)] == []


def test_batched_dataset_keeps_row_order_and_the_last_partial_batch():
    tokens = np.arange(14, dtype=np.int32).reshape(7, 2)
    labels = np.arange(7, dtype=np.float32) / 10
    batches = list(batched_dataset(tokens, labels, 3))
    assert [len(batch_labels) for _, batch_labels in batches] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([t.numpy() for t, _ in batches]), tokens)
    np.testing.assert_allclose(np.concatenate([y.numpy() for _, y in batches]), labels)
    token_batches = [t.numpy() for t in batched_dataset(tokens, None, 3)]
    np.testing.assert_array_equal(np.concatenate(token_batches), tokens)


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


def test_a_model_whose_training_state_exists_before_fit_is_traced_once_and_trains_the_same():
    import keras

    from rnn_models.runtime import create_training_state, seeded_construction

    tokens = np.random.default_rng(3).integers(1, 30, (32, 12)).astype(np.int32)
    labels = (tokens[:, -1] % 2).astype(np.float32)

    def fit(prepare_state: bool):
        with seeded_construction(5):
            model = build_model("gru", ModelConfig(embedding_dim=4, units=4), 30, 12)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        if prepare_state:
            create_training_state(model)
            assert model.optimizer.built
            assert all(float(keras.ops.sum(v)) == 0.0 for v in model.metrics_variables)
        traces = []
        keras_step = model.train_step

        def counted_step(data):
            traces.append(data)
            return keras_step(data)

        model.train_step = counted_step
        history = model.fit(tokens, labels, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return len(traces), history.history, model.get_weights()

    traced_late, history_late, weights_late = fit(prepare_state=False)
    traced_once, history, weights = fit(prepare_state=True)
    # Variables created while tracing make TensorFlow trace the step a second time.
    assert (traced_late, traced_once) == (2, 1)
    assert history == history_late
    for early, late in zip(weights, weights_late, strict=True):
        np.testing.assert_array_equal(early, late)

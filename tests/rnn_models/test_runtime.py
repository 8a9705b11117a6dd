"""How TensorFlow runs the models: XLA, steps per call, seeding, training state."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_models import build_model
from rnn_models.config import ModelConfig
from rnn_models.runtime import jit_compile_setting, steps_per_execution

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(312, 26), (64, 32), (13, 13), (37, 1), (1, 1), (96, 32), (100, 25)],
)
def test_steps_per_execution_is_the_largest_divisor_of_an_epoch_up_to_32(steps, expected):
    assert steps_per_execution(steps) == expected
    assert steps % steps_per_execution(steps) == 0


def test_xla_choice_on_a_machine_without_gpu():
    assert jit_compile_setting("on") is True
    assert jit_compile_setting("off") is False
    assert jit_compile_setting("auto") is True
    # sequence-returning recurrent layers were measured slower under XLA on CPU
    assert jit_compile_setting("auto", every_step_output=True) is False


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

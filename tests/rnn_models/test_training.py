"""How a model is compiled and fed for training."""

from __future__ import annotations

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

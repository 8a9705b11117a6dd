"""Scoring a trained model on the test split, and reusing the scores."""

from __future__ import annotations

import json
import logging
import math
import sys
import types

import numpy as np
import pandas as pd
import pytest

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig, TrainingConfig
from imdb_rnn.evaluation import (
    MULTICLASS_METRIC_NAMES,
    classification_metrics,
    load_predictions,
)
from imdb_rnn.prepared import load_arrays
from imdb_rnn.trained import TrainedModel
from rnn_models.config import ModelConfig
from tasks.evaluate import evaluate_trained_model
from tasks.prepare import prepare_dataset
from tests.conftest import small_prepared, train_model

MODEL = ModelConfig(embedding_dim=8, units=8)


TRAINING = TrainingConfig(
    architectures=("lstm",), epochs=4, batch_size=16, learning_rate=0.01, seed=7
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return small_prepared(tmp_path_factory.mktemp("train-data"))


@pytest.mark.slow
def test_evaluation_scores_the_test_split_and_is_cached(prepared, tmp_path):
    trained = train_model("lstm", prepared, MODEL, TRAINING, tmp_path)
    evaluation = evaluate_trained_model(trained, prepared)
    assert evaluation.model == "lstm" and evaluation.kind == "rnn"
    assert sum(evaluation.confusion.values()) == prepared.rows["test"]
    assert sum(b["reviews"] for b in evaluation.length_buckets) == prepared.rows["test"]
    # The sentiment words make this data easy: a trained model must do better than chance.
    assert evaluation.metrics["roc_auc"] > 0.8
    assert evaluation.reviews_per_second > 0
    stored = json.loads((trained.directory / "evaluation.json").read_text())
    assert stored["data_fingerprint"] == prepared.fingerprint
    reused = train_model("lstm", prepared, MODEL, TRAINING, tmp_path)
    assert evaluate_trained_model(reused, prepared) == evaluation


# --- K classes, with a stand-in for the saved model: scoring needs its outputs, not Keras.


@pytest.fixture
def three_classes(tmp_path):
    """A prepared table of three classes (12 test rows) and rows of three probabilities for
    its test split: right but for the first two rows, which take the next class."""
    words = {"bad": "awful dull", "fine": "okay plain", "good": "great lovely"}
    rows = [
        {"text": f"{words[name]} film number{number}", "label": name}
        for number in range(20)
        for name in words
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    raw = RawDataset(tmp_path / "t.csv", "d" * 64, "t.csv", "table")
    config = PreprocessConfig(vocab_size=50, maxlen=12)
    prepared = prepare_dataset(raw, config, tmp_path / "processed", logging.getLogger("t"))
    _, labels, _ = load_arrays(prepared, "test")
    chosen = labels.astype(int)
    chosen[:2] = (chosen[:2] + 1) % 3
    probabilities = np.full((len(labels), 3), 0.15, dtype=np.float32)
    probabilities[np.arange(len(labels)), chosen] = 0.7
    return prepared, labels, probabilities


def stand_in_model(monkeypatch, probabilities: np.ndarray) -> list[int]:
    """Loading gives a placeholder and predicting gives ``probabilities``; the returned list
    counts the predictions."""
    calls: list[int] = []

    def predict(model, tokens):
        assert model == "model" and len(tokens) == len(probabilities)
        calls.append(1)
        return probabilities

    optimizers = types.ModuleType("rnn_models.optimizers")
    optimizers.load_model = lambda path: "model"
    monkeypatch.setitem(sys.modules, "rnn_models.optimizers", optimizers)
    monkeypatch.setattr("rnn_models.inference.predict_probabilities", predict)
    return calls


def test_k_class_scores_name_the_classes_and_keep_every_probability(
    three_classes, monkeypatch, tmp_path
):
    prepared, labels, probabilities = three_classes
    calls = stand_in_model(monkeypatch, probabilities)
    folder = tmp_path / "models" / "gru-x"
    folder.mkdir(parents=True)
    trained = TrainedModel("gru", folder, "x", 100, 1.0, 2, {})

    evaluation = evaluate_trained_model(trained, prepared)

    assert prepared.classes == ("bad", "fine", "good")
    assert evaluation.classes == ["bad", "fine", "good"] and evaluation.confusion == {}
    # Four test rows of each class; the first two rows are taken for the next class.
    matrix = np.diag([4, 4, 4])
    for label in labels[:2]:
        matrix[label, label] -= 1
        matrix[label, (label + 1) % 3] += 1
    assert evaluation.confusion_matrix == matrix.tolist()
    expected, _ = classification_metrics(labels, probabilities)
    assert evaluation.metrics == expected
    assert evaluation.metrics["accuracy"] == pytest.approx(10 / 12)
    assert set(MULTICLASS_METRIC_NAMES) <= set(evaluation.metrics)
    saved_labels, saved, _ = load_predictions(folder / "predictions.parquet")
    assert np.array_equal(saved, probabilities) and np.array_equal(saved_labels, labels)
    # A reused model is not asked to predict again: its stored scores come back whole (as
    # JSON, where the empty length buckets' NaNs compare equal).
    reused = TrainedModel("gru", folder, "x", 100, 1.0, 2, {}, reused=True)
    again = evaluate_trained_model(reused, prepared)
    assert json.dumps(again.to_dict()) == json.dumps(evaluation.to_dict())
    assert len(calls) == 1


def test_a_failed_k_class_model_has_every_k_class_metric_empty(three_classes, tmp_path):
    prepared, _, _ = three_classes
    failed = TrainedModel("gru", tmp_path, "x", 100, 1.0, 2, {}, failure="loss was NaN")
    evaluation = evaluate_trained_model(failed, prepared)
    assert evaluation.failure == "loss was NaN" and evaluation.classes == list(prepared.classes)
    assert set(MULTICLASS_METRIC_NAMES) <= set(evaluation.metrics)
    assert all(math.isnan(value) for value in evaluation.metrics.values())

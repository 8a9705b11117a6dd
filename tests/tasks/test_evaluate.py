"""Scoring a trained model on the test split, and reusing the scores."""

from __future__ import annotations

import json

import pytest

from imdb_rnn.config import TrainingConfig
from rnn_models.config import ModelConfig
from tasks.evaluate import evaluate_trained_model
from tests.conftest import small_prepared, train_model

pytestmark = pytest.mark.slow

MODEL = ModelConfig(embedding_dim=8, units=8)


TRAINING = TrainingConfig(
    architectures=("lstm",), epochs=4, batch_size=16, learning_rate=0.01, seed=7
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return small_prepared(tmp_path_factory.mktemp("train-data"))


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

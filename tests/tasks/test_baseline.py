"""The TF-IDF + logistic regression baseline: scores, its cached evaluation, and turning it off."""

from __future__ import annotations

import json
from typing import ClassVar

import pyarrow.parquet as pq
import pytest
from prefect.logging import disable_run_logger

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import BaselineConfig, PreprocessConfig
from imdb_rnn.evaluation import EVALUATION_VERSION
from imdb_rnn.storage import DataStore
from tasks import baseline
from tasks.baseline import BASELINE_NAME, train_and_score_baseline, train_baselines
from tasks.prepare import prepare_dataset
from tests.conftest import make_aclimdb

# 12 reviews per label in each split; a quarter of train held out: 18 train, 6 validation.
PREPROCESS = PreprocessConfig(maxlen=50, validation_fraction=0.25)
TEST_ROWS = 24
GRID = (0.5, 2.0, 8.0)
CONFIG = BaselineConfig(c_grid=GRID, models=(BASELINE_NAME,))


@pytest.fixture
def prepared(tmp_path):
    dataset = make_aclimdb(tmp_path / "source")
    raw = RawDataset(dataset.root, sha256="a" * 64, origin="test")
    return prepare_dataset(raw, PREPROCESS, tmp_path / "processed")


def forbid_training(monkeypatch):
    """From now on, fitting a logistic regression in the baseline task raises."""

    def fit(self, *args, **kwargs):
        raise RuntimeError("the baseline was trained again")

    monkeypatch.setattr(baseline.LogisticRegression, "fit", fit)


def baseline_folder(models_dir):
    folders = [p for p in models_dir.iterdir() if p.name.startswith(f"{BASELINE_NAME}-")]
    assert len(folders) == 1, folders
    return folders[0]


def test_the_baseline_scores_every_test_review(prepared, tmp_path):
    assert prepared.rows["test"] == TEST_ROWS
    evaluation = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")

    assert evaluation.model == BASELINE_NAME and evaluation.kind == "baseline"
    assert sum(evaluation.confusion.values()) == TEST_ROWS
    # 12 positive and 12 negative test reviews.
    assert evaluation.confusion["tp"] + evaluation.confusion["fn"] == 12
    assert evaluation.confusion["tn"] + evaluation.confusion["fp"] == 12
    assert sum(bucket["reviews"] for bucket in evaluation.length_buckets) == TEST_ROWS
    predictions = pq.read_table(evaluation.predictions_path)
    assert predictions.num_rows == TEST_ROWS
    assert sorted(predictions.column("label").to_pylist()) == [0] * 12 + [1] * 12
    assert evaluation.parameters > 1  # one weight per feature and the intercept


def test_the_baseline_beats_chance_on_easy_reviews(prepared, tmp_path):
    evaluation = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")
    assert evaluation.metrics["roc_auc"] > 0.8
    assert evaluation.metrics["accuracy"] > 0.5


def test_the_evaluation_file_records_the_chosen_c_from_the_grid(prepared, tmp_path):
    evaluation = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")

    folder = baseline_folder(tmp_path / "models")
    stored = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    assert stored["version"] == EVALUATION_VERSION
    assert stored["data_fingerprint"] == prepared.fingerprint
    assert stored["chosen_c"] in GRID
    assert stored["features"] > 0
    assert stored["evaluation"] == json.loads(json.dumps(evaluation.to_dict()))
    assert evaluation.predictions_path == str(folder / "predictions.parquet")


def test_a_second_call_reuses_the_cached_evaluation(prepared, tmp_path, monkeypatch):
    first = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")
    forbid_training(monkeypatch)
    again = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")
    assert again == first


def test_other_settings_are_not_served_from_the_cache(prepared, tmp_path, monkeypatch):
    train_and_score_baseline(prepared, CONFIG, tmp_path / "models")
    forbid_training(monkeypatch)
    with pytest.raises(RuntimeError, match="trained again"):
        train_and_score_baseline(prepared, BaselineConfig(c_grid=(1.0,)), tmp_path / "models")


def test_a_cache_without_its_predictions_is_scored_again(prepared, tmp_path):
    first = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")
    folder = baseline_folder(tmp_path / "models")
    (folder / "predictions.parquet").unlink()

    again = train_and_score_baseline(prepared, CONFIG, tmp_path / "models")
    assert (folder / "predictions.parquet").is_file()
    assert again.confusion == first.confusion


def test_the_task_returns_nothing_when_the_baseline_is_off(prepared, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    store = DataStore.open(str(tmp_path / "data"))
    with disable_run_logger():
        assert train_baselines.fn(prepared, BaselineConfig(enabled=False), store) == []
    assert not (tmp_path / "data").exists()


def test_the_task_scores_the_baseline_into_the_store(prepared, tmp_path):
    store = DataStore.open(str(tmp_path / "data"))
    with disable_run_logger():
        scored = train_baselines.fn(prepared, CONFIG, store)
    assert [e.model for e in scored] == [BASELINE_NAME]
    both = BaselineConfig(c_grid=GRID)  # the default: both baselines
    with disable_run_logger():
        scored = train_baselines.fn(prepared, both, store)
    assert [(e.model, e.kind) for e in scored] == [
        (BASELINE_NAME, "baseline"),
        ("nbsvm", "baseline"),
    ]
    nbsvm = scored[1]
    assert 0.0 <= nbsvm.metrics["accuracy"] <= 1.0 and nbsvm.parameters > 1
    assert pq.read_table(nbsvm.predictions_path).num_rows == TEST_ROWS
    assert baseline_folder(store.paths.models).parent == (tmp_path / "data").resolve() / "models"


# --- three classes: a multinomial logistic regression, and no NBSVM


class RecordingRegression(baseline.LogisticRegression):
    """The baseline's logistic regression, keeping what each candidate was fitted and
    judged on."""

    fitted: ClassVar[list] = []

    def fit(self, x, y, sample_weight=None):
        RecordingRegression.fitted.append(self)
        self.train_rows = x
        return super().fit(x, y, sample_weight)

    def score(self, x, y, sample_weight=None):
        self.validation_rows = (x, y)
        return super().score(x, y, sample_weight)


def test_three_classes_fit_one_multinomial_regression_chosen_on_validation_accuracy(
    tmp_path, monkeypatch
):
    import numpy as np

    from imdb_rnn.evaluation import load_predictions
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    monkeypatch.setattr(RecordingRegression, "fitted", [])
    monkeypatch.setattr(baseline, "LogisticRegression", RecordingRegression)
    grid = (0.01, 1.0, 100.0)
    evaluation = train_and_score_baseline(
        prepared, BaselineConfig(c_grid=grid, models=(BASELINE_NAME,)), tmp_path / "models"
    )

    stored = json.loads((baseline_folder(tmp_path / "models") / "evaluation.json").read_text())
    candidates = RecordingRegression.fitted
    assert [candidate.C for candidate in candidates] == list(grid)
    for candidate in candidates:
        # Multinomial: the probabilities are the softmax of the K decision values (one
        # sigmoid per class, normalised, would differ).
        decision = candidate.decision_function(candidate.train_rows)
        softmax = np.exp(decision) / np.exp(decision).sum(axis=1, keepdims=True)
        probabilities = candidate.predict_proba(candidate.train_rows)
        np.testing.assert_allclose(probabilities, softmax, rtol=1e-5, atol=1e-6)
    x_validation, y_validation = candidates[0].validation_rows
    accuracy = [np.mean(c.predict(x_validation) == y_validation) for c in candidates]
    assert stored["chosen_c"] == grid[int(np.argmax(accuracy))]  # the first of the best
    assert evaluation.parameters == 3 * stored["features"] + 3  # weights and bias per class

    labels, probabilities, _ = load_predictions(evaluation.predictions_path)
    assert evaluation.classes == ["bad", "fine", "good"]
    assert probabilities.shape == (12, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), np.ones(12), rtol=1e-6)
    assert evaluation.metrics["accuracy"] == pytest.approx(
        np.mean(probabilities.argmax(axis=1) == labels)
    )
    assert [sum(row) for row in evaluation.confusion_matrix] == [4, 4, 4]


def test_nbsvm_is_left_out_of_three_classes_with_one_sentence(tmp_path, monkeypatch):
    from tests.samples import listening_logger, three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    store = DataStore.open(str(tmp_path / "store"))
    logger, said = listening_logger("baseline-test")
    monkeypatch.setattr(baseline, "get_run_logger", lambda: logger)
    scored = train_baselines.fn(prepared, BaselineConfig(c_grid=(1.0,)), store)

    assert [e.model for e in scored] == [BASELINE_NAME]
    assert [message for message in said if "NBSVM" in message] == [
        "NBSVM compares two classes; this data has 3 classes, so NBSVM is not run"
    ]
    assert not list(store.paths.models.glob("nbsvm-*"))

"""Weighing the evidence of a run from its saved predictions: on a table of three classes,
the verdicts, calibration and mistakes speak of the chosen class and name the classes."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig, ReportConfig
from imdb_rnn.evaluation import save_predictions, score_predictions
from imdb_rnn.prepared import load_split
from tasks.evidence import gather_evidence
from tasks.prepare import prepare_dataset

WORDS = {"bad": "awful dull", "fine": "okay plain", "good": "great lovely"}


@pytest.fixture
def three_classes(tmp_path):
    """A prepared table of three classes with 12 test rows (four of each)."""
    rows = [
        {"text": f"{WORDS[name]} film number{number}", "label": name}
        for number in range(20)
        for name in WORDS
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    raw = RawDataset(tmp_path / "t.csv", "d" * 64, "t.csv", "table")
    config = PreprocessConfig(vocab_size=50, maxlen=12)
    return prepare_dataset(raw, config, tmp_path / "processed", logging.getLogger("t"))


def scored(name, kind, labels, probabilities, folder, classes):
    path = folder / f"{name}.parquet"
    save_predictions(path, labels, probabilities, np.full(len(labels), 5))
    return score_predictions(
        name, kind, labels, probabilities, np.full(len(labels), 5), parameters=1,
        train_seconds=1, predict_seconds=1, predictions_path=str(path), classes=classes,
    )  # fmt: skip


def test_k_class_evidence_judges_and_shows_the_chosen_class(three_classes, tmp_path):
    prepared = three_classes
    test = load_split(prepared, "test", ["text", "label"])
    labels = test["label"].to_numpy()
    # gru is right but on rows 0 and 1 (it chooses the next class, at 0.6 and 0.95);
    # tfidf is right but on row 2.
    gru = np.full((len(labels), 3), 0.1, dtype=np.float32)
    gru[np.arange(len(labels)), labels] = 0.8
    for row, confidence in ((0, 0.6), (1, 0.95)):
        gru[row] = (1 - confidence) / 2
        gru[row, (labels[row] + 1) % 3] = confidence
    tfidf = np.full((len(labels), 3), 0.2, dtype=np.float32)
    tfidf[np.arange(len(labels)), labels] = 0.6
    tfidf[2] = [0.2, 0.2, 0.2]
    tfidf[2, (labels[2] + 2) % 3] = 0.6
    evaluations = [
        scored("gru", "rnn", labels, gru, tmp_path, prepared.classes),
        scored("tfidf_logreg", "baseline", labels, tfidf, tmp_path, prepared.classes),
    ]

    evidence = gather_evidence(evaluations, prepared, ReportConfig(bootstrap=50, error_examples=3))

    [row] = evidence.comparisons
    assert {row["model"], row["other"]} == {"gru", "tfidf_logreg"}
    assert sorted((row["only_model_right"], row["only_other_right"])) == [1, 2]
    # Calibration is of the chosen class: gru's ten right 0.8s, and its two wrong choices.
    curve = [(p["bin"], p["reviews"], p["fraction_positive"]) for p in evidence.calibration["gru"]]
    assert curve == [(6, 1, 0.0), (8, 10, 1.0), (9, 1, 0.0)]
    assert evidence.calibration["gru"][2]["mean_probability"] == pytest.approx(0.95)
    names = prepared.classes
    errors = evidence.confident_errors["gru"]
    assert [e["review"] for e in errors] == [1, 0]
    assert errors[0]["excerpt"] == test["text"][1]
    assert errors[0]["label"] == names[labels[1]]
    assert errors[0]["predicted"] == names[(labels[1] + 1) % 3]
    assert errors[0]["probability"] == 0.95
    [disagreeing] = evidence.disagreements
    assert (disagreeing["only_model_right"], disagreeing["only_baseline_right"]) == (1, 2)
    [example] = disagreeing["model_right_examples"]
    assert example["review"] == 2 and example["baseline_predicted"] == names[(labels[2] + 2) % 3]
    assert set(evidence.intervals["gru"]) >= {"roc_auc", "weighted_f1"}

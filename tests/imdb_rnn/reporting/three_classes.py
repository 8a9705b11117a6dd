"""Hand-made records of a three-class run (and its dataset card) that the report tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imdb_rnn.evaluation import ModelEvaluation, save_predictions
from tests.samples import HISTORY, buckets

CLASSES = ["food", "sport", "tech"]

# Rows are the true classes (ten test rows each), columns the predicted ones.
MATRICES = {
    "gru": [[8, 1, 1], [2, 6, 2], [0, 3, 7]],  # 21 of 30 right
    "tfidf_logreg": [[9, 1, 0], [1, 8, 1], [0, 1, 9]],  # 26 of 30 right
}


def three_class_evaluation(
    name: str, kind: str, predictions_path: str = "", failure: str = ""
) -> ModelEvaluation:
    matrix = MATRICES.get(name, [[0, 0, 0]] * 3)
    accuracy = sum(matrix[k][k] for k in range(3)) / 30
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics={
            "accuracy": accuracy,
            "precision": 0.71,
            "recall": 0.72,
            "f1": 0.7,
            "roc_auc": 0.85 if kind == "rnn" else 0.93,
            "average_precision": 0.8,
            "log_loss": 0.7,
            "mcc": 0.55,
            "brier": 0.4,
            "ece": 0.05,
            "weighted_precision": 0.7101,
            "weighted_recall": 0.7202,
            "weighted_f1": 0.6912 if kind == "rnn" else 0.8654,
        },
        confusion={},
        length_buckets=buckets(accuracy, accuracy, n=10),
        parameters=5_000,
        train_seconds=3.0,
        predict_seconds=0.1,
        reviews_per_second=300.0,
        epochs=2 if kind == "rnn" else 0,
        history=HISTORY if kind == "rnn" else {},
        predictions_path=predictions_path,
        failure=failure,
        classes=list(CLASSES),
        confusion_matrix=matrix,
    )


def scores_for(matrix: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and rows of three probabilities whose most probable class makes ``matrix``."""
    labels, rows = [], []
    for true, counts in enumerate(matrix):
        for predicted, count in enumerate(counts):
            for index in range(count):
                row = np.full(3, 0.2)
                # Vary the winning probability, so the curves have more than one threshold.
                row[predicted] = 0.6
                row += np.eye(3)[true] * 0.01 * index
                labels.append(true)
                rows.append(row / row.sum())
    return np.array(labels), np.array(rows)


def saved_three_class_run(folder: Path) -> list[ModelEvaluation]:
    """The two models of ``MATRICES`` with their test scores saved as the run saves them."""
    made = []
    for name, kind in (("gru", "rnn"), ("tfidf_logreg", "baseline")):
        labels, probabilities = scores_for(MATRICES[name])
        path = folder / f"{name}.parquet"
        save_predictions(path, labels, probabilities, np.full(labels.size, 150))
        made.append(three_class_evaluation(name, kind, str(path)))
    return made


def three_class_card(test_rows: int = 0, dropped: int = 0) -> dict:
    """A table source's card: rows per split and class, lengths, coverage, shared texts."""
    return {
        "source": "s3://bucket/news/topics.csv",
        "kind": "table",
        "classes": list(CLASSES),
        "rows": {
            "train": {"food": 1200, "sport": 30, "tech": 7},
            "validation": {"food": 100, "sport": 5, "tech": 1},
            "test": {"food": 400, "sport": 10, "tech": 2},
        },
        "tokens": {
            "train": {"mean": 230.1, "p10": 50, "p50": 174, "p90": 450, "max": 2470},
            "validation": {"mean": 220.0, "p10": 48, "p50": 170, "p90": 440, "max": 1999},
            "test": {"mean": 12.5, "p10": 3, "p50": 9, "p90": 30, "max": 41},
        },
        "truncated_share": {"train": 0.41, "validation": 0.3912, "test": 0.05},
        "test_token_coverage": 0.973,
        "duplicates": {
            "test_rows": test_rows,
            "distinct_texts": 2 if test_rows else 0,
            "dropped": dropped,
            "examples": ["great | match", "new chip"] if test_rows else [],
        },
        "left_out": {"invalid_rows": 1234, "replaced_characters": 0, "truncated_texts": 0},
    }

"""Comparison rows, the terminal table and the across-seeds table, on fixed evaluations."""

from __future__ import annotations

import json
import math

import pytest

from imdb_rnn.evaluation import ModelEvaluation
from imdb_rnn.reporting.tables import (
    across_seeds,
    comparison_rows,
    format_seed_table,
    format_text_table,
)
from tests.samples import EVALUATIONS


def _evaluation(architecture: str, seed: int, accuracy: float, seconds: float, **extra):
    return ModelEvaluation(
        model=f"{architecture}-seed{seed}",
        kind="rnn",
        metrics={
            "accuracy": accuracy,
            "roc_auc": accuracy + 0.05,
            "f1": accuracy,
            "log_loss": 0.4,
            "precision": 0.5,
            "recall": 0.5,
            "average_precision": 0.5,
            "mcc": 0.5,
        },
        confusion={"tn": 1, "fp": 1, "fn": 1, "tp": 1},
        length_buckets=[],
        parameters=10,
        train_seconds=seconds,
        predict_seconds=1.0,
        reviews_per_second=1.0,
        architecture=architecture,
        seed=seed,
        **extra,
    )


def test_rows_are_rounded_plain_python_values():
    rows = comparison_rows(EVALUATIONS)
    assert [row["model"] for row in rows] == ["lstm", "gru", "tfidf_logreg"]
    assert rows[0]["accuracy"] == 0.8512
    assert rows[0]["train_seconds"] == 12.3
    assert type(rows[0]["parameters"]) is int
    json.dumps(rows, allow_nan=False)


def test_text_table_marks_best_per_column():
    text = format_text_table(comparison_rows(EVALUATIONS))
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["model", "accuracy"]
    baseline_line = next(line for line in lines if line.startswith("tfidf_logreg"))
    gru_line = next(line for line in lines if line.startswith("gru"))
    assert "0.9000*" in baseline_line and "0.3000*" in gru_line
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_across_seeds_gives_mean_and_sample_standard_deviation():
    evaluations = [
        _evaluation("lstm", 42, 0.80, 10.0),
        _evaluation("lstm", 43, 0.84, 12.0),
        _evaluation("lstm", 44, 0.82, 14.0),
        _evaluation("gru", 42, 0.70, 5.0),  # one seed only: no spread, no row
        _evaluation("gru", 43, math.nan, 5.0, failure="loss became nan"),
    ]
    (row,) = across_seeds(evaluations)
    assert row["model"] == "lstm" and row["seeds"] == 3 and row["seed_values"] == [42, 43, 44]
    assert row["accuracy_mean"] == pytest.approx(0.82)
    assert row["accuracy_std"] == pytest.approx(0.02)  # sqrt(((-.02)^2 + .02^2) / 2)
    assert row["train_seconds_mean"] == pytest.approx(12.0)
    assert row["train_seconds_std"] == pytest.approx(2.0)
    text = format_seed_table([row])
    assert "0.8200 ± 0.0200" in text and "12.0 ± 2.0" in text

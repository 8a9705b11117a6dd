"""Sample records shared by the tests of the report, its tables and the CLI's report command."""

from __future__ import annotations

import math

from imdb_rnn.config import ClaimsConfig
from imdb_rnn.evaluation import ModelEvaluation

# --- three scored models: the comparison table and the summary files


def evaluation(
    name: str, kind: str, accuracy: float, roc_auc: float, log_loss: float
) -> ModelEvaluation:
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics={
            "accuracy": accuracy,
            "precision": 0.8,
            "recall": 0.7,
            "f1": 0.74666,
            "roc_auc": roc_auc,
            "average_precision": 0.9,
            "log_loss": log_loss,
            "mcc": 0.5,
        },
        confusion={"tn": 40, "fp": 10, "fn": 15, "tp": 35},
        length_buckets=[
            {"bucket": "<=100", "reviews": 30, "accuracy": 0.9},
            {"bucket": "101-200", "reviews": 40, "accuracy": 0.8},
            {"bucket": "201-400", "reviews": 20, "accuracy": 0.7},
            {"bucket": ">400", "reviews": 10, "accuracy": math.nan},
        ],
        parameters=1234,
        train_seconds=12.345,
        predict_seconds=0.5,
        reviews_per_second=200.0,
    )


EVALUATIONS = [
    evaluation("lstm", "rnn", 0.85123456, 0.92, 0.35),
    evaluation("gru", "rnn", 0.80, 0.95, 0.30),
    evaluation("tfidf_logreg", "baseline", 0.90, 0.96, 0.40),
]
RUN_INFO = {
    "data": {
        "source": "file:///x.tar.gz",
        "source_sha256": "ab" * 32,
        "fingerprint": "f" * 16,
        "rows": {"train": 80, "validation": 20, "test": 100},
    },
    "preprocess": {"maxlen": 200, "vocab_size": 10000},
    "timings": {"prepare": 1.25},
    "software": {"python": "3.11"},
}


# --- models with review-length buckets and saved predictions: report.html and its charts


def buckets(short: float, long: float, n: int = 1000) -> list[dict]:
    return [
        {"bucket": "<=100", "reviews": n, "accuracy": short},
        {"bucket": "101-200", "reviews": n, "accuracy": (short + long) / 2},
        {"bucket": "201-400", "reviews": n, "accuracy": (short + long) / 2},
        {"bucket": ">400", "reviews": n, "accuracy": long},
    ]


def bucketed_evaluation(name, kind, accuracy, length_buckets, predictions_path="", history=None):
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics={
            "accuracy": accuracy,
            "precision": 0.8,
            "recall": 0.7,
            "f1": 0.75,
            "roc_auc": accuracy + 0.05,
            "average_precision": 0.9,
            "log_loss": 0.4,
            "mcc": 0.5,
        },
        confusion={"tn": 40, "fp": 10, "fn": 15, "tp": 35},
        length_buckets=length_buckets,
        parameters=322_113,
        train_seconds=24.04,
        predict_seconds=2.0,
        reviews_per_second=12_500.0,
        epochs=2 if history else 0,
        history=history or {},
        predictions_path=predictions_path,
    )


HISTORY = {
    "loss": [0.6, 0.4],
    "accuracy": [0.7, 0.85],
    "val_loss": [0.55, 0.45],
    "val_accuracy": [0.72, 0.8],
}
PAGE_RUN_INFO = {
    "data": {
        "source": "https://example.org/aclImdb.tar.gz",
        "source_sha256": "ab" * 32,
        "fingerprint": "f" * 16,
        "rows": {"train": 80, "validation": 20, "test": 100},
    },
    "preprocess": {"maxlen": 200, "vocab_size": 10000},
    "training": {"epochs": 2},
    "timings": {"prepare": 1.25},
    "software": {"python": "3.11"},
}


# --- a claims step small enough for a test flow

# Claims measured in seconds: a few reviews, two distances, a tiny synthetic task.
SMALL_CLAIMS = ClaimsConfig(
    sample_reviews=8,
    distances=(2, 6),
    synthetic_train=32,
    synthetic_test=16,
    synthetic_epochs=1,
    synthetic_vocab=8,
)

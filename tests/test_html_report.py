"""report.html on a fixed small input: sections, charts, rounding, no external resources."""

from __future__ import annotations

import base64
import re
from dataclasses import replace

import numpy as np
import pytest

from imdb_rnn.claim_rules import memory_verdict
from imdb_rnn.evaluation import ModelEvaluation, save_predictions
from imdb_rnn.reporting.html import load_all_predictions, render_html

SECTIONS = (
    "Test metrics",
    "ROC and precision-recall curves",
    "Training and validation per epoch",
    "Accuracy by review length: short vs long memory",
    "Confusion matrices (test)",
    "Run details",
    "Timings",
)


def buckets(short: float, long: float, n: int = 1000) -> list[dict]:
    return [
        {"bucket": "<=100", "reviews": n, "accuracy": short},
        {"bucket": "101-200", "reviews": n, "accuracy": (short + long) / 2},
        {"bucket": "201-400", "reviews": n, "accuracy": (short + long) / 2},
        {"bucket": ">400", "reviews": n, "accuracy": long},
    ]


def evaluation(name, kind, accuracy, length_buckets, predictions_path="", history=None):
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
RUN_INFO = {
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


@pytest.fixture
def evaluations(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    made = []
    for name, kind, accuracy, (short, long) in [
        ("simple_rnn", "rnn", 0.69531, (0.70, 0.66)),
        ("lstm", "rnn", 0.86333, (0.88, 0.83)),
        ("tfidf_logreg", "baseline", 0.90741, (0.91, 0.90)),
    ]:
        scores = np.clip(labels * accuracy + rng.normal(0.25, 0.2, labels.size), 0, 1)
        path = tmp_path / f"{name}.parquet"
        save_predictions(path, labels, scores, np.full(labels.size, 150))
        history = HISTORY if kind == "rnn" else None
        made.append(evaluation(name, kind, accuracy, buckets(short, long), str(path), history))
    return made


def test_every_section_and_chart_is_present(evaluations):
    page = render_html(
        "20260101T000000Z-run", evaluations, RUN_INFO, load_all_predictions(evaluations)
    )
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', page)
    assert [alt for _, alt in images] == [
        "ROC curves of all models",
        "Precision-recall curves",
        "Loss and accuracy per epoch, train and validation",
        "Accuracy by review length per model",
        "Confusion matrix per model",
    ]
    for encoded, _ in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")


def test_numbers_are_rounded_and_best_values_highlighted(evaluations):
    page = render_html("r", evaluations, RUN_INFO, {})
    assert "<td>0.6953</td>" in page and "0.69531" not in page
    assert '<td class="best">0.9074</td>' in page  # best accuracy: the baseline
    assert "<td>322,113</td>" in page and "<td>24.0</td>" in page
    assert "Best model on test accuracy: tfidf_logreg (0.9074" in page
    # Without predictions there are no curves, and the other charts still render.
    assert "ROC and precision-recall curves" not in page
    assert page.count("<img ") == 3


def test_no_external_resources(evaluations):
    page = render_html("r", evaluations, RUN_INFO, load_all_predictions(evaluations))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(" not in page and "@import" not in page
    assert "<script" not in page and "<link" not in page
    # The data source is shown as text only.
    assert "<code>https://example.org/aclImdb.tar.gz</code>" in page


def test_text_is_escaped(evaluations):
    info = {**RUN_INFO, "data": {**RUN_INFO["data"], "source": "<script>alert(1)</script>"}}
    page = render_html("r", evaluations, info, {})
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_verdict_supported_when_simple_rnn_loses_much_more_on_long_reviews():
    verdict = memory_verdict(
        [
            evaluation("simple_rnn", "rnn", 0.7, buckets(0.80, 0.60)),
            evaluation("lstm", "rnn", 0.85, buckets(0.86, 0.85)),
            evaluation("gru", "rnn", 0.84, buckets(0.85, 0.83)),
        ]
    )
    assert verdict["supported"] is True
    assert verdict["text"].startswith("Supported")
    # simple_rnn: 80 -> 60 is 20 points; gated: 1 and 2 points.
    assert "+20.0 points for simple_rnn" in verdict["text"]
    assert "lstm +1.0, gru +2.0" in verdict["text"]


def test_verdict_not_supported_when_penalties_are_within_noise():
    verdict = memory_verdict(
        [
            evaluation("simple_rnn", "rnn", 0.7, buckets(0.70, 0.67, n=300)),
            evaluation("lstm", "rnn", 0.86, buckets(0.88, 0.83, n=300)),
        ]
    )
    assert verdict["supported"] is False
    assert verdict["text"].startswith("Not supported by this run")
    assert "simple_rnn scores 0.7000 against 0.8600 for lstm" in verdict["text"]


def test_verdict_needs_both_kinds_of_model():
    verdict = memory_verdict([evaluation("lstm", "rnn", 0.86, buckets(0.88, 0.83))])
    assert verdict["supported"] is None and verdict["text"].startswith("Not measured")


def test_verdict_with_several_seeds_reads_the_first_model_of_each_architecture():
    def seeded(architecture, seed, accuracy, short, long):
        return replace(
            evaluation(f"{architecture}-seed{seed}", "rnn", accuracy, buckets(short, long)),
            architecture=architecture,
            seed=seed,
        )

    verdict = memory_verdict(
        [
            seeded("simple_rnn", 1, 0.7, 0.80, 0.60),
            seeded("simple_rnn", 2, 0.9, 0.90, 0.90),  # a later seed does not count
            seeded("lstm", 1, 0.85, 0.86, 0.85),
        ]
    )
    assert verdict["supported"] is True
    assert "+20.0 points for simple_rnn" in verdict["text"]
    assert "simple_rnn scores 0.7000 against 0.8500 for lstm" in verdict["text"]

"""Metrics of a scored model on hand-counted cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imdb_rnn.evaluation import accuracy_by_length, classification_metrics

# Eight reviews. At threshold 0.5 the predictions are [1,1,0,1,0,0,1,0]:
# TP = 3 (0, 1, 6), FN = 1 (2), FP = 1 (3), TN = 3 (4, 5, 7).
Y_TRUE = np.array([1, 1, 1, 0, 0, 0, 1, 0])


PROBS = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.7, 0.4])


def test_threshold_metrics_match_hand_counts():
    values, confusion = classification_metrics(Y_TRUE, PROBS)
    assert confusion == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert values["accuracy"] == pytest.approx(6 / 8)
    assert values["precision"] == pytest.approx(3 / 4)
    assert values["recall"] == pytest.approx(3 / 4)
    assert values["f1"] == pytest.approx(3 / 4)
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (9 - 1) / 16
    assert values["mcc"] == pytest.approx(0.5)


def test_ranking_metrics_match_hand_counts():
    values, _ = classification_metrics(Y_TRUE, PROBS)
    # Of the 16 (positive, negative) pairs, 14 rank the positive higher.
    assert values["roc_auc"] == pytest.approx(14 / 16)
    # Positives sit at ranks 1, 2, 3 and 6: AP = (1 + 1 + 1 + 4/6) / 4.
    assert values["average_precision"] == pytest.approx((3 + 4 / 6) / 4)
    expected_log_loss = -np.mean(np.log([0.9, 0.8, 0.3, 0.4, 0.8, 0.9, 0.7, 0.6]))
    assert values["log_loss"] == pytest.approx(expected_log_loss)


def test_metrics_are_plain_python_floats():
    values, confusion = classification_metrics(Y_TRUE, PROBS)
    assert all(type(v) is float for v in values.values())
    assert all(type(v) is int for v in confusion.values())
    json.dumps({"values": values, "confusion": confusion})


def test_one_class_only_gives_nan_ranking_metrics_not_a_crash():
    values, confusion = classification_metrics(np.array([1, 1]), np.array([0.9, 0.2]))
    assert math.isnan(values["roc_auc"])
    assert confusion == {"tn": 0, "fp": 0, "fn": 1, "tp": 1}


def test_accuracy_by_length_uses_inclusive_bucket_edges():
    predictions = (PROBS >= 0.5).astype(int)
    lengths = np.array([50, 100, 101, 200, 201, 400, 401, 1000])
    buckets = accuracy_by_length(Y_TRUE, predictions, lengths)
    assert [b["bucket"] for b in buckets] == ["<=100", "101-200", "201-400", ">400"]
    assert [b["reviews"] for b in buckets] == [2, 2, 2, 2]
    # Reviews 2 and 3 (lengths 101 and 200) are the two mistakes.
    assert [b["accuracy"] for b in buckets] == [1.0, 0.0, 1.0, 1.0]


def test_empty_length_bucket_is_nan():
    buckets = accuracy_by_length(np.array([1]), np.array([1]), np.array([10]))
    assert buckets[0]["reviews"] == 1
    assert all(math.isnan(b["accuracy"]) for b in buckets[1:])

"""Metrics of a scored model on hand-counted cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as skm

from imdb_rnn.evaluation import (
    METRIC_NAMES,
    MULTICLASS_METRIC_NAMES,
    ModelEvaluation,
    accuracy_by_length,
    class_count,
    classification_metrics,
    confusion_matrix_of,
    failed_evaluation,
    load_predictions,
    metric_names,
    predicted_classes,
    save_predictions,
    score_predictions,
)
from imdb_rnn.trained import TrainedModel

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


# --- K classes. Seven reviews of three classes (rows true, columns predicted):
#   true 0: r0 right, r1 taken for 1;  true 1: r2, r3 right;  true 2: r4, r6 right, r5 taken for 0.
K_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
K_PROBS = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.1, 0.8],
        [0.5, 0.2, 0.3],
        [0.1, 0.2, 0.7],
    ]
)


def test_predicted_classes_and_class_count_read_either_shape():
    assert predicted_classes(PROBS).tolist() == [1, 1, 0, 1, 0, 0, 1, 0]
    assert predicted_classes(K_PROBS).tolist() == [0, 1, 1, 1, 2, 0, 2]
    assert (class_count(PROBS), class_count(K_PROBS)) == (2, 3)
    assert class_count(np.zeros((0, 5))) == 5


def test_k_class_threshold_metrics_match_hand_counts():
    values, confusion = classification_metrics(K_TRUE, K_PROBS)
    assert confusion == {}  # K classes have the matrix only
    assert set(values) == {*METRIC_NAMES, *MULTICLASS_METRIC_NAMES}
    assert confusion_matrix_of(K_TRUE, K_PROBS) == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert values["accuracy"] == pytest.approx(5 / 7)
    # Per class: precision 1/2, 2/3, 2/2; recall 1/2, 2/2, 2/3; F1 = 2TP / (true + chosen)
    # = 2/4, 4/5, 4/5. Supports 2, 2, 3 weight the weighted averages.
    assert values["precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert values["recall"] == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    assert values["f1"] == pytest.approx((1 / 2 + 4 / 5 + 4 / 5) / 3)
    assert values["weighted_precision"] == pytest.approx((2 / 2 + 2 * 2 / 3 + 3 * 1) / 7)
    assert values["weighted_recall"] == pytest.approx(5 / 7)
    assert values["weighted_f1"] == pytest.approx((2 / 2 + 2 * 4 / 5 + 3 * 4 / 5) / 7)
    # Gorodkin: (correct * n - sum true_k * chosen_k) / sqrt((n² - sum chosen²)(n² - sum true²))
    # = (35 - 16) / sqrt(32 * 32).
    assert values["mcc"] == pytest.approx(19 / 32)


def test_k_class_ranking_and_calibration_metrics_match_hand_counts():
    values, _ = classification_metrics(K_TRUE, K_PROBS)
    # One class against the rest: 9 of 10 pairs, 9 of 10, and 11.5 of 12 (a tie at 0.3).
    assert values["roc_auc"] == pytest.approx((9 / 10 + 9 / 10 + 11.5 / 12) / 3)
    # AP per class: (1 + 2/3) / 2, the same, and (1 + 1 + 3/4) / 3 (the tie is one step).
    assert values["average_precision"] == pytest.approx((5 / 6 + 5 / 6 + 11 / 12) / 3)
    chosen = [0.7, 0.3, 0.8, 0.5, 0.8, 0.3, 0.7]  # each review's probability of its class
    assert values["log_loss"] == pytest.approx(-np.mean(np.log(chosen)))
    # Summed squared distances to the one-hot labels, review by review.
    assert values["brier"] == pytest.approx((0.14 + 0.86 + 0.06 + 0.38 + 0.06 + 0.78 + 0.14) / 7)
    # Top label: bin 5 holds 0.5 right and 0.5 wrong (no gap), bin 6 a wrong 0.6, bin 7 two
    # right 0.7s, bin 8 two right 0.8s.
    assert values["ece"] == pytest.approx((0.6 + 2 * 0.3 + 2 * 0.2) / 7)


def test_k_class_metrics_are_scikit_learn_s_multiclass_ones():
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 4, 600)
    logits = rng.normal(size=(600, 4)) + np.eye(4)[labels]
    probabilities = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    values, _ = classification_metrics(labels, probabilities)
    expected_auc = skm.roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")
    one_hot = np.eye(4)[labels]
    assert values["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert values["average_precision"] == pytest.approx(
        skm.average_precision_score(one_hot, probabilities, average="macro"), abs=1e-12
    )
    assert values["log_loss"] == pytest.approx(
        skm.log_loss(labels, probabilities, labels=range(4)), abs=1e-7
    )
    assert values["brier"] == pytest.approx(
        skm.brier_score_loss(labels, probabilities, labels=range(4), scale_by_half=False)
    )
    assert values["mcc"] == pytest.approx(
        skm.matthews_corrcoef(labels, probabilities.argmax(axis=1))
    )


def test_a_class_test_lacks_still_counts_in_the_averages_but_cannot_be_ranked():
    # Class 2 has a column but no review; review 1 is wrongly given class 2.
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.3, 0.6, 0.1], [0.1, 0.7, 0.2]])
    values, _ = classification_metrics(labels, probabilities)
    assert confusion_matrix_of(labels, probabilities) == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    # Precision 1, 1, 0 (class 2 chosen once, never right); recall 1/2, 1, 0 (nothing to find).
    assert values["precision"] == pytest.approx(2 / 3)
    assert values["recall"] == pytest.approx(1.5 / 3)
    # ROC-AUC of classes 0 and 1 only: class 0 ranks 0.8 and 0.2 over 0.3 and 0.1: 3 of 4.
    assert values["roc_auc"] == pytest.approx((3 / 4 + 1) / 2)


def test_scores_of_k_classes_name_them_and_fill_the_matrix_not_the_binary_counts():
    lengths = np.array([50, 100, 150, 250, 300, 500, 600])
    evaluation = score_predictions(
        "gru",
        "rnn",
        K_TRUE,
        K_PROBS,
        lengths,
        parameters=1,
        train_seconds=1,
        predict_seconds=1,
        classes=("bad", "fine", "good"),
    )
    assert evaluation.classes == ["bad", "fine", "good"] and not evaluation.is_binary
    assert evaluation.confusion == {}
    assert evaluation.confusion_matrix == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    # By length: r0 r1 (<=100) half right, r2 (101-200) right, r3 r4 right, r5 r6: r5 wrong.
    assert [b["accuracy"] for b in evaluation.length_buckets] == [0.5, 1.0, 1.0, 0.5]
    assert ModelEvaluation.from_dict(json.loads(json.dumps(evaluation.to_dict()))) == evaluation


def test_binary_scores_keep_their_counts_and_also_fill_the_matrix():
    evaluation = score_predictions(
        "lstm",
        "rnn",
        Y_TRUE,
        PROBS,
        np.full(8, 10),
        parameters=1,
        train_seconds=1,
        predict_seconds=1,
        classes=("neg", "pos"),
    )
    assert evaluation.confusion == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert evaluation.confusion_matrix == [[3, 1], [1, 3]]  # [[tn, fp], [fn, tp]]
    assert set(evaluation.metrics) == set(METRIC_NAMES)


def test_a_record_from_before_classes_loads_as_neg_and_pos():
    evaluation = score_predictions(
        "lstm",
        "rnn",
        Y_TRUE,
        PROBS,
        np.full(8, 10),
        parameters=1,
        train_seconds=1,
        predict_seconds=1,
    )
    old = evaluation.to_dict()
    del old["classes"], old["confusion_matrix"]
    loaded = ModelEvaluation.from_dict(old)
    assert loaded.class_names == ["neg", "pos"] and loaded.is_binary
    assert loaded.confusion_matrix == []


def test_k_class_predictions_keep_every_class_s_probability(tmp_path):
    path = tmp_path / "predictions.parquet"
    save_predictions(path, K_TRUE, K_PROBS, np.arange(7))
    schema = pq.read_schema(path)
    assert schema.names == ["label", "probability", "probabilities", "n_tokens"]
    assert schema.field("label").type == pa.int8()
    assert schema.field("probability").type == pa.float32()
    assert schema.field("probabilities").type == pa.list_(pa.float32(), 3)
    table = pq.read_table(path)
    assert table.column("probability").to_pylist() == pytest.approx(K_PROBS.max(axis=1))
    labels, probabilities, lengths = load_predictions(path)
    assert labels.tolist() == K_TRUE.tolist() and lengths.tolist() == list(range(7))
    assert probabilities.shape == (7, 3) and probabilities.dtype == np.float32
    assert np.array_equal(probabilities, K_PROBS.astype(np.float32))


def test_binary_predictions_keep_their_three_columns(tmp_path):
    path = tmp_path / "predictions.parquet"
    save_predictions(path, Y_TRUE, PROBS, np.arange(8))
    assert pq.read_schema(path).names == ["label", "probability", "n_tokens"]
    _, probabilities, _ = load_predictions(path)
    assert probabilities.shape == (8,)


def test_no_k_class_predictions_load_as_no_rows_of_k(tmp_path):
    path = tmp_path / "predictions.parquet"
    save_predictions(path, np.zeros(0), np.zeros((0, 4)), np.zeros(0))
    _, probabilities, _ = load_predictions(path)
    assert probabilities.shape == (0, 4)


def test_a_failed_model_of_k_classes_has_every_k_class_metric_as_nan():
    trained = TrainedModel("gru", Path("models/gru-x"), "x", 10, 1.0, 1, {}, failure="diverged")
    failed = failed_evaluation(trained, ("a", "b", "c"))
    assert list(failed.metrics) == [*METRIC_NAMES, *MULTICLASS_METRIC_NAMES]
    assert all(math.isnan(v) for v in failed.metrics.values())
    assert failed.confusion == {} and failed.classes == ["a", "b", "c"]
    binary = failed_evaluation(trained)
    assert list(binary.metrics) == list(METRIC_NAMES)
    assert binary.confusion == {"tn": 0, "fp": 0, "fn": 0, "tp": 0} and binary.classes == []
    assert metric_names(2) == METRIC_NAMES

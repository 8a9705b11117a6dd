"""The statistics behind the verdicts, against values worked out independently."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from imdb_rnn.evaluation import MULTICLASS_METRIC_NAMES, multiclass_metrics
from imdb_rnn.significance import (
    BOOTSTRAP_METRICS,
    counts_of,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_seed_test,
    percentile_interval,
    resample_indices,
    weighted_metrics,
)


def sklearn_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Each metric straight from scikit-learn (and by hand for Brier and ECE)."""
    predicted = (probabilities >= 0.5).astype(int)
    clipped = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    bins = np.minimum((probabilities.astype(np.float64) * 10).astype(int), 9)
    ece = sum(
        abs(labels[bins == b].sum() - probabilities[bins == b].astype(np.float64).sum())
        for b in range(10)
    ) / len(labels)
    return {
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted, zero_division=0),
        "recall": skm.recall_score(labels, predicted, zero_division=0),
        "f1": skm.f1_score(labels, predicted, zero_division=0),
        "roc_auc": skm.roc_auc_score(labels, probabilities),
        "average_precision": skm.average_precision_score(labels, probabilities),
        "log_loss": skm.log_loss(labels, clipped),
        "mcc": skm.matthews_corrcoef(labels, predicted),
        "brier": skm.brier_score_loss(labels, probabilities.astype(np.float64)),
        "ece": ece,
    }


@pytest.mark.parametrize("decimals", [2, 6], ids=["many ties", "few ties"])
def test_metrics_from_resample_counts_equal_scikit_learn_on_the_resampled_reviews(decimals):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 2000)
    scores = np.round(np.clip(labels * 0.3 + rng.random(2000) * 0.7, 0, 1), decimals)
    scores = scores.astype(np.float32)
    [indices] = list(resample_indices(len(labels), 4, seed=11))
    found = weighted_metrics(labels, scores, counts_of(indices, len(labels)))
    for row, drawn in enumerate(indices):
        expected = sklearn_metrics(labels[drawn], scores[drawn])
        for metric in BOOTSTRAP_METRICS:
            # The ranking metrics divide in float32 (for speed): equal to 7 decimals.
            assert found[metric][row] == pytest.approx(expected[metric], abs=1e-7), metric


def test_the_same_resamples_serve_every_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = rng.random(500).astype(np.float32)
    result = paired_bootstrap(labels, {"a": scores, "b": scores.copy()}, 250, seed=5)
    # Two copies of one model differ by exactly nothing on every resample.
    assert np.array_equal(result["a"]["roc_auc"], result["b"]["roc_auc"])
    assert len(result["a"]["accuracy"]) == 250
    again = paired_bootstrap(labels, {"a": scores}, 250, seed=5)
    assert np.array_equal(again["a"]["accuracy"], result["a"]["accuracy"])  # seeded


def test_a_95_percent_interval_covers_the_true_accuracy_about_95_percent_of_the_time():
    rng = np.random.default_rng(2026)
    true_accuracy, reviews, trials = 0.8, 400, 300
    covered = 0
    for trial in range(trials):
        labels = rng.integers(0, 2, reviews)
        right = rng.random(reviews) < true_accuracy
        scores = np.where(right == labels.astype(bool), 0.9, 0.1).astype(np.float32)
        values = paired_bootstrap(labels, {"m": scores}, 400, seed=trial)["m"]["accuracy"]
        low, high = percentile_interval(values, 0.95)
        covered += low <= true_accuracy <= high
    # Binomial spread of the coverage over 300 trials is about 0.013.
    assert 0.91 <= covered / trials <= 0.98


def test_mcnemar_on_a_hand_made_table():
    # 9 reviews only the first model got right, 1 only the second, 90 both or neither.
    first = np.array([True] * 9 + [False] * 1 + [True] * 50 + [False] * 40)
    second = np.array([False] * 9 + [True] * 1 + [True] * 50 + [False] * 40)
    test = mcnemar_exact(first, second)
    assert (test.only_first_right, test.only_second_right) == (9, 1)
    # Two-sided: 2 * P(X <= 1) for X ~ Binomial(10, 1/2) = 2 * 11 / 1024.
    assert test.p_value == pytest.approx(22 / 1024, abs=1e-12)


@pytest.mark.parametrize(("only_first", "only_second"), [(0, 0), (5, 5), (3, 17), (40, 21)])
def test_mcnemar_agrees_with_scipy_binomtest(only_first, only_second):
    first = np.array([True] * only_first + [False] * only_second + [True] * 10)
    second = np.array([False] * only_first + [True] * only_second + [True] * 10)
    expected = (
        1.0
        if only_first + only_second == 0
        else stats.binomtest(only_first, only_first + only_second, 0.5).pvalue
    )
    assert mcnemar_exact(first, second).p_value == pytest.approx(expected, rel=1e-9)


def test_holm_on_a_hand_example():
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, then max(0.06, 0.04*1) = 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_paired_seed_test_is_the_t_interval_of_the_differences():
    result = paired_seed_test([0.86, 0.87, 0.88], [0.85, 0.85, 0.85], 0.95)
    # Differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01; t(0.975, 2) = 4.3027.
    half = 4.302653 * 0.01 / math.sqrt(3)
    assert result.mean_difference == pytest.approx(0.02)
    assert result.interval == pytest.approx((0.02 - half, 0.02 + half), abs=1e-6)
    expected_p = stats.ttest_rel([0.86, 0.87, 0.88], [0.85, 0.85, 0.85]).pvalue
    assert result.p_value == pytest.approx(expected_p)
    assert result.seeds == 3


def test_a_single_seed_has_no_spread_to_test():
    result = paired_seed_test([0.9], [0.8], 0.95)
    assert result.seeds == 1 and math.isnan(result.p_value)


# --- K classes: every metric from counts, against scikit-learn on the resampled reviews

CLASSES = 4


def k_class_problem(ties: bool, rows: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Labels of four classes and float32 rows of probabilities (as a softmax gives) that lean
    to the label. With ``ties`` the rows are twentieths (no zeros): many scores tie within a
    class, rows tie for their most probable class, and float32 rows sum to 1 only roughly."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, CLASSES, rows)
    if ties:
        lean = np.full((rows, CLASSES), 1.0) + 2.0 * np.eye(CLASSES)[labels]
        counts = 1 + np.array([rng.multinomial(16, row / row.sum()) for row in lean])
        return labels, (counts / 20.0).astype(np.float32)
    logits = rng.normal(size=(rows, CLASSES)) + 1.5 * np.eye(CLASSES)[labels]
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, softmax.astype(np.float32)


def sklearn_k_class_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Each K-class metric straight from scikit-learn (top-label ECE by hand)."""
    classes = list(range(probabilities.shape[1]))
    p = probabilities
    predicted = p.argmax(axis=1)
    confidence = p.max(axis=1).astype(np.float64)
    bins = np.minimum((confidence * 10).astype(int), 9)
    right = (predicted == labels).astype(np.float64)
    ece = sum(abs((right - confidence)[bins == b].sum()) for b in range(10)) / len(labels)

    def averaged(average: str) -> tuple[float, float, float]:
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            labels, predicted, labels=classes, average=average, zero_division=0
        )
        return precision, recall, f1

    macro, weighted = averaged("macro"), averaged("weighted")
    one_hot = label_binarize(labels, classes=classes)
    return {
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": macro[0],
        "recall": macro[1],
        "f1": macro[2],
        "roc_auc": skm.roc_auc_score(labels, p, multi_class="ovr", average="macro"),
        "average_precision": skm.average_precision_score(one_hot, p, average="macro"),
        "log_loss": skm.log_loss(labels, p, labels=classes),
        "mcc": skm.matthews_corrcoef(labels, predicted),
        "brier": skm.brier_score_loss(labels, p, labels=classes, scale_by_half=False),
        "ece": ece,
        "weighted_precision": weighted[0],
        "weighted_recall": weighted[1],
        "weighted_f1": weighted[2],
    }


K_CLASS_METRICS = (*BOOTSTRAP_METRICS, *MULTICLASS_METRIC_NAMES)


@pytest.mark.parametrize("ties", [True, False], ids=["many ties", "few ties"])
def test_k_class_metrics_with_weights_of_one_are_scikit_learn_s(ties):
    labels, probabilities = k_class_problem(ties)
    found = weighted_metrics(labels, probabilities, np.ones(len(labels)))
    expected = sklearn_k_class_metrics(labels, probabilities)
    assert set(found) == set(K_CLASS_METRICS)
    for metric in K_CLASS_METRICS:
        assert found[metric][0] == pytest.approx(expected[metric], abs=1e-7), metric
    # The same values evaluation reports, whose code does not share these sums.
    reported = multiclass_metrics(labels, probabilities)
    for metric in K_CLASS_METRICS:
        assert found[metric][0] == pytest.approx(reported[metric], abs=1e-7), metric


@pytest.mark.parametrize("ties", [True, False], ids=["many ties", "few ties"])
def test_k_class_metrics_from_resample_counts_equal_scikit_learn_on_the_resampled_reviews(ties):
    labels, probabilities = k_class_problem(ties)
    [indices] = list(resample_indices(len(labels), 4, seed=12))
    found = weighted_metrics(labels, probabilities, counts_of(indices, len(labels)))
    for row, drawn in enumerate(indices):
        expected = sklearn_k_class_metrics(labels[drawn], probabilities[drawn])
        for metric in K_CLASS_METRICS:
            assert found[metric][row] == pytest.approx(expected[metric], abs=1e-7), metric


def test_a_class_a_resample_lacks_counts_as_evaluation_counts_it():
    labels, probabilities = k_class_problem(True, rows=400)
    # Draw every review but those of class 3, twice: class 3 is in the columns, not the rows.
    counts = np.where(labels == 3, 0.0, 2.0)
    found = weighted_metrics(labels, probabilities, counts)
    kept = labels != 3
    expected = multiclass_metrics(labels[kept], probabilities[kept])
    for metric in K_CLASS_METRICS:
        assert found[metric][0] == pytest.approx(expected[metric], abs=1e-7), metric
    # Macro precision and recall average over all four classes, the lacking one as 0 ...
    per_class_recall = [np.mean(probabilities[labels == k].argmax(axis=1) == k) for k in range(3)]
    assert found["recall"][0] == pytest.approx(sum(per_class_recall) / 4)
    # ... while ROC-AUC averages over the three classes that can be ranked.
    three = [skm.roc_auc_score(labels[kept] == k, probabilities[kept, k]) for k in range(3)]
    assert found["roc_auc"][0] == pytest.approx(np.mean(three), abs=1e-7)


def test_a_resample_of_one_class_has_no_ranking_metrics_and_no_warning():
    labels, probabilities = k_class_problem(True, rows=200)
    counts = (labels == 1).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = weighted_metrics(labels, probabilities, counts)
    assert math.isnan(found["roc_auc"][0]) and math.isnan(found["average_precision"][0])
    assert found["accuracy"][0] == pytest.approx(np.mean(probabilities[labels == 1].argmax(1) == 1))


def test_k_class_bootstrap_pairs_the_models_and_adds_the_weighted_metrics():
    labels, probabilities = k_class_problem(False, rows=300)
    result = paired_bootstrap(labels, {"a": probabilities, "b": probabilities.copy()}, 150, 5)
    assert set(result["a"]) == set(K_CLASS_METRICS)
    assert np.array_equal(result["a"]["roc_auc"], result["b"]["roc_auc"])
    assert len(result["a"]["weighted_f1"]) == 150
    assert not np.isnan(result["a"]["average_precision"]).any()

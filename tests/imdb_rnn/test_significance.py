"""The statistics behind the verdicts, against values worked out independently."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

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

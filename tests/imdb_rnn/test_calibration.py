"""Brier score, expected calibration error and the reliability curve on hand examples."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_rnn.calibration import (
    bin_of,
    brier_score,
    expected_calibration_error,
    reliability_curve,
    top_label,
)


def test_brier_score_by_hand():
    labels = np.array([1, 0, 1, 1])
    probabilities = np.array([0.9, 0.2, 0.6, 0.3])
    # (0.1² + 0.2² + 0.4² + 0.7²) / 4 = (0.01 + 0.04 + 0.16 + 0.49) / 4
    assert brier_score(labels, probabilities) == pytest.approx(0.175)


def test_ece_with_one_review_per_bin_is_the_mean_gap():
    labels = np.array([1, 0, 1, 1])
    probabilities = np.array([0.9, 0.2, 0.6, 0.3])  # bins 9, 2, 6 and 3
    assert expected_calibration_error(labels, probabilities) == pytest.approx(
        (0.1 + 0.2 + 0.4 + 0.7) / 4
    )


def test_ece_compares_a_bin_s_fraction_positive_with_its_mean_probability():
    # Bin 8 holds 0.85 and 0.82 (one positive): |0.5 - 0.835| = 0.335, weight 2/3.
    # Bin 1 holds 0.1 (a negative): |0 - 0.1| = 0.1, weight 1/3.
    labels = np.array([1, 0, 0])
    probabilities = np.array([0.85, 0.82, 0.1])
    assert expected_calibration_error(labels, probabilities) == pytest.approx(
        2 / 3 * 0.335 + 1 / 3 * 0.1
    )
    curve = reliability_curve(labels, probabilities)
    assert [point["bin"] for point in curve] == [1, 8]
    assert curve[1]["reviews"] == 2 and curve[1]["fraction_positive"] == 0.5
    assert curve[1]["mean_probability"] == pytest.approx(0.835)


def test_a_perfectly_calibrated_model_has_no_calibration_error():
    # In each bin the share of positives equals the probability given.
    labels = np.array([1, 0, 0, 0] * 5 + [1, 1, 1, 0] * 5)
    probabilities = np.array([0.25] * 20 + [0.75] * 20)
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.0)


def test_edges_of_the_bins():
    assert bin_of(np.array([0.0, 0.0999, 0.1, 0.5, 0.9999, 1.0])).tolist() == [0, 0, 1, 5, 9, 9]


# --- K classes: the Brier score sums over the classes; calibration is of the top label.
K_LABELS = np.array([0, 2, 1, 2])
K_PROBABILITIES = np.array(
    [
        [0.9, 0.05, 0.05],  # right, 0.9
        [0.6, 0.1, 0.3],  # wrong (chose 0), 0.6
        [0.3, 0.65, 0.05],  # right, 0.65
        [0.2, 0.1, 0.7],  # right, 0.7
    ]
)


def test_k_class_brier_score_sums_the_squared_distance_over_the_classes():
    # 0.01+0.0025+0.0025, 0.36+0.01+0.49, 0.09+0.1225+0.0025, 0.04+0.01+0.09
    expected = (0.015 + 0.86 + 0.215 + 0.14) / 4
    assert brier_score(K_LABELS, K_PROBABILITIES) == pytest.approx(expected)


def test_k_class_reliability_is_of_the_chosen_class():
    curve = reliability_curve(K_LABELS, K_PROBABILITIES)
    # Bin 6 holds the wrong 0.6 and the right 0.65; bin 7 the right 0.7; bin 9 the right 0.9.
    assert [(p["bin"], p["reviews"]) for p in curve] == [(6, 2), (7, 1), (9, 1)]
    assert curve[0]["mean_probability"] == pytest.approx(0.625)
    assert curve[0]["fraction_positive"] == 0.5  # the share of them that is right
    assert expected_calibration_error(K_LABELS, K_PROBABILITIES) == pytest.approx(
        (2 * abs(0.5 - 0.625) + abs(1 - 0.7) + abs(1 - 0.9)) / 4
    )


def test_top_label_gives_each_row_s_chosen_probability_and_whether_it_is_right():
    correct, confidence = top_label(K_LABELS, K_PROBABILITIES)
    assert correct.tolist() == [1.0, 0.0, 1.0, 1.0]
    assert confidence.tolist() == [0.9, 0.6, 0.65, 0.7]

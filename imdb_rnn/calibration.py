"""Does a predicted 0.9 mean 90 %? The Brier score, the expected calibration error, and the
points of a reliability diagram, for the probability of the positive class."""

from __future__ import annotations

import numpy as np

# Equal-width bins of predicted probability, as in Guo et al. (2017) and most libraries.
CALIBRATION_BINS = 10


def bin_of(probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """The bin of each probability: [0, 1/bins) is bin 0, and 1.0 falls in the last bin."""
    return np.minimum((np.asarray(probabilities, dtype=np.float64) * bins).astype(int), bins - 1)


def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared distance between the probability and the 0/1 label (0 is perfect)."""
    labels = np.asarray(labels, dtype=np.float64)
    return float(np.mean((np.asarray(probabilities, dtype=np.float64) - labels) ** 2))


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Share-weighted mean, over the bins, of |fraction positive - mean probability|."""
    curve = reliability_curve(labels, probabilities, bins)
    total = sum(point["reviews"] for point in curve)
    return float(
        sum(
            point["reviews"] / total * abs(point["fraction_positive"] - point["mean_probability"])
            for point in curve
        )
    )


def reliability_curve(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float | int]]:
    """One point per non-empty bin: its reviews, mean probability and fraction positive."""
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    index = bin_of(probabilities, bins)
    counts = np.bincount(index, minlength=bins)
    probability_sums = np.bincount(index, weights=probabilities, minlength=bins)
    positive_sums = np.bincount(index, weights=labels, minlength=bins)
    return [
        {
            "bin": int(b),
            "reviews": int(counts[b]),
            "mean_probability": float(probability_sums[b] / counts[b]),
            "fraction_positive": float(positive_sums[b] / counts[b]),
        }
        for b in range(bins)
        if counts[b]
    ]

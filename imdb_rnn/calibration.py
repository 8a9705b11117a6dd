"""Does a predicted 0.9 mean 90 %? The Brier score, the expected calibration error, and the
points of a reliability diagram, for the probability of the positive class.

With K > 2 classes (probabilities of shape rows x K) the Brier score sums the squared
distance over the classes, and calibration is top-label: is a model that gives its chosen
class 0.9 right 90 % of the time? (Guo et al., 2017.)"""

from __future__ import annotations

import numpy as np

# Equal-width bins of predicted probability, as in Guo et al. (2017) and most libraries.
CALIBRATION_BINS = 10


def bin_of(probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> np.ndarray:
    """The bin of each probability: [0, 1/bins) is bin 0, and 1.0 falls in the last bin."""
    return np.minimum((np.asarray(probabilities, dtype=np.float64) * bins).astype(int), bins - 1)


def top_label(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For K-class probabilities: whether each row's most probable class is its label, and
    that class's probability."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    chosen = probabilities.argmax(axis=1)
    correct = (chosen == np.asarray(labels)).astype(np.float64)
    return correct, probabilities[np.arange(len(chosen)), chosen]


def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared distance between the probability and the 0/1 label (0 is perfect); for
    K classes, summed over the classes."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 2:
        one_hot = np.eye(probabilities.shape[1])[np.asarray(labels, dtype=np.int64)]
        return float(np.mean(((probabilities - one_hot) ** 2).sum(axis=1)))
    labels = np.asarray(labels, dtype=np.float64)
    return float(np.mean((probabilities - labels) ** 2))


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Share-weighted mean, over the bins, of |fraction positive - mean probability| (for K
    classes, of the top label: |fraction right - mean confidence|)."""
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
    """One point per non-empty bin: its reviews, mean probability and fraction positive (for
    K classes: of the top label's probability, and the fraction it is right)."""
    if np.ndim(probabilities) == 2:
        labels, probabilities = top_label(labels, probabilities)
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

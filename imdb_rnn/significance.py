"""What the test set and the seeds can tell apart: paired bootstrap intervals, McNemar's
exact test, a paired t-test over seeds, and Holm's correction for many comparisons.

The bootstrap is paired: every model is scored on the same resamples of the test reviews,
so a difference between two models is measured on the same reviews each time. A resample is
a vector of counts (how often each review was drawn), and every metric is computed from the
counts as weights, for all resamples at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from imdb_rnn.calibration import CALIBRATION_BINS, bin_of
from imdb_rnn.evaluation import METRIC_NAMES, normalised

# Every metric evaluation reports gets an interval.
BOOTSTRAP_METRICS = METRIC_NAMES
# Resamples drawn at a time: bounds memory at about 20 MB for 25,000 test reviews.
CHUNK = 100
# As scikit-learn's log_loss clips, so that a confident mistake costs a finite amount.
EPSILON = 1e-7


def resample_indices(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Rows of ``n`` indices drawn with replacement, ``CHUNK`` rows at a time, seeded."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, CHUNK):
        yield rng.integers(0, n, size=(min(CHUNK, resamples - start), n))


def counts_of(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` reviews appears in each row of ``indices``."""
    rows = indices.shape[0]
    flat = (indices + np.arange(rows)[:, None] * n).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, empty: float = 0.0) -> np.ndarray:
    out = np.full(numerator.shape, empty, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def weighted_metrics(
    labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Every metric of ``BOOTSTRAP_METRICS`` for each row of ``weights`` (review counts).

    With weights of all ones these are scikit-learn's values; with a resample's counts they
    are the values on that resample (ties in the scores are handled as scikit-learn does).
    K-class rows of probabilities get the K-class meanings (``multiclass_weighted_metrics``).
    """
    if np.ndim(probabilities) == 2:
        return multiclass_weighted_metrics(labels, probabilities, weights)
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    w = np.atleast_2d(weights)
    predicted = p >= 0.5
    total = w.sum(axis=1)
    tp = w @ (predicted & (y == 1))
    fp = w @ (predicted & (y == 0))
    fn = w @ (~predicted & (y == 1))
    tn = total - tp - fp - fn
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    one_hot = np.eye(CALIBRATION_BINS)[bin_of(p)]
    return {
        "accuracy": (tp + tn) / total,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        **_ranking_metrics(y, p, w),
        "log_loss": (w @ -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))) / total,
        "mcc": _ratio(tp * tn - fp * fn, denominator),
        "brier": (w @ (p - y) ** 2) / total,
        # Per bin, |sum of (label - probability)| / n is its share times its calibration gap.
        "ece": np.abs(w @ (one_hot * (y - p)[:, None])).sum(axis=1) / total,
    }


def multiclass_weighted_metrics(
    labels: np.ndarray, probabilities: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """The K-class metrics of ``imdb_rnn.evaluation.multiclass_metrics``, from weights:
    macro and weighted precision, recall and F1 over every class, macro one-vs-rest ranking
    metrics, multi-class MCC (Gorodkin's), log loss, the summed Brier score and top-label ECE."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    w = np.atleast_2d(weights)
    classes = p.shape[1]
    predicted = p.argmax(axis=1)
    truth = np.eye(classes)[y]
    chosen = np.eye(classes)[predicted]
    total = w.sum(axis=1)
    true_positive = w @ (truth * chosen)
    actual = w @ truth
    guessed = w @ chosen
    correct = true_positive.sum(axis=1)
    precision = _ratio(true_positive, guessed)
    recall = _ratio(true_positive, actual)
    f1 = _ratio(2 * true_positive, actual + guessed)
    share = actual / total[:, None]
    covariance = correct * total - (actual * guessed).sum(axis=1)
    spread = np.sqrt((total**2 - (guessed**2).sum(axis=1)) * (total**2 - (actual**2).sum(axis=1)))
    confidence = p[np.arange(len(y)), predicted]
    right = (predicted == y).astype(np.float64)
    one_hot_bin = np.eye(CALIBRATION_BINS)[bin_of(confidence)]
    return {
        "accuracy": correct / total,
        "precision": precision.mean(axis=1),
        "recall": recall.mean(axis=1),
        "f1": f1.mean(axis=1),
        **_macro_ranking_metrics(y, p, w),
        "log_loss": (w @ -np.log(normalised(p)[np.arange(len(y)), y])) / total,
        "mcc": _ratio(covariance, spread),
        "brier": (w @ ((p - truth) ** 2).sum(axis=1)) / total,
        "ece": np.abs(w @ (one_hot_bin * (right - confidence)[:, None])).sum(axis=1) / total,
        "weighted_precision": (precision * share).sum(axis=1),
        "weighted_recall": (recall * share).sum(axis=1),
        "weighted_f1": (f1 * share).sum(axis=1),
    }


def _macro_ranking_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Each class's ROC-AUC and average precision against the rest, averaged over the
    classes a resample holds with another beside (as ``evaluation.multiclass_metrics``
    leaves out a class test lacks or is all of); NaN when there is none."""
    per_class = [
        _ranking_metrics((y == k).astype(np.float64), p[:, k], w) for k in range(p.shape[1])
    ]
    # A class is ranked when it has both positives and negatives: exactly when its AUC is defined.
    ranked = ~np.isnan(np.stack([values["roc_auc"] for values in per_class]))
    averaged = {}
    for name in ("roc_auc", "average_precision"):
        values = np.stack([metrics[name] for metrics in per_class])
        averaged[name] = _ratio(
            np.where(ranked, values, 0.0).sum(axis=0), ranked.sum(axis=0), math.nan
        )
    return averaged


def _ranking_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """ROC-AUC (Mann-Whitney, ties count half) and average precision, from weights."""
    order = np.argsort(p, kind="stable")
    ordered = p[order]
    # Counts and their running sums are whole numbers far below 2**24: exact in float32,
    # which halves the memory traffic of the largest arrays here.
    positives = np.take(w, order, axis=1).astype(np.float32)
    negatives = positives * (1 - y[order]).astype(np.float32)
    positives -= negatives
    tied = ordered[1:] == ordered[:-1]
    if tied.any():  # reviews with the same score form one step of the curves
        starts = np.flatnonzero(np.r_[True, ~tied])
        positives = np.add.reduceat(positives, starts, axis=1)
        negatives = np.add.reduceat(negatives, starts, axis=1)
    positives_upto = np.cumsum(positives, axis=1)
    negatives_upto = np.cumsum(negatives, axis=1)
    n_positive = positives_upto[:, -1].astype(np.float64)
    n_negative = negatives_upto[:, -1].astype(np.float64)
    auc = _ratio(
        (positives * (negatives_upto - 0.5 * negatives)).sum(axis=1, dtype=np.float64),
        n_positive * n_negative,
        math.nan,
    )
    # Average precision walks the scores from the highest down: at each distinct score, the
    # precision of everything scored at least that high, weighted by the positives there.
    true_above = positives_upto[:, -1:] - positives_upto + positives
    scored_above = true_above + (negatives_upto[:, -1:] - negatives_upto + negatives)
    precision = np.divide(
        true_above, scored_above, out=np.zeros_like(true_above), where=scored_above > 0
    )
    average_precision = _ratio(
        (positives * precision).sum(axis=1, dtype=np.float64), n_positive, math.nan
    )
    return {"roc_auc": auc, "average_precision": average_precision}


def paired_bootstrap(
    labels: np.ndarray, probabilities: dict[str, np.ndarray], resamples: int, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """``{model: {metric: values over the resamples}}``, every model on the same resamples."""
    n = len(labels)
    parts: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in probabilities}
    for indices in resample_indices(n, resamples, seed):
        weights = counts_of(indices, n)
        for name, scores in probabilities.items():
            for metric, values in weighted_metrics(labels, scores, weights).items():
                parts[name].setdefault(metric, []).append(values)
    return {
        name: {metric: np.concatenate(chunks) for metric, chunks in metrics.items()}
        for name, metrics in parts.items()
    }


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` share of ``values`` (NaN resamples left out)."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class McNemar:
    """The reviews only one of two models got right, and the exact two-sided p-value."""

    only_first_right: int
    only_second_right: int
    p_value: float


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> McNemar:
    """McNemar's exact test: under no difference, each disagreement is a fair coin."""
    from scipy.stats import binom

    first_correct = np.asarray(first_correct, dtype=bool)
    second_correct = np.asarray(second_correct, dtype=bool)
    only_first = int(np.sum(first_correct & ~second_correct))
    only_second = int(np.sum(second_correct & ~first_correct))
    disagreements = only_first + only_second
    if disagreements == 0:
        return McNemar(0, 0, 1.0)
    p_value = min(1.0, 2 * float(binom.cdf(min(only_first, only_second), disagreements, 0.5)))
    return McNemar(only_first, only_second, p_value)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: controls the chance of any false 'better' or 'worse'."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class PairedSeeds:
    """Two architectures' scores compared seed by seed."""

    seeds: int
    mean_difference: float
    interval: tuple[float, float]
    p_value: float


def paired_seed_test(first: list[float], second: list[float], confidence: float) -> PairedSeeds:
    """The mean of the per-seed differences, its t interval, and the paired t-test's p."""
    from scipy import stats

    differences = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    count = differences.size
    mean = float(differences.mean())
    spread = float(differences.std(ddof=1)) if count > 1 else math.nan
    if count < 2:
        return PairedSeeds(count, mean, (math.nan, math.nan), math.nan)
    if spread == 0:  # every seed gave the same difference: no spread to test against
        return PairedSeeds(count, mean, (mean, mean), 1.0 if mean == 0 else 0.0)
    half = float(stats.t.ppf((1 + confidence) / 2, count - 1)) * spread / math.sqrt(count)
    p_value = float(stats.ttest_rel(first, second).pvalue)
    return PairedSeeds(count, mean, (mean - half, mean + half), p_value)

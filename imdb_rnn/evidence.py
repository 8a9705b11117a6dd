"""Which differences between the models are real: intervals, pairwise verdicts, seeds.

``weigh_evidence`` turns the saved test predictions of a run's models into an ``Evidence``
record: a paired-bootstrap interval for every metric of every model, McNemar's test for each
pair the report compares (Holm-corrected), the comparison by seed when there are several,
and the headline sentences, which say only what those tests support.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from itertools import combinations
from statistics import mean, stdev
from typing import Any

import numpy as np

from imdb_rnn.evaluation import (
    Predictions,
    class_count,
    metric_names,
    predicted_classes,
    roc_auc,
)
from imdb_rnn.significance import (
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_seed_test,
    percentile_interval,
)

BETTER, WORSE, SAME = "better", "worse", "no detectable difference"
# A headline names at most this many models below the leader, then counts the rest.
SPELLED_OUT = 3


@dataclass(frozen=True)
class Scored:
    """What the evidence needs to know about one scored model."""

    name: str
    kind: str  # "rnn" or "baseline"
    accuracy: float
    architecture: str = ""
    seed: int | None = None


@dataclass(frozen=True)
class Evidence:
    """What the test set and the seeds can tell apart, in plain JSON types."""

    resamples: int
    confidence: float
    intervals: dict[str, dict[str, list[float]]]  # model -> metric -> [low, high]
    comparisons: list[dict[str, Any]]
    headline: list[str]
    seed_comparisons: list[dict[str, Any]] = field(default_factory=list)
    seed_variation: list[dict[str, Any]] = field(default_factory=list)
    calibration: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # reliability
    confident_errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    disagreements: list[dict[str, Any]] = field(default_factory=list)  # recurrent vs baseline
    explained: list[dict[str, Any]] = field(default_factory=list)  # the champion's word effects
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(**data)


def _p_text(p_value: float) -> str:
    if math.isnan(p_value):
        return "p n/a"
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}".rstrip("0").rstrip(".")


def _signed(value: float) -> str:
    return f"{value:+.4f}".replace("-", "−")


def interval_text(interval: list[float] | tuple[float, float] | None) -> str:
    if not interval or any(v is None or math.isnan(v) for v in interval):
        return ""
    low, high = interval
    return f"[{_signed(low)}, {_signed(high)}]"


def pairs_to_compare(models: list[Scored]) -> list[tuple[Scored, Scored]]:
    """Every model against the most accurate one; the recurrent models against each other
    (those trained with the same seed); and the best recurrent model against each baseline."""
    top = max(models, key=lambda m: m.accuracy)
    pairs = [(m, top) for m in models if m is not top]
    recurrent = [m for m in models if m.kind == "rnn"]
    pairs += [(a, b) for a, b in combinations(recurrent, 2) if a.seed == b.seed]
    if recurrent:
        best_rnn = max(recurrent, key=lambda m: m.accuracy)
        pairs += [(best_rnn, m) for m in models if m.kind == "baseline"]
    unique: dict[frozenset[str], tuple[Scored, Scored]] = {}
    for first, second in pairs:
        unique.setdefault(frozenset((first.name, second.name)), (first, second))
    return list(unique.values())


def compare_pairs(
    pairs: list[tuple[Scored, Scored]],
    predictions: Predictions,
    bootstrap: dict[str, dict[str, np.ndarray]] | None,
    confidence: float,
) -> list[dict[str, Any]]:
    """Accuracy and ROC-AUC differences (first minus second), McNemar and Holm, a verdict.

    With K > 2 classes a review is right when its most probable class is its label, and
    ROC-AUC is the macro one-vs-rest value."""
    rows = []
    for first, second in pairs:
        labels, first_scores = predictions[first.name]
        _, second_scores = predictions[second.name]
        first_right = predicted_classes(first_scores) == labels
        second_right = predicted_classes(second_scores) == labels
        test = mcnemar_exact(first_right, second_right)
        row: dict[str, Any] = {
            "model": first.name,
            "other": second.name,
            "accuracy_difference": float(first_right.mean() - second_right.mean()),
            "accuracy_interval": None,
            "only_model_right": test.only_first_right,
            "only_other_right": test.only_second_right,
            "p_value": test.p_value,
            "roc_auc_difference": None,
            "roc_auc_interval": None,
        }
        if bootstrap is not None:
            for metric in ("accuracy", "roc_auc"):
                differences = bootstrap[first.name][metric] - bootstrap[second.name][metric]
                row[f"{metric}_interval"] = list(percentile_interval(differences, confidence))
        if len(np.unique(labels)) >= 2:
            row["roc_auc_difference"] = roc_auc(labels, first_scores) - roc_auc(
                labels, second_scores
            )
        rows.append(row)
    adjusted = holm([row["p_value"] for row in rows])
    for row, p_holm in zip(rows, adjusted, strict=True):
        row["p_holm"] = p_holm
        detectable = p_holm < 1 - confidence and row["accuracy_difference"] != 0
        row["verdict"] = (
            (BETTER if row["accuracy_difference"] > 0 else WORSE) if detectable else SAME
        )
    return rows


def oriented(rows: list[dict[str, Any]], first: str, second: str) -> dict[str, Any] | None:
    """The comparison of ``first`` with ``second``, turned round when it was made the other way."""
    for row in rows:
        if (row["model"], row["other"]) == (first, second):
            return row
        if (row["model"], row["other"]) == (second, first):
            flip = {BETTER: WORSE, WORSE: BETTER, SAME: SAME}

            def negated(interval: list[float] | None) -> list[float] | None:
                return None if interval is None else [-interval[1], -interval[0]]

            return {
                **row,
                "model": first,
                "other": second,
                "accuracy_difference": -row["accuracy_difference"],
                "accuracy_interval": negated(row["accuracy_interval"]),
                "only_model_right": row["only_other_right"],
                "only_other_right": row["only_model_right"],
                "roc_auc_difference": None
                if row["roc_auc_difference"] is None
                else -row["roc_auc_difference"],
                "roc_auc_interval": negated(row["roc_auc_interval"]),
                "verdict": flip[row["verdict"]],
            }
    return None


def _gap(row: dict[str, Any]) -> str:
    interval = interval_text(row["accuracy_interval"])
    return f"{_signed(row['accuracy_difference'])}{' ' + interval if interval else ''}, " + (
        _p_text(row["p_holm"])
    )


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _group_sentence(leader: Scored, others: list[Scored], rows: list[dict[str, Any]]) -> str:
    """``leader`` against each of ``others``: who cannot be told apart from it, who is below."""
    tied, below = [], []
    for other in sorted(others, key=lambda m: -m.accuracy):
        row = oriented(rows, other.name, leader.name)
        if row is None:
            continue
        (tied if row["verdict"] == SAME else below).append((other, row))
    parts = []
    if tied:
        p_values = ", ".join(_p_text(row["p_holm"]) for _, row in tied)
        parts.append(
            f"{_names([leader.name] + [m.name for m, _ in tied])} cannot be told apart on "
            f"this test set ({p_values})"
        )
    else:
        parts.append(f"{leader.name} has the highest test accuracy ({leader.accuracy:.4f})")
    if len(below) > SPELLED_OUT:
        (nearest, row), rest = below[0], len(below) - 1
        parts.append(
            f"{nearest.name} is below {leader.name} ({_gap(row)}), and the other {rest} "
            "models further below"
        )
        return "; ".join(parts) + "."
    for other, row in below:
        relation = "below" if row["verdict"] == WORSE else "above"
        parts.append(f"{other.name} is {relation} {leader.name} ({_gap(row)})")
    return "; ".join(parts) + "."


def _seed_sentence(rows: list[dict[str, Any]]) -> str:
    """The architectures compared seed by seed, as the paired t-tests (Holm) support."""
    parts = []
    for row in rows:
        detail = interval_text(row["accuracy_interval"])
        gap = f"{_signed(row['accuracy_difference'])} {detail}, {_p_text(row['p_holm'])}"
        if row["verdict"] == SAME:
            parts.append(f"{row['model']} and {row['other']} cannot be told apart ({gap})")
        else:
            relation = "above" if row["verdict"] == BETTER else "below"
            parts.append(f"{row['model']} is {relation} {row['other']} ({gap})")
    seeds = min(row["seeds"] for row in rows)
    return f"Across {seeds} seeds, paired by seed: " + "; ".join(parts) + "."


def headline(
    models: list[Scored],
    rows: list[dict[str, Any]],
    seed_rows: list[dict[str, Any]] | None = None,
) -> list[str]:
    """What the pairwise tests support, in a few sentences (accuracy, Holm-corrected).

    With several seeds, the recurrent architectures are compared seed by seed
    (``seed_rows``): one model per seed says little about its architecture.
    """
    if not models:
        return []
    top = max(models, key=lambda m: m.accuracy)
    sentences = [_group_sentence(top, [m for m in models if m is not top], rows)]
    recurrent = [m for m in models if m.kind == "rnn"]
    best_rnn = max(recurrent, key=lambda m: m.accuracy) if recurrent else None
    if seed_rows:
        sentences.append(_seed_sentence(seed_rows))
    elif best_rnn is not None and best_rnn is not top and len(recurrent) > 1:
        others = [m for m in recurrent if m is not best_rnn]
        sentences.append("Among the recurrent models, " + _group_sentence(best_rnn, others, rows))
    for baseline in (m for m in models if m.kind == "baseline"):
        if best_rnn is None or top in (best_rnn, baseline):
            continue  # the first sentence already compares them
        row = oriented(rows, best_rnn.name, baseline.name)
        if row is None:
            continue
        relation = {BETTER: "is above", WORSE: "is below", SAME: "cannot be told apart from"}
        detail = _gap(row) if row["verdict"] != SAME else _p_text(row["p_holm"])
        sentences.append(
            f"The best recurrent model, {best_rnn.name}, {relation[row['verdict']]} "
            f"{baseline.name} ({detail})."
        )
    return sentences


def seed_comparisons(models: list[Scored], confidence: float) -> list[dict[str, Any]]:
    """Architectures compared seed by seed on test accuracy, with a paired t-test (Holm)."""
    by_architecture: dict[str, dict[int, float]] = {}
    for m in models:
        if m.kind == "rnn" and m.architecture and m.seed is not None:
            by_architecture.setdefault(m.architecture, {})[m.seed] = m.accuracy
    if not any(len(seeds) > 1 for seeds in by_architecture.values()):
        return []
    rows = []
    for first, second in combinations(sorted(by_architecture), 2):
        seeds = sorted(set(by_architecture[first]) & set(by_architecture[second]))
        if len(seeds) < 2:
            continue
        result = paired_seed_test(
            [by_architecture[first][s] for s in seeds],
            [by_architecture[second][s] for s in seeds],
            confidence,
        )
        rows.append(
            {
                "model": first,
                "other": second,
                "seeds": result.seeds,
                "accuracy_difference": result.mean_difference,
                "accuracy_interval": list(result.interval),
                "p_value": result.p_value,
            }
        )
    adjusted = holm([1.0 if math.isnan(r["p_value"]) else r["p_value"] for r in rows])
    for row, p_holm in zip(rows, adjusted, strict=True):
        row["p_holm"] = p_holm
        detectable = p_holm < 1 - confidence
        row["verdict"] = (
            (BETTER if row["accuracy_difference"] > 0 else WORSE) if detectable else SAME
        )
    return rows


def seed_variation(
    models: list[Scored], bootstrap: dict[str, dict[str, np.ndarray]] | None
) -> list[dict[str, Any]]:
    """Per architecture: accuracy's spread over seeds beside its spread over test resamples."""
    if bootstrap is None:
        return []
    groups: dict[str, list[Scored]] = {}
    for m in models:
        if m.kind == "rnn" and m.architecture:
            groups.setdefault(m.architecture, []).append(m)
    rows = []
    for architecture, members in groups.items():
        if len(members) < 2:
            continue
        seed_sd = stdev(m.accuracy for m in members)
        test_sd = mean(float(np.std(bootstrap[m.name]["accuracy"], ddof=1)) for m in members)
        rows.append(
            {
                "model": architecture,
                "seeds": len(members),
                "seed_sd": seed_sd,
                "test_sample_sd": test_sd,
                "dominant": "seed" if seed_sd > test_sd else "test sample",
            }
        )
    return rows


def weigh_evidence(
    models: list[Scored],
    predictions: Predictions,
    resamples: int,
    confidence: float,
    seed: int,
) -> Evidence:
    """Intervals for every metric, pairwise verdicts, the seed comparison and the headline.

    ``models`` are the scored ones, each with its predictions on the same test reviews.
    ``resamples`` = 0 turns the bootstrap off: McNemar's verdicts remain, without intervals.
    """
    models = [m for m in models if m.name in predictions]
    if not models:
        return Evidence(resamples, confidence, {}, [], [])
    labels = next(iter(predictions.values()))[0]
    bootstrap = None
    intervals: dict[str, dict[str, list[float]]] = {}
    if resamples > 0:
        bootstrap = paired_bootstrap(
            labels, {m.name: predictions[m.name][1] for m in models}, resamples, seed
        )
        # K classes also get intervals for their weighted precision, recall and F1.
        intervals = {
            name: {
                metric: list(percentile_interval(values[metric], confidence))
                for metric in metric_names(class_count(predictions[name][1]))
            }
            for name, values in bootstrap.items()
        }
    rows = compare_pairs(pairs_to_compare(models), predictions, bootstrap, confidence)
    by_seed = seed_comparisons(models, confidence)
    return Evidence(
        resamples=resamples,
        confidence=confidence,
        intervals=intervals,
        comparisons=rows,
        headline=headline(models, rows, by_seed),
        seed_comparisons=by_seed,
        seed_variation=seed_variation(models, bootstrap),
    )

"""Pairwise verdicts, the headline, and the comparison by seed, on predictions whose
differences are known by construction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from imdb_rnn.evaluation import METRIC_NAMES, MULTICLASS_METRIC_NAMES
from imdb_rnn.evidence import (
    SAME,
    WORSE,
    Evidence,
    Scored,
    oriented,
    pairs_to_compare,
    seed_comparisons,
    seed_variation,
    weigh_evidence,
)
from imdb_rnn.reporting.evidence_tables import variation_sentence

N = 2000


def predictions_right_on(labels: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Probabilities that are right exactly where ``right`` is true."""
    return np.where(right == labels.astype(bool), 0.8, 0.2).astype(np.float32)


@pytest.fixture(scope="module")
def three_models():
    """base right on 85 %; near differs from base on 20 reviews, 11 to 9; weak on 75 %."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, N)
    base = np.arange(N) < int(0.85 * N)
    near = base.copy()
    near[:9] = False  # loses 9 that base has
    near[-11:] = True  # wins 11 that base misses
    weak = np.arange(N) < int(0.75 * N)
    predictions = {
        name: (labels, predictions_right_on(labels, right))
        for name, right in (("tfidf", base), ("lstm", near), ("simple_rnn", weak))
    }
    models = [
        Scored("lstm", "rnn", float(near.mean()), "lstm", 42),
        Scored("simple_rnn", "rnn", float(weak.mean()), "simple_rnn", 42),
        Scored("tfidf", "baseline", float(base.mean())),
    ]
    return models, predictions


def test_every_model_is_compared_with_the_best_and_the_recurrent_ones_with_each_other(
    three_models,
):
    models, _ = three_models
    pairs = {frozenset((a.name, b.name)) for a, b in pairs_to_compare(models)}
    # lstm is the most accurate, so every pair includes it; none is compared twice.
    assert pairs == {frozenset(("tfidf", "lstm")), frozenset(("simple_rnn", "lstm"))}
    baseline_first = [
        Scored("tfidf", "baseline", 0.9),
        Scored("lstm", "rnn", 0.85, "lstm", 42),
        Scored("gru", "rnn", 0.84, "gru", 42),
        Scored("gru-seed7", "rnn", 0.83, "gru", 7),
    ]
    pairs = {frozenset((a.name, b.name)) for a, b in pairs_to_compare(baseline_first)}
    assert pairs == {
        frozenset(("lstm", "tfidf")),
        frozenset(("gru", "tfidf")),
        frozenset(("gru-seed7", "tfidf")),
        frozenset(("lstm", "gru")),  # same seed; gru-seed7 is only compared with the best
    }


def test_verdicts_follow_mcnemar_after_holm(three_models):
    models, predictions = three_models
    evidence = weigh_evidence(models, predictions, 300, 0.95, seed=0)
    close = oriented(evidence.comparisons, "tfidf", "lstm")
    # 9 against 11 disagreements: nowhere near significant.
    assert (close["only_model_right"], close["only_other_right"]) == (9, 11)
    assert close["verdict"] == SAME and close["p_holm"] >= close["p_value"] > 0.5
    far = oriented(evidence.comparisons, "simple_rnn", "lstm")
    assert far["verdict"] == WORSE and far["p_holm"] < 0.001
    assert far["accuracy_difference"] == pytest.approx(0.75 - 0.851)
    low, high = far["accuracy_interval"]
    assert low < far["accuracy_difference"] < high < 0
    # Turned round, a comparison keeps its numbers with the signs swapped.
    flipped = oriented(evidence.comparisons, "lstm", "simple_rnn")
    assert flipped["verdict"] == "better"
    assert flipped["accuracy_interval"] == pytest.approx([-high, -low])


def test_the_headline_says_only_what_the_tests_support(three_models):
    models, predictions = three_models
    evidence = weigh_evidence(models, predictions, 300, 0.95, seed=0)
    first = evidence.headline[0]
    assert first.startswith("lstm and tfidf cannot be told apart on this test set (p = ")
    assert "simple_rnn is below lstm (−0.1010 [" in first
    assert len(evidence.headline) == 1  # the best model is recurrent: one sentence says it all


def test_intervals_cover_every_metric_and_can_be_turned_off(three_models):
    models, predictions = three_models
    evidence = weigh_evidence(models, predictions, 200, 0.9, seed=0)
    low, high = evidence.intervals["lstm"]["accuracy"]
    assert low < 0.851 < high
    assert set(evidence.intervals["tfidf"]) >= {"roc_auc", "brier", "ece", "log_loss"}
    off = weigh_evidence(models, predictions, 0, 0.95, seed=0)
    assert off.intervals == {} and off.comparisons[0]["accuracy_interval"] is None
    assert off.headline and "[" not in off.headline[0].split("simple_rnn")[0]
    assert Evidence.from_dict(evidence.to_dict()) == evidence


def test_seeds_are_compared_pair_by_pair_and_the_larger_spread_is_named():
    models = [
        Scored(f"lstm-seed{s}", "rnn", a, "lstm", s)
        for s, a in zip((1, 2, 3, 4), (0.86, 0.87, 0.85, 0.86), strict=True)
    ] + [
        Scored(f"gru-seed{s}", "rnn", a, "gru", s)
        for s, a in zip((1, 2, 3, 4), (0.80, 0.81, 0.79, 0.80), strict=True)
    ]
    [row] = seed_comparisons(models, 0.95)
    assert (row["model"], row["other"], row["seeds"]) == ("gru", "lstm", 4)
    assert row["accuracy_difference"] == pytest.approx(-0.06)
    assert row["verdict"] == WORSE  # the same 0.06 on every seed: no spread at all
    bootstrap = {m.name: {"accuracy": np.array([0.85, 0.851, 0.852])} for m in models}
    rows = seed_variation(models, bootstrap)
    assert {r["model"]: r["dominant"] for r in rows} == {"lstm": "seed", "gru": "seed"}
    assert variation_sentence(rows).startswith("For lstm and gru, the seed moves test accuracy")


def test_the_best_recurrent_model_is_set_against_the_baseline_when_neither_leads():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, N)
    right = {
        "nbsvm": np.arange(N) < int(0.92 * N),
        "tfidf": np.arange(N) < int(0.90 * N),
        "gru": np.arange(N) < int(0.86 * N),
    }
    predictions = {name: (labels, predictions_right_on(labels, r)) for name, r in right.items()}
    models = [
        Scored("gru", "rnn", 0.86, "gru", 42),
        Scored("tfidf", "baseline", 0.90),
        Scored("nbsvm", "baseline", 0.92),
    ]
    evidence = weigh_evidence(models, predictions, 0, 0.95, seed=0)
    assert evidence.headline[0].startswith("nbsvm has the highest test accuracy (0.9200)")
    assert evidence.headline[-1] == (
        "The best recurrent model, gru, is below tfidf (−0.0400, p < 0.001)."
    )


def test_with_several_seeds_the_headline_compares_architectures_by_seed():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, N)
    accuracies = {
        ("lstm", 1): 0.86,
        ("lstm", 2): 0.87,
        ("lstm", 3): 0.85,
        ("gru", 1): 0.85,
        ("gru", 2): 0.86,
        ("gru", 3): 0.86,
    }
    models = [Scored("tfidf", "baseline", 0.9)]
    predictions = {"tfidf": (labels, predictions_right_on(labels, np.arange(N) < 0.9 * N))}
    for (architecture, seed), accuracy in accuracies.items():
        name = f"{architecture}-seed{seed}"
        models.append(Scored(name, "rnn", accuracy, architecture, seed))
        right = np.roll(np.arange(N) < accuracy * N, seed * 7)
        predictions[name] = (labels, predictions_right_on(labels, right))
    evidence = weigh_evidence(models, predictions, 0, 0.95, seed=0)
    first, second = evidence.headline
    # Six models below the leader: the nearest is named, the rest counted.
    assert first.startswith("tfidf has the highest test accuracy (0.9000); lstm-seed2 is below")
    assert first.endswith("and the other 5 models further below.")
    assert second.startswith("Across 3 seeds, paired by seed: gru and lstm cannot be told apart (")


def k_class_right_on(labels: np.ndarray, right: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Rows of three probabilities whose most probable class is the label exactly where
    ``right`` is true (the next class otherwise); ``spread`` moves the rows so that the
    ranking metrics have something to rank."""
    chosen = np.where(right, labels, (labels + 1) % 3)
    rows = np.full((len(labels), 3), 0.2) + np.eye(3)[chosen] * (0.2 + spread)[:, None]
    return (rows / rows.sum(axis=1, keepdims=True)).astype(np.float32)


def test_k_class_pairs_are_judged_by_the_chosen_class():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, N)
    base = np.arange(N) < int(0.8 * N)
    near = base.copy()
    near[:12] = False  # loses 12 that base has
    near[-10:] = True  # wins 10 that base misses
    predictions = {
        "tfidf": (labels, k_class_right_on(labels, base, rng.random(N))),
        "gru": (labels, k_class_right_on(labels, near, rng.random(N))),
    }
    models = [
        Scored("gru", "rnn", float(near.mean()), "gru", 42),
        Scored("tfidf", "baseline", float(base.mean())),
    ]
    evidence = weigh_evidence(models, predictions, 200, 0.95, seed=0)
    row = oriented(evidence.comparisons, "gru", "tfidf")
    assert (row["only_model_right"], row["only_other_right"]) == (10, 12)
    assert row["accuracy_difference"] == pytest.approx(-2 / N)
    assert row["verdict"] == SAME
    expected = skm.roc_auc_score(
        labels, predictions["gru"][1], multi_class="ovr"
    ) - skm.roc_auc_score(labels, predictions["tfidf"][1], multi_class="ovr")
    assert row["roc_auc_difference"] == pytest.approx(expected, abs=1e-12)
    low, high = row["roc_auc_interval"]
    assert low < row["roc_auc_difference"] < high
    # K classes also get intervals for their weighted precision, recall and F1.
    assert list(evidence.intervals["gru"]) == [*METRIC_NAMES, *MULTICLASS_METRIC_NAMES]
    low, high = evidence.intervals["gru"]["accuracy"]
    assert low < near.mean() < high
    assert evidence.headline[0].startswith("tfidf and gru cannot be told apart")

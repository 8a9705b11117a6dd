"""The fixed verdict rules of the seed notes' claims, on hand-made numbers."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from imdb_rnn.claim_rules import (
    complexity_classes,
    complexity_supported,
    effective_span,
    is_exploding,
    long_term_class,
    longest_handled,
    memory_class,
    memory_verdict,
    norm_growth,
)
from tests.samples import bucketed_evaluation, buckets


@pytest.mark.parametrize(
    ("curve", "span"),
    [
        ([0.0, 0.0, 0.0, 2.0], 1),  # only the last token matters
        ([1.0, 1.0, 1.0, 1.0], 4),  # flat: the whole window
        ([0.5**k for k in range(10)][::-1], 7),  # halves each step back: 0.5**6 > 1 % > 0.5**7
        ([1.0, 1.0, 0.001, 1.0, 1.0], 2),  # a dip below 1 % ends the span; no recovery
        ([0.01, 1.0], 1),  # exactly 1 % is not above it
        ([5.0, 0.2, 1.0], 3),  # the peak need not be the last position
        ([0.0, 0.0], 0),
        ([], 0),
        ([1.0, math.nan], 0),
    ],
)
def test_effective_span_on_hand_made_curves(curve, span):
    assert effective_span(curve) == span


def test_verdict_rules_on_hand_made_numbers():
    assert memory_class(100, 200) == "long" and memory_class(99, 200) == "short"
    accuracy = {10: 0.99, 50: 0.95, 100: 0.7, 200: 0.93}
    assert longest_handled(accuracy) == 50  # 100 fails, so 200 does not count
    assert long_term_class(accuracy) == "no"
    assert long_term_class({10: 0.9, 200: 0.9}) == "yes"
    assert longest_handled({10: 0.5}) is None
    assert norm_growth(0.5, 60.0) == 120.0 and is_exploding(120.0) is True
    assert is_exploding(norm_growth(0.5, 40.0)) is False
    assert norm_growth(None, 3.0) is None and is_exploding(None) is None
    parameters = {"simple_rnn": 100, "gru": 300, "lstm": 400}
    assert complexity_classes(parameters) == {"simple_rnn": "low", "gru": "medium", "lstm": "high"}
    assert all(complexity_supported(name, parameters) for name in parameters)
    swapped = {"simple_rnn": 100, "gru": 500, "lstm": 400}
    assert not complexity_supported("gru", swapped) and not complexity_supported("lstm", swapped)
    assert complexity_supported("simple_rnn", swapped)


def test_verdict_supported_when_simple_rnn_loses_much_more_on_long_reviews():
    verdict = memory_verdict(
        [
            bucketed_evaluation("simple_rnn", "rnn", 0.7, buckets(0.80, 0.60)),
            bucketed_evaluation("lstm", "rnn", 0.85, buckets(0.86, 0.85)),
            bucketed_evaluation("gru", "rnn", 0.84, buckets(0.85, 0.83)),
        ]
    )
    assert verdict["supported"] is True
    assert verdict["text"].startswith("Supported")
    # simple_rnn: 80 -> 60 is 20 points; gated: 1 and 2 points.
    assert "+20.0 points for simple_rnn" in verdict["text"]
    assert "lstm +1.0, gru +2.0" in verdict["text"]


def test_verdict_not_supported_when_penalties_are_within_noise():
    verdict = memory_verdict(
        [
            bucketed_evaluation("simple_rnn", "rnn", 0.7, buckets(0.70, 0.67, n=300)),
            bucketed_evaluation("lstm", "rnn", 0.86, buckets(0.88, 0.83, n=300)),
        ]
    )
    assert verdict["supported"] is False
    assert verdict["text"].startswith("Not supported by this run")
    assert "simple_rnn scores 0.7000 against 0.8600 for lstm" in verdict["text"]


def test_verdict_needs_both_kinds_of_model():
    verdict = memory_verdict([bucketed_evaluation("lstm", "rnn", 0.86, buckets(0.88, 0.83))])
    assert verdict["supported"] is None and verdict["text"].startswith("Not measured")


def test_verdict_with_several_seeds_reads_the_first_model_of_each_architecture():
    def seeded(architecture, seed, accuracy, short, long):
        return replace(
            bucketed_evaluation(
                f"{architecture}-seed{seed}", "rnn", accuracy, buckets(short, long)
            ),
            architecture=architecture,
            seed=seed,
        )

    verdict = memory_verdict(
        [
            seeded("simple_rnn", 1, 0.7, 0.80, 0.60),
            seeded("simple_rnn", 2, 0.9, 0.90, 0.90),  # a later seed does not count
            seeded("lstm", 1, 0.85, 0.86, 0.85),
        ]
    )
    assert verdict["supported"] is True
    assert "+20.0 points for simple_rnn" in verdict["text"]
    assert "simple_rnn scores 0.7000 against 0.8500 for lstm" in verdict["text"]


def test_the_length_claim_reads_three_class_accuracy_by_length_of_the_chosen_class():
    import numpy as np

    from imdb_rnn.evaluation import score_predictions

    # 200 short (50 tokens) and 200 long (500 tokens) reviews of three classes.
    labels = np.arange(400) % 3
    lengths = np.where(np.arange(400) < 200, 50, 500)

    def evaluation(name, right):
        chosen = np.where(right, labels, (labels + 1) % 3)
        rows = np.full((400, 3), 0.2)
        rows[np.arange(400), chosen] = 0.6
        return score_predictions(
            name, "rnn", labels, rows, lengths, parameters=1, train_seconds=1,
            predict_seconds=1, classes=["a", "b", "c"],
        )  # fmt: skip

    # SimpleRNN chooses right on every short review and every other long one; the GRU on all.
    simple = evaluation("simple_rnn", (np.arange(400) < 200) | (np.arange(400) % 2 == 0))
    gru = evaluation("gru", np.ones(400, dtype=bool))
    verdict = memory_verdict([simple, gru])

    assert verdict["penalties"]["simple_rnn"]["penalty"] == pytest.approx(0.5)
    assert verdict["penalties"]["gru"]["penalty"] == pytest.approx(0.0)
    # Margin: two standard errors of 1.0 - 0.5 over 200 and 200 reviews, 2 * sqrt(0.25 / 200).
    assert verdict["supported"] is True
    assert "difference +50.0 ± 7.1 points" in verdict["text"]

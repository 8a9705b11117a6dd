"""Readable mistakes: the most confident errors, and where two models disagree."""

from __future__ import annotations

import numpy as np

from imdb_rnn.mistakes import disagreements, excerpt, most_confident_errors

TEXTS = [f"review number {i}" for i in range(6)]
LABELS = np.array([1, 1, 0, 0, 1, 0])


def test_the_most_confident_errors_come_first():
    probabilities = np.array([0.1, 0.45, 0.98, 0.2, 0.9, 0.6])
    # Wrong: review 0 (0.1 for a positive), 1 (0.45), 2 (0.98 for a negative), 5 (0.6).
    errors = most_confident_errors(LABELS, probabilities, TEXTS, 3)
    assert [e["review"] for e in errors] == [2, 0, 5]
    assert errors[0] == {
        "review": 2,
        "excerpt": "review number 2",
        "label": "negative",
        "probability": 0.98,
    }


def test_disagreement_counts_and_examples():
    model = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.4])  # right: 0, 1, 3, 5
    baseline = np.array([0.7, 0.3, 0.2, 0.3, 0.9, 0.9])  # right: 0, 2, 3, 4
    found = disagreements(LABELS, ("lstm", model), ("tfidf", baseline), TEXTS, 1)
    assert (found["both_right"], found["only_model_right"]) == (2, 2)
    assert (found["only_baseline_right"], found["both_wrong"]) == (2, 0)
    # Of reviews 1 and 5, the model was surer about 1 (0.8 vs 0.4: 0.30 and 0.10 from 0.5).
    [example] = found["model_right_examples"]
    assert example["review"] == 1 and example["baseline_probability"] == 0.3
    [example] = found["baseline_right_examples"]
    assert example["review"] == 4  # baseline 0.9 beats its 0.2 for review 2


def test_an_excerpt_is_cut_at_a_word_with_an_ellipsis():
    text = "word " * 100
    cut = excerpt(text, 23)
    assert cut == "word word word word …"
    assert excerpt("short   and\nsimple") == "short and simple"

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


# --- K classes: confidence is the chosen class's probability, and the review names it.
K_LABELS = np.array([0, 1, 2, 2, 1, 0])
K_SCORES = np.array(
    [
        [0.2, 0.7, 0.1],  # wrong: chose 1 at 0.7
        [0.1, 0.8, 0.1],  # right
        [0.45, 0.1, 0.45],  # a tie chooses the first class: wrong, 0.45
        [0.05, 0.9, 0.05],  # wrong: chose 1 at 0.9
        [0.4, 0.35, 0.25],  # wrong: chose 0 at 0.4
        [0.6, 0.3, 0.1],  # right
    ]
)
K_NAMES = ("bad", "fine", "good")


def test_k_class_mistakes_come_surest_first_and_name_the_chosen_class():
    errors = most_confident_errors(K_LABELS, K_SCORES, TEXTS, 3, K_NAMES)
    assert [e["review"] for e in errors] == [3, 0, 2]
    assert errors[0] == {
        "review": 3,
        "excerpt": "review number 3",
        "label": "good",
        "predicted": "fine",
        "probability": 0.9,
    }
    assert (errors[2]["label"], errors[2]["predicted"]) == ("good", "bad")


def test_unnamed_k_classes_are_shown_by_their_ids():
    [error] = most_confident_errors(K_LABELS, K_SCORES, TEXTS, 1)
    assert (error["label"], error["predicted"]) == ("2", "1")


def test_k_class_disagreements_count_by_the_chosen_class_and_show_both_choices():
    baseline = np.array(
        [
            [0.5, 0.3, 0.2],  # right
            [0.6, 0.3, 0.1],  # wrong
            [0.1, 0.2, 0.7],  # right
            [0.2, 0.5, 0.3],  # wrong (chose 1)
            [0.2, 0.5, 0.3],  # right
            [0.3, 0.3, 0.4],  # wrong (chose 2)
        ]
    )
    # The model is right on 1 and 5; the baseline on 0, 2 and 4; neither on 3.
    found = disagreements(K_LABELS, ("gru", K_SCORES), ("tfidf", baseline), TEXTS, 1, K_NAMES)
    assert (found["both_right"], found["only_model_right"]) == (0, 2)
    assert (found["only_baseline_right"], found["both_wrong"]) == (3, 1)
    # Of 1 and 5, the model was surer of 1 (0.8 against 0.6).
    [example] = found["model_right_examples"]
    assert example["review"] == 1 and example["predicted"] == "fine"
    assert (example["baseline_predicted"], example["baseline_probability"]) == ("bad", 0.6)
    # Of 0, 2 and 4 the baseline was surest of 2 (0.7), where the model chose bad at 0.45.
    [example] = found["baseline_right_examples"]
    assert example["review"] == 2 and example["baseline_predicted"] == "good"
    assert (example["predicted"], example["probability"]) == ("bad", 0.45)


def test_aclimdb_s_class_names_read_as_before():
    probabilities = np.array([0.1, 0.45, 0.98, 0.2, 0.9, 0.6])
    named = most_confident_errors(LABELS, probabilities, TEXTS, 3, ("neg", "pos"))
    assert named == most_confident_errors(LABELS, probabilities, TEXTS, 3)
    assert named[0]["label"] == "negative" and "predicted" not in named[0]

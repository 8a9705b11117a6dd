"""Occlusion: each word's effect, checked against a scorer whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imdb_rnn.occlusion import choose_reviews, explain_reviews, visible_words, word_effects
from imdb_rnn.text import SequenceEncoder

VOCABULARY = ("<pad>", "<unk>", "good", "bad", "film", "plot")
WEIGHTS = {"good": 1.5, "bad": -2.0, "film": 0.1, "plot": -0.3}


def linear_scorer(reviews) -> np.ndarray:
    """sigmoid(sum of word weights): dropping a word removes exactly its weight."""
    reviews = reviews.to_pylist() if hasattr(reviews, "to_pylist") else reviews
    totals = np.array([sum(WEIGHTS.get(word, 0.0) for word in words) for words in reviews])
    return 1 / (1 + np.exp(-totals))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_each_effect_is_the_score_minus_the_score_without_the_word():
    encoder = SequenceEncoder(VOCABULARY, maxlen=10)
    words = ["good", "film", "bad", "plot", "unknown"]
    total = 1.5 + 0.1 - 2.0 - 0.3
    score, effects = word_effects(words, encoder, linear_scorer)
    assert score == pytest.approx(sigmoid(total))
    expected = [sigmoid(total) - sigmoid(total - w) for w in (1.5, 0.1, -2.0, -0.3, 0.0)]
    assert effects == pytest.approx(expected)
    assert effects[0] > 0 > effects[2] and effects[4] == 0


def test_only_the_words_the_model_reads_are_explained():
    encoder = SequenceEncoder(VOCABULARY, maxlen=3, truncating="pre")
    assert visible_words(["a", "b", "c", "d"], encoder) == ["b", "c", "d"]
    _, effects = word_effects(["good", "bad", "film", "plot"], encoder, linear_scorer)
    assert len(effects) == 3


def test_readable_reviews_are_chosen_right_positive_right_negative_then_mistake():
    labels = np.array([1, 0, 1, 0, 1])
    probabilities = np.array([0.95, 0.02, 0.2, 0.6, 0.99])
    lengths = np.array([50, 60, 70, 80, 500])  # the last is too long to read
    assert choose_reviews(labels, probabilities, lengths, 3) == [0, 1, 2]
    assert choose_reviews(labels, probabilities, lengths, 4) == [0, 1, 2, 3]


def test_explain_reviews_names_label_and_words():
    encoder = SequenceEncoder(VOCABULARY, maxlen=40)
    texts = [" ".join(["good"] * 20 + ["film"] * 15), " ".join(["bad"] * 20 + ["plot"] * 15)]
    explained = explain_reviews(texts, np.array([1, 0]), encoder, linear_scorer, 2)
    assert [r["label"] for r in explained] == ["positive", "negative"]
    assert explained[0]["words"][:2] == ["good", "good"] and len(explained[0]["effects"]) == 35


# --- three classes: the effect on the probability of the class the model chose

CLASSES = ("bad", "fine", "good")
# Each word adds to one class's logit: dropping it takes exactly that away.
CLASS_WEIGHTS = {"bad": (0.1, 0, 0), "film": (0, 0.1, 0), "plot": (0, 0.05, 0), "good": (0, 0, 0.1)}


def softmax_scorer(reviews) -> np.ndarray:
    """Rows of softmax(sum of the words' class weights)."""
    reviews = reviews.to_pylist() if hasattr(reviews, "to_pylist") else reviews
    logits = np.array(
        [
            np.sum([CLASS_WEIGHTS.get(word, (0, 0, 0)) for word in words], axis=0)
            for words in reviews
        ]
    )
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def softmax(logits) -> np.ndarray:
    return np.exp(logits) / np.sum(np.exp(logits))


def test_three_class_effects_move_the_probability_of_the_chosen_class():
    encoder = SequenceEncoder(VOCABULARY, maxlen=40)
    texts = [
        " ".join(["good"] * 20 + ["film"] * 15),  # good, chosen as good: 0.574
        " ".join(["bad"] * 20 + ["film"] * 12),  # fine, chosen as bad: a mistake
        " ".join(["bad"] * 12 + ["plot"] * 20),  # bad, chosen as bad: 0.472
    ]
    explained = explain_reviews(texts, np.array([2, 1, 0]), encoder, softmax_scorer, 3, CLASSES)

    # The most confident right review, the mistake, then the next right one.
    assert [(r["label"], r["predicted"]) for r in explained] == [
        ("good", "good"),
        ("fine", "bad"),
        ("bad", "bad"),
    ]
    first = explained[0]
    whole = softmax([0.0, 1.5, 2.0])[2]
    assert first["probability"] == pytest.approx(whole, abs=1e-4)
    without_good = whole - softmax([0.0, 1.5, 1.9])[2]  # pushed towards good
    without_film = whole - softmax([0.0, 1.4, 2.0])[2]  # pushed away from it
    assert first["effects"] == pytest.approx([without_good] * 20 + [without_film] * 15, abs=1e-4)
    assert without_good > 0 > without_film
    mistake = explained[1]  # its words are judged towards bad, the class it chose
    assert mistake["probability"] == pytest.approx(softmax([2.0, 1.2, 0.0])[0], abs=1e-4)
    assert mistake["effects"][0] == pytest.approx(
        softmax([2.0, 1.2, 0.0])[0] - softmax([1.9, 1.2, 0.0])[0], abs=1e-4
    )

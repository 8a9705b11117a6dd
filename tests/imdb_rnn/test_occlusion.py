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

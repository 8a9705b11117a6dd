"""Which words moved the score: drop each word of a review in turn and score it again.

Occlusion needs nothing but the model's scores, so any architecture can be explained the
same way, and a review of L words costs L + 1 predictions. With K > 2 classes the score is
the probability of the class the model chose for the whole review.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from imdb_rnn.mistakes import display_names
from imdb_rnn.text import SequenceEncoder

# Reviews' words -> the probability of "positive", or rows of K class probabilities.
Scorer = Callable[[list[list[str]]], np.ndarray]


def visible_words(words: Sequence[str], encoder: SequenceEncoder) -> list[str]:
    """The words of a review the model reads: the last (or first) ``maxlen`` of them."""
    words = list(words)
    if len(words) <= encoder.maxlen:
        return words
    return words[-encoder.maxlen :] if encoder.truncating == "pre" else words[: encoder.maxlen]


def word_effects(
    words: Sequence[str], encoder: SequenceEncoder, score: Scorer
) -> tuple[float, list[float]]:
    """The review's score, and for each visible word, score minus the score without it.

    ``score`` gives one number per review: the probability of "positive" for two classes,
    or of the class the model chose for the whole review with K > 2 (``explain_reviews``
    picks that column). A positive effect means the word pushed the review towards it.
    """
    shown = visible_words(words, encoder)
    variants = [shown] + [shown[:i] + shown[i + 1 :] for i in range(len(shown))]
    scores = np.asarray(score(variants), dtype=np.float64).reshape(-1)
    return float(scores[0]), [float(scores[0] - s) for s in scores[1:]]


def choose_reviews(
    labels: np.ndarray, probabilities: np.ndarray, lengths: np.ndarray, count: int
) -> list[int]:
    """Short, readable reviews to explain: the most confident right positive, right
    negative and mistake, then the next most confident, until ``count``.

    Only reviews of 30 to 120 words are candidates, so each fits on a screen.
    """
    labels = np.asarray(labels).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    readable = (np.asarray(lengths) >= 30) & (np.asarray(lengths) <= 120)
    right = (probabilities >= 0.5) == labels
    kinds = [readable & right & labels, readable & right & ~labels, readable & ~right]
    ranked = [
        np.flatnonzero(kind)[np.argsort(-np.abs(probabilities[kind] - 0.5), kind="stable")]
        for kind in kinds
    ]
    return _in_turn(ranked, count)


def _in_turn(ranked: list[np.ndarray], count: int) -> list[int]:
    """The first of each kind, then the second of each, ..., until ``count``."""
    chosen: list[int] = []
    for rank in range(max((len(r) for r in ranked), default=0)):
        for candidates in ranked:
            if rank < len(candidates) and len(chosen) < count:
                chosen.append(int(candidates[rank]))
    return chosen


def _choose_among_classes(
    labels: np.ndarray, probabilities: np.ndarray, lengths: np.ndarray, count: int
) -> list[int]:
    """As ``choose_reviews`` for K classes: the most confident right review and mistake in
    turn."""
    readable = (np.asarray(lengths) >= 30) & (np.asarray(lengths) <= 120)
    right = probabilities.argmax(axis=1) == np.asarray(labels)
    confidence = probabilities.max(axis=1)
    ranked = [
        np.flatnonzero(kind)[np.argsort(-confidence[kind], kind="stable")]
        for kind in (readable & right, readable & ~right)
    ]
    return _in_turn(ranked, count)


def explain_reviews(
    texts: Sequence[str],
    labels: np.ndarray,
    encoder: SequenceEncoder,
    score: Scorer,
    count: int,
    classes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """``count`` of ``texts`` with every visible word's effect on the score.

    Each has its ``label`` (the class's name), ``probability``, ``words`` and ``effects``;
    with K > 2 classes also ``predicted``, the class whose probability the effects move.
    """
    from imdb_rnn.text import tokenize_all

    token_lists = tokenize_all(list(texts))
    lengths = np.diff(np.asarray(token_lists.offsets))
    probabilities = np.asarray(score(token_lists), dtype=np.float64)
    names = display_names(classes)
    several = probabilities.ndim == 2
    chosen = (
        _choose_among_classes(labels, probabilities, lengths, count)
        if several
        else choose_reviews(labels, probabilities, lengths, count)
    )
    explained = []
    for index in chosen:
        words = token_lists[index].as_py()
        row: dict[str, Any] = {"label": names[int(labels[index])]}
        scorer = score
        if several:
            predicted = int(probabilities[index].argmax())
            row["predicted"] = names[predicted]

            def scorer(variants: list[list[str]], k: int = predicted) -> np.ndarray:
                return np.asarray(score(variants))[:, k]

        probability, effects = word_effects(words, encoder, scorer)
        explained.append(
            {
                **row,
                "probability": round(probability, 4),
                "words": visible_words(words, encoder),
                "effects": [round(e, 4) for e in effects],
            }
        )
    return explained

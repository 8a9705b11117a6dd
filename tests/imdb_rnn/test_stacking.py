"""Stacking: the combiner's arithmetic, NBSVM fitted fold by fold, and a stack's files."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from imdb_rnn.nbsvm import cross_fitted_nbsvm
from imdb_rnn.stacking import (
    StackedScorer,
    Stacker,
    fit_stacker,
    is_stack,
    probability_logits,
)

POSITIVE = ["great", "fine", "loved", "superb", "moving"]
NEGATIVE = ["awful", "dull", "hated", "boring", "weak"]
NEUTRAL = ["film", "plot", "actor", "scene", "story", "the", "a"]


def corpus(rows: int, seed: int) -> tuple[pa.LargeListArray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    reviews = []
    for label in labels:
        cue = POSITIVE if label else NEGATIVE
        words = list(rng.choice(NEUTRAL, 8)) + list(rng.choice(cue, 2))
        rng.shuffle(words)
        reviews.append(words)
    return pa.array(reviews, type=pa.large_list(pa.large_string())), labels


def folds_of(rows: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    holdouts = np.array_split(np.arange(rows), count)
    return [(np.setdiff1d(np.arange(rows), h), h) for h in holdouts]


def test_stacker_is_a_logistic_regression_on_the_member_scores():
    stacker = Stacker(("a", "b"), (2.0, -0.5), 0.25)
    features = np.array([[1.0, 2.0], [0.0, 0.0]])
    expected = [1 / (1 + math.exp(-(2.0 - 1.0 + 0.25))), 1 / (1 + math.exp(-0.25))]
    np.testing.assert_allclose(stacker.probabilities(features), expected)
    np.testing.assert_allclose(probability_logits([0.5, 0.75]), [0.0, math.log(3)])
    # A probability of exactly 0 or 1 gives a large finite logit, not infinity.
    assert np.isfinite(probability_logits([0.0, 1.0])).all()


def test_fit_stacker_trusts_the_informative_member_and_reports_held_out_figures():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    informative = (2 * labels - 1) * 2.0 + rng.normal(0, 1, labels.size)
    noise = rng.normal(0, 1, labels.size)
    stacker, checked = fit_stacker(
        ("good", "noise"), np.column_stack([informative, noise]), labels, 0
    )
    assert stacker.coefficients[0] > 1.0 and abs(stacker.coefficients[1]) < 0.2
    assert checked.shape == labels.shape
    # Held-out accuracy of the combiner is that of the informative score alone, about 0.977.
    assert ((checked > 0.5) == labels).mean() == pytest.approx(
        ((informative > 0) == labels).mean(), abs=0.01
    )


def test_out_of_fold_nbsvm_margins_never_depend_on_the_reviews_own_labels():
    token_lists, labels = corpus(300, seed=1)
    folds = folds_of(300, 3)
    settings = dict(max_n=2, min_df=1, c_grid=(0.1,), betas=(1.0,))
    margins = cross_fitted_nbsvm(token_lists, labels, folds, **settings).out_of_fold
    assert ((margins > 0) == labels).mean() > 0.9

    # Flip every label of fold 1: its models never saw them, so its margins stay the same.
    poisoned = labels.copy()
    poisoned[folds[1][1]] = 1 - poisoned[folds[1][1]]
    again = cross_fitted_nbsvm(token_lists, poisoned, folds, **settings).out_of_fold
    np.testing.assert_allclose(again[folds[1][1]], margins[folds[1][1]], rtol=1e-6)
    assert not np.allclose(again[folds[0][1]], margins[folds[0][1]])


def test_the_nbsvm_scorer_reads_words_and_leaves_unknown_ones_out():
    token_lists, labels = corpus(200, seed=2)
    scorer = cross_fitted_nbsvm(
        token_lists, labels, folds_of(200, 2), max_n=2, min_df=1, c_grid=(0.1,), betas=(1.0,)
    ).scorer
    reviews = pa.array(
        [["great", "film"], ["great", "film", "zzz", "qqq"], ["awful"], []],
        type=pa.large_list(pa.large_string()),
    )
    scores = scorer.scores(reviews)
    # Unknown words are part of no column, and no n-gram with them exists in training.
    assert scores[1] == pytest.approx(scores[0])
    assert scores[0] > 0 > scores[2]
    assert scores[3] == pytest.approx(scorer.bias)


def test_a_saved_stack_scores_the_same_after_loading(tmp_path):
    token_lists, labels = corpus(200, seed=3)
    fitted = cross_fitted_nbsvm(
        token_lists, labels, folds_of(200, 2), max_n=3, min_df=1, c_grid=(0.1, 1.0), betas=(0.5,)
    )
    assert fitted.c in (0.1, 1.0) and fitted.beta == 0.5
    nbsvm = fitted.scorer
    scorer = StackedScorer(Stacker(("gru", "nbsvm"), (0.7, 1.3), -0.1), nbsvm)
    recurrent = np.random.default_rng(0).uniform(0.05, 0.95, 200)
    before = scorer.probabilities(recurrent, token_lists)
    assert not is_stack(tmp_path)
    scorer.save(tmp_path, {"note": "test"})
    assert is_stack(tmp_path)
    after = StackedScorer.load(tmp_path).probabilities(recurrent, token_lists)
    np.testing.assert_allclose(after, before, rtol=1e-6)
    by_hand = 1 / (
        1 + np.exp(-(0.7 * probability_logits(recurrent) + 1.3 * nbsvm.scores(token_lists) - 0.1))
    )
    np.testing.assert_allclose(before, by_hand, rtol=1e-6)

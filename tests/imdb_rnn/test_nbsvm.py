"""NBSVM: n-gram keys, binarised columns, ratio scaling and interpolation on toy corpora
worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from imdb_rnn.nbsvm import (
    ALPHA,
    NgramColumns,
    fit_nbsvm,
    interpolated,
    log_count_ratios,
    ngram_keys,
    word_ids,
)


def tokens(*reviews: str) -> pa.LargeListArray:
    return pa.array([r.split() for r in reviews], type=pa.large_list(pa.large_string()))


def test_ngrams_never_cross_from_one_review_into_the_next():
    [ids], base = word_ids([tokens("a b c", "d e")])
    rows, keys = ngram_keys(ids, base, 3)
    # Review 0: a, b, c, ab, bc, abc; review 1: d, e, de. Never "cd" or "bcd".
    assert sorted(rows.tolist()) == [0] * 6 + [1] * 3
    assert len(set(keys.tolist())) == 9
    unigrams = {int(k) for k in keys if k < base}
    bigrams = {int(k) for k in keys if base <= k < base * base}
    assert len(unigrams) == 5 and len(bigrams) == 3
    # A slice of the reviews counts its own words only.
    rows, keys = ngram_keys(ids.slice(1), base, 3)
    assert rows.tolist() == [0, 0, 0] and len(set(keys.tolist())) == 3


def test_ids_are_shared_by_every_split():
    (first, second), _ = word_ids([tokens("good film"), tokens("film good")])
    assert first.flatten().to_pylist() == list(reversed(second.flatten().to_pylist()))


def test_columns_are_binary_and_min_df_counts_reviews_not_occurrences():
    [ids], base = word_ids([tokens("good good film", "good bad", "bad")])
    rows, keys = ngram_keys(ids, base, 1)
    columns, binary = NgramColumns.fit(rows, keys, 3, min_df=2)
    # "good" is in 2 reviews (3 times), "bad" in 2, "film" in 1: film is dropped.
    assert columns.keys.size == 2
    assert binary.toarray().sum(axis=1).tolist() == [1.0, 2.0, 1.0]  # "good good" counts once
    assert binary.max() == 1.0
    [other], _ = word_ids([tokens("good good film", "good bad", "bad", "unseen good")])
    other_rows, other_keys = ngram_keys(other, base, 1)
    again = columns.transform(other_rows, other_keys, 4)
    assert (again[:3] != binary).nnz == 0 and again[3].sum() == 1.0  # "unseen" has no column


def test_log_count_ratios_by_hand():
    # Columns good, film, bad. Positive reviews: "good film", "good"; negative: "bad film".
    binary = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]], dtype=np.float32)
    from scipy import sparse

    ratios = log_count_ratios(sparse.csr_matrix(binary), np.array([1, 1, 0]))
    # p = 1 + [2, 1, 0] = [3, 2, 1] (sum 6); q = 1 + [0, 1, 1] = [1, 2, 2] (sum 5).
    assert ALPHA == 1.0
    expected = [
        math.log((3 / 6) / (1 / 5)),
        math.log((2 / 6) / (2 / 5)),
        math.log((1 / 6) / (2 / 5)),
    ]
    assert ratios == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx([0.9163, -0.1823, -0.8755], abs=1e-4)


def test_interpolation_by_hand():
    # mean |w| = (2 + 1 + 0.5) / 3 = 7/6; w' = 0.75 * 7/6 + 0.25 * w.
    assert interpolated(np.array([2.0, -1.0, 0.5]), 0.25) == pytest.approx([1.375, 0.625, 1.0])
    assert interpolated(np.array([2.0, -1.0]), 1.0) == pytest.approx([2.0, -1.0])


def test_fit_picks_on_validation_and_gives_calibrated_probabilities():
    rng = np.random.default_rng(0)
    good = ["great", "superb", "fine", "lovely"]
    bad = ["awful", "dull", "poor", "boring"]
    filler = ["the", "film", "a", "plot", "actor"]

    def reviews(count: int) -> tuple[list[str], np.ndarray]:
        labels = rng.integers(0, 2, count)
        texts = [
            " ".join(rng.choice(filler, 6).tolist() + rng.choice(good if y else bad, 2).tolist())
            for y in labels
        ]
        return texts, labels

    (train, y_train), (validation, y_validation) = reviews(200), reviews(100)
    (train_ids, validation_ids), base = word_ids([tokens(*train), tokens(*validation)])
    columns, x_train = NgramColumns.fit(*ngram_keys(train_ids, base, 2), 200, 1)
    x_validation = columns.transform(*ngram_keys(validation_ids, base, 2), 100)
    model = fit_nbsvm(
        columns, (x_train, y_train), (x_validation, y_validation), (0.1, 1.0), (0.5, 1.0)
    )
    assert model.validation_accuracy == 1.0 and model.c in (0.1, 1.0)
    probabilities = model.probabilities(x_validation)
    assert ((probabilities >= 0.5) == y_validation.astype(bool)).all()
    assert (probabilities[y_validation == 1] > 0.5).all()

"""The TF-IDF baseline's n-gram counts against scikit-learn's own vectorizer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from imdb_rnn.text import tokenize_all
from imdb_rnn.tfidf import ngram_counts

TRAIN = [
    "a great film , a great cast",
    "the plot was awful and the cast was awful",
    "great great great",
    "don't watch it ; it's awful",
    "ab c abc ab",  # "ab c" sorts before "abc": the space comes first
]
OTHER = ["a great plot", "nothing seen in training", "awful cast , great film"]


def _reference(max_n: int, min_df: int):
    vectorizer = CountVectorizer(
        analyzer=lambda text: _ngrams(tokenize_all([text])[0].as_py(), max_n),
        min_df=min_df,
        dtype=np.float32,
    )
    train = vectorizer.fit_transform(TRAIN)
    return vectorizer, [train, vectorizer.transform(OTHER)]


def _ngrams(words: list[str], max_n: int) -> list[str]:
    return [
        " ".join(words[i : i + n]) for n in range(1, max_n + 1) for i in range(len(words) - n + 1)
    ]


def _indices_sorted(matrix) -> bool:
    return all(
        np.all(np.diff(matrix.indices[start:stop]) > 0)
        for start, stop in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)
    )


@pytest.mark.parametrize(("max_n", "min_df"), [(1, 1), (2, 1), (2, 2), (3, 2)])
# 2 reviews at a time: n-grams counted in several chunks, some seen by one chunk only.
@pytest.mark.parametrize("chunk_rows", [2, 25_000])
def test_counts_are_scikit_learns_columns_and_counts(max_n, min_df, chunk_rows):
    vectorizer, expected = _reference(max_n, min_df)

    matrices, width = ngram_counts(
        [tokenize_all(TRAIN), tokenize_all(OTHER)], max_n, min_df, chunk_rows=chunk_rows
    )

    assert width == len(vectorizer.vocabulary_)
    for mine, theirs in zip(matrices, expected, strict=True):
        assert mine.dtype == np.float32
        assert mine.has_sorted_indices and _indices_sorted(mine)
        assert mine.shape == theirs.shape
        np.testing.assert_array_equal(mine.toarray(), theirs.toarray())


def test_counts_worked_by_hand():
    (train, other), width = ngram_counts(
        [tokenize_all(["b a b", "a c"]), tokenize_all(["c c d"])], 2, 1
    )

    # Columns in text order: a, a b, a c, b, b a, c.
    assert width == 6
    np.testing.assert_array_equal(train.toarray(), [[1, 1, 0, 2, 1, 0], [1, 0, 1, 0, 0, 1]])
    np.testing.assert_array_equal(other.toarray(), [[0, 0, 0, 0, 0, 2]])  # "c c", "d" unseen

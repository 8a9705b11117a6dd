"""NBSVM (Wang & Manning, 2012): binarised word n-grams scaled by Naive Bayes log-count
ratios, a linear SVM, and the interpolation of its weights towards their mean magnitude.

The n-grams are found without a Python loop over reviews: every word gets an integer id, an
n-gram is the integer that packs its ids, and the columns, document frequencies and sparse
rows come from hashing those integers. Plain numpy, pandas and SciPy; no Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

# Laplace smoothing of the counts behind the ratios (Wang & Manning use 1).
ALPHA = 1.0


def encoded_words(token_lists: list[pa.LargeListArray]) -> tuple[list[pa.LargeListArray], pa.Array]:
    """One integer id per word, shared by every split, and the words: id ``i`` is word ``i - 1``.

    Ids start at 1, so that 0 can stand for no word in a packed n-gram.
    """
    words = pa.chunked_array([tokens.flatten() for tokens in token_lists])
    encoded = pc.dictionary_encode(words).combine_chunks()
    ids = np.asarray(encoded.indices, dtype=np.int64) + 1
    pieces, start = [], 0
    for tokens in token_lists:
        count = len(tokens.flatten())
        offsets = np.asarray(tokens.offsets, dtype=np.int64)
        pieces.append(
            pa.LargeListArray.from_arrays(
                pa.array(offsets - offsets[0]), pa.array(ids[start : start + count])
            )
        )
        start += count
    return pieces, encoded.dictionary


def word_ids(token_lists: list[pa.LargeListArray]) -> tuple[list[pa.LargeListArray], int]:
    """One integer id per word, shared by every split (ids start at 1), and how many ids."""
    pieces, dictionary = encoded_words(token_lists)
    return pieces, len(dictionary) + 1


def ngram_keys(
    token_ids: pa.LargeListArray, base: int, max_n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(row, key)`` of every n-gram (1 to ``max_n`` words) of every review.

    An n-gram of ids ``a, b, c`` is the integer ``(a * base + b) * base + c``; ids are at
    least 1, so n-grams of different lengths never share a key.
    """
    if base**max_n >= 2**63:
        raise ValueError(f"{base:,} word ids do not fit {max_n}-grams into 64-bit keys")
    ids = np.asarray(token_ids.flatten(), dtype=np.int64)
    offsets = np.asarray(token_ids.offsets, dtype=np.int64)
    offsets = offsets - offsets[0]  # a slice of a larger array starts past zero
    lengths = np.diff(offsets)
    row_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    left = np.repeat(offsets[1:], lengths) - np.arange(ids.size)  # words from here to the end
    rows, keys = [row_of], [ids]
    key = ids.copy()
    for n in range(2, max_n + 1):
        # The n-gram starting at each position: shift in the next word's id.
        key = key[:-1] * base + ids[n - 1 :]
        fits = left[: key.size] >= n
        rows.append(row_of[: key.size][fits])
        keys.append(key[fits])
    return np.concatenate(rows), np.concatenate(keys)


@dataclass(frozen=True)
class NgramColumns:
    """The n-gram columns: the key of each, in column order, as found in training reviews.

    Keys are matched by hashing (pandas), not sorting: on the 17 million n-grams of
    20,000 reviews that is several times faster.
    """

    keys: np.ndarray

    @classmethod
    def fit(
        cls, rows: np.ndarray, keys: np.ndarray, n_rows: int, min_df: int
    ) -> tuple[NgramColumns, sparse.csr_matrix]:
        """The n-grams of at least ``min_df`` training reviews, and the binarised training rows."""
        column, distinct = pd.factorize(keys)
        width = np.int64(distinct.size)
        pairs = pd.unique(rows * width + column)  # each n-gram once per review
        pair_rows, pair_columns = np.divmod(pairs, width)
        kept = np.bincount(pair_columns, minlength=distinct.size) >= min_df
        renumbered = np.cumsum(kept) - 1
        inside = kept[pair_columns]
        columns = cls(np.asarray(distinct)[kept])
        return columns, _binary_rows(
            pair_rows[inside], renumbered[pair_columns[inside]], n_rows, columns.keys.size
        )

    def transform(self, rows: np.ndarray, keys: np.ndarray, n_rows: int) -> sparse.csr_matrix:
        """Binarised rows of other reviews; n-grams without a column are left out."""
        column = pd.Index(self.keys).get_indexer(keys)
        known = column >= 0
        width = np.int64(self.keys.size)
        pairs = pd.unique(rows[known] * width + column[known])
        pair_rows, pair_columns = np.divmod(pairs, width)
        return _binary_rows(pair_rows, pair_columns, n_rows, self.keys.size)


def _binary_rows(
    rows: np.ndarray, columns: np.ndarray, n_rows: int, n_columns: int
) -> sparse.csr_matrix:
    ones = np.ones(rows.size, dtype=np.float32)
    return sparse.csr_matrix((ones, (rows, columns)), shape=(n_rows, n_columns))


def log_count_ratios(binary: sparse.csr_matrix, labels: np.ndarray) -> np.ndarray:
    """r = log((p / |p|_1) / (q / |q|_1)), p and q the smoothed counts in positive and
    negative reviews: how much more often a feature appears in positive reviews."""
    labels = np.asarray(labels).astype(bool)
    positive = ALPHA + np.asarray(binary[labels].sum(axis=0)).ravel()
    negative = ALPHA + np.asarray(binary[~labels].sum(axis=0)).ravel()
    return (np.log(positive / positive.sum()) - np.log(negative / negative.sum())).astype(
        np.float32
    )


def interpolated(weights: np.ndarray, beta: float) -> np.ndarray:
    """w' = (1 - beta) * mean(|w|) + beta * w: Wang & Manning's interpolation."""
    return (1 - beta) * np.abs(weights).mean() + beta * weights


@dataclass(frozen=True)
class Nbsvm:
    """A fitted NBSVM: its columns, ratios, interpolated weights, and the Platt scaling that
    turns its scores into probabilities."""

    columns: NgramColumns
    ratios: np.ndarray
    weights: np.ndarray  # interpolated, one per column
    bias: float
    platt: tuple[float, float]  # probability = sigmoid(slope * score + intercept)
    c: float
    beta: float
    validation_accuracy: float

    def scores(self, binary: sparse.csr_matrix) -> np.ndarray:
        return binary @ (self.ratios * self.weights) + self.bias

    def probabilities(self, binary: sparse.csr_matrix) -> np.ndarray:
        slope, intercept = self.platt
        return 1.0 / (1.0 + np.exp(-(slope * self.scores(binary) + intercept)))


def _best_svm(
    x_fit: sparse.csr_matrix,
    y_fit: np.ndarray,
    x_holdout: sparse.csr_matrix,
    y_holdout: np.ndarray,
    c_grid: tuple[float, ...],
    betas: tuple[float, ...],
    random_state: int | None = None,
) -> tuple[float, float, float, np.ndarray, np.ndarray, float]:
    """Ratios from the fit rows, a linear SVM on the ratio-scaled rows for each C, and the C
    and interpolation weight with the best held-out accuracy: ``(accuracy, C, beta, ratios,
    interpolated weights, bias)``."""
    from sklearn.svm import LinearSVC

    ratios = log_count_ratios(x_fit, y_fit)
    scaled_fit = x_fit @ sparse.diags(ratios)
    scaled_holdout = x_holdout @ sparse.diags(ratios)
    truth = np.asarray(y_holdout).astype(bool)
    best: tuple[float, float, float, np.ndarray, np.ndarray, float] | None = None
    for c in c_grid:
        svm = LinearSVC(C=c, dual=True, max_iter=5000, random_state=random_state)
        svm.fit(scaled_fit, y_fit)
        for beta in betas:
            weights = interpolated(svm.coef_.ravel(), beta)
            bias = float(svm.intercept_[0])
            accuracy = float(((scaled_holdout @ weights + bias > 0) == truth).mean())
            if best is None or accuracy > best[0]:
                best = (accuracy, c, beta, ratios, weights, bias)
    assert best is not None  # both grids have at least one value
    return best


def fit_nbsvm(
    columns: NgramColumns,
    train: tuple[sparse.csr_matrix, np.ndarray],
    validation: tuple[sparse.csr_matrix, np.ndarray],
    c_grid: tuple[float, ...],
    betas: tuple[float, ...],
) -> Nbsvm:
    """Fit a linear SVM on ratio-scaled binary rows for each C; keep the C and interpolation
    weight with the best validation accuracy; calibrate its scores on validation (Platt)."""
    from sklearn.linear_model import LogisticRegression

    (x_train, y_train), (x_validation, y_validation) = train, validation
    truth = np.asarray(y_validation).astype(bool)
    accuracy, c, beta, ratios, weights, bias = _best_svm(
        x_train, y_train, x_validation, y_validation, c_grid, betas
    )
    model = Nbsvm(columns, ratios, weights.astype(np.float32), bias, (1.0, 0.0), c, beta, accuracy)
    platt = LogisticRegression(C=1e4).fit(model.scores(x_validation).reshape(-1, 1), truth)
    return Nbsvm(
        columns,
        ratios,
        model.weights,
        bias,
        (float(platt.coef_[0, 0]), float(platt.intercept_[0])),
        c,
        beta,
        accuracy,
    )


def listed_word_ids(token_lists: pa.LargeListArray, words: pa.Array) -> pa.LargeListArray:
    """Each word's place in ``words`` (from 1); a word not there gets ``len(words) + 1``, an
    id no n-gram column holds. N-gram keys of these ids take ``len(words) + 2`` as base."""
    found = pc.index_in(token_lists.flatten(), value_set=words)
    ids = pc.fill_null(pc.add(found, 1), len(words) + 1).cast(pa.int64())
    offsets = np.asarray(token_lists.offsets, dtype=np.int64)
    return pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0]), ids)


@dataclass(frozen=True)
class NbsvmScorer:
    """An NBSVM that scores new text: its own word list, so that it needs nothing but the
    words of a review, and one coefficient per n-gram column (ratio times weight).

    Word ids are places in ``words`` (from 1); a word it has not seen gets the id after
    the last, which is part of no column.
    """

    words: pa.Array
    max_n: int
    columns: NgramColumns
    coefficients: np.ndarray
    bias: float

    def binary_rows(self, token_lists: pa.LargeListArray) -> sparse.csr_matrix:
        keys = ngram_keys(listed_word_ids(token_lists, self.words), len(self.words) + 2, self.max_n)
        return self.columns.transform(*keys, len(token_lists))

    def scores(self, token_lists: pa.LargeListArray) -> np.ndarray:
        """The SVM margin of each review (positive: positive review)."""
        return self.binary_rows(token_lists) @ self.coefficients + self.bias


@dataclass(frozen=True)
class CrossFitted:
    """NBSVM fitted fold by fold: out-of-fold margins, the mean of the fold models as one
    scorer, and the C and interpolation weight they used."""

    out_of_fold: np.ndarray
    scorer: NbsvmScorer
    c: float
    beta: float


def cross_fitted_nbsvm(
    token_lists: pa.LargeListArray,
    labels: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    max_n: int,
    min_df: int,
    c_grid: tuple[float, ...],
    betas: tuple[float, ...],
) -> CrossFitted:
    """NBSVM on ``folds`` of these reviews: each fold's model gets its ratios and SVM from
    the reviews outside the fold only, so a review's out-of-fold margin comes from a model
    that never saw its label.

    C and the interpolation weight are chosen on the first fold's held-out reviews, then
    used for every fold. The columns (n-grams of at least ``min_df`` reviews) are found once
    over all these reviews: that uses their words, not their labels. Every fold model is
    linear in the same columns, so their mean is one linear model too.
    """
    words = pc.unique(token_lists.flatten())
    keys = ngram_keys(listed_word_ids(token_lists, words), len(words) + 2, max_n)
    columns, binary = NgramColumns.fit(*keys, len(labels), min_df)
    labels = np.asarray(labels).astype(int)

    # liblinear visits the rows in a random order; a fixed one makes the stack repeatable.
    fit_rows, holdout_rows = folds[0]
    _, c, beta, *_ = _best_svm(
        binary[fit_rows],
        labels[fit_rows],
        binary[holdout_rows],
        labels[holdout_rows],
        c_grid,
        betas,
        random_state=0,
    )
    out_of_fold = np.full(len(labels), np.nan)
    coefficients = np.zeros(columns.keys.size)
    mean_bias = 0.0
    for fit_rows, holdout_rows in folds:
        _, _, _, ratios, weights, bias = _best_svm(
            binary[fit_rows],
            labels[fit_rows],
            binary[holdout_rows],
            labels[holdout_rows],
            (c,),
            (beta,),
            random_state=0,
        )
        fold_coefficients = ratios * weights
        out_of_fold[holdout_rows] = binary[holdout_rows] @ fold_coefficients + bias
        coefficients += fold_coefficients / len(folds)
        mean_bias += bias / len(folds)
    scorer = NbsvmScorer(words, max_n, columns, coefficients.astype(np.float32), mean_bias)
    return CrossFitted(out_of_fold, scorer, c, beta)

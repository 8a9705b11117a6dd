"""Word n-gram counts for the TF-IDF baseline, found as packed integers.

scikit-learn's ``CountVectorizer`` builds every n-gram of every review as a Python string;
on IMDb's 50,000 reviews that was most of the baseline's time. Here the n-grams are the
packed integer keys of ``imdb_rnn.nbsvm``, and the count matrices are the ones
``CountVectorizer(ngram_range=(1, n), min_df=m, dtype=float32)`` makes from the same tokens:
the same columns in the same (alphabetical) order, the same counts, sorted indices. The
TF-IDF weighting itself stays scikit-learn's ``TfidfTransformer``, so the features the
logistic regression sees are the same to the bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from imdb_rnn.nbsvm import encoded_words, ngram_keys

# Reviews whose n-gram keys are held at once: IMDb's splits are each one chunk, and a chunk
# of keys takes about 300 MB.
CHUNK_ROWS = 25_000


def _ngram_text(keys: np.ndarray, words: list[str], base: int, max_n: int) -> list[str]:
    """The n-gram each key packs, as scikit-learn writes it: words joined by one space."""
    texts = []
    for key in keys.tolist():
        ids = []
        for _ in range(max_n):
            key, word = divmod(key, base)
            ids.append(word)
            if key == 0:
                break
        texts.append(" ".join(words[i] for i in reversed(ids)))
    return texts


def _counts(rows: np.ndarray, columns: np.ndarray, n_rows: int, width: int) -> sparse.csr_matrix:
    ones = np.ones(rows.size, dtype=np.float32)
    matrix = sparse.csr_matrix((ones, (rows, columns)), shape=(n_rows, width), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def ngram_counts(
    token_lists: list[pa.LargeListArray], max_n: int, min_df: int, chunk_rows: int = CHUNK_ROWS
) -> tuple[list[sparse.csr_matrix], int]:
    """Count matrices of word 1..``max_n``-grams for each split, and how many columns.

    The columns are the n-grams of at least ``min_df`` reviews of the first split (train),
    ordered by their text; n-grams of the other splits without a column are left out.
    Reviews are taken ``chunk_rows`` at a time, so that only one chunk's n-gram keys are in
    memory however large the corpus.
    """
    ids, dictionary = encoded_words(token_lists)
    words = ["", *dictionary.to_pylist()]  # the word of each id; id 0 is no word
    base = len(words)
    frequencies = [
        _document_frequencies(*ngram_keys(chunk, base, max_n))
        for chunk in _row_chunks(ids[0], chunk_rows)
    ]
    documents = (
        frequencies[0]
        if len(frequencies) == 1
        else pd.concat(frequencies).groupby(level=0, sort=False).sum()
    )
    kept_keys = documents.index.to_numpy()[documents.to_numpy() >= min_df]
    texts = _ngram_text(kept_keys, words, base, max_n)
    index = pd.Index(kept_keys[np.argsort(np.array(texts, dtype=object), kind="stable")])
    matrices = []
    for split_ids in ids:
        pieces = []
        # Train's keys are found again rather than kept from the first pass: kept, every
        # chunk's keys would be in memory at once.
        for chunk in _row_chunks(split_ids, chunk_rows):
            rows, keys = ngram_keys(chunk, base, max_n)
            position = index.get_indexer(keys)
            known = position >= 0
            pieces.append(_counts(rows[known], position[known], len(chunk), index.size))
        matrices.append(pieces[0] if len(pieces) == 1 else _stacked(pieces))
    return matrices, index.size


def _row_chunks(token_ids: pa.LargeListArray, chunk_rows: int) -> list[pa.LargeListArray]:
    """The reviews ``chunk_rows`` at a time (one empty chunk for no reviews)."""
    starts = range(0, max(len(token_ids), 1), chunk_rows)
    return [token_ids.slice(start, chunk_rows) for start in starts]


def _document_frequencies(rows: np.ndarray, keys: np.ndarray) -> pd.Series:
    """How many reviews (``rows``) hold each n-gram ``key``, indexed by key."""
    column, distinct = pd.factorize(keys)
    reviews_and_columns = pd.unique(rows * np.int64(distinct.size) + column)
    counts = np.bincount(reviews_and_columns % distinct.size, minlength=distinct.size)
    return pd.Series(counts, index=distinct)


def _stacked(pieces: list[sparse.csr_matrix]) -> sparse.csr_matrix:
    """Row blocks as one matrix, its indices sorted as each block's are."""
    matrix = sparse.vstack(pieces, format="csr", dtype=np.float32)
    matrix.has_sorted_indices = True  # each block's rows are sorted, and stacking keeps them
    return matrix

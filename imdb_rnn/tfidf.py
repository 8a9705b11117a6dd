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
import pyarrow.compute as pc
from scipy import sparse

from imdb_rnn.nbsvm import ngram_keys


def _word_ids(token_lists: list[pa.LargeListArray]) -> tuple[list[pa.LargeListArray], list[str]]:
    """Ids from 1 for every word of every split, and the word of each id (index 0 unused)."""
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
    return pieces, ["", *encoded.dictionary.to_pylist()]


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
    token_lists: list[pa.LargeListArray], max_n: int, min_df: int
) -> tuple[list[sparse.csr_matrix], int]:
    """Count matrices of word 1..``max_n``-grams for each split, and how many columns.

    The columns are the n-grams of at least ``min_df`` reviews of the first split (train),
    ordered by their text; n-grams of the other splits without a column are left out.
    """
    ids, words = _word_ids(token_lists)
    base = len(words)
    found = [ngram_keys(split_ids, base, max_n) for split_ids in ids]
    train_rows, train_keys = found[0]
    column, distinct = pd.factorize(train_keys)
    documents = np.bincount(
        pd.unique(train_rows * np.int64(distinct.size) + column) % distinct.size,
        minlength=distinct.size,
    )
    kept_keys = np.asarray(distinct)[documents >= min_df]
    texts = _ngram_text(kept_keys, words, base, max_n)
    ordered_keys = kept_keys[np.argsort(np.array(texts, dtype=object), kind="stable")]
    index = pd.Index(ordered_keys)
    matrices = []
    for (rows, keys), split_ids in zip(found, ids, strict=True):
        position = index.get_indexer(keys)
        known = position >= 0
        matrices.append(_counts(rows[known], position[known], len(split_ids), index.size))
    return matrices, index.size

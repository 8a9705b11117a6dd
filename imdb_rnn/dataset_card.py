"""The dataset card: what a prepared dataset holds, shown at the top of the report.

Rows per split and class, how long the texts are, how much of test the vocabulary covers,
and the texts that test shares with train. Shared texts are a common leak in real data: a
model that memorised a training row scores its copy in test for free.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from imdb_rnn.text import OOV_ID

EXAMPLE_CHARACTERS = 80


def split_summary(
    labels: np.ndarray, lengths: np.ndarray, tokens: np.ndarray, classes: Sequence[str]
) -> dict[str, object]:
    """Rows per class, the token-length distribution, the share longer than the padded
    width, and the share of read tokens the vocabulary knows, for one split."""
    read = int(np.count_nonzero(tokens))
    known = read - int(np.count_nonzero(tokens == OOV_ID))
    width = tokens.shape[1] if tokens.ndim == 2 else 0
    return summary_of_counts(labels, lengths, read, known, width, classes)


def summary_of_counts(
    labels: np.ndarray,
    lengths: np.ndarray,
    read: int,
    known: int,
    width: int,
    classes: Sequence[str],
) -> dict[str, object]:
    """``split_summary`` from the ids' counts: ``read`` ids that are not padding, ``known``
    of them in the vocabulary, rows ``width`` ids wide (a split written a chunk at a time)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    lengths = np.asarray(lengths)
    percentiles = np.percentile(lengths, [10, 50, 90]) if len(lengths) else [0, 0, 0]
    return {
        "rows": {name: int(count) for name, count in zip(classes, counts, strict=True)},
        "tokens": {
            "mean": round(float(lengths.mean()), 1) if len(lengths) else 0.0,
            "p10": int(percentiles[0]),
            "p50": int(percentiles[1]),
            "p90": int(percentiles[2]),
            "max": int(lengths.max()) if len(lengths) else 0,
        },
        "truncated_share": round(float((lengths > width).mean()), 4) if len(lengths) else 0.0,
        "token_coverage": round(known / read, 4) if read else 1.0,
    }


def shared_texts(seen: Sequence[str] | pd.Series, test: Sequence[str] | pd.Series) -> np.ndarray:
    """Which test rows have a text that is also among ``seen`` (train and validation)."""
    return pd.Series(test, dtype=object).isin(set(seen)).to_numpy()


def duplicate_examples(texts: Sequence[str] | pd.Series) -> list[str]:
    """The card's examples of shared texts: their beginnings."""
    return [
        text[:EXAMPLE_CHARACTERS] + ("…" if len(text) > EXAMPLE_CHARACTERS else "")
        for text in texts
    ]


def duplicate_summary(
    test_texts: pd.Series, shared: np.ndarray, dropped: int, examples: list[str] | None = None
) -> dict[str, object]:
    """The card's duplicates: ``test_texts`` are the texts, or anything that is equal when
    they are (their hashes; then the ``examples`` are given)."""
    duplicated = test_texts[shared]
    if examples is None:
        examples = list(duplicated.drop_duplicates().head(3))
    return {
        "test_rows": int(shared.sum()),
        "distinct_texts": int(duplicated.nunique()),
        "dropped": int(dropped),
        "examples": duplicate_examples(examples),
    }


def dataset_card(
    origin: str,
    kind: str,
    classes: Sequence[str],
    summaries: dict[str, dict[str, object]],
    duplicates: dict[str, object],
    left_out: dict[str, int],
) -> dict[str, object]:
    """The card as JSON-able values (the contract the report renders)."""
    return {
        "source": origin,
        "kind": kind,
        "classes": list(classes),
        "rows": {split: summary["rows"] for split, summary in summaries.items()},
        "tokens": {split: summary["tokens"] for split, summary in summaries.items()},
        "truncated_share": {
            split: summary["truncated_share"] for split, summary in summaries.items()
        },
        "test_token_coverage": summaries["test"]["token_coverage"] if "test" in summaries else None,
        "duplicates": duplicates,
        "left_out": left_out,
    }

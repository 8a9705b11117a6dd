"""The scaling benchmark's corpora: k x the real reviews, as one Parquet table.

Variant 0 of each review is the review as it is; every other variant is its sentences in
another order, drawn from a seeded generator. A variant keeps the review's label and its
split, so the archive's 25,000/25,000 split becomes k x 25,000 each. Below 1, the factor
is a seeded sample of the reviews, balanced by split and label (a quick check of the
harness). The table has the columns ``text``, ``label`` and ``split``: the pipeline reads
it as its own labeled text (``--split-column split``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

IMDB_REVIEWS = 50_000
DEFAULT_FACTORS = (1.0, 4.0, 16.0)
# Reviews per row group: a chunk is built, written and dropped before the next, so a 16x
# corpus is never held in memory as Python strings.
ROW_GROUP_ROWS = 10_000
# A sentence ends at ., ! or ? followed by space, or at the reviews' line-break markup.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*<br\s*/?>\s*", re.IGNORECASE)
SCHEMA = pa.schema([("text", pa.string()), ("label", pa.string()), ("split", pa.string())])


def parse_factors(text: str) -> tuple[float, ...]:
    """``"1,4,16"`` as sorted factors; raises ``ValueError`` naming the bad one.

    Above 1 a factor counts whole variants, so it must be a whole number."""
    factors = []
    for part in text.split(","):
        try:
            factor = float(part)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a number") from None
        if not 0 < factor <= 1 and not (factor > 1 and factor.is_integer()):
            raise ValueError(f"{part.strip()} must be a fraction in (0, 1] or a whole number")
        factors.append(factor)
    return tuple(sorted(set(factors)))


def sentences(text: str) -> list[str]:
    """The review's sentences, markup line breaks counted as sentence ends."""
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def reshuffled(text: str, rng: np.random.Generator) -> str:
    """The review's sentences in an order drawn from ``rng``, joined by spaces."""
    parts = sentences(text)
    if len(parts) < 2:
        return text
    return " ".join(parts[i] for i in rng.permutation(len(parts)))


def sampled(rows: dict[str, list], fraction: float, seed: int = 0) -> np.ndarray:
    """Positions of ``fraction`` of the reviews in each (split, label) group, seeded; in
    the archive's order. At least two per group, so that validation can be held out."""
    splits, labels = np.asarray(rows["split"]), np.asarray(rows["sentiment"])
    rng = np.random.default_rng(seed)
    chosen = []
    for split in np.unique(splits):
        for label in np.unique(labels):
            group = np.flatnonzero((splits == split) & (labels == label))
            size = min(len(group), max(2, round(len(group) * fraction)))
            chosen.append(rng.choice(group, size=size, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def _chunks(
    rows: dict[str, list], chosen: np.ndarray, variants: int, seed: int
) -> Iterator[pa.Table]:
    for variant in range(variants):
        # One generator per variant: a variant is the same whatever the corpus's size.
        rng = np.random.default_rng([seed, variant])
        for start in range(0, len(chosen), ROW_GROUP_ROWS):
            positions = chosen[start : start + ROW_GROUP_ROWS]
            texts = [rows["text"][i] for i in positions]
            if variant:
                texts = [reshuffled(text, rng) for text in texts]
            yield pa.table(
                {
                    "text": texts,
                    "label": [rows["sentiment"][i] for i in positions],
                    "split": [rows["split"][i] for i in positions],
                },
                schema=SCHEMA,
            )


def write_corpus(rows: dict[str, list], factor: float, path: Path, seed: int = 0) -> int:
    """Write the corpus of ``factor`` x the reviews of ``rows`` to ``path``; its row count.

    ``rows`` has the columns of ``bench.ratings_table.archive_rows``. The file is written
    under a temporary name and renamed, so a stopped run leaves no corpus to trust."""
    whole = factor >= 1
    chosen = np.arange(len(rows["text"])) if whole else sampled(rows, factor, seed)
    variants = round(factor) if whole else 1
    partial = path.with_name(path.name + ".partial")
    written = 0
    with pq.ParquetWriter(partial, SCHEMA, compression="zstd") as writer:
        for chunk in _chunks(rows, chosen, variants, seed):
            writer.write_table(chunk, row_group_size=ROW_GROUP_ROWS)
            written += chunk.num_rows
    partial.replace(path)
    return written

"""A table's cleaned texts set aside in a Parquet file, so that a large table is prepared
without holding its text in memory.

Reading a table, each chunk's cleaned texts go to the spill file as one row group, and the
rows keep only their place in it (``position``) and a hash of their text (to find the test
texts that train also holds). The prepare then reads the texts back a row group at a time:
once to count the training rows' words, once to write the splits. Every split keeps its
rows in table order, as a prepare in memory does, so both give the same folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_SCHEMA = pa.schema([("text", pa.large_string())])


def text_hashes(texts: pd.Series | np.ndarray) -> np.ndarray:
    """A 64-bit hash of each text: two rows share one when, and (but for a chance of about
    one in 10^19 per pair) only when, they have the same text."""
    return pd.util.hash_array(np.asarray(texts, dtype=object))


class TextSpill:
    """Cleaned texts written a chunk at a time, and read back a row group at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def add(self, part: pd.DataFrame) -> pd.DataFrame:
        """Write ``part``'s ``text`` column; return ``part`` with ``position`` and ``hash``
        in its place."""
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, _SCHEMA)
        texts = part["text"].to_numpy()
        self._writer.write_table(pa.table({"text": pa.array(texts, pa.large_string())}))
        positions = np.arange(self.rows, self.rows + len(part), dtype=np.int64)
        self.rows += len(part)
        kept = part.drop(columns="text")
        return kept.assign(position=positions, hash=text_hashes(texts))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def row_groups(self) -> Iterator[tuple[int, pa.Array]]:
        """``(position of its first row, its texts)`` for each row group, in order."""
        self.close()
        if not self.path.is_file():
            return
        with pq.ParquetFile(self.path) as file:
            first = 0
            for group in range(file.num_row_groups):
                texts = file.read_row_group(group).column("text").combine_chunks()
                yield first, texts
                first += len(texts)

    def texts_at(self, positions: np.ndarray) -> Iterator[tuple[np.ndarray, pa.Array]]:
        """For each row group, the ``positions`` (sorted) that fall in it and their texts."""
        positions = np.asarray(positions, dtype=np.int64)
        for first, texts in self.row_groups():
            start, stop = np.searchsorted(positions, [first, first + len(texts)])
            if start < stop:
                inside = positions[start:stop]
                yield inside, texts.take(pa.array(inside - first))

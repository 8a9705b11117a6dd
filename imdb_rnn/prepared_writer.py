"""Writing a prepared folder: each split's Parquet, ``vocab.json`` and the manifest.

The rows come a chunk at a time, in any order of splits: a prepare that holds everything
in memory hands over one chunk per split; one that streams a large table hands over its
chunks as it reads them. Each split's file grows by row groups, and its statistics (rows
per class, lengths, known words) are totalled as the chunks pass, so the same rows give the
same folder however they were cut.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig
from imdb_rnn.dataset_card import dataset_card, summary_of_counts
from imdb_rnn.files import atomic_directory, disk_full_as_error, sha256_file
from imdb_rnn.prepared import (
    BINARY_CLASSES,
    FORMAT_VERSION,
    MANIFEST_FILE,
    ROW_GROUP_ROWS,
    SPLIT_NAMES,
    _schema,
)
from imdb_rnn.text import OOV_ID, VOCABULARY_FILE, SequenceEncoder, TokenLists

# One split's rows: which split, their columns (review_id, rating, label, text), their words.
SplitChunk = tuple[str, pd.DataFrame, TokenLists]


def split_table(
    frame: pd.DataFrame, tokens: np.ndarray, lengths: np.ndarray, schema: pa.Schema
) -> pa.Table:
    """One chunk of a split as a table of the prepared schema; ``tokens`` is rows x maxlen."""
    maxlen = tokens.shape[1]
    flat = pa.array(tokens.reshape(-1), type=pa.int32())
    return pa.Table.from_arrays(
        [
            pa.array(frame["review_id"].to_numpy(), type=pa.string()),
            pa.array(frame["rating"].to_numpy(dtype=np.int8), type=pa.int8()),
            pa.array(frame["label"].to_numpy(dtype=np.int8), type=pa.int8()),
            pa.array(lengths, type=pa.int32()),
            pa.FixedSizeListArray.from_arrays(flat, maxlen),
            pa.array(frame["text"].to_numpy(), type=pa.string()),
        ],
        schema=schema,
    )


@dataclass
class _SplitTotals:
    """What the manifest and the card say about a split, gathered chunk by chunk."""

    labels: list[np.ndarray] = field(default_factory=list)
    lengths: list[np.ndarray] = field(default_factory=list)
    read: int = 0  # ids that are not padding
    unknown: int = 0  # of those, the unknown-word id

    def add(self, labels: np.ndarray, lengths: np.ndarray, tokens: np.ndarray) -> None:
        self.labels.append(np.asarray(labels))
        self.lengths.append(lengths)
        self.read += int(np.count_nonzero(tokens))
        self.unknown += int(np.count_nonzero(tokens == OOV_ID))

    def stats(self, maxlen: int, classes: tuple[str, ...]) -> tuple[dict, dict]:
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0, np.int8)
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int32)
        stats = {
            "rows": len(labels),
            "positive_share": round(float(labels.mean()), 4),
            "mean_tokens": round(float(lengths.mean()), 1),
            "truncated_share": round(float((lengths > maxlen).mean()), 4),
            "unknown_token_share": round(self.unknown / max(1, self.read), 4),
        }
        summary = summary_of_counts(
            labels, lengths, self.read, self.read - self.unknown, maxlen, classes
        )
        return stats, summary


def write_prepared(
    directory: Path,
    fp: str,
    raw: RawDataset,
    config: PreprocessConfig,
    chunks: Iterable[SplitChunk],
    encoder: SequenceEncoder,
    skipped: dict[str, list[str]],
    started: float,
    classes: tuple[str, ...] = BINARY_CLASSES,
    card_notes: dict[str, dict] | None = None,
) -> tuple[dict[str, int], dict]:
    """Write the whole folder at once: each split's Parquet, ``vocab.json``, the manifest.

    ``chunks`` yields rows of the splits with their words, in each split's order; a split
    that gets none is written empty. ``started`` is the ``time.perf_counter()`` the prepare
    began at, for the manifest's ``seconds``. ``card_notes`` gives the dataset card's
    ``duplicates`` and ``left_out``. Returns the rows per split and the dataset card. A
    failure leaves no folder; a full disk names the final file.
    """
    vocabulary = list(encoder.vocabulary)
    totals = {name: _SplitTotals() for name in SPLIT_NAMES}
    writers: dict[str, pq.ParquetWriter] = {}
    with atomic_directory(directory) as staging:

        def writer_of(name: str) -> pq.ParquetWriter:
            if name not in writers:
                metadata = {
                    "format_version": FORMAT_VERSION,
                    "fingerprint": fp,
                    "split": name,
                    "source_sha256": raw.sha256,
                    "vocabulary_words": len(vocabulary),
                    "classes": list(classes),
                    **config.model_dump(),
                }
                schema = _schema(config.maxlen, metadata)
                # Errors name the final file; the staging folder goes away with the error.
                with disk_full_as_error(directory / f"{name}.parquet"):
                    path = staging / f"{name}.parquet"
                    writers[name] = pq.ParquetWriter(path, schema, compression="zstd")
            return writers[name]

        try:
            for name, frame, token_lists in chunks:
                tokens, lengths = encoder.encode_tokens(token_lists)
                totals[name].add(frame["label"].to_numpy(), lengths, tokens)
                writer = writer_of(name)
                with disk_full_as_error(directory / f"{name}.parquet"):
                    writer.write_table(
                        split_table(frame, tokens, lengths, writer.schema),
                        row_group_size=ROW_GROUP_ROWS,
                    )
            for name in SPLIT_NAMES:
                writer_of(name)
        finally:
            for name, writer in writers.items():
                with disk_full_as_error(directory / f"{name}.parquet"):
                    writer.close()
        files: dict[str, str] = {}
        stats: dict[str, dict] = {}
        summaries: dict[str, dict] = {}
        for name in SPLIT_NAMES:
            files[f"{name}.parquet"] = sha256_file(staging / f"{name}.parquet")
            stats[name], summaries[name] = totals[name].stats(config.maxlen, classes)
        rows = {name: stats[name]["rows"] for name in SPLIT_NAMES}
        with disk_full_as_error(directory / VOCABULARY_FILE):
            (staging / VOCABULARY_FILE).write_text(
                json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8"
            )
        files[VOCABULARY_FILE] = sha256_file(staging / VOCABULARY_FILE)
        notes = card_notes or {}
        card = dataset_card(
            raw.origin,
            raw.kind,
            classes,
            summaries,
            notes.get("duplicates", {}),
            notes.get("left_out", {}),
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "fingerprint": fp,
            "source_sha256": raw.sha256,
            "source": raw.origin,
            "preprocess": config.model_dump(),
            "vocabulary_words": len(vocabulary),
            "rows": rows,
            "stats": stats,
            "skipped": skipped,
            "classes": list(classes),
            "card": card,
            "files": files,
            "seconds": round(time.perf_counter() - started, 3),
        }
        with disk_full_as_error(directory / MANIFEST_FILE):
            (staging / MANIFEST_FILE).write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    return rows, card

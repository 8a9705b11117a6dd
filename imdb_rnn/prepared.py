"""The prepared-data contract: ``processed/<fingerprint>/`` and its Parquet files.

Each split is a Parquet file with a fixed pyarrow schema and key/value metadata (format,
fingerprint, source checksum, preprocessing parameters), listed with its sha256 in the
folder's ``manifest.json`` beside ``vocab.json``. Writers and readers both live here, and
every reader checks the contract first, failing with a message that names the mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_rnn.config import PreprocessConfig, TableConfig
from imdb_rnn.dataset_card import dataset_card, duplicate_summary, shared_texts, split_summary
from imdb_rnn.errors import DataContractError
from imdb_rnn.files import sha256_file, sha256_json
from imdb_rnn.storage import DataStore
from imdb_rnn.text import VOCABULARY_FILE

# Bump when the Parquet layout or the tokenizer changes: old folders then stop matching.
FORMAT_VERSION = 1
METADATA_KEY = b"imdb_rnn"
SPLIT_NAMES = ("train", "validation", "test")
MANIFEST_FILE = "manifest.json"
BINARY_CLASSES = ("neg", "pos")
# Rows per Parquet row group. Training that streams a split (``split_row_groups``) reads a
# few row groups at a time and shuffles their order every epoch: groups of 10,000 rows
# keep that buffer small and give a large split many groups to shuffle. Only the layout of
# the file depends on it; the rows read back, and their order, do not.
ROW_GROUP_ROWS = 10_000
# Bytes one padded row takes in memory as training holds it: int32 tokens, a float32 label.
TOKEN_BYTES = LABEL_BYTES = 4


@dataclass(frozen=True)
class PreparedData:
    """A finished ``processed/<fingerprint>/`` folder."""

    directory: Path
    fingerprint: str
    source_sha256: str
    preprocess: PreprocessConfig
    rows: dict[str, int]
    reused: bool = False
    seconds: float = 0.0
    # Class names, a label's id being its index; aclImdb's are neg and pos.
    classes: tuple[str, ...] = BINARY_CLASSES
    # What the data holds, for the report's dataset card (``imdb_rnn.dataset_card``).
    card: dict = field(default_factory=dict)

    @property
    def is_binary(self) -> bool:
        return len(self.classes) == 2

    def split_path(self, split: str) -> Path:
        return self.directory / f"{split}.parquet"


def fingerprint(
    source_sha256: str, config: PreprocessConfig, table: TableConfig | None = None
) -> str:
    """Identifies a prepare: it changes when the data, any preprocessing parameter, or (for
    a table source) how the table is read does. Where the test table lives is not part of
    it: its checksum is, in ``source_sha256``."""
    identity: dict[str, object] = {
        "format": FORMAT_VERSION,
        "source": source_sha256,
        "preprocess": config.identity(),
    }
    if table is not None:
        identity["table"] = table.model_dump(exclude={"test_source"})
    return sha256_json(identity)[:16]


def _schema(maxlen: int, metadata: dict[str, object]) -> pa.Schema:
    return pa.schema(
        [
            pa.field("review_id", pa.string(), nullable=False),
            pa.field("rating", pa.int8(), nullable=False),
            pa.field("label", pa.int8(), nullable=False),
            pa.field("n_tokens", pa.int32(), nullable=False),
            pa.field("tokens", pa.list_(pa.int32(), maxlen), nullable=False),
            pa.field("text", pa.string(), nullable=False),
        ],
        metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()},
    )


def read_split_metadata(path: Path) -> dict:
    """The preprocessing metadata stored in a split's Parquet schema."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise DataContractError(f"{path} is not a readable Parquet file ({error})") from error
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise DataContractError(
            f"{path} has no {METADATA_KEY.decode()} metadata; it was not written by this pipeline"
        )
    return json.loads(raw)


def check_split(path: Path, expected_fingerprint: str, maxlen: int) -> dict:
    """Fail unless ``path`` carries the expected fingerprint, format and token width."""
    metadata = read_split_metadata(path)
    problems = []
    if metadata.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version {metadata.get('format_version')} != {FORMAT_VERSION}")
    if metadata.get("fingerprint") != expected_fingerprint:
        problems.append(f"fingerprint {metadata.get('fingerprint')} != {expected_fingerprint}")
    expected_schema = _schema(maxlen, {})
    actual_schema = pq.read_schema(path).remove_metadata()
    if not actual_schema.equals(expected_schema.remove_metadata()):
        problems.append(f"schema {actual_schema} != {expected_schema.remove_metadata()}")
    if problems:
        raise DataContractError(
            f"{path} does not match this prepare: {'; '.join(problems)}; "
            "delete its folder to rebuild it"
        )
    return metadata


def load_split(
    prepared: PreparedData, split: str, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Read one split after checking its data contract."""
    path = prepared.split_path(split)
    check_split(path, prepared.fingerprint, prepared.preprocess.maxlen)
    return pq.read_table(path, columns=list(columns) if columns else None).to_pandas()


def load_arrays(prepared: PreparedData, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tokens[rows, maxlen] int32, labels[rows] int8, n_tokens[rows] int32)`` of a split."""
    path = prepared.split_path(split)
    check_split(path, prepared.fingerprint, prepared.preprocess.maxlen)
    table = pq.read_table(path, columns=["tokens", "label", "n_tokens"])
    tokens = table.column("tokens").combine_chunks()
    matrix = tokens.values.to_numpy(zero_copy_only=False).reshape(
        len(tokens), prepared.preprocess.maxlen
    )
    labels = table.column("label").to_numpy()
    lengths = table.column("n_tokens").to_numpy()
    return matrix.astype(np.int32, copy=False), labels, lengths


def padded_bytes(rows: int, maxlen: int) -> int:
    """Bytes that ``rows`` padded rows of ``maxlen`` tokens take in memory, with their labels."""
    return rows * (maxlen * TOKEN_BYTES + LABEL_BYTES)


@dataclass(frozen=True)
class SplitRowGroups:
    """One split's padded rows, read a few Parquet row groups at a time: for training on
    more rows than fit in memory (``rnn_models.streaming`` reads it)."""

    path: Path
    maxlen: int
    # Rows in each row group, in file order.
    group_rows: tuple[int, ...]

    @property
    def rows(self) -> int:
        return sum(self.group_rows)

    def read(self, groups: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tokens[rows, maxlen] int32, labels[rows] int8, n_tokens[rows] int32)`` of the
        row groups ``groups``, in that order."""
        with pq.ParquetFile(self.path) as file:
            table = file.read_row_groups(
                [int(group) for group in groups], columns=["tokens", "label", "n_tokens"]
            )
        # flatten(), unlike .values, respects a chunk's offset; several groups are several chunks.
        tokens = table.column("tokens").combine_chunks().flatten().to_numpy()
        return (
            tokens.reshape(table.num_rows, self.maxlen).astype(np.int32, copy=False),
            table.column("label").to_numpy(),
            table.column("n_tokens").to_numpy(),
        )


def split_row_groups(prepared: PreparedData, split: str) -> SplitRowGroups:
    """A split's rows to read row group by row group, after checking its data contract."""
    path = prepared.split_path(split)
    check_split(path, prepared.fingerprint, prepared.preprocess.maxlen)
    metadata = pq.read_metadata(path)
    group_rows = tuple(metadata.row_group(i).num_rows for i in range(metadata.num_row_groups))
    return SplitRowGroups(path, prepared.preprocess.maxlen, group_rows)


def load_prepared(
    directory: Path, fp: str, source_sha256: str, config: PreprocessConfig
) -> PreparedData:
    """The prepared folder, after checking that every file is the one its manifest lists."""
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    if manifest["format_version"] != FORMAT_VERSION or manifest["fingerprint"] != fp:
        raise DataContractError(
            f"{directory / MANIFEST_FILE} is for format {manifest['format_version']} and "
            f"fingerprint {manifest['fingerprint']}, not {FORMAT_VERSION} and {fp}"
        )
    # A split edited in place keeps a valid schema and metadata: only its checksum shows it.
    for name, expected in manifest["files"].items():
        if sha256_file(directory / name) != expected:
            raise DataContractError(f"{directory / name} was changed after it was written")
    vocabulary = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
    if len(vocabulary) != manifest["vocabulary_words"]:
        raise DataContractError(f"{directory / VOCABULARY_FILE} does not match its manifest")
    for split in SPLIT_NAMES:
        check_split(directory / f"{split}.parquet", fp, config.maxlen)
    return PreparedData(
        directory,
        fp,
        source_sha256,
        config,
        manifest["rows"],
        reused=True,
        seconds=float(manifest.get("seconds", 0.0)),
        classes=tuple(manifest.get("classes", BINARY_CLASSES)),
        card=manifest.get("card") or card_from_folder(directory, manifest, config),
    )


def card_from_folder(directory: Path, manifest: dict, config: PreprocessConfig) -> dict:
    """The dataset card of a folder prepared before cards were written, from its Parquet."""
    classes = tuple(manifest.get("classes", BINARY_CLASSES))
    summaries = {}
    texts = {}
    for split in SPLIT_NAMES:
        table = pq.read_table(
            directory / f"{split}.parquet", columns=["label", "n_tokens", "tokens", "text"]
        )
        tokens = table.column("tokens").combine_chunks()
        matrix = tokens.values.to_numpy(zero_copy_only=False).reshape(len(tokens), config.maxlen)
        summaries[split] = split_summary(
            table.column("label").to_numpy(), table.column("n_tokens").to_numpy(), matrix, classes
        )
        texts[split] = table.column("text").to_pandas()
    seen = pd.concat([texts["train"], texts["validation"]])
    shared = shared_texts(seen, texts["test"])
    left_out = {"invalid_rows": sum(len(rows) for rows in manifest.get("skipped", {}).values())}
    return dataset_card(
        manifest.get("source", ""),
        "aclImdb",
        classes,
        summaries,
        duplicate_summary(texts["test"], shared, 0),
        left_out,
    )


def local_prepared(prepared: PreparedData, store: DataStore) -> PreparedData:
    """``prepared`` in this process's copy of the data folder, fetched from the store if needed.

    Another process (a Dask worker on another machine) has its own local root; prepared
    folders live at ``processed/<fingerprint>`` everywhere, so only the root changes.
    """
    directory = store.paths.processed / prepared.directory.name
    if not store.fetched(directory):
        raise DataContractError(
            f"{store.url_of(directory)} is missing; the prepare step publishes it, "
            "so run the whole flow rather than this task alone"
        )
    return replace(prepared, directory=directory)

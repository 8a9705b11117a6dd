"""The prepared-data contract: ``processed/<fingerprint>/`` and its Parquet files.

Each split is a Parquet file with a fixed pyarrow schema and key/value metadata (format,
fingerprint, source checksum, preprocessing parameters), listed with its sha256 in the
folder's ``manifest.json`` beside ``vocab.json``. Writers and readers both live here, and
every reader checks the contract first, failing with a message that names the mismatch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import PreprocessConfig, TableConfig
from imdb_rnn.dataset_card import dataset_card, duplicate_summary, shared_texts, split_summary
from imdb_rnn.errors import DataContractError
from imdb_rnn.files import atomic_directory, disk_full_as_error, sha256_file, sha256_json
from imdb_rnn.storage import DataStore
from imdb_rnn.text import OOV_ID, VOCABULARY_FILE, SequenceEncoder, TokenLists

# Bump when the Parquet layout or the tokenizer changes: old folders then stop matching.
FORMAT_VERSION = 1
METADATA_KEY = b"imdb_rnn"
SPLIT_NAMES = ("train", "validation", "test")
MANIFEST_FILE = "manifest.json"
BINARY_CLASSES = ("neg", "pos")


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


def write_split(
    path: Path, frame: pd.DataFrame, tokens: np.ndarray, lengths: np.ndarray, metadata: dict
) -> None:
    """Write one split; ``tokens`` is the (rows, maxlen) int32 matrix."""
    maxlen = tokens.shape[1]
    schema = _schema(maxlen, metadata)
    flat = pa.array(tokens.reshape(-1), type=pa.int32())
    table = pa.Table.from_arrays(
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
    pq.write_table(table, path, compression="zstd")


def write_prepared(
    directory: Path,
    fp: str,
    raw: RawDataset,
    config: PreprocessConfig,
    splits: dict[str, tuple[pd.DataFrame, TokenLists]],
    encoder: SequenceEncoder,
    skipped: dict[str, list[str]],
    started: float,
    classes: tuple[str, ...] = BINARY_CLASSES,
    card_notes: dict[str, dict] | None = None,
) -> tuple[dict[str, int], dict]:
    """Write the whole folder at once: each split's Parquet, ``vocab.json``, the manifest.

    ``splits`` maps each split to its rows and their words; ``started`` is the
    ``time.perf_counter()`` the prepare began at, for the manifest's ``seconds``.
    ``card_notes`` gives the dataset card's ``duplicates`` and ``left_out``. Returns the
    rows per split and the dataset card. A failure leaves no folder; a full disk names the
    final file.
    """
    vocabulary = list(encoder.vocabulary)
    rows = {name: len(frame) for name, (frame, _) in splits.items()}
    stats: dict[str, dict[str, float]] = {}
    summaries: dict[str, dict[str, object]] = {}
    files: dict[str, str] = {}
    with atomic_directory(directory) as staging:
        for name, (frame, token_lists) in splits.items():
            tokens, lengths = encoder.encode_tokens(token_lists)
            summaries[name] = split_summary(frame["label"].to_numpy(), lengths, tokens, classes)
            oov = int(np.count_nonzero(tokens == OOV_ID))
            stats[name] = {
                "rows": len(frame),
                "positive_share": round(float(frame["label"].mean()), 4),
                "mean_tokens": round(float(lengths.mean()), 1),
                "truncated_share": round(float((lengths > config.maxlen).mean()), 4),
                "unknown_token_share": round(oov / max(1, int(np.count_nonzero(tokens))), 4),
            }
            metadata = {
                "format_version": FORMAT_VERSION,
                "fingerprint": fp,
                "split": name,
                "source_sha256": raw.sha256,
                "vocabulary_words": len(vocabulary),
                "classes": list(classes),
                **config.model_dump(),
            }
            # Errors name the final file; the staging folder goes away with the error.
            with disk_full_as_error(directory / f"{name}.parquet"):
                write_split(staging / f"{name}.parquet", frame, tokens, lengths, metadata)
            files[f"{name}.parquet"] = sha256_file(staging / f"{name}.parquet")
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

"""Turn the reviews into padded integer sequences in Parquet.

Reads the aclImdb splits (``imdb_rnn.aclimdb``) or a table of labeled text
(``imdb_rnn.labeled``), holds out a stratified validation split, finds the test texts that
train shares, builds the vocabulary from the training rows only, encodes every split
(``imdb_rnn.text``) and writes the prepared folder with its dataset card
(``imdb_rnn.prepared_writer``). A table's cleaned texts wait in a spill file while its labels
and splits are settled, and are read back a row group at a time to count the training
words and to write the splits (``imdb_rnn.text_spill``), so a table many times larger than
memory can be prepared. A folder for the same source and settings is reused when it passes
its checks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import get_run_logger, task

from imdb_rnn.aclimdb import RawDataset, open_reviews, read_reviews
from imdb_rnn.config import PreprocessConfig, TableConfig
from imdb_rnn.dataset_card import duplicate_summary, shared_texts
from imdb_rnn.errors import DataContractError, DatasetLayoutError
from imdb_rnn.files import build_lock
from imdb_rnn.labeled import (
    LabeledSplits,
    TableFile,
    read_labeled,
    stratified_holdout,
    stratified_sample,
)
from imdb_rnn.prepared import (
    BINARY_CLASSES,
    MANIFEST_FILE,
    SPLIT_NAMES,
    PreparedData,
    fingerprint,
    load_prepared,
)
from imdb_rnn.prepared_writer import SplitChunk, write_prepared
from imdb_rnn.sources import table_format
from imdb_rnn.storage import DataStore
from imdb_rnn.text import (
    SequenceEncoder,
    build_vocabulary,
    tokenize_all,
    vocabulary_of_counts,
    word_counts,
)
from imdb_rnn.text_spill import TextSpill

log = logging.getLogger(__name__)


def check_validation_size(rows: int, fraction: float) -> None:
    """Fail unless holding out ``fraction`` of ``rows`` leaves at least two on each side."""
    n_validation = round(rows * fraction)
    if n_validation < 2 or rows - n_validation < 2:
        raise DatasetLayoutError(
            f"validation fraction {fraction} of {rows} training reviews leaves too few "
            "on one side; use more reviews or another fraction"
        )


def prepare_dataset(
    raw: RawDataset,
    config: PreprocessConfig,
    processed_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
    table: TableConfig = TableConfig(),  # noqa: B008 - frozen
) -> PreparedData:
    """Write ``processed_dir/<fingerprint>/{train,validation,test}.parquet`` and ``vocab.json``.

    A folder with the same fingerprint that passes its checks is reused as it is; one that
    fails them is rebuilt. Two processes preparing the same fingerprint take turns
    (``<fingerprint>.lock``): the second reuses the first one's folder.
    """
    fp = prepared_fingerprint(raw, config, table)
    directory = processed_dir / fp
    with build_lock(directory, logger):
        if directory.is_dir():
            try:
                prepared = load_prepared(directory, fp, raw.sha256, config)
            except (DataContractError, OSError, KeyError, TypeError, ValueError) as problem:
                logger.warning("Rebuilding %s: %s", directory, problem)
                shutil.rmtree(directory)
            else:
                logger.info("Reusing prepared data %s", directory)
                _warn_about_skipped(directory, logger)
                return prepared
        return _build(raw, config, table, directory, fp, logger)


def prepared_fingerprint(raw: RawDataset, config: PreprocessConfig, table: TableConfig) -> str:
    """The prepared folder's name; how a table is read counts only for a table source."""
    return fingerprint(raw.sha256, config, table if raw.kind == "table" else None)


def _warn_about_skipped(directory: Path, logger: logging.Logger | logging.LoggerAdapter) -> None:
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    count = sum(len(paths) for paths in manifest.get("skipped", {}).values())
    if count:
        logger.warning(
            "%d invalid reviews were left out of %s; they are listed under 'skipped' in %s",
            count,
            directory,
            directory / MANIFEST_FILE,
        )


def _build(
    raw: RawDataset,
    config: PreprocessConfig,
    table: TableConfig,
    directory: Path,
    fp: str,
    logger: logging.Logger | logging.LoggerAdapter,
) -> PreparedData:
    started = time.perf_counter()
    # A table's cleaned texts wait in a spill file beside the folder, not in memory.
    directory.parent.mkdir(parents=True, exist_ok=True)
    spill_folder = (
        tempfile.TemporaryDirectory(dir=directory.parent, prefix=f".{fp}.texts-")
        if raw.kind == "table"
        else contextlib.nullcontext(None)
    )
    with spill_folder as scratch:
        spill = TextSpill(Path(scratch) / "texts.parquet") if scratch else None
        # Everything is read and checked before anything is written.
        if spill is not None:
            source = _table_splits(raw, config, table, logger, spill)
        else:
            source = _aclimdb_splits(raw, config, logger)
        frames = source.frames
        if "validation" not in frames:
            train_idx, validation_idx = stratified_holdout(
                frames["train"]["label"].to_numpy(),
                config.validation_fraction,
                config.split_seed,
                source.classes,
                "validation split (--validation-fraction)",
            )
            train_full = frames["train"]
            frames["train"] = train_full.iloc[train_idx].reset_index(drop=True)
            frames["validation"] = train_full.iloc[validation_idx].reset_index(drop=True)
        frames = {name: frames[name] for name in SPLIT_NAMES}
        frames, duplicates = _test_duplicates(frames, config.drop_test_duplicates, logger, spill)
        vocabulary, chunks = _vocabulary_and_chunks(frames, spill, config.vocab_size)
        encoder = SequenceEncoder(
            tuple(vocabulary), config.maxlen, config.padding, config.truncating
        )
        left_out = {
            "invalid_rows": sum(len(listed) for listed in source.skipped.values()),
            "replaced_characters": source.replaced_characters,
            "truncated_texts": source.truncated_texts,
        }
        rows, card = write_prepared(
            directory,
            fp,
            raw,
            config,
            chunks,
            encoder,
            source.skipped,
            started,
            source.classes,
            {"duplicates": duplicates, "left_out": left_out},
        )
    seconds = time.perf_counter() - started
    logger.info(
        "Prepared %s train, %s validation, %s test reviews in %.1f s -> %s",
        f"{rows['train']:,}",
        f"{rows['validation']:,}",
        f"{rows['test']:,}",
        seconds,
        directory,
    )
    return PreparedData(
        directory,
        fp,
        raw.sha256,
        config,
        rows,
        seconds=round(seconds, 3),
        classes=source.classes,
        card=card,
    )


def _vocabulary_and_chunks(
    frames: dict[str, pd.DataFrame], spill: TextSpill | None, vocab_size: int
) -> tuple[list[str], Iterable[SplitChunk]]:
    """The vocabulary of the training rows' words (words seen only in validation or test are
    unknown), and every split's rows with their words, in memory or from the spill."""
    if spill is None:
        splits = {name: (frame, tokenize_all(frame["text"])) for name, frame in frames.items()}
        vocabulary = build_vocabulary(splits["train"][1], vocab_size)
        return vocabulary, ((name, frame, words) for name, (frame, words) in splits.items())
    counts = _spilled_word_counts(spill, frames["train"])
    return vocabulary_of_counts(counts, vocab_size), _spilled_chunks(spill, frames)


def _spilled_word_counts(spill: TextSpill, train: pd.DataFrame) -> pa.Table:
    """The training rows' words counted a row group at a time."""
    counted = [
        word_counts(tokenize_all(texts.to_pylist()))
        for _, texts in spill.texts_at(train["position"].to_numpy())
    ]
    return pa.concat_tables(counted) if counted else word_counts([])


def _spilled_chunks(spill: TextSpill, frames: dict[str, pd.DataFrame]) -> Iterator[SplitChunk]:
    """Each split's rows with their texts and words, a row group of the spill at a time."""
    positions = {name: frame["position"].to_numpy() for name, frame in frames.items()}
    for first, texts in spill.row_groups():
        for name, frame in frames.items():
            start, stop = np.searchsorted(positions[name], [first, first + len(texts)])
            if start == stop:
                continue
            chunk = texts.take(pa.array(positions[name][start:stop] - first)).to_pylist()
            yield name, frame.iloc[start:stop].assign(text=chunk), tokenize_all(chunk)


def _aclimdb_splits(
    raw: RawDataset, config: PreprocessConfig, logger: logging.Logger | logging.LoggerAdapter
) -> LabeledSplits:
    cap, seed, invalid = config.max_reviews_per_split, config.split_seed, config.invalid_reviews
    reviews = open_reviews(raw.root)
    train_reviews = read_reviews(reviews, "train", cap, seed, logger, invalid)
    test_reviews = read_reviews(reviews, "test", cap, seed, logger, invalid)
    check_validation_size(len(train_reviews.frame), config.validation_fraction)
    skipped = {
        split: [item.path.relative_to(raw.root).as_posix() for item in reviews.skipped]
        for split, reviews in (("train", train_reviews), ("test", test_reviews))
    }
    frames = {"train": train_reviews.frame, "test": test_reviews.frame}
    return LabeledSplits(frames, BINARY_CLASSES, skipped)


def _table_splits(
    raw: RawDataset,
    config: PreprocessConfig,
    table: TableConfig,
    logger: logging.Logger | logging.LoggerAdapter,
    spill: TextSpill,
) -> LabeledSplits:
    train = TableFile(raw.root, raw.origin, table_kind(raw.root.name))
    test = None
    if raw.test_table is not None:
        test = TableFile(raw.test_table, table.test_source or "", table_kind(raw.test_table.name))
    labeled = read_labeled(train, test, table, config, logger, spill)
    cap = config.max_reviews_per_split
    if cap is not None:
        for name, frame in labeled.frames.items():
            picked = stratified_sample(frame["label"].to_numpy(), cap, config.split_seed)
            labeled.frames[name] = frame.iloc[picked].reset_index(drop=True)
    return labeled


def table_kind(name: str) -> str:
    kind = table_format(name)
    if kind is None:  # the download step keeps a table's suffixes, so this is a bug
        raise DataContractError(f"{name} is not named as a table")
    return kind


def _test_duplicates(
    frames: dict[str, pd.DataFrame],
    drop: bool,
    logger: logging.Logger | logging.LoggerAdapter,
    spill: TextSpill | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """Find the test texts that train or validation also hold; leave them out when asked.

    Rows whose texts wait in ``spill`` are compared by the hashes of their texts."""
    key = "text" if spill is None else "hash"
    test = frames["test"]
    seen = pd.concat([frames["train"][key], frames["validation"][key]])
    shared = shared_texts(seen, test[key])
    count = int(shared.sum())
    if drop and count:
        kept = test[~shared].reset_index(drop=True)
        labels = kept["label"].to_numpy()
        if len(np.unique(labels)) < len(np.unique(test["label"].to_numpy())):
            raise DatasetLayoutError(
                "dropping the test texts that train shares (--drop-test-duplicates) leaves a "
                "class with no test rows; prepare without it"
            )
        logger.info("Left out %d test reviews whose text train or validation also holds", count)
        return {**frames, "test": kept}, duplicate_summary(
            kept[key], np.zeros(len(kept), bool), count, []
        )
    if count:
        logger.warning(
            "%d test reviews (%d distinct texts) have the same text as a train or validation "
            "review: test scores them as if unseen; --drop-test-duplicates leaves them out",
            count,
            test[key][shared].nunique(),
        )
    examples = None
    if spill is not None:
        first = np.sort(test[shared].drop_duplicates("hash").head(3)["position"].to_numpy())
        examples = [text for _, part in spill.texts_at(first) for text in part.to_pylist()]
    return frames, duplicate_summary(test[key], shared, 0, examples)


@task(name="prepare")
def prepare(
    raw: RawDataset,
    config: PreprocessConfig,
    store: DataStore,
    table: TableConfig = TableConfig(),  # noqa: B008 - frozen
) -> PreparedData:
    """Tokenize, build the vocabulary, pad and write Parquet (reused when unchanged).

    The Parquet folder is published to the data folder's store, where every worker reads it.
    """
    logger = get_run_logger()
    processed_dir = store.paths.processed
    return store.build_shared(
        processed_dir / prepared_fingerprint(raw, config, table),
        lambda: prepare_dataset(raw, config, processed_dir, logger, table),
    )

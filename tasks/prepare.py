"""Turn the aclImdb reviews into padded integer sequences in Parquet.

Reads both splits (``imdb_rnn.aclimdb``), holds out a stratified validation split, builds
the vocabulary from the training rows only, encodes every split (``imdb_rnn.text``) and
writes the prepared folder (``imdb_rnn.prepared``). A folder for the same source and
settings is reused when it passes its checks.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from sklearn.model_selection import train_test_split

from imdb_rnn.aclimdb import RawDataset, read_reviews
from imdb_rnn.config import PreprocessConfig
from imdb_rnn.errors import DataContractError, DatasetLayoutError
from imdb_rnn.files import build_lock
from imdb_rnn.prepared import (
    MANIFEST_FILE,
    PreparedData,
    fingerprint,
    load_prepared,
    write_prepared,
)
from imdb_rnn.storage import DataStore
from imdb_rnn.text import SequenceEncoder, build_vocabulary, tokenize_all

log = logging.getLogger(__name__)


def split_validation(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of (train, validation): stratified by label, fixed by ``seed``."""
    indices = np.arange(len(labels))
    n_validation = round(len(labels) * fraction)
    if n_validation < 2 or len(labels) - n_validation < 2:
        raise DatasetLayoutError(
            f"validation fraction {fraction} of {len(labels)} training reviews leaves too few "
            "on one side; use more reviews or another fraction"
        )
    train_idx, validation_idx = train_test_split(
        indices, test_size=n_validation, stratify=labels, random_state=seed
    )
    return np.sort(train_idx), np.sort(validation_idx)


def prepare_dataset(
    raw: RawDataset,
    config: PreprocessConfig,
    processed_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> PreparedData:
    """Write ``processed_dir/<fingerprint>/{train,validation,test}.parquet`` and ``vocab.json``.

    A folder with the same fingerprint that passes its checks is reused as it is; one that
    fails them is rebuilt. Two processes preparing the same fingerprint take turns
    (``<fingerprint>.lock``): the second reuses the first one's folder.
    """
    fp = fingerprint(raw.sha256, config)
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
        return _build(raw, config, directory, fp, logger)


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
    directory: Path,
    fp: str,
    logger: logging.Logger | logging.LoggerAdapter,
) -> PreparedData:
    started = time.perf_counter()
    # Everything is read and checked before anything is written.
    cap, seed, invalid = config.max_reviews_per_split, config.split_seed, config.invalid_reviews
    train_reviews = read_reviews(raw.root, "train", cap, seed, logger, invalid)
    test_reviews = read_reviews(raw.root, "test", cap, seed, logger, invalid)
    train_full = train_reviews.frame
    train_idx, validation_idx = split_validation(
        train_full["label"].to_numpy(), config.validation_fraction, config.split_seed
    )
    frames = {
        "train": train_full.iloc[train_idx].reset_index(drop=True),
        "validation": train_full.iloc[validation_idx].reset_index(drop=True),
        "test": test_reviews.frame,
    }
    splits = {name: (frame, tokenize_all(frame["text"])) for name, frame in frames.items()}
    # Only training rows shape the vocabulary: words seen only in validation or test are unknown.
    vocabulary = build_vocabulary(splits["train"][1], config.vocab_size)
    encoder = SequenceEncoder(tuple(vocabulary), config.maxlen, config.padding, config.truncating)
    skipped = {
        split: [item.path.relative_to(raw.root).as_posix() for item in reviews.skipped]
        for split, reviews in (("train", train_reviews), ("test", test_reviews))
    }
    rows = write_prepared(directory, fp, raw, config, splits, encoder, skipped, started)
    seconds = time.perf_counter() - started
    logger.info(
        "Prepared %s train, %s validation, %s test reviews in %.1f s -> %s",
        f"{rows['train']:,}",
        f"{rows['validation']:,}",
        f"{rows['test']:,}",
        seconds,
        directory,
    )
    return PreparedData(directory, fp, raw.sha256, config, rows, seconds=round(seconds, 3))


@task(name="prepare")
def prepare(raw: RawDataset, config: PreprocessConfig, store: DataStore) -> PreparedData:
    """Tokenize, build the vocabulary, pad and write Parquet (reused when unchanged).

    The Parquet folder is published to the data folder's store, where every worker reads it.
    """
    logger = get_run_logger()
    processed_dir = store.paths.processed
    return store.build_shared(
        processed_dir / fingerprint(raw.sha256, config),
        lambda: prepare_dataset(raw, config, processed_dir, logger),
    )

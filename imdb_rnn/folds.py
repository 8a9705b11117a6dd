"""The rows one model fits and validates on: the prepared splits, or one cross-validation fold.

A cross-validated ensemble (``TrainingConfig.ensemble_folds`` > 1) pools the train and
validation splits and cuts them into K stratified folds. Member k fits every fold but k and
validates on fold k, so together the members learn from every labelled training review, and
each review is held out from exactly one member: the one whose prediction counts as its
out-of-fold score. The test split is never part of a fold.

The rows are loaded into memory, unless the train split's padded rows pass the memory budget
(``ExecutionConfig.memory_budget_mib``): a model fitted on it then reads it a few row groups
at a time (``StreamedRows``). A fold's rows are drawn from both splits pooled, so ensemble
members always load theirs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.model_selection import StratifiedKFold

from imdb_rnn.errors import DatasetLayoutError
from imdb_rnn.files import atomic_path
from imdb_rnn.prepared import (
    PreparedData,
    SplitRowGroups,
    load_arrays,
    padded_bytes,
    split_row_groups,
)

log = logging.getLogger(__name__)

MIB = 2**20
# Row groups a streamed epoch shuffles together at most (of ``ROW_GROUP_ROWS`` rows each):
# enough to mix rows of groups far apart in the file, few enough to read quickly.
MOST_WINDOW_GROUPS = 8
# In an ensemble's folder: each pooled training review's probability from the one member
# that never trained on it, in pooled order.
OUT_OF_FOLD_FILE = "out_of_fold.parquet"


@dataclass(frozen=True)
class Fold:
    """Fold ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 2 or not 0 <= self.index < self.count:
            raise ValueError(f"fold {self.index} of {self.count} does not exist")

    @classmethod
    def all(cls, count: int) -> list[Fold]:
        return [cls(index, count) for index in range(count)]

    @property
    def label(self) -> str:
        return f"fold{self.index + 1}of{self.count}"

    def member_seed(self, seed: int) -> int:
        """Seed of this fold's member: distinct per fold, so members start from different
        weights as well as different rows, and distinct from the plain seeds 0..999."""
        return ((seed + 1) * 1000 + self.index) % 2**31


@dataclass(frozen=True)
class TrainingRows:
    fit_tokens: np.ndarray
    fit_labels: np.ndarray
    holdout_tokens: np.ndarray
    holdout_labels: np.ndarray

    @property
    def counts(self) -> tuple[int, int]:
        """Rows fitted and held out."""
        return len(self.fit_tokens), len(self.holdout_tokens)

    @property
    def record(self) -> dict[str, object]:
        """How ``training.json`` names where the rows came from."""
        return {"training_rows": "in-memory", "validation_rows": "in-memory"}


@dataclass(frozen=True)
class StreamedRows:
    """The train split read a window of row groups at a time (``rnn_models.streaming``),
    and validation loaded as arrays, or read in order too when it is large."""

    fit: SplitRowGroups
    holdout: SplitRowGroups | tuple[np.ndarray, np.ndarray]
    # Row groups shuffled together: as many as fill a quarter of the budget, at least one.
    window_groups: int

    @property
    def counts(self) -> tuple[int, int]:
        holdout = self.holdout
        held_out = holdout.rows if isinstance(holdout, SplitRowGroups) else len(holdout[0])
        return self.fit.rows, held_out

    @property
    def record(self) -> dict[str, object]:
        streamed = isinstance(self.holdout, SplitRowGroups)
        return {
            "training_rows": "streamed",
            "validation_rows": "streamed" if streamed else "in-memory",
            "window_row_groups": self.window_groups,
        }


def fold_indices(labels: np.ndarray, fold: Fold, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of (fit, holdout) for ``fold``: stratified by label, fixed by ``seed``."""
    labels = np.asarray(labels)
    smallest_class = int(np.bincount(labels.astype(int), minlength=2).min())
    if smallest_class < fold.count:
        raise DatasetLayoutError(
            f"{fold.count} folds need at least {fold.count} reviews of each label, but the "
            f"training reviews hold only {smallest_class} of one; lower --ensemble-folds or "
            "use more reviews"
        )
    splitter = StratifiedKFold(n_splits=fold.count, shuffle=True, random_state=seed)
    fit_idx, holdout_idx = list(splitter.split(np.zeros(len(labels)), labels))[fold.index]
    return fit_idx, holdout_idx


def pooled_rows(prepared: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """Tokens and labels of the train split followed by the validation split."""
    train_tokens, train_labels, _ = load_arrays(prepared, "train")
    validation_tokens, validation_labels, _ = load_arrays(prepared, "validation")
    return (
        np.concatenate([train_tokens, validation_tokens]),
        np.concatenate([train_labels, validation_labels]),
    )


def training_rows(prepared: PreparedData, fold: Fold | None) -> TrainingRows:
    """What one model fits and validates on: train and validation, or ``fold`` of both pooled."""
    if fold is None:
        train_tokens, train_labels, _ = load_arrays(prepared, "train")
        validation_tokens, validation_labels, _ = load_arrays(prepared, "validation")
        return TrainingRows(train_tokens, train_labels, validation_tokens, validation_labels)
    tokens, labels = pooled_rows(prepared)
    fit_idx, holdout_idx = fold_indices(labels, fold, prepared.preprocess.split_seed)
    return TrainingRows(tokens[fit_idx], labels[fit_idx], tokens[holdout_idx], labels[holdout_idx])


def over_budget(prepared: PreparedData, fold: Fold | None, budget_bytes: int) -> bool:
    """Whether the padded rows a model fits take more than ``budget_bytes`` in memory: the
    train split's, or for a fold the train and validation splits' it is cut from."""
    rows = prepared.rows["train"]
    if fold is not None:
        rows += prepared.rows["validation"]
    return padded_bytes(rows, prepared.preprocess.maxlen) > budget_bytes


def streamed_rows(prepared: PreparedData, budget_bytes: int) -> StreamedRows:
    """The train split to stream in windows of a quarter of the budget, and validation as
    arrays when it fits another quarter (else streamed).

    A stream holds up to three windows at once (the one training, the next one read and
    its shuffled copy), so training rows and validation stay within the budget.
    """
    maxlen = prepared.preprocess.maxlen
    fit = split_row_groups(prepared, "train")
    window_rows = budget_bytes // 4 // padded_bytes(1, maxlen)
    window_groups = max(1, min(MOST_WINDOW_GROUPS, window_rows // max(fit.group_rows)))
    validation = split_row_groups(prepared, "validation")
    if padded_bytes(validation.rows, maxlen) > budget_bytes // 4:
        return StreamedRows(fit, validation, window_groups)
    tokens, labels, _ = load_arrays(prepared, "validation")
    return StreamedRows(fit, (tokens, labels), window_groups)


def training_input(
    prepared: PreparedData,
    fold: Fold | None,
    budget_mib: int,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> TrainingRows | StreamedRows:
    """The rows one model fits and validates on: loaded (``training_rows``), or streamed
    when the train split's padded rows pass the memory budget of ``budget_mib``."""
    budget_bytes = budget_mib * MIB
    if not over_budget(prepared, fold, budget_bytes):
        return training_rows(prepared, fold)
    if fold is not None:
        logger.info(
            "Loading the rows of %s although they pass the memory budget of %d MiB: only a "
            "model fitted on the train split streams them, and a fold draws its rows from "
            "train and validation pooled",
            fold.label,
            budget_mib,
        )
        return training_rows(prepared, fold)
    rows = streamed_rows(prepared, budget_bytes)
    logger.info(
        "Streaming %s training rows from %s, %d row groups at a time (validation %s): "
        "loaded, they would pass the memory budget of %d MiB",
        f"{rows.fit.rows:,}",
        rows.fit.path,
        rows.window_groups,
        rows.record["validation_rows"],
        budget_mib,
    )
    return rows


def out_of_fold_probabilities(
    member_models: list[Any], prepared: PreparedData
) -> tuple[np.ndarray, np.ndarray]:
    """Each pooled training review scored by the one member that did not train on it, and
    the pooled labels (member k of ``member_models`` trained without fold k)."""
    from rnn_models.inference import predict_probabilities

    tokens, labels = pooled_rows(prepared)
    out_of_fold: np.ndarray | None = None
    for index, model in enumerate(member_models):
        fold = Fold(index, len(member_models))
        _, holdout = fold_indices(labels, fold, prepared.preprocess.split_seed)
        scores = predict_probabilities(model, tokens[holdout])
        if out_of_fold is None:  # one probability per review, or K for K classes
            out_of_fold = np.full((len(labels), *scores.shape[1:]), np.nan)
        out_of_fold[holdout] = scores
    assert out_of_fold is not None  # an ensemble has members
    return out_of_fold, labels


def save_out_of_fold(directory: Path, out_of_fold: np.ndarray) -> None:
    """Two classes: one probability per pooled review (column ``probability``), what the
    stack is fitted on. K > 2: each review's K probabilities (column ``probabilities``), kept
    for the record, since the stack, their only reader, combines two-class scores."""
    if out_of_fold.ndim == 2:
        column = pa.FixedSizeListArray.from_arrays(
            pa.array(out_of_fold.reshape(-1)), out_of_fold.shape[1]
        )
        table = pa.table({"probabilities": column})
    else:
        table = pa.table({"probability": pa.array(out_of_fold)})
    with atomic_path(directory / OUT_OF_FOLD_FILE) as tmp:
        pq.write_table(table, tmp)

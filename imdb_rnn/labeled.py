"""From a table's rows to the splits a prepare writes: class names and ids, which rows are
train, validation and test, and the checks each split needs.

Labels may be 0/1, booleans, names such as pos/neg, or K > 2 strings or integers. Their
class names are kept: a label's id is the place of its class in ``classes``. Two names that
read as a negative and a positive (neg/pos, no/yes, ...) put the positive one second, so
that probability 1 means positive, as for aclImdb.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from imdb_rnn.config import PreprocessConfig, TableConfig
from imdb_rnn.errors import TableError
from imdb_rnn.tables import TableRows, read_table
from imdb_rnn.text_spill import TextSpill

SPLIT_VALUES = {
    "train": "train",
    "training": "train",
    "test": "test",
    "testing": "test",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
}
# (negative, positive) names, compared lower-cased.
BINARY_PAIRS = (
    ("neg", "pos"),
    ("negative", "positive"),
    ("no", "yes"),
    ("bad", "good"),
    ("ham", "spam"),
    ("n", "y"),
)
_INTEGER = re.compile(r"^[-+]?\d+$")
_KIND_WORDS = {"number": "numbers", "bool": "true/false values", "text": "text"}


def _canonical(value: object) -> tuple[str, object]:
    """A label value as (kind, key): the same class gets the same key, whatever the file
    format made of it (``1``, ``1.0`` and ``"1"`` are one class)."""
    if isinstance(value, (bool, np.bool_)):
        return "bool", bool(value)
    if isinstance(value, (int, np.integer)):
        return "number", int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return "number", int(number) if math.isfinite(number) and number.is_integer() else number
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            return "number", int(text)
        if text.lower() in {"true", "false"}:
            return "bool", text.lower() == "true"
        return "text", text
    raise TableError(f"a label is a {type(value).__name__} ({value!r}), not a class name")


def _name(kind: str, key: object) -> str:
    if kind == "bool":
        return "true" if key else "false"
    return str(key)


@dataclass(frozen=True)
class LabelSet:
    """The classes of a table, in id order, and how a raw label finds its id."""

    kind: str
    keys: tuple[object, ...]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(_name(self.kind, key) for key in self.keys)

    def ids(self, labels: pd.Series, where: str, column: str) -> np.ndarray:
        """Each label's class id; a label of another kind, or a class this set lacks, fails."""
        canonical = [_canonical(value) for value in labels]
        kinds = {kind for kind, _ in canonical}
        if kinds - {self.kind}:
            raise TableError(
                f"label column {column!r} of {where} holds {_kinds_text(kinds)} where the "
                f"training rows hold {_KIND_WORDS[self.kind]}; use one kind of label"
            )
        index = {key: number for number, key in enumerate(self.keys)}
        unknown = pd.Series([key for _, key in canonical if key not in index], dtype=object)
        if len(unknown):
            counts = unknown.map(str).value_counts()
            listed = ", ".join(f"{name!r} ({count} rows)" for name, count in counts.items())
            raise TableError(
                f"{where} has classes that the training rows lack: {listed}; train has "
                f"{', '.join(self.classes)}. A model cannot learn a class it never sees: add "
                "training rows of it or leave those rows out"
            )
        return np.array([index[key] for _, key in canonical], dtype=np.int8)


def _kinds_text(kinds: set[str]) -> str:
    return " and ".join(_KIND_WORDS[kind] for kind in sorted(kinds))


def label_set(labels: pd.Series, where: str, column: str) -> LabelSet:
    """The classes of ``labels``: one kind of value, at least two classes, at most 127."""
    canonical = [_canonical(value) for value in labels]
    if not canonical:
        raise TableError(f"{where} has no usable rows; give a table of labeled text")
    kinds = {kind for kind, _ in canonical}
    if len(kinds) > 1:
        examples = {}
        for kind, key in canonical:
            examples.setdefault(kind, key)
        shown = " and ".join(
            f"{_KIND_WORDS[kind]} (such as {examples[kind]!r})" for kind in sorted(kinds)
        )
        raise TableError(
            f"label column {column!r} of {where} mixes {shown}; use one kind of label, or "
            "name another column with --label-column"
        )
    kind = kinds.pop()
    distinct = set(key for _, key in canonical)
    if len(distinct) < 2:
        raise TableError(
            f"label column {column!r} of {where} has a single class "
            f"({_name(kind, next(iter(distinct)))!r}); a classifier needs two or more"
        )
    if len(distinct) > 127:
        raise TableError(
            f"label column {column!r} of {where} has {len(distinct):,} classes, more than the "
            "127 this pipeline supports; is it the right column (--label-column)?"
        )
    return LabelSet(kind, _ordered(kind, distinct))


def _ordered(kind: str, keys: set[object]) -> tuple[object, ...]:
    if kind != "text":
        return tuple(sorted(keys))  # type: ignore[type-var]
    if len(keys) == 2:
        by_lower = {str(key).lower(): key for key in keys}
        for negative, positive in BINARY_PAIRS:
            if set(by_lower) == {negative, positive}:
                return by_lower[negative], by_lower[positive]
    return tuple(sorted(keys, key=str))


def split_names(values: pd.Series, where: str, column: str) -> np.ndarray:
    """Each row's split (train, validation or test) from a split column."""
    normalised = values.map(lambda value: str(value).strip().lower() if value is not None else "")
    unknown = sorted(set(normalised) - set(SPLIT_VALUES))
    if unknown:
        counts = normalised[normalised.isin(unknown)].value_counts()
        listed = ", ".join(f"{name!r} ({count} rows)" for name, count in counts.items())
        raise TableError(
            f"split column {column!r} of {where} has values {listed}; each row must say "
            "train, test or validation"
        )
    splits = normalised.map(SPLIT_VALUES).to_numpy()
    if not (splits == "test").any():
        raise TableError(
            f"split column {column!r} of {where} marks no row as test; mark some, or drop "
            "--split-column to hold out --test-fraction of the rows"
        )
    if not (splits == "train").any():
        raise TableError(f"split column {column!r} of {where} marks no row as train")
    return splits


def stratified_holdout(
    labels: np.ndarray, fraction: float, seed: int, classes: tuple[str, ...], what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (kept, held out): ``fraction`` of the rows held out, stratified by class,
    fixed by ``seed``. Fails naming the class when one has too few rows to be on both sides."""
    held_out = round(len(labels) * fraction)
    counts = np.bincount(labels, minlength=len(classes))
    for class_id, count in enumerate(counts):
        if 0 < count < 2:
            raise TableError(
                f"class {classes[class_id]!r} has {count} row, too few for the stratified "
                f"{what} (each class needs 2 or more); add rows of it or leave them out"
            )
    present = int(np.count_nonzero(counts))
    if held_out < present or len(labels) - held_out < present:
        raise TableError(
            f"the {what} of {fraction:g} of {len(labels):,} rows leaves fewer rows than the "
            f"{present} classes on one side; use more rows or another fraction"
        )
    kept, out = train_test_split(
        np.arange(len(labels)), test_size=held_out, stratify=labels, random_state=seed
    )
    return np.sort(kept), np.sort(out)


def stratified_sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted row indices of a sample of ``size`` rows, stratified by class (all rows when
    there are not more than ``size``)."""
    if size >= len(labels):
        return np.arange(len(labels))
    counts = np.bincount(labels)
    if (counts[counts > 0] < 2).any() or size < np.count_nonzero(counts):
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(labels), size=size, replace=False))
    picked, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed
    )
    return np.sort(picked)


@dataclass(frozen=True)
class TableFile:
    """A table on this machine, how it is named in messages, and its kind (``csv``, ...)."""

    path: Path
    shown: str
    kind: str


@dataclass
class LabeledSplits:
    """A table source as the prepare needs it: rows per split with class ids, and what was
    left out. ``frames`` holds train and test, and validation when the table names one."""

    frames: dict[str, pd.DataFrame]  # review_id, rating, label, text (or position, hash)
    classes: tuple[str, ...]
    skipped: dict[str, list[str]]
    replaced_characters: int = 0
    truncated_texts: int = 0


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _rows_text(numbers: list[int], shown: int = 5) -> str:
    listed = ", ".join(str(number) for number in numbers[:shown])
    return listed + (f" and {len(numbers) - shown:,} more" if len(numbers) > shown else "")


def _left_out(
    rows: TableRows, where: str, invalid: str, logger: logging.Logger | logging.LoggerAdapter
) -> list[str]:
    """Stop on rows without text or label, or (``invalid == "skip"``) list them."""
    if not rows.invalid:
        return []
    total = sum(len(numbers) for numbers in rows.invalid.values())
    described = "; ".join(
        f"{len(numbers):,} with {reason} ({_plural(len(numbers), 'row')} {_rows_text(numbers)})"
        for reason, numbers in rows.invalid.items()
    )
    if invalid == "fail":
        raise TableError(
            f"{where}: {total:,} {_plural(total, 'row')} cannot be used, {described}; fill "
            "them in, or pass --invalid-reviews skip to leave them out"
        )
    logger.warning("Skipped %d rows of %s (--invalid-reviews skip): %s", total, where, described)
    return [
        f"row {number}: {reason}" for reason, numbers in rows.invalid.items() for number in numbers
    ]


def read_labeled(
    train: TableFile,
    test: TableFile | None,
    table: TableConfig,
    preprocess: PreprocessConfig,
    logger: logging.Logger | logging.LoggerAdapter,
    spill: TextSpill | None = None,
) -> LabeledSplits:
    """Read the table (and the test table), give each row its class id and its split.

    With ``spill``, the texts go there and the frames hold their ``position`` and ``hash``
    (``imdb_rnn.text_spill``) instead of ``text``.
    """
    truncating = preprocess.truncating
    rows = read_table(train.path, train.shown, train.kind, table, truncating, logger, spill)
    skipped = {"table": _left_out(rows, train.shown, preprocess.invalid_reviews, logger)}
    label_column = rows.columns[1]
    frame = rows.frame
    parts: dict[str, pd.DataFrame]
    if test is not None:
        test_rows = read_table(test.path, test.shown, test.kind, table, truncating, logger, spill)
        skipped["test_table"] = _left_out(test_rows, test.shown, preprocess.invalid_reviews, logger)
        parts = {"train": frame, "test": test_rows.frame}
    elif rows.columns[2] is not None:
        splits = split_names(frame["split"], train.shown, rows.columns[2])
        parts = {name: frame[splits == name] for name in ("train", "validation", "test")}
    else:
        labels = label_set(frame["label"], train.shown, label_column)
        ids = labels.ids(frame["label"], train.shown, label_column)
        kept, held_out = stratified_holdout(
            ids,
            table.test_fraction,
            preprocess.split_seed,
            labels.classes,
            "test hold-out (--test-fraction)",
        )
        parts = {"train": frame.iloc[kept], "test": frame.iloc[held_out]}
    labels = label_set(parts["train"]["label"], f"the training rows of {train.shown}", label_column)
    frames: dict[str, pd.DataFrame] = {}
    for name, part in parts.items():
        if name == "validation" and part.empty:
            continue
        where = test.shown if name == "test" and test is not None else train.shown
        prefix = "test_table" if name == "test" and test is not None else "table"
        frames[name] = pd.DataFrame(
            {
                "review_id": [f"{prefix}:{number}" for number in part["row"]],
                "rating": np.zeros(len(part), dtype=np.int8),
                "label": labels.ids(part["label"], f"the {name} rows of {where}", label_column),
                **{c: part[c].to_numpy() for c in ("text", "position", "hash") if c in part},
            }
        )
    return LabeledSplits(
        frames,
        labels.classes,
        {name: listed for name, listed in skipped.items() if listed},
        rows.replaced_characters + (test_rows.replaced_characters if test else 0),
        rows.truncated_texts + (test_rows.truncated_texts if test else 0),
    )

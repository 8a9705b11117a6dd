"""The aclImdb layout: ``{train,test}/{pos,neg}/<id>_<rating>.txt``, checked and read.

Where the files live (``RawDataset``), whether a folder holds the whole layout, the
checksum of an extracted folder, and reading one split's reviews into a table of cleaned
text with labels. Invalid files either stop the run, naming the file, or are left out and
listed (``invalid_reviews="skip"``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_rnn.errors import DatasetLayoutError
from imdb_rnn.text import clean_text, has_words
from imdb_rnn.unpacked import UnpackedReviews, is_unpacked

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABEL_FOLDERS = ("pos", "neg")
_FILENAME = re.compile(r"^(?P<id>\d+)_(?P<rating>\d+)\.txt$")


@dataclass(frozen=True)
class RawDataset:
    """The reviews on disk and the checksum that identifies them: an aclImdb folder, an
    unpacked archive (``imdb_rnn.unpacked``), or (``kind="table"``) a table of labeled
    text, with its test table when one was given."""

    root: Path
    sha256: str
    origin: str
    kind: str = "aclImdb"
    test_table: Path | None = None


def _dataset_root(folder: Path) -> Path | None:
    for candidate in (folder, folder / "aclImdb"):
        if all((candidate / split).is_dir() for split in SPLITS):
            return candidate
    return None


def layout_problem(root: Path) -> str | None:
    """What ``root`` lacks of ``{train,test}/{pos,neg}/*.txt``, or None when complete."""
    for split in SPLITS:
        for label in LABEL_FOLDERS:
            folder = root / split / label
            if not folder.is_dir():
                return f"missing folder {split}/{label}/"
            if next(folder.glob("*.txt"), None) is None:
                return f"{split}/{label}/ has no .txt reviews"
    return None


def find_dataset_root(folder: Path) -> Path:
    """Return the folder holding ``train/`` and ``test/``: ``folder`` or ``folder/aclImdb``."""
    root = _dataset_root(folder)
    if root is None:
        raise DatasetLayoutError(
            f"{folder} does not hold the aclImdb layout: expected train/ and test/ "
            "(or aclImdb/train/ and aclImdb/test/) with pos/ and neg/ inside"
        )
    check_layout(root)
    return root


def check_layout(root: Path) -> None:
    """Fail unless every ``{train,test}/{pos,neg}`` folder exists and holds reviews."""
    problem = layout_problem(root)
    if problem is not None:
        raise DatasetLayoutError(f"{problem} under {root}; every split needs pos/ and neg/ reviews")


def tree_sha256(root: Path) -> str:
    """Checksum of an extracted folder: every review's relative path and bytes."""
    digest = hashlib.sha256()
    for split in SPLITS:
        for label in LABEL_FOLDERS:
            for path in sorted((root / split / label).glob("*.txt")):
                digest.update(f"{split}/{label}/{path.name}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _filename_problem(name: str) -> str | None:
    match = _FILENAME.match(name)
    if not match:
        return "review file names must look like <id>_<rating>.txt"
    rating = int(match["rating"])
    if not 1 <= rating <= 10:
        return f"rating {rating} is outside 1..10"
    return None


def parse_review_filename(path: Path) -> tuple[int, int]:
    """``<id>_<rating>.txt`` -> (id, rating), rating in 1..10."""
    problem = _filename_problem(path.name)
    if problem is not None:
        raise DatasetLayoutError(f"{path}: {problem}")
    match = _FILENAME.match(path.name)
    assert match is not None
    return int(match["id"]), int(match["rating"])


@dataclass(frozen=True)
class InvalidReview:
    """A review file that cannot be used, and why."""

    path: Path
    reason: str


@dataclass
class SplitReviews:
    """The reviews read from one split, and the invalid files that were left out."""

    frame: pd.DataFrame
    skipped: list[InvalidReview]


def _reject(path: Path, reason: str, invalid_reviews: str, skipped: list[InvalidReview]) -> None:
    if invalid_reviews != "skip":
        raise DatasetLayoutError(
            f"{path}: {reason}; fix or delete the file, or pass --invalid-reviews skip "
            "to leave such reviews out"
        )
    skipped.append(InvalidReview(path, reason))


@dataclass(frozen=True)
class ReviewFile:
    """One review file of a split, its name already parsed."""

    folder: str
    name: str
    review_id: int
    rating: int
    label: int

    @property
    def location(self) -> str:
        return os.path.join(self.folder, self.name)

    @property
    def path(self) -> Path:
        return Path(self.location)


class FolderReviews:
    """The review files of an aclImdb folder on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self, split: str, label_folder: str) -> list[str]:
        folder = os.path.join(self.root, split, label_folder)
        if not os.path.isdir(folder):
            return []
        return [e.name for e in os.scandir(folder) if e.name.endswith(".txt")]

    def read(self, location: str) -> bytes:
        with open(location, "rb") as stream:
            return stream.read()


def open_reviews(root: Path) -> FolderReviews | UnpackedReviews:
    """The review files under ``root``: an aclImdb folder, or an unpacked archive's table."""
    return UnpackedReviews(root) if is_unpacked(root) else FolderReviews(root)


def list_review_files(
    root: Path | FolderReviews | UnpackedReviews,
    split: str,
    cap: int | None = None,
    seed: int = 0,
    invalid_reviews: str = "fail",
    skipped: list[InvalidReview] | None = None,
) -> list[ReviewFile]:
    """Every review file of a split, in a fixed order (label, then review id).

    With ``cap``, a balanced random sample of ``cap`` reviews, the same for the same seed.
    A file not named ``<id>_<rating>.txt`` (rating 1..10) raises ``DatasetLayoutError``, or
    with ``invalid_reviews="skip"`` is appended to ``skipped`` and left out before sampling.
    """
    reviews = open_reviews(root) if isinstance(root, Path) else root
    chosen: list[ReviewFile] = []
    skipped = [] if skipped is None else skipped
    rng = np.random.default_rng(seed)
    for label_name in LABEL_FOLDERS:
        label = 1 if label_name == "pos" else 0
        folder = os.path.join(reviews.root, split, label_name)
        # Names and strings, not Path objects: 25,000 Paths per split cost most of a second.
        # Sorted, so that invalid files are reported in the same order everywhere.
        names = sorted(reviews.names(split, label_name))
        files = []
        for name in names:
            problem = _filename_problem(name)
            if problem is not None:
                _reject(Path(folder, name), problem, invalid_reviews, skipped)
                continue
            review_id, rating = name[:-4].split("_")
            files.append(ReviewFile(folder, name, int(review_id), int(rating), label))
        files.sort(key=lambda file: (file.review_id, file.name))
        if cap is not None:
            share = cap // 2 if label == 1 else cap - cap // 2
            if share < len(files):
                picked = np.sort(rng.choice(len(files), size=share, replace=False))
                files = [files[i] for i in picked]
        chosen.extend(files)
    return chosen


def _first_few(items: Sequence[object], shown: int = 3) -> str:
    listed = ", ".join(str(item) for item in items[:shown])
    return listed + (f" and {len(items) - shown} more" if len(items) > shown else "")


def read_reviews(
    root: Path | FolderReviews | UnpackedReviews,
    split: str,
    cap: int | None,
    seed: int,
    logger: logging.Logger | logging.LoggerAdapter = log,
    invalid_reviews: str = "fail",
) -> SplitReviews:
    """Columns ``review_id``, ``rating``, ``label``, ``text`` (cleaned) for one split.

    A review that is not valid UTF-8 is decoded with U+FFFD for the bad bytes and counted in
    a warning. An invalid review (badly named, rating outside 1..10, empty, or with no words
    once markup is removed) fails the run, or with ``invalid_reviews="skip"`` is left out,
    logged and returned in ``skipped``.
    """
    skipped: list[InvalidReview] = []
    reviews = open_reviews(root) if isinstance(root, Path) else root
    files = list_review_files(reviews, split, cap, seed, invalid_reviews, skipped)
    records = []
    undecodable: list[Path] = []
    for file in files:
        raw = reviews.read(file.location)
        if not raw.strip():
            _reject(file.path, "the review is empty", invalid_reviews, skipped)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            undecodable.append(file.path)
        cleaned = clean_text(text)
        if not has_words(cleaned):
            _reject(file.path, "no words are left once markup is removed", invalid_reviews, skipped)
            continue
        review_id = f"{split}/{os.path.basename(file.folder)}/{file.review_id}"
        records.append((review_id, file.rating, file.label, cleaned))
    if undecodable:
        logger.warning(
            "%d %s reviews were not valid UTF-8; bad bytes were replaced with U+FFFD: %s",
            len(undecodable),
            split,
            _first_few(undecodable),
        )
    if skipped:
        logger.warning(
            "Skipped %d invalid %s reviews (--invalid-reviews skip): %s",
            len(skipped),
            split,
            _first_few([f"{item.path} ({item.reason})" for item in skipped]),
        )
    frame = pd.DataFrame.from_records(records, columns=["review_id", "rating", "label", "text"])
    for label_name, label in (("pos", 1), ("neg", 0)):
        if not (frame["label"] == label).any():
            left_out = sum(item.path.parent.name == label_name for item in skipped)
            because = f" ({left_out} invalid ones left out)" if left_out else ""
            raise DatasetLayoutError(
                f"{split}/{label_name}/ under {reviews.root} has no usable reviews{because}; "
                "every split needs positive and negative reviews"
            )
    return SplitReviews(frame, skipped)

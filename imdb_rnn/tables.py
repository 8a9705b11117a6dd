"""Reading a table of labeled text: CSV, TSV, Parquet or JSON Lines, compressed or not.

A table is read in chunks of rows, keeping only the text, label and split columns, so memory
follows what the prepare needs rather than the file's size. Every problem is one
``TableError`` naming the file and the column, the value or the rows: a file that is not a
table of its kind (an HTML error page saved as ``.csv``), a missing column (listing the
columns found), a text column that holds no text, rows without text or label.
What the labels mean (their classes) and which split a row goes to is ``imdb_rnn.labeled``.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_rnn.config import TableConfig
from imdb_rnn.errors import TableError
from imdb_rnn.text import clean_text, has_words
from imdb_rnn.text_spill import TextSpill

log = logging.getLogger(__name__)

# Names tried, in order, when the default text or label column is missing.
TEXT_COLUMNS = (
    "text",
    "review",
    "content",
    "sentence",
    "document",
    "body",
    "comment",
    "tweet",
    "message",
)
LABEL_COLUMNS = ("label", "sentiment", "class", "category", "target", "rating", "stars", "y")
CHUNK_ROWS = 50_000
# A text longer than this is cut (on the side --truncating cuts) before it is tokenized: far
# more words than any model reads, and no single row can take the memory of a whole table.
MAX_TEXT_CHARACTERS = 100_000
KIND_NAMES = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "jsonl": "JSON Lines"}
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


@dataclass
class TableRows:
    """The usable rows of one table, and what was left out or changed on the way.

    ``frame`` has ``row`` (1-based data row number, as a spreadsheet shows it below the
    header), ``text`` (cleaned), ``label`` (the raw value) and ``split`` (raw, or None); read
    with a ``TextSpill``, ``position`` and ``hash`` instead of ``text``.
    """

    frame: pd.DataFrame
    columns: tuple[str, str, str | None]  # text, label, split as found in the file
    invalid: dict[str, list[int]] = field(default_factory=dict)  # reason -> row numbers
    replaced_characters: int = 0
    truncated_texts: int = 0


def _opened(path: Path) -> IO[bytes]:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".xz":
        return lzma.open(path, "rb")
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        return archive.open(archive.namelist()[0])
    if suffix == ".zst":
        import zstandard  # pandas reads .zst through it too

        return zstandard.open(path, "rb")
    return path.open("rb")


def _first_bytes(path: Path, shown: str, size: int = 4096) -> bytes:
    try:
        with _opened(path) as stream:
            return stream.read(size)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, IndexError) as error:
        raise TableError(
            f"{shown} cannot be decompressed as its name says ({error}); check the file"
        ) from error
    except ImportError as error:
        raise TableError(f"{shown} is zstd-compressed: install zstandard to read it") from error


def check_kind(path: Path, shown: str, kind: str) -> None:
    """Fail unless the file's first bytes can start a table of ``kind``."""
    head = _first_bytes(path, shown)
    name = KIND_NAMES[kind]
    if kind == "parquet":
        if not head.startswith(b"PAR1"):
            raise TableError(f"{shown} is not a Parquet file (it lacks Parquet's PAR1 header)")
        return
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
    if start.startswith(b"<") and (b"<html" in start or b"<!doctype" in start or b"<head" in start):
        raise TableError(
            f"{shown} is an HTML page, not a {name} table (a saved error page?); "
            "download the table itself"
        )
    if head.startswith(b"PAR1"):
        raise TableError(f"{shown} is a Parquet file, not {name}: give it a .parquet name")
    if b"\x00" in head:
        raise TableError(f"{shown} holds binary data, not a {name} table")
    if kind == "jsonl" and start and not start.startswith(b"{"):
        raise TableError(
            f"{shown} is not JSON Lines: each line must be one JSON object such as "
            '{"text": "...", "label": "..."}'
        )


def _csv_chunks(path: Path, kind: str, columns: list[str], encoding: str) -> Iterator:
    # Every value as text: a chunk's guessed types could differ from the next one's.
    return pd.read_csv(
        path,
        sep="\t" if kind == "tsv" else ",",
        usecols=columns,
        dtype=str,
        keep_default_na=False,
        encoding=encoding,
        encoding_errors="replace",
        chunksize=CHUNK_ROWS,
    )


def _jsonl_chunks(path: Path, encoding: str) -> Iterator[pd.DataFrame]:
    return pd.read_json(
        path,
        lines=True,
        chunksize=CHUNK_ROWS,
        dtype=False,
        convert_dates=False,
        encoding=encoding,
        encoding_errors="replace",
    )


def _parquet_chunks(path: Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK_ROWS, columns=columns):
        yield batch.to_pandas(types_mapper=None)


def columns_of(path: Path, shown: str, kind: str, encoding: str) -> list[str]:
    """The table's column names (for JSON Lines, the keys of its first rows)."""
    try:
        if kind == "parquet":
            return list(pq.read_schema(path).names)
        if kind == "jsonl":
            first = next(iter(_jsonl_chunks(path, encoding)), None)
            return [] if first is None else [str(name) for name in first.columns]
        sep = "\t" if kind == "tsv" else ","
        header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding, encoding_errors="replace")
        return [str(name) for name in header.columns]
    except (ValueError, OSError, pa.ArrowException, pd.errors.ParserError) as error:
        raise TableError(
            f"{shown} is not a readable {KIND_NAMES[kind]} table: {_brief(error)}"
        ) from error


def _brief(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def find_column(
    found: list[str],
    wanted: str,
    default: str,
    fallbacks: tuple[str, ...],
    role: str,
    flag: str,
    shown: str,
) -> str:
    """The column to read for ``role``: ``wanted``, or when that is the default and missing,
    the first of ``fallbacks`` present (matched without regard to case)."""
    if wanted in found:
        return wanted
    by_lower = {name.lower(): name for name in found}
    candidates = fallbacks if wanted == default else (wanted,)
    for name in candidates:
        if name.lower() in by_lower:
            return by_lower[name.lower()]
    listed = ", ".join(repr(name) for name in found[:20]) or "none"
    raise TableError(
        f"{shown} has no {role} column {wanted!r}; the columns found are {listed}: "
        f"name the right one with {flag}"
    )


def _check_text_type(chunk: pd.DataFrame, column: str, shown: str, kind: str) -> None:
    values = chunk[column]
    present = values[values.notna()]
    if present.empty:
        return
    strings = present.map(lambda value: isinstance(value, str))
    if kind in {"parquet", "jsonl"} and not strings.any():
        example = present.iloc[0]
        raise TableError(
            f"text column {column!r} of {shown} holds {type(example).__name__} values such as "
            f"{example!r}, not text; name the text column with --text-column"
        )
    texts = present[strings].astype(str)
    non_blank = texts[texts.str.strip() != ""]
    if len(non_blank) and non_blank.map(lambda value: bool(_NUMBER.match(value))).all():
        raise TableError(
            f"text column {column!r} of {shown} holds only numbers (such as "
            f"{non_blank.iloc[0]!r}), not text; name the text column with --text-column"
        )


def _cut(text: str, truncating: str) -> str:
    if truncating == "pre":
        return text[-MAX_TEXT_CHARACTERS:]
    return text[:MAX_TEXT_CHARACTERS]


def read_table(
    path: Path,
    shown: str,
    kind: str,
    table: TableConfig,
    truncating: str = "pre",
    logger: logging.Logger | logging.LoggerAdapter = log,
    spill: TextSpill | None = None,
) -> TableRows:
    """The rows of one table: cleaned text, raw label and split, and row numbers.

    Rows without text (empty, or no words once markup is removed) or without a label are
    listed in ``invalid`` by reason; the caller stops or leaves them out (``--invalid-reviews``).
    With ``spill``, each chunk's cleaned texts are written there as they are read, and the
    rows hold their ``position`` in it and a ``hash`` of their text instead.
    """
    check_kind(path, shown, kind)
    found = columns_of(path, shown, kind, table.text_encoding)
    text_column = find_column(
        found, table.text_column, "text", TEXT_COLUMNS, "text", "--text-column", shown
    )
    label_column = find_column(
        found, table.label_column, "label", LABEL_COLUMNS, "label", "--label-column", shown
    )
    split_column = None
    if table.split_column is not None:
        split_column = find_column(
            found, table.split_column, "", (), "split", "--split-column", shown
        )
    wanted = list(dict.fromkeys(c for c in (text_column, label_column, split_column) if c))
    if text_column == label_column:
        raise TableError(
            f"{shown}: the text and label columns are both {text_column!r}; name them apart "
            "with --text-column and --label-column"
        )
    rows = TableRows(pd.DataFrame(), (text_column, label_column, split_column))
    parts: list[pd.DataFrame] = []
    first_row = 1
    try:
        if kind == "parquet":
            chunks: Iterator[pd.DataFrame] = _parquet_chunks(path, wanted)
        elif kind == "jsonl":
            chunks = _jsonl_chunks(path, table.text_encoding)
        else:
            chunks = _csv_chunks(path, kind, wanted, table.text_encoding)
        for chunk in chunks:
            if chunk.empty:
                continue
            for column in wanted:  # JSON Lines rows may lack a key another row has
                if column not in chunk.columns:
                    chunk[column] = None
            usable = _usable_rows(chunk[wanted], first_row, rows, shown, kind, truncating)
            parts.append(spill.add(usable) if spill is not None else usable)
            first_row += len(chunk)
    except (ValueError, pa.ArrowException, pd.errors.ParserError, UnicodeError) as error:
        raise TableError(
            f"{shown} is not a readable {KIND_NAMES[kind]} table near data row {first_row}: "
            f"{_brief(error)}"
        ) from error
    empty = {"row": [], "label": [], "split": []}
    empty |= {"position": [], "hash": []} if spill is not None else {"text": []}
    rows.frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(empty)
    if first_row == 1:
        raise TableError(f"{shown} has a header but no rows; give a table of labeled text")
    if rows.replaced_characters:
        logger.warning(
            "%s: %d characters were not valid %s and were replaced with U+FFFD "
            "(set --text-encoding if the file has another encoding)",
            shown,
            rows.replaced_characters,
            table.text_encoding,
        )
    if rows.truncated_texts:
        logger.warning(
            "%s: %d texts longer than %s characters were cut to that length",
            shown,
            rows.truncated_texts,
            f"{MAX_TEXT_CHARACTERS:,}",
        )
    return rows


def _usable_rows(
    chunk: pd.DataFrame, first_row: int, rows: TableRows, shown: str, kind: str, truncating: str
) -> pd.DataFrame:
    text_column, label_column, split_column = rows.columns
    _check_text_type(chunk, text_column, shown, kind)
    numbers = np.arange(first_row, first_row + len(chunk))
    texts = chunk[text_column].map(lambda value: value if isinstance(value, str) else "")
    rows.replaced_characters += int(texts.str.count("\ufffd").sum())
    long = texts.str.len() > MAX_TEXT_CHARACTERS
    if long.any():
        rows.truncated_texts += int(long.sum())
        texts = texts.where(~long, texts[long].map(lambda text: _cut(text, truncating)))
    cleaned = texts.map(clean_text)
    labels = chunk[label_column]
    no_label = (
        labels.isna().to_numpy()
        | labels.map(lambda value: isinstance(value, str) and not value.strip()).to_numpy()
    )
    no_text = ~cleaned.map(has_words).to_numpy()
    for reason, mask in (("no text", no_text), ("no label", no_label & ~no_text)):
        if mask.any():
            rows.invalid.setdefault(reason, []).extend(numbers[mask].tolist())
    keep = ~(no_text | no_label)
    split = chunk[split_column] if split_column else pd.Series([None] * len(chunk), dtype=object)
    return pd.DataFrame(
        {
            "row": numbers[keep],
            "text": cleaned.to_numpy()[keep],
            "label": labels.to_numpy(dtype=object)[keep],
            "split": split.to_numpy(dtype=object)[keep],
        }
    )

"""Where the reviews come from: a URL or a local path, the checksum it must have, and
whether it is an aclImdb archive or a table of labeled text.

The download task and the re-run check both ask ``expected_sha256``, so a source is
verified against the same checksum whoever asks.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from imdb_rnn.config import (
    CANONICAL_SHA256,
    CANONICAL_URL,
    TABLE_SUFFIXES,
    SourceConfig,
    TableConfig,
)
from imdb_rnn.errors import ConfigError, DataSourceError
from imdb_rnn.files import sha256_json

# Compressions pandas reads by a file's last suffix; Parquet compresses inside the file.
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")
_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
assert set(_FORMATS) == set(TABLE_SUFFIXES)


@dataclass(frozen=True)
class LocalSource:
    """A source that is on this machine: a verified archive, an extracted folder, or a table
    (with its test table when one was given)."""

    path: Path
    sha256: str
    kind: Literal["archive", "folder", "table"]
    origin: str
    test_path: Path | None = None


def table_format(source: str) -> str | None:
    """``csv``, ``tsv``, ``parquet`` or ``jsonl`` when ``source`` names a table file (by its
    suffix, after a compression suffix), else None: an aclImdb archive or folder."""
    name = urllib.parse.urlsplit(source).path if is_url(source) else source
    suffixes = [suffix.lower() for suffix in PurePosixPath(name.replace("\\", "/")).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def table_suffix(source: str) -> str:
    """The suffixes a cached copy of table ``source`` keeps, so it is read as the same kind."""
    name = urllib.parse.urlsplit(source).path if is_url(source) else source
    suffixes = [suffix.lower() for suffix in PurePosixPath(name).suffixes]
    tail = suffixes[-2:] if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES else suffixes[-1:]
    return "".join(tail)


def tables_sha256(train_sha256: str, test_sha256: str | None) -> str:
    """The checksum that identifies a table source: the table's own, or both tables'."""
    if test_sha256 is None:
        return train_sha256
    return sha256_json({"table": train_sha256, "test_table": test_sha256})


def is_url(source: str) -> bool:
    """True for ``scheme://...`` sources, supported or not (``C:\\data`` is a path)."""
    return "://" in source and bool(urllib.parse.urlsplit(source).scheme)


def local_path(source: str) -> Path:
    """The file or folder that a path or a ``file://`` URL names."""
    parts = urllib.parse.urlsplit(source)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    return Path(source).expanduser()


def _read_sha256_sidecar(archive: Path) -> str | None:
    sidecar = archive.with_name(archive.name + ".sha256")
    if not sidecar.is_file():
        return None
    words = sidecar.read_text(encoding="utf-8").split()
    if not words or not re.fullmatch(r"[0-9a-fA-F]{64}", words[0]):
        raise DataSourceError(
            f"{sidecar} does not start with a sha256 (64 hex digits); fix the file or pass --sha256"
        )
    return words[0].lower()


def expected_sha256(source: str, sha256: str | None) -> str | None:
    """The checksum an archive source must have, or None when nothing says."""
    if sha256:
        return sha256.lower()
    if source == CANONICAL_URL:
        return CANONICAL_SHA256
    if urllib.parse.urlsplit(source).scheme in {"http", "https"}:
        return None
    return _read_sha256_sidecar(local_path(source))


def check_table_options(source: SourceConfig, table: TableConfig) -> None:
    """Fail, before any work starts, when the table options cannot apply to the source."""
    default = TableConfig()
    if table_format(source.source) is None:
        given = [
            name
            for name in TableConfig.model_fields
            if getattr(table, name) != getattr(default, name)
        ]
        if given:
            named = ", ".join(f"{name} (--{name.replace('_', '-')})" for name in given)
            verb = "applies" if len(given) == 1 else "apply"
            raise ConfigError(
                f"{named} {verb} to a table source (.csv, .tsv, .parquet or .jsonl), "
                f"but source {source.source} is an aclImdb archive or folder"
            )
        return
    if table.test_source is not None and table.split_column is not None:
        raise ConfigError(
            "split_column (--split-column) and test_source (--test-source) both say where "
            "test rows are; give one of them"
        )
    if table.test_source is not None and table_format(table.test_source) is None:
        raise ConfigError(
            f"test_source (--test-source) {table.test_source} is not named as a table; "
            "give a .csv, .tsv, .parquet or .jsonl file"
        )

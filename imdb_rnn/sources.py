"""Where the reviews come from: a URL or a local path, and the checksum it must have.

The download task and the re-run check both ask ``expected_sha256``, so a source is
verified against the same checksum whoever asks.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL
from imdb_rnn.errors import DataSourceError


@dataclass(frozen=True)
class LocalSource:
    """A source that is on this machine: a verified archive or an extracted folder."""

    path: Path
    sha256: str
    kind: Literal["archive", "folder"]
    origin: str


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

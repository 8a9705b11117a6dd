"""Where the data folder lives: a local path, or a URL that an fsspec filesystem understands.

A local folder (a path, or a ``file://`` URL, which is also how a shared file system mounted
on every machine is named) is read and written in place, by every process.

Any other URL (``s3://bucket/imdb``, ``gs://...``, ``memory://`` in tests) is the shared copy.
Each process, the flow's and every Dask worker's, works in a local cache folder
(``$IMDB_RNN_CACHE_DIR``, default ``~/.cache/imdb-rnn``) and exchanges finished folders with
the URL: ``publish`` uploads a folder's files and then, last, a listing of them with their
sha256; ``fetch`` downloads a folder only when that listing is there and checks every file
against it. A folder whose upload was cut off has no listing, so no reader trusts it; a
download that fails leaves nothing in the cache.

Keeping the local layout the same in both cases means every task reads and writes plain
files, Keras model files and Parquet included, and only these two calls touch the network.
Tasks receive the store itself, the one form the data location takes from the flow down,
and work out its local ``paths`` in the process they run in.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from imdb_rnn.errors import ConfigError
from imdb_rnn.files import atomic_directory, build_lock, sha256_file
from imdb_rnn.paths import DataPaths
from imdb_rnn.sources import local_path

Built = TypeVar("Built")

CACHE_ENV = "IMDB_RNN_CACHE_DIR"
LISTING_NAME = ".published.json"
_LOCAL_PROTOCOLS = frozenset({"file", "local"})


def _protocol(location: str) -> str | None:
    """The URL scheme of ``location``, or None for a plain path (Windows drives included)."""
    scheme, separator, _ = location.partition("://")
    return scheme.lower() if separator and len(scheme) > 1 else None


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "imdb-rnn"


@dataclass(frozen=True)
class DataStore:
    """The data folder as the user named it; small and picklable, so tasks can carry it."""

    location: str

    @classmethod
    def open(cls, location: str) -> DataStore:
        """Check ``location`` and return its store; raises ``ConfigError`` naming the fix."""
        location = location.strip()
        if not location:
            raise ConfigError(
                "--data-dir is empty; give a folder or a URL such as s3://bucket/imdb"
            )
        store = cls(location.rstrip("/") if _protocol(location) else location)
        if store.is_remote:
            store.filesystem()  # fails now, not on a worker, when the backend is missing
        return store

    @property
    def is_remote(self) -> bool:
        protocol = _protocol(self.location)
        return protocol is not None and protocol not in _LOCAL_PROTOCOLS

    @property
    def local_root(self) -> Path:
        """The folder this process reads and writes; worked out where it is used."""
        if not self.is_remote:
            if _protocol(self.location) == "local":  # fsspec's own name for this disk
                return Path(self.location.split("://", 1)[1]).expanduser().resolve()
            return local_path(self.location).resolve()  # a path, or a file:// URL
        digest = hashlib.sha256(self.location.encode()).hexdigest()[:16]
        return (default_cache_dir() / "stores" / digest).resolve()

    @property
    def paths(self) -> DataPaths:
        """The folders of this process's copy: its own on every machine of a remote store."""
        return DataPaths(self.local_root)

    def filesystem(self) -> tuple[Any, str]:
        """``(fsspec filesystem, root path inside it)`` of a remote store."""
        import fsspec

        try:
            return fsspec.core.url_to_fs(self.location)
        except (ImportError, ValueError) as error:
            raise ConfigError(
                f"--data-dir {self.location}: fsspec cannot open it ({error}); install the "
                "filesystem package for that URL (e.g. s3fs for s3://, gcsfs for gs://) on "
                "every machine of the run"
            ) from error

    def url_of(self, local: Path) -> str:
        """Where ``local`` (under this process's local root) lives in the store."""
        relative = Path(local).resolve().relative_to(self.local_root).as_posix()
        return f"{self.location}/{relative}" if self.is_remote else str(local)

    def _remote_path(self, local: Path) -> tuple[Any, str]:
        fs, root = self.filesystem()
        relative = Path(local).resolve().relative_to(self.local_root).as_posix()
        return fs, f"{root.rstrip('/')}/{relative}"

    def publish(self, local_dir: Path) -> None:
        """Upload a finished folder; files first, the listing that vouches for them last.

        Files the store already holds with the same checksum are not sent again, so
        publishing a model folder again after its evaluation only sends the new files.
        """
        if not self.is_remote:
            return
        fs, remote = self._remote_path(local_dir)
        listing = _listing(local_dir)
        already = self._read_listing(fs, remote) or {}
        changed = [name for name, digest in listing.items() if already.get(name) != digest]
        if any(name in already for name in changed):
            # The old listing would vouch for files that are being replaced: withdraw it.
            fs.rm_file(f"{remote}/{LISTING_NAME}")
        for name in changed:
            target = f"{remote}/{name}"
            fs.makedirs(posixpath.dirname(target), exist_ok=True)  # no-op on object stores
            fs.put_file(str(local_dir / name), target)
        fs.pipe_file(f"{remote}/{LISTING_NAME}", json.dumps(listing, indent=1).encode())

    def fetch(self, local_dir: Path) -> bool:
        """Download a published folder that this process does not have yet.

        Returns True when ``local_dir`` holds the store's copy afterwards (it may have been
        there already), False when the store has no published copy.
        """
        if not self.is_remote:
            return local_dir.is_dir()
        fs, remote = self._remote_path(local_dir)
        listing = self._read_listing(fs, remote)
        if listing is None:
            return False
        if local_dir.is_dir() and _listing(local_dir, set(listing)) == listing:
            return True
        with atomic_directory(local_dir, replace=True) as staging:
            for name, digest in listing.items():
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(f"{remote}/{name}", str(target))
                if sha256_file(target) != digest:
                    raise OSError(
                        f"{self.location}: {remote}/{name} does not match its listing; "
                        "it changed during the download or was edited in the store"
                    )
        return True

    def fetched(self, local_dir: Path) -> bool:
        """``fetch`` under the folder's build lock, so that it never reads a half-built copy."""
        with build_lock(local_dir):
            return self.fetch(local_dir)

    def build_shared(
        self,
        local_dir: Path,
        build: Callable[[], Built],
        publish_if: Callable[[Built], bool] = lambda _: True,
    ) -> Built:
        """Make ``local_dir`` once for every process of a run, and return what ``build`` says.

        Takes the store's published copy first (another machine may have built it), then
        ``build`` reuses or builds the local folder, and the folder is published when
        ``publish_if`` says the result is worth keeping (a failed training is not).
        """
        self.fetched(local_dir)
        built = build()
        if publish_if(built):
            self.publish(local_dir)
        return built

    @staticmethod
    def _read_listing(fs: Any, remote: str) -> dict[str, str] | None:
        try:
            return json.loads(fs.cat_file(f"{remote}/{LISTING_NAME}"))
        except FileNotFoundError:
            return None


def _listing(directory: Path, only: set[str] | None = None) -> dict[str, str]:
    """``{relative file name: sha256}`` of the files under ``directory``, hidden ones left out."""
    listing = {}
    for path in sorted(directory.rglob("*")):
        name = path.relative_to(directory).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in Path(name).parts):
            continue
        if only is None or name in only:
            listing[name] = sha256_file(path)
    return listing

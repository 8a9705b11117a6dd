"""Fetch, verify and safely unpack the aclImdb review archive.

Network work is kept in ``fetch_archive`` so that only it is retried. Everything lands
in a cache keyed by the archive's sha256: a source that is already cached with a
matching checksum is neither fetched nor unpacked again.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Literal

from prefect import get_run_logger, task

from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL, SourceConfig
from imdb_rnn.errors import (
    ChecksumMismatchError,
    DatasetLayoutError,
    DataSourceError,
    DownloadError,
    UnsafeArchiveError,
)
from imdb_rnn.files import (
    atomic_directory,
    atomic_path,
    build_lock,
    disk_full_error,
    is_disk_full,
    sha256_file,
)
from imdb_rnn.paths import DataPaths

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABEL_FOLDERS = ("pos", "neg")
_CHUNK = 1 << 20
_REVIEW_MEMBER = re.compile(r"^(?:[^/]+/)?(?:train|test)/(?:pos|neg)/[^/]+\.txt$")
_README_MEMBER = re.compile(r"^(?:[^/]+/)?README$")


@dataclass(frozen=True)
class LocalSource:
    """A source that is on this machine: a verified archive or an extracted folder."""

    path: Path
    sha256: str
    kind: Literal["archive", "folder"]
    origin: str


@dataclass(frozen=True)
class RawDataset:
    """An aclImdb folder on disk and the checksum that identifies its contents."""

    root: Path
    sha256: str
    origin: str


def _is_url(source: str) -> bool:
    """True for ``scheme://...`` sources, supported or not (``C:\\data`` is a path)."""
    return "://" in source and bool(urllib.parse.urlsplit(source).scheme)


def _local_path(source: str) -> Path:
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
    return _read_sha256_sidecar(_local_path(source))


def fetch_archive(
    config: SourceConfig, archives_dir: Path, logger: logging.Logger | logging.LoggerAdapter = log
) -> LocalSource:
    """Make the source available on this machine, verified.

    Local archives are verified where they are. Remote ones are streamed to a temporary
    file, verified, then moved into ``archives_dir/<sha256>.tar.gz``; a cached copy with
    the right checksum is used instead of downloading again.

    Raises:
        DownloadError: the server failed; ``transient`` tells whether a retry can help.
        ChecksumMismatchError: the bytes are not the expected ones; nothing is cached.
        DataSourceError: the source does not exist or no checksum is known for it.
    """
    source = config.source
    scheme = urllib.parse.urlsplit(source).scheme
    if scheme in {"http", "https"}:
        return _fetch_remote(config, archives_dir, logger)
    if _is_url(source) and scheme != "file":
        raise DataSourceError(f"unsupported URL scheme {scheme!r} in {source}; use http(s) or file")

    path = _local_path(source)
    if path.is_dir():
        root = find_dataset_root(path)
        logger.info("Using the extracted reviews in %s", root)
        return LocalSource(root, tree_sha256(root), "folder", source)
    if not path.is_file():
        raise DataSourceError(
            f"source {source} does not exist; give the canonical URL, a URL, or the path "
            "of an aclImdb .tar.gz archive or folder"
        )
    wanted = expected_sha256(source, config.sha256)
    actual = sha256_file(path)
    if wanted is None:
        raise DataSourceError(
            f"no checksum is known for {path}; pass --sha256 {actual} if you trust this file, "
            f"or put it in {path.name}.sha256 beside it"
        )
    if actual != wanted:
        raise ChecksumMismatchError(
            f"checksum mismatch for {source}: expected sha256 {wanted}, got {actual}; "
            "the file is damaged or not the one you meant"
        )
    logger.info("Verified %s (sha256 %s)", path, actual[:12])
    return LocalSource(path.resolve(), actual, "archive", source)


def _fetch_remote(
    config: SourceConfig, archives_dir: Path, logger: logging.Logger | logging.LoggerAdapter
) -> LocalSource:
    url = config.source
    wanted = expected_sha256(url, config.sha256)
    if wanted is None:
        raise DataSourceError(
            f"no checksum is known for {url}; pass --sha256 HEX with the archive's sha256"
        )
    cached = archives_dir / f"{wanted}.tar.gz"
    if cached.is_file():
        if sha256_file(cached) == wanted:
            logger.info("Archive already cached at %s; not downloading", cached)
            return LocalSource(cached, wanted, "archive", url)
        logger.warning("Cached %s fails its checksum; downloading it again", cached)
        cached.unlink()

    # A failed or refused download leaves nothing: atomic_path removes the partial file.
    with atomic_path(cached) as partial:
        actual = _download(url, partial, cached, config.timeout_seconds, logger)
        if actual != wanted:
            raise ChecksumMismatchError(
                f"checksum mismatch for {url}: expected sha256 {wanted}, got {actual}; "
                "pass the right --sha256, or check that the URL serves the aclImdb archive"
            )
    logger.info("Downloaded and verified %s -> %s", url, cached)
    return LocalSource(cached, wanted, "archive", url)


def _write_chunk(sink: BinaryIO, chunk: bytes, target: Path) -> None:
    """Write and flush one chunk; ``target`` is the file named in errors.

    A local write failure (disk full, permissions) is not a network hiccup, so it must not
    reach the handler that marks errors transient. Flushing here means a full disk fails in
    this function, not later when the file is closed.
    """
    try:
        sink.write(chunk)
        sink.flush()
    except OSError as error:
        if is_disk_full(error):
            raise disk_full_error(target, error) from error
        raise DataSourceError(
            f"could not write the download to {target}: {error}; "
            "check that the folder is writable, or use --data-dir"
        ) from error


def _content_length(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None  # a malformed header: rely on the checksum alone


def _download(
    url: str,
    partial: Path,
    target: Path,
    timeout: float,
    logger: logging.Logger | logging.LoggerAdapter,
) -> str:
    """Stream ``url`` into ``partial`` and return the sha256 of what arrived.

    ``target`` is where the file will end up, named in error messages. ``timeout`` bounds
    the wait for the connection and for each read, so a stalled server fails in seconds.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "imdb-rnn"})
    digest = hashlib.sha256()
    received = 0
    expected_size: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected_size = _content_length(response.headers.get("Content-Length"))
            next_report = time.monotonic() + 10
            with partial.open("wb") as sink:
                # read1 returns what has arrived, so the byte count in errors is exact.
                while chunk := response.read1(_CHUNK):
                    _write_chunk(sink, chunk, target)
                    digest.update(chunk)
                    received += len(chunk)
                    if time.monotonic() >= next_report:
                        share = f" of {expected_size:,}" if expected_size else ""
                        logger.info("Downloaded %s%s bytes", f"{received:,}", share)
                        next_report += 10
    except urllib.error.HTTPError as error:
        transient = error.code >= 500 or error.code in {408, 425, 429}
        advice = "will retry" if transient else "check the URL"
        raise DownloadError(
            f"HTTP {error.code} {error.reason} from {url} ({advice})", transient=transient
        ) from error
    # A server that goes away mid-response: ConnectionResetError (RemoteDisconnected is one)
    # or http.client.IncompleteRead, an HTTPException. Connect errors come wrapped in URLError.
    except (ConnectionError, HTTPException) as error:
        raise DownloadError(
            f"connection to {url} was cut after {received:,} bytes ({error!s}); "
            "the partial download was discarded, a retry starts again",
            transient=True,
        ) from error
    except (urllib.error.URLError, OSError) as error:  # socket timeouts are OSErrors too
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise DownloadError(
                f"download of {url} timed out: no data for {timeout:g} s "
                f"(after {received:,} bytes); raise --timeout for a slow server, "
                "or use a local copy: --source PATH --sha256 HEX",
                transient=True,
            ) from error
        raise DownloadError(
            f"could not download {url}: {reason!s} (after {received:,} bytes); "
            "check the network, or use a local copy: --source PATH --sha256 HEX",
            transient=True,
        ) from error
    if expected_size is not None and received != expected_size:
        raise DownloadError(
            f"connection to {url} closed after {received:,} of {expected_size:,} bytes; "
            "the partial download was discarded, a retry starts again",
            transient=True,
        )
    return digest.hexdigest()


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


def check_member(member: tarfile.TarInfo) -> None:
    """Reject a member that could write outside the extraction folder."""
    name = member.name
    posix = PurePosixPath(name)
    if posix.is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if ".." in posix.parts:
        raise UnsafeArchiveError(f"archive member {name!r} climbs out with '..'")
    if member.isdev() or member.isfifo():
        raise UnsafeArchiveError(f"archive member {name!r} is a device or pipe")
    if member.issym() or member.islnk():
        base = posix.parent if member.issym() else PurePosixPath()
        target = PurePosixPath(member.linkname)
        depth = 0
        for part in target.parts if target.is_absolute() else (base / target).parts:
            if part == "/":
                depth = -1_000
            elif part == "..":
                depth -= 1
            elif part != ".":
                depth += 1
            if depth < 0:
                raise UnsafeArchiveError(
                    f"archive member {name!r} links to {member.linkname!r}, outside the archive"
                )


def extract_archive(
    archive: Path,
    sha256: str,
    extracted_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> Path:
    """Unpack the reviews of a verified archive into ``extracted_dir/<sha256>/``.

    Only review files and the README are written. Every member is checked before it is
    written; a hostile one aborts the whole extraction and the partial folder is removed.
    Two processes unpacking the same archive take turns (``<sha256>.lock``): the second
    reuses the first one's folder. Returns the aclImdb root folder.
    """
    target = extracted_dir / sha256
    if target.is_dir():
        logger.info("Archive already extracted at %s", target)
        return find_dataset_root(target)

    with build_lock(target, logger):
        if target.is_dir():
            logger.info("Archive already extracted at %s (by another run)", target)
            return find_dataset_root(target)
        return _extract_reviews(archive, target, logger)


def _extract_reviews(
    archive: Path, target: Path, logger: logging.Logger | logging.LoggerAdapter
) -> Path:
    started = time.perf_counter()
    reviews = 0
    with atomic_directory(target) as staging:
        try:
            with archive.open("rb") as raw:
                gzipped = raw.read(2) == b"\x1f\x8b"
                raw.seek(0)
                # tarfile's own gzip reader neither checks the CRC nor reads past the tar's
                # end marker, and it takes a damaged header for the end of the archive: a
                # corrupt archive could then unpack part of the reviews without an error.
                stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
                with tarfile.open(fileobj=stream, mode="r|" if gzipped else "r|*") as tar:
                    for member in tar:
                        check_member(member)
                        review = _REVIEW_MEMBER.match(member.name) is not None
                        readme = _README_MEMBER.match(member.name) is not None
                        if (review or readme) and member.isfile():
                            tar.extract(member, staging, filter="data")
                            reviews += int(review)
                # Read on to the end of the gzip stream, where its CRC and length are checked.
                while gzipped and stream.read(_CHUNK):
                    pass
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            # Its checksum matched, so downloading the same bytes again cannot help.
            raise DataSourceError(
                f"{archive} is not a readable .tar.gz ({error}): it is truncated or corrupt; "
                "nothing was extracted: point --source at an intact aclImdb archive"
            ) from error
        if reviews == 0:
            raise DatasetLayoutError(
                f"{archive} holds no reviews in the aclImdb layout "
                "({train,test}/{pos,neg}/<id>_<rating>.txt); nothing was extracted"
            )
        # Only review files are unpacked, so a folder without reviews is not even created.
        root = staging / "aclImdb" if (staging / "aclImdb").is_dir() else staging
        empty = [
            f"{split}/{label}/"
            for split in SPLITS
            for label in LABEL_FOLDERS
            if next((root / split / label).glob("*.txt"), None) is None
        ]
        if empty:
            raise DatasetLayoutError(
                f"{archive} does not hold the whole aclImdb layout: no reviews in "
                f"{', '.join(empty)}; nothing was extracted"
            )
    logger.info(
        "Extracted %s reviews from %s in %.1f s",
        f"{reviews:,}",
        archive.name,
        time.perf_counter() - started,
    )
    return find_dataset_root(target)


def locate_dataset(
    source: LocalSource, paths: DataPaths, logger: logging.Logger | logging.LoggerAdapter = log
) -> RawDataset:
    """Turn a verified local source into an aclImdb folder on disk."""
    if source.kind == "folder":
        return RawDataset(source.path, source.sha256, source.origin)
    root = extract_archive(source.path, source.sha256, paths.extracted, logger)
    return RawDataset(root, source.sha256, source.origin)


def _retry_only_transient(task_: object, task_run: object, state: object) -> bool:
    """Prefect retry condition: retry network hiccups, not 404s or bad checksums."""
    try:
        state.result()  # type: ignore[attr-defined]
    except DownloadError as error:
        return error.transient
    except Exception:
        return False
    return False


@task(
    name="download",
    retries=3,
    retry_delay_seconds=[2, 5, 15],
    retry_condition_fn=_retry_only_transient,
)
def download_archive(config: SourceConfig, paths: DataPaths) -> LocalSource:
    """Fetch the archive into the cache (network step: the only one retried)."""
    return fetch_archive(config, paths.archives, get_run_logger())


@task(name="unpack")
def unpack_dataset(source: LocalSource, paths: DataPaths) -> RawDataset:
    """Safely extract a verified archive, or check an extracted folder."""
    return locate_dataset(source, paths, get_run_logger())

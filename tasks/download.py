"""Fetch and verify the review archive or table: the pipeline's only network step.

Network work is kept in ``fetch_archive`` so that only it is retried. A download lands in
a cache keyed by its sha256: a source that is already cached with a matching checksum is
not fetched again. A table needs no checksum given: a local one is checksummed where it
is, a remote one is verified when ``--sha256`` is given and cached by its checksum.
Unpacking is the next stage (``tasks.unpack``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

from prefect import get_run_logger, task

from imdb_rnn.aclimdb import find_dataset_root, tree_sha256
from imdb_rnn.config import SourceConfig, TableConfig
from imdb_rnn.errors import ChecksumMismatchError, DataSourceError, DownloadError
from imdb_rnn.files import atomic_path, disk_full_error, is_disk_full, sha256_file
from imdb_rnn.sources import (
    LocalSource,
    expected_sha256,
    is_url,
    local_path,
    table_format,
    table_suffix,
    tables_sha256,
)
from imdb_rnn.storage import DataStore

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def fetch_archive(
    config: SourceConfig,
    archives_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
    table: TableConfig = TableConfig(),  # noqa: B008 - frozen
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
    if table_format(source) is not None:
        return _fetch_tables(config, table, archives_dir, logger)
    scheme = urllib.parse.urlsplit(source).scheme
    if scheme in {"http", "https"}:
        return _fetch_remote(config, archives_dir, logger)
    if is_url(source) and scheme != "file":
        raise DataSourceError(f"unsupported URL scheme {scheme!r} in {source}; use http(s) or file")

    path = local_path(source)
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


def _fetch_tables(
    config: SourceConfig,
    table: TableConfig,
    archives_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter,
) -> LocalSource:
    path, sha256 = _fetch_table(config.source, config.sha256, archives_dir, config, logger)
    test_path, test_sha256 = None, None
    if table.test_source is not None:
        test_path, test_sha256 = _fetch_table(table.test_source, None, archives_dir, config, logger)
    return LocalSource(path, tables_sha256(sha256, test_sha256), "table", config.source, test_path)


def _fetch_table(
    source: str,
    wanted: str | None,
    archives_dir: Path,
    config: SourceConfig,
    logger: logging.Logger | logging.LoggerAdapter,
) -> tuple[Path, str]:
    """A table on this machine and its sha256: a local one where it is, a remote one cached
    as ``archives_dir/<sha256><suffixes>``."""
    scheme = urllib.parse.urlsplit(source).scheme
    if is_url(source) and scheme != "file":
        return _fetch_remote_table(source, wanted, archives_dir, config, logger)
    path = local_path(source)
    if not path.is_file():
        raise DataSourceError(
            f"table {source} does not exist; give the path or URL of a .csv, .tsv, .parquet "
            "or .jsonl file"
        )
    actual = sha256_file(path)
    if wanted is not None and actual != wanted:
        raise ChecksumMismatchError(
            f"checksum mismatch for {source}: expected sha256 {wanted}, got {actual}; "
            "the file changed or is not the one you meant"
        )
    logger.info("Using the table %s (sha256 %s)", path, actual[:12])
    return path.resolve(), actual


def _fetch_remote_table(
    url: str,
    wanted: str | None,
    archives_dir: Path,
    config: SourceConfig,
    logger: logging.Logger | logging.LoggerAdapter,
) -> tuple[Path, str]:
    suffix = table_suffix(url)
    if wanted is not None:
        cached = archives_dir / f"{wanted}{suffix}"
        if cached.is_file() and sha256_file(cached) == wanted:
            logger.info("Table already cached at %s; not downloading", cached)
            return cached, wanted
    # Without a checksum the cache key is known only once the bytes are here.
    incoming = archives_dir / f"incoming-{os.getpid()}-{time.time_ns()}{suffix}"
    with atomic_path(incoming) as partial:
        if urllib.parse.urlsplit(url).scheme in {"http", "https"}:
            actual = _download(url, partial, incoming, config.timeout_seconds, logger)
        else:
            actual = _copy_fsspec(url, partial)
        if wanted is not None and actual != wanted:
            raise ChecksumMismatchError(
                f"checksum mismatch for {url}: expected sha256 {wanted}, got {actual}; "
                "pass the right --sha256, or check the URL"
            )
    cached = archives_dir / f"{actual}{suffix}"
    os.replace(incoming, cached)
    logger.info("Fetched %s -> %s (sha256 %s)", url, cached, actual[:12])
    return cached, actual


def _copy_fsspec(url: str, partial: Path) -> str:
    """Copy an fsspec URL (``s3://``, ``gs://``, ``memory://``, ...) and return its sha256."""
    import fsspec

    digest = hashlib.sha256()
    try:
        with fsspec.open(url, "rb") as stream, partial.open("wb") as sink:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                _write_chunk(sink, chunk, partial)
    except FileNotFoundError as error:
        raise DataSourceError(f"table {url} does not exist ({error})") from error
    except (ImportError, ValueError) as error:
        raise DataSourceError(
            f"cannot open {url}: {error}; install the fsspec driver of its scheme"
        ) from error
    except OSError as error:
        raise DownloadError(f"could not read {url}: {error}", transient=True) from error
    return digest.hexdigest()


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
def download_archive(
    config: SourceConfig,
    store: DataStore,
    table: TableConfig = TableConfig(),  # noqa: B008 - frozen
) -> LocalSource:
    """Fetch the archive or table into the cache (network step: the only one retried)."""
    return fetch_archive(config, store.paths.archives, get_run_logger(), table)

"""Unpack a verified archive safely: only the reviews, every member checked first.

The review files' bytes land in one table, ``raw/extracted/<sha256>/reviews.parquet``
(``imdb_rnn.unpacked``: writing 50,000 small files was most of this step's time), keyed by
the archive's checksum, so an archive that was unpacked once is not unpacked again. A
folder unpacked file by file by an earlier release is used as it is.
"""

from __future__ import annotations

import gzip
import logging
import re
import tarfile
import time
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from prefect import get_run_logger, task

from imdb_rnn.aclimdb import LABEL_FOLDERS, SPLITS, RawDataset, find_dataset_root
from imdb_rnn.errors import DatasetLayoutError, DataSourceError, UnsafeArchiveError
from imdb_rnn.files import atomic_directory, build_lock
from imdb_rnn.paths import DataPaths
from imdb_rnn.sources import LocalSource
from imdb_rnn.storage import DataStore
from imdb_rnn.unpacked import is_unpacked, write_unpacked

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_REVIEW_MEMBER = re.compile(r"^(?:[^/]+/)?(?:train|test)/(?:pos|neg)/[^/]+\.txt$")
_REVIEW_PARTS = re.compile(r"^(?:[^/]+/)?(train|test)/(pos|neg)/([^/]+)$")


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

    Only review files are kept, in ``reviews.parquet``. Every member is checked first; a
    hostile one aborts the whole extraction and the partial folder is removed. Two
    processes unpacking the same archive take turns (``<sha256>.lock``): the second reuses
    the first one's folder. Returns the folder the reviews are read from.
    """
    target = extracted_dir / sha256
    if target.is_dir():
        logger.info("Archive already extracted at %s", target)
        return _reviews_root(target)

    with build_lock(target, logger):
        if target.is_dir():
            logger.info("Archive already extracted at %s (by another run)", target)
            return _reviews_root(target)
        return _extract_reviews(archive, target, logger)


def _reviews_root(target: Path) -> Path:
    return target if is_unpacked(target) else find_dataset_root(target)


def _extract_reviews(
    archive: Path, target: Path, logger: logging.Logger | logging.LoggerAdapter
) -> Path:
    started = time.perf_counter()
    # By name: a member the archive holds twice is written once, the later copy, as a
    # file unpacked over its earlier self would be.
    members: dict[tuple[str, str, str], bytes] = {}
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
                        parts = _REVIEW_PARTS.match(member.name)
                        if parts and _REVIEW_MEMBER.match(member.name) and member.isfile():
                            content = tar.extractfile(member)
                            assert content is not None  # a regular file has contents
                            members[parts.groups()] = content.read()
                # Read on to the end of the gzip stream, where its CRC and length are checked.
                while gzipped and stream.read(_CHUNK):
                    pass
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            # Its checksum matched, so downloading the same bytes again cannot help.
            raise DataSourceError(
                f"{archive} is not a readable .tar.gz ({error}): it is truncated or corrupt; "
                "nothing was extracted: point --source at an intact aclImdb archive"
            ) from error
        if not members:
            raise DatasetLayoutError(
                f"{archive} holds no reviews in the aclImdb layout "
                "({train,test}/{pos,neg}/<id>_<rating>.txt); nothing was extracted"
            )
        found = {(split, label) for split, label, _ in members}
        empty = [
            f"{split}/{label}/"
            for split in SPLITS
            for label in LABEL_FOLDERS
            if (split, label) not in found
        ]
        if empty:
            raise DatasetLayoutError(
                f"{archive} does not hold the whole aclImdb layout: no reviews in "
                f"{', '.join(empty)}; nothing was extracted"
            )
        write_unpacked(staging, ((*key, content) for key, content in members.items()))
    logger.info(
        "Extracted %s reviews from %s in %.1f s",
        f"{len(members):,}",
        archive.name,
        time.perf_counter() - started,
    )
    return target


def locate_dataset(
    source: LocalSource, paths: DataPaths, logger: logging.Logger | logging.LoggerAdapter = log
) -> RawDataset:
    """Turn a verified local source into reviews on disk: an aclImdb folder, an unpacked
    archive or a table."""
    if source.kind == "table":
        return RawDataset(source.path, source.sha256, source.origin, "table", source.test_path)
    if source.kind == "folder":
        return RawDataset(source.path, source.sha256, source.origin)
    root = extract_archive(source.path, source.sha256, paths.extracted, logger)
    return RawDataset(root, source.sha256, source.origin)


@task(name="unpack")
def unpack_dataset(source: LocalSource, store: DataStore) -> RawDataset:
    """Safely extract a verified archive, or check an extracted folder; a table is read as
    it is."""
    return locate_dataset(source, store.paths, get_run_logger())

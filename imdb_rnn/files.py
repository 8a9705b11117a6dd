"""Atomic writes and content hashes.

Every file a later run may trust is written to a temporary name in its own folder and
then moved into place with ``os.replace``, so a crash leaves either the old file or the
new one, never half of one. A write that runs out of disk space raises ``DiskFullError``
naming the file, after the temporary copy is removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from imdb_rnn.errors import DiskFullError

_CHUNK = 1 << 20
# "No space left on device" and "Disk quota exceeded" (EDQUOT is missing on some platforms).
_DISK_FULL_ERRNOS = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)


def _plain_write_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the process's umask."""
    # Reading the umask without setting it: os.umask would change it for every thread.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    """Hash of a JSON-able value, independent of key order."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def is_disk_full(error: BaseException) -> bool:
    """True for an ``OSError`` that says the disk or the user's quota is full."""
    return isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS


def disk_full_error(target: Path, error: OSError) -> DiskFullError:
    """The one-line error for a write to ``target`` that ran out of space."""
    reason = os.strerror(error.errno) if error.errno is not None else str(error)
    return DiskFullError(
        f"{reason} while writing {target}; nothing half-written was kept: "
        "free some disk space, or use --data-dir to write to a disk with room"
    )


@contextlib.contextmanager
def disk_full_as_error(target: Path) -> Iterator[None]:
    """Turn a full disk or quota (ENOSPC, EDQUOT) inside the block into ``DiskFullError``."""
    try:
        yield
    except OSError as error:
        if not is_disk_full(error):
            raise
        raise disk_full_error(target, error) from error


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    The temporary name keeps the target's suffix, because some writers (Keras) choose the
    format from it. A full disk raises ``DiskFullError`` naming ``target``.
    """
    with disk_full_as_error(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent,
            prefix=f".{target.stem}.",
            suffix=f"{target.suffix}.tmp{target.suffix}",
        )
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with disk_full_as_error(target):
            yield tmp
            # mkstemp makes the file 0600; others should read it as they read any file.
            os.chmod(tmp, _plain_write_mode())
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(target: Path, value: Any) -> None:
    write_text_atomic(target, json.dumps(value, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_directory(target: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; rename it to ``target`` on success.

    Without ``replace``, if another process finished the same folder first, its copy is kept
    and ours dropped: the folders are content-addressed, so both hold the same thing. With
    ``replace``, an existing folder is moved aside first and deleted after the swap.
    A full disk raises ``DiskFullError`` naming ``target``; the temporary folder is removed.
    """
    with disk_full_as_error(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    retired: Path | None = None
    try:
        with disk_full_as_error(target):
            yield tmp
            if replace and target.exists():
                retired = tmp.with_suffix(".old")
                os.rename(target, retired)
            try:
                os.rename(tmp, target)
            except OSError:
                if retired is not None and not target.exists():
                    os.rename(retired, target)  # the old folder stays in service
                    retired = None
                    raise
                if not target.is_dir():
                    raise
    finally:
        for leftover in (tmp, retired):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def build_lock(
    target: Path, logger: logging.Logger | logging.LoggerAdapter | None = None
) -> Iterator[None]:
    """Hold ``<target>.lock`` (beside ``target``) while one process builds ``target``.

    For content-addressed folders that two runs may build at once: whoever waits should
    look for the finished ``target`` again once it holds the lock, and reuse it.
    """
    lock_path = target.with_name(target.name + ".lock")
    lock = FileLock(str(lock_path))
    with disk_full_as_error(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            if logger is not None:
                logger.info("Waiting for another run that is writing %s", target)
            lock.acquire()
    try:
        yield
    finally:
        # Deleted while still held, so no empty lock file is left behind. That is safe:
        # filelock notices when the file it waited on was unlinked and locks the new one.
        with contextlib.suppress(OSError):
            lock_path.unlink()
        lock.release()

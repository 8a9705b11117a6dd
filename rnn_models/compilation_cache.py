"""A folder of XLA-compiled steps, shared by every run on a data folder.

The first train step of a seed fit takes 3-4 s, most of it XLA compiling, and the first
validation pass about another second. TensorFlow can keep what it compiled in a folder
(``--tf_xla_persistent_cache_directory`` in ``TF_XLA_FLAGS``) and load it instead of
compiling when the same step, at the same shapes, runs again: in the next seed, the next
ensemble member, or the next scheduled retraining.

TensorFlow writes those files in place, and a step fails when it reads a truncated one
(``OutOfRangeError: Read less bytes than requested``): one left by a killed run, or one
that another process is still writing. So this process points TensorFlow at a private
folder, seeded with copies of the whole shared entries, and puts an entry it compiled
into the shared folder only once the entry is whole (``is_complete_entry``), under its
final name in one rename. Entry names are TensorFlow's cache keys, so two processes that
compile the same step publish the same entry.

The shared folder is named after the TensorFlow version and the CPU's instruction set:
an executable compiled for one of them must not run on another.

TensorFlow reads these flags once per process, when it first builds a graph function
(Keras does when it builds a model): the folder has to be chosen before then
(``use_compilation_cache``, which the flow calls first thing, and each training before it
touches TensorFlow), and stays for the life of the process. Nothing here imports
TensorFlow.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import platform
import shutil
import socket
import threading
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

_FLAG = "--tf_xla_persistent_cache_directory"
_STAGING = ".staging"

# XlaSerializedCacheEntry (tensorflow/compiler/jit/xla_compilation_cache.proto) holds
# field 1 key, 2 hlo_module and 3 executable, each length-delimited. Protocol buffers
# are serialised in field order, so a whole entry ends with a non-empty field 3.
_EXECUTABLE_FIELD = 3
_LENGTH_DELIMITED = 2

_lock = threading.Lock()
_staging: Path | None = None
_shared_folders: list[Path] = []
_flags_before: str | None = None  # TF_XLA_FLAGS until this process chose its folder
_flags_restored = False


def machine_folder(cache_root: Path) -> Path:
    """``cache_root/<TensorFlow version>-<hash of the CPU's instruction set>``."""
    try:
        version = metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return cache_root / f"tf-{version}-{_instruction_set_digest()}"


def _instruction_set_digest() -> str:
    features = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith(("flags", "Features")):
                features += " " + " ".join(sorted(line.split(":", 1)[1].split()))
                break
    return hashlib.sha256(features.encode()).hexdigest()[:12]


def is_complete_entry(path: Path) -> bool:
    """Whether ``path`` holds a whole serialised cache entry, not a truncated one.

    Walks the protocol-buffer fields: a whole entry's fields end exactly at the end of the
    file, and its last one is a non-empty executable.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return False
    position, last_field, last_length = 0, 0, 0
    while position < len(data):
        tag, position = _varint(data, position)
        length, position = _varint(data, position)
        if tag is None or length is None or tag & 7 != _LENGTH_DELIMITED:
            return False
        position += length
        last_field, last_length = tag >> 3, length
    return position == len(data) and last_field == _EXECUTABLE_FIELD and last_length > 0


def _varint(data: bytes, position: int) -> tuple[int | None, int]:
    value, shift = 0, 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    return None, position


def use_compilation_cache(shared: Path) -> bool:
    """Let this process load XLA-compiled steps from ``shared`` and add its own to it.

    Call it before the process builds its first TensorFlow graph function. Returns whether
    the cache is in use: not when ``TF_XLA_FLAGS`` names a folder of the user's. When the
    process had built one already, TensorFlow keeps its first choice of folder and this
    one stays empty; only the first call chooses, later ones add shared folders that get
    the same entries.
    """
    global _staging, _flags_before
    with _lock:
        if _staging is None:
            _flags_before = _without_inherited_folder(os.environ.get("TF_XLA_FLAGS"))
            if _FLAG in (_flags_before or ""):
                return False
            _staging = _new_staging_folder(shared)
            os.environ["TF_XLA_FLAGS"] = f"{_flags_before or ''} {_FLAG}={_staging}".strip()
            atexit.register(_publish_and_remove_staging)
        if shared not in _shared_folders:
            shared.mkdir(parents=True, exist_ok=True)
            _shared_folders.append(shared)
            _copy_entries(shared, _staging)
    return True


def _without_inherited_folder(flags: str | None) -> str | None:
    """``flags`` without a private folder that a parent process chose for itself.

    A process started while its parent's folder was in ``TF_XLA_FLAGS`` (a Dask worker of
    a flow run) inherits it, and must not share it: it chooses its own.
    """
    if flags is None:
        return None
    kept = [
        flag
        for flag in flags.split()
        if not (flag.startswith(f"{_FLAG}=") and f"{os.sep}{_STAGING}{os.sep}" in flag)
    ]
    return " ".join(kept) or None


def _new_staging_folder(shared: Path) -> Path:
    staging_root = shared / _STAGING
    staging_root.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    for folder in staging_root.glob(f"{host}-*"):
        if not _process_alive(folder.name.rsplit("-", 1)[-1]):
            shutil.rmtree(folder, ignore_errors=True)  # left by a killed process
    staging = staging_root / f"{host}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _process_alive(pid: str) -> bool:
    if not pid.isdigit():
        return True  # not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _copy_entries(source: Path, target: Path) -> None:
    # Copies, not links: whatever TensorFlow does to its own folder stays there.
    for entry in source.glob("*.pb"):
        if not (target / entry.name).exists() and is_complete_entry(entry):
            _place(entry, target / entry.name, link=False)


def _place(entry: Path, destination: Path, link: bool) -> None:
    """Put ``entry`` at ``destination`` whole or not at all, replacing what is there."""
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        if not link:
            raise OSError
        os.link(entry, temporary)
    except OSError:  # or a file system without hard links
        shutil.copyfile(entry, temporary)
    os.replace(temporary, destination)


def publish_compiled() -> int:
    """Give the shared folders every whole entry this process compiled; returns how many.

    Call it after a step was compiled: TensorFlow has read its flags by then, so the
    process's own folder leaves ``TF_XLA_FLAGS`` again, and processes started later do not
    inherit it. A shared entry that is not whole (from a writer that did not take this
    care) is replaced.
    """
    global _flags_restored
    with _lock:
        if _staging is None:
            return 0
        if not _flags_restored:
            if _flags_before is None:
                os.environ.pop("TF_XLA_FLAGS", None)
            else:
                os.environ["TF_XLA_FLAGS"] = _flags_before
            _flags_restored = True
        published = 0
        for entry in _staging.glob("*.pb"):
            missing = [
                shared for shared in _shared_folders if not is_complete_entry(shared / entry.name)
            ]
            if not missing or not is_complete_entry(entry):
                continue  # already shared, or still being written
            for shared in missing:
                _place(entry, shared / entry.name, link=True)
                published += 1
        return published


def _publish_and_remove_staging() -> None:
    global _staging
    try:
        publish_compiled()
    except OSError as problem:
        log.warning("Could not share this run's XLA compilations: %s", problem)
    if _staging is not None:
        shutil.rmtree(_staging, ignore_errors=True)
        _staging = None

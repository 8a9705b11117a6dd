"""Atomic writes, locks and hashes: nothing half-written survives a failed write."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from imdb_rnn.errors import (
    DiskFullError,
)
from imdb_rnn.files import atomic_directory, atomic_path


def leftovers(folder: Path) -> list[str]:
    """Every entry below ``folder``, files and folders, hidden ones included."""
    if not folder.exists():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _disk_full(code: int = errno.ENOSPC) -> OSError:
    return OSError(code, os.strerror(code))


def test_atomic_path_keeps_the_old_file_when_the_disk_is_full(tmp_path):
    target = tmp_path / "reports" / "metrics.json"
    target.parent.mkdir()
    target.write_text("old and whole")

    with pytest.raises(DiskFullError) as caught, atomic_path(target) as tmp:
        tmp.write_text("new but ha")
        raise _disk_full()

    assert str(target) in str(caught.value)
    assert target.read_text() == "old and whole"
    assert leftovers(tmp_path / "reports") == ["metrics.json"]


def test_atomic_directory_keeps_the_old_folder_when_the_disk_is_full(tmp_path):
    target = tmp_path / "models" / "lstm"
    target.mkdir(parents=True)
    (target / "model.keras").write_text("old model")

    with (
        pytest.raises(DiskFullError, match=str(target)),
        atomic_directory(target, replace=True) as staging,
    ):
        (staging / "model.keras").write_text("new mo")
        raise _disk_full(errno.EDQUOT)

    assert (target / "model.keras").read_text() == "old model"
    assert leftovers(tmp_path / "models") == ["lstm", "lstm/model.keras"]


def test_other_write_errors_are_not_called_a_full_disk(tmp_path):
    with pytest.raises(PermissionError), atomic_path(tmp_path / "out.txt"):
        raise PermissionError(errno.EACCES, "Permission denied")

    assert leftovers(tmp_path) == []

"""Atomic writes, locks and hashes: nothing half-written survives a failed write."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from imdb_rnn.errors import (
    DiskFullError,
)
from imdb_rnn.files import (
    atomic_directory,
    atomic_path,
    build_lock,
    sha256_file,
    sha256_json,
    write_json_atomic,
    write_text_atomic,
)


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


def test_atomic_path_replaces_the_target_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")

    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == ["metrics.json"]

    with atomic_path(target) as tmp:
        assert tmp != target
        assert tmp.parent == target.parent
        assert target.read_text() == "old"  # not replaced before the block ends
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == ["metrics.json"]


@pytest.mark.parametrize("name", ["model.keras", "weights.h5", "table.parquet"])
def test_atomic_path_keeps_the_target_suffix_in_the_temporary_name(tmp_path, name):
    target = tmp_path / "models" / name
    with atomic_path(target) as tmp:
        assert tmp.suffix == target.suffix
        assert tmp.name != target.name
        assert tmp.name.startswith(".")  # hidden while it is being written
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_write_text_atomic_writes_the_text_as_utf8(tmp_path):
    target = tmp_path / "deep" / "notes.txt"
    write_text_atomic(target, "déjà vu\nline two")
    assert target.read_bytes() == "déjà vu\nline two".encode()
    write_text_atomic(target, "replaced")
    assert target.read_text(encoding="utf-8") == "replaced"
    assert leftovers(tmp_path / "deep") == ["notes.txt"]


def test_write_json_atomic_writes_json_that_reads_back_equal(tmp_path):
    value = {"b": [1, 2.5, None], "a": {"nested": True}, "text": "ünïcode"}
    target = tmp_path / "value.json"
    write_json_atomic(target, value)
    text = target.read_text(encoding="utf-8")
    assert json.loads(text) == value
    assert text.endswith("}\n")
    assert text.index('"b"') < text.index('"a"')  # keys keep their order


def test_sha256_json_does_not_depend_on_key_order():
    one = {"a": 1, "b": {"x": [1, 2], "y": "z"}}
    two = {"b": {"y": "z", "x": [1, 2]}, "a": 1}
    assert sha256_json(one) == sha256_json(two)
    # The canonical form is compact, sorted JSON: the hash can be worked out by hand.
    expected = hashlib.sha256(b'{"a":1,"b":{"x":[1,2],"y":"z"}}').hexdigest()
    assert sha256_json(one) == expected


@pytest.mark.parametrize(
    "changed",
    [
        {"a": 2, "b": {"x": [1, 2], "y": "z"}},
        {"a": 1, "b": {"x": [2, 1], "y": "z"}},
        {"a": 1, "b": {"x": [1, 2], "y": "Z"}},
        {"a": "1", "b": {"x": [1, 2], "y": "z"}},
    ],
)
def test_sha256_json_differs_when_a_value_differs(changed):
    assert sha256_json(changed) != sha256_json({"a": 1, "b": {"x": [1, 2], "y": "z"}})


def test_sha256_file_equals_hashlib_on_the_same_bytes(tmp_path):
    small = tmp_path / "small.bin"
    small.write_bytes(b"abc")
    assert sha256_file(small) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    # Larger than one read chunk (1 MiB), so the chunks are joined correctly.
    content = bytes(range(256)) * 5000
    big = tmp_path / "big.bin"
    big.write_bytes(content)
    assert sha256_file(big) == hashlib.sha256(content).hexdigest()
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_build_lock_removes_its_lock_file_after_release(tmp_path):
    target = tmp_path / "processed" / "abc"
    lock_file = tmp_path / "processed" / "abc.lock"
    with build_lock(target):
        assert lock_file.exists()
        assert not target.exists()  # the lock does not build the target
    assert not lock_file.exists()
    assert leftovers(tmp_path) == ["processed"]


def test_build_lock_makes_a_second_holder_wait_for_the_first(tmp_path):
    target = tmp_path / "models" / "gru"
    events = []
    first_holds = threading.Event()
    second_tried = threading.Event()
    release_first = threading.Event()

    class Logger:
        def info(self, message, *args):
            events.append("second waits")
            second_tried.set()

    def first():
        with build_lock(target):
            events.append("first holds")
            first_holds.set()
            assert release_first.wait(10)
            events.append("first releases")

    def second():
        assert first_holds.wait(10)
        with build_lock(target, Logger()):
            events.append("second holds")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert second_tried.wait(10)
    assert "second holds" not in events
    release_first.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    assert events == ["first holds", "second waits", "first releases", "second holds"]
    assert not (tmp_path / "models" / "gru.lock").exists()


def test_atomic_directory_moves_the_finished_folder_into_place(tmp_path):
    target = tmp_path / "processed" / "f1"
    with atomic_directory(target) as staging:
        assert staging.parent == target.parent and staging != target
        assert list(staging.iterdir()) == []
        (staging / "train.parquet").write_text("rows")
        assert not target.exists()
    assert (target / "train.parquet").read_text() == "rows"
    assert leftovers(tmp_path / "processed") == ["f1", "f1/train.parquet"]


def test_atomic_directory_keeps_a_folder_another_process_finished_first(tmp_path):
    target = tmp_path / "processed" / "f1"
    target.mkdir(parents=True)
    (target / "train.parquet").write_text("theirs")

    with atomic_directory(target) as staging:
        (staging / "train.parquet").write_text("ours")
        (staging / "extra.txt").write_text("ours only")

    assert (target / "train.parquet").read_text() == "theirs"
    assert leftovers(tmp_path / "processed") == ["f1", "f1/train.parquet"]


def test_atomic_directory_with_replace_swaps_an_existing_folder(tmp_path):
    target = tmp_path / "models" / "lstm"
    target.mkdir(parents=True)
    (target / "model.keras").write_text("old")
    (target / "stale.json").write_text("old")

    with atomic_directory(target, replace=True) as staging:
        (staging / "model.keras").write_text("new")
        assert (target / "model.keras").read_text() == "old"  # still in service meanwhile

    assert (target / "model.keras").read_text() == "new"
    assert leftovers(tmp_path / "models") == ["lstm", "lstm/model.keras"]


def test_atomic_directory_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "models" / "gru"
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "model.keras").write_text("half")
        raise RuntimeError("training failed")
    assert not target.exists()
    assert leftovers(tmp_path / "models") == []


def test_a_replacement_that_cannot_be_moved_in_leaves_the_old_folder_in_place(
    tmp_path, monkeypatch
):
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    real_rename = os.rename
    calls = []

    def rename_fails_the_second_time(source, destination):
        calls.append((Path(source).name, Path(destination).name))
        if len(calls) == 2:  # the old folder was moved aside; moving the new one in fails
            raise OSError(errno.EIO, "I/O error")
        real_rename(source, destination)

    monkeypatch.setattr(os, "rename", rename_fails_the_second_time)
    with pytest.raises(OSError), atomic_directory(target, replace=True) as staging:
        (staging / "weights").write_text("new")
    monkeypatch.undo()
    assert (target / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_atomic_writes_get_the_mode_a_plain_write_would_have(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "summary.md", "# summary\n")
        with atomic_path(tmp_path / "model.keras") as tmp:
            tmp.write_bytes(b"weights")
        os.umask(0o077)
        write_json_atomic(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "summary.md").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "model.keras").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600

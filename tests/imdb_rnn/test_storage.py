"""The data folder as a local path or an fsspec URL: publishing and fetching whole folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import fsspec
import pytest

from imdb_rnn.errors import ConfigError
from imdb_rnn.paths import DataPaths
from imdb_rnn.storage import CACHE_ENV, LISTING_NAME, DataStore


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_a_path_and_a_file_url_name_the_same_local_folder(tmp_path):
    as_path = DataStore.open(str(tmp_path / "data"))
    as_url = DataStore.open(f"file://{tmp_path / 'data'}/")
    assert not as_path.is_remote and not as_url.is_remote
    assert as_path.local_root == as_url.local_root == (tmp_path / "data").resolve()
    # Local folders are shared in place: there is nothing to publish or fetch.
    as_url.publish(tmp_path / "data" / "models" / "x")
    assert not (tmp_path / "data").exists()


def test_a_remote_store_works_in_a_cache_folder_named_after_the_url(memory_store, tmp_path):
    assert memory_store.is_remote
    assert memory_store.local_root.parent == (tmp_path / "machine-a" / "stores").resolve()
    other = DataStore.open(memory_store.location + "-other")
    assert other.local_root != memory_store.local_root


def test_a_published_folder_is_fetched_whole_on_another_machine(
    memory_store, monkeypatch, tmp_path
):
    files = {"model.keras": b"weights", "history.json": b"{}", "sub/notes.txt": b"n"}
    folder = _folder(memory_store.paths.models / "gru-abc", files)
    memory_store.publish(folder)

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-b"))
    there = memory_store.paths.models / "gru-abc"
    assert there != folder and not there.exists()
    assert memory_store.fetch(there)
    assert {
        p.relative_to(there).as_posix(): p.read_bytes() for p in there.rglob("*") if p.is_file()
    } == files
    listing = json.loads(
        fsspec.filesystem("memory").cat_file(
            f"{memory_store.location}/models/gru-abc/{LISTING_NAME}"
        )
    )
    assert sorted(listing) == sorted(files)


def test_a_folder_without_its_listing_is_not_trusted(memory_store, monkeypatch, tmp_path):
    fs = fsspec.filesystem("memory")
    # An upload cut off before its last file: the data is there, the listing is not.
    fs.pipe_file(f"{memory_store.location}/processed/f1/train.parquet", b"half")
    local = memory_store.paths.processed / "f1"
    assert memory_store.fetch(local) is False
    assert not local.exists()


def test_a_file_changed_in_the_store_fails_the_fetch_and_leaves_nothing(
    memory_store, monkeypatch, tmp_path
):
    folder = _folder(memory_store.paths.processed / "f2", {"test.parquet": b"rows"})
    memory_store.publish(folder)
    fsspec.filesystem("memory").pipe_file(
        f"{memory_store.location}/processed/f2/test.parquet", b"edited"
    )
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-b"))
    local = memory_store.paths.processed / "f2"
    with pytest.raises(OSError, match="does not match its listing"):
        memory_store.fetch(local)
    assert not local.exists()
    assert not list(local.parent.glob(".f2.*"))  # no staging folder left behind


def test_publishing_again_sends_only_new_files(memory_store, monkeypatch):
    folder = _folder(memory_store.paths.models / "lstm-1", {"model.keras": b"w"})
    memory_store.publish(folder)
    (folder / "evaluation.json").write_text("{}")
    fs, _ = memory_store.filesystem()
    sent = []
    original = type(fs).put_file
    monkeypatch.setattr(
        type(fs),
        "put_file",
        lambda self, lpath, rpath, **kw: (
            sent.append(Path(lpath).name),
            original(self, lpath, rpath, **kw),
        ),
    )
    memory_store.publish(folder)
    assert sent == ["evaluation.json"]


def test_a_url_whose_filesystem_is_not_installed_names_the_package():
    with pytest.raises(ConfigError, match="s3fs"):
        DataStore.open("s3://bucket/imdb")


def test_replacing_a_published_file_withdraws_the_listing_until_the_upload_is_done(
    memory_store, monkeypatch
):
    folder = _folder(memory_store.paths.models / "gru-2", {"model.keras": b"old"})
    memory_store.publish(folder)
    (folder / "model.keras").write_bytes(b"retrained")
    fs, root = memory_store.filesystem()
    listing_path = f"{root}/models/gru-2/{LISTING_NAME}"
    seen_during_upload = []
    original = type(fs).put_file

    def put_file(self, lpath, rpath, **kwargs):
        seen_during_upload.append(fs.exists(listing_path))
        return original(self, lpath, rpath, **kwargs)

    monkeypatch.setattr(type(fs), "put_file", put_file)
    memory_store.publish(folder)
    assert seen_during_upload == [False]  # no reader could pair the old listing with new bytes
    assert fs.cat_file(f"{root}/models/gru-2/model.keras") == b"retrained"
    import hashlib

    expected = hashlib.sha256(b"retrained").hexdigest()
    assert json.loads(fs.cat_file(listing_path)) == {"model.keras": expected}


def test_the_paths_of_a_local_store_are_under_its_folder(tmp_path):
    store = DataStore.open(str(tmp_path / "data"))
    assert isinstance(DataStore.__dict__["paths"], property)
    assert store.paths == DataPaths((tmp_path / "data").resolve())
    assert store.paths.models == (tmp_path / "data").resolve() / "models"
    assert store.paths.processed == (tmp_path / "data").resolve() / "processed"
    assert not (tmp_path / "data").exists()  # naming the folders creates none


def test_fetched_on_a_local_store_says_whether_the_folder_exists(tmp_path):
    store = DataStore.open(str(tmp_path / "data"))
    folder = store.paths.processed / "abc"
    assert store.fetched(folder) is False
    assert not folder.exists()
    folder.mkdir(parents=True)
    assert store.fetched(folder) is True
    not_a_folder = store.paths.processed / "file"
    not_a_folder.write_text("x")
    assert store.fetched(not_a_folder) is False


def test_build_shared_on_a_local_store_builds_once_and_returns_the_result(tmp_path):
    store = DataStore.open(str(tmp_path / "data"))
    folder = store.paths.models / "gru-1"
    calls = []

    def build():
        calls.append(folder.exists())
        folder.mkdir(parents=True)
        (folder / "model.keras").write_bytes(b"w")
        return {"accuracy": 0.8}

    assert store.build_shared(folder, build) == {"accuracy": 0.8}
    assert calls == [False]
    assert (folder / "model.keras").read_bytes() == b"w"
    assert not (folder / LISTING_NAME).exists()  # nothing to publish in place


def _build_into(folder: Path, result, builds: list):
    """A build that reuses a complete folder, like the tasks' builds do."""

    def build():
        if (folder / "model.keras").is_file():
            builds.append("reused")
            return result
        builds.append("built")
        _folder(folder, {"model.keras": b"weights", "history.json": b"{}"})
        return result

    return build


def test_build_shared_publishes_only_a_result_worth_keeping(memory_store):
    fs = fsspec.filesystem("memory")
    failed = memory_store.paths.models / "lstm-failed"
    seen = []

    def worth_keeping(result):
        seen.append(result)
        return result == "trained"

    builds = []
    outcome = memory_store.build_shared(
        failed, _build_into(failed, "failed", builds), worth_keeping
    )
    assert outcome == "failed"
    assert builds == ["built"] and seen == ["failed"]
    assert not fs.exists(f"{memory_store.location}/models/lstm-failed")

    kept = memory_store.paths.models / "lstm-ok"
    outcome = memory_store.build_shared(kept, _build_into(kept, "trained", builds), worth_keeping)
    assert outcome == "trained"
    listing = json.loads(fs.cat_file(f"{memory_store.location}/models/lstm-ok/{LISTING_NAME}"))
    assert listing == {
        "history.json": hashlib.sha256(b"{}").hexdigest(),
        "model.keras": hashlib.sha256(b"weights").hexdigest(),
    }


def test_build_shared_takes_a_copy_another_machine_published(memory_store, monkeypatch, tmp_path):
    builds = []
    on_a = memory_store.paths.models / "gru-abc"
    memory_store.build_shared(on_a, _build_into(on_a, "a", builds))
    assert builds == ["built"]

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-b"))
    on_b = memory_store.paths.models / "gru-abc"
    assert on_b != on_a and not on_b.exists()
    assert memory_store.build_shared(on_b, _build_into(on_b, "b", builds)) == "b"
    assert builds == ["built", "reused"]  # machine b found the folder already there
    assert (on_b / "model.keras").read_bytes() == b"weights"
    assert (on_b / "history.json").read_bytes() == b"{}"


def test_a_file_url_is_read_as_a_url_escapes_and_host_included(tmp_path):
    folder = tmp_path / "my data"
    escaped = f"file://{str(folder).replace(' ', '%20')}"
    assert DataStore.open(escaped).local_root == folder.resolve()
    assert DataStore.open(f"file://localhost{folder}").local_root == folder.resolve()
    assert DataStore.open(str(folder)).local_root == folder.resolve()

"""DataPaths: every folder of the data root, declared without touching the disk."""

from __future__ import annotations

from pathlib import Path

from imdb_rnn.paths import DataPaths

FOLDERS = (
    "archives",
    "extracted",
    "processed",
    "models",
    "champion",
    "champions",
    "claims",
    "reports",
    "history",
)


def test_a_home_relative_root_is_expanded_and_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    paths = DataPaths.at("~/imdb-data")
    assert paths.root == tmp_path.resolve() / "imdb-data"
    assert paths.root.is_absolute()


def test_a_relative_root_is_resolved_against_the_working_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert DataPaths.at("data").root == tmp_path.resolve() / "data"
    assert DataPaths.at(Path("a/../b")).root == tmp_path.resolve() / "b"


def test_every_folder_lies_under_the_root(tmp_path):
    paths = DataPaths.at(tmp_path / "root")
    for name in FOLDERS:
        folder = getattr(paths, name)
        assert folder.is_relative_to(paths.root), name
        assert folder != paths.root, name
    assert paths.report_dir("run-1").is_relative_to(paths.root)


def test_the_folders_have_the_documented_layout(tmp_path):
    paths = DataPaths.at(tmp_path)
    root = tmp_path.resolve()
    assert paths.archives == root / "raw" / "archives"
    assert paths.extracted == root / "raw" / "extracted"
    assert paths.processed == root / "processed"
    assert paths.champion == root / "models" / "champion"
    assert paths.champions == root / "models" / "champions"
    assert paths.history == root / "reports" / "history.parquet"
    assert paths.report_dir("20260101T000000Z") == root / "reports" / "20260101T000000Z"


def test_no_two_folders_share_a_path(tmp_path):
    paths = DataPaths.at(tmp_path)
    locations = [getattr(paths, name) for name in FOLDERS]
    assert len(set(locations)) == len(locations)


def test_building_paths_creates_nothing_on_disk(tmp_path):
    root = tmp_path / "not-yet"
    paths = DataPaths.at(root)
    for name in FOLDERS:
        getattr(paths, name)
    paths.report_dir("run")
    assert not root.exists()
    assert list(tmp_path.iterdir()) == []

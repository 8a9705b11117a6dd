"""The unchanged re-run: recognised without starting a flow, and any change is not."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

import pytest

from entrypoints.cli import build_parser, main
from entrypoints.options import configs_from_args
from entrypoints.rerun import expected_source_sha256, unchanged_last_run
from imdb_rnn.config import CANONICAL_SHA256, CANONICAL_URL, SourceConfig


def _configs(argv: list[str]) -> dict:
    return configs_from_args(build_parser().parse_args(argv))


def _write_last_run(reports: Path, configs: dict, model_file: Path) -> dict:
    run_dir = reports / "20260101T000000Z-a"
    run_dir.mkdir(parents=True)
    for name in ("summary.md", "report.html"):
        (run_dir / name).write_text("x", encoding="utf-8")
    metrics = {
        "run_id": "20260101T000000Z-a",
        "best_model": "lstm",
        "rows": [],
        "models": [{"model": "lstm", "model_path": str(model_file), "predictions_path": ""}],
        "run": {
            "data": {"source_sha256": CANONICAL_SHA256},
            "software": {"imdb-rnn": metadata.version("imdb-rnn")},
            **{
                name: config.model_dump(mode="json")
                for name, config in configs.items()
                if name != "source"
            },
        },
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    os.symlink(run_dir.name, reports / "latest")
    return metrics


def test_an_unchanged_run_is_recognised_and_any_change_is_not(tmp_path):
    model_file = tmp_path / "model.keras"
    model_file.write_text("x", encoding="utf-8")
    configs = _configs(["run"])
    reports = tmp_path / "reports"
    _write_last_run(reports, configs, model_file)

    assert unchanged_last_run(configs, reports)["run_id"] == "20260101T000000Z-a"
    # threads and retrain change how a run goes, not what it computes
    assert unchanged_last_run(_configs(["run", "--threads", "1"]), reports) is not None
    for changed in (["--epochs", "3"], ["--seeds", "2"], ["--no-claims"], ["--sha256", "0" * 64]):
        assert unchanged_last_run(_configs(["run", *changed]), reports) is None, changed
    model_file.unlink()  # an output that is gone means the flow has to run
    assert unchanged_last_run(configs, reports) is None


def test_run_shows_the_last_results_without_starting_a_flow(tmp_path, capsys):
    model_file = tmp_path / "model.keras"
    model_file.write_text("x", encoding="utf-8")
    reports = tmp_path / "data" / "reports"
    _write_last_run(reports, _configs(["run"]), model_file)
    assert main(["run", "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "Nothing changed since run 20260101T000000Z-a" in out
    assert "--force" in out
    assert sorted(p.name for p in reports.iterdir()) == ["20260101T000000Z-a", "latest"]


def _archive(folder: Path, content: bytes = b"an archive's bytes") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "aclImdb_v1.tar.gz"
    path.write_bytes(content)
    return path


def test_a_given_sha256_wins(tmp_path):
    archive = _archive(tmp_path)
    (tmp_path / "aclImdb_v1.tar.gz.sha256").write_text("cd" * 32, encoding="utf-8")
    given = "AB" * 32
    for source in (CANONICAL_URL, "https://example.org/aclImdb.tar.gz", str(archive)):
        assert expected_source_sha256(SourceConfig(source=source, sha256=given)) == "ab" * 32


def test_the_canonical_url_has_the_canonical_checksum():
    assert expected_source_sha256(SourceConfig(source=CANONICAL_URL)) == CANONICAL_SHA256
    assert expected_source_sha256(SourceConfig()) == CANONICAL_SHA256


def test_a_local_archive_without_a_sidecar_is_known_by_its_own_sha256(tmp_path):
    content = b"not really gzip, but bytes all the same" * 1000
    archive = _archive(tmp_path, content)
    own = hashlib.sha256(content).hexdigest()
    assert expected_source_sha256(SourceConfig(source=str(archive))) == own
    assert expected_source_sha256(SourceConfig(source=archive.as_uri())) == own


def test_a_sidecar_beside_a_local_archive_is_read(tmp_path):
    archive = _archive(tmp_path)
    sidecar = tmp_path / "aclImdb_v1.tar.gz.sha256"
    sidecar.write_text(f"{'CD' * 32}  aclImdb_v1.tar.gz\n", encoding="utf-8")
    assert expected_source_sha256(SourceConfig(source=str(archive))) == "cd" * 32
    assert expected_source_sha256(SourceConfig(source=archive.as_uri())) == "cd" * 32


@pytest.mark.parametrize(
    "source",
    ["http://127.0.0.1:9/aclImdb.tar.gz", "https://example.org/aclImdb_v1.tar.gz"],
)
def test_a_web_address_without_a_sha256_is_left_to_the_flow(source):
    assert expected_source_sha256(SourceConfig(source=source)) is None


def test_a_folder_or_a_missing_file_is_left_to_the_flow(tmp_path):
    folder = tmp_path / "aclImdb"
    folder.mkdir()
    assert expected_source_sha256(SourceConfig(source=str(folder))) is None
    assert expected_source_sha256(SourceConfig(source=folder.as_uri())) is None
    missing = tmp_path / "missing.tar.gz"
    assert expected_source_sha256(SourceConfig(source=str(missing))) is None


@pytest.mark.parametrize("sidecar", ["", "not a checksum\n", "abc123  aclImdb_v1.tar.gz\n"])
def test_a_malformed_sidecar_is_left_to_the_flow_to_report(tmp_path, sidecar):
    archive = _archive(tmp_path)
    (tmp_path / "aclImdb_v1.tar.gz.sha256").write_text(sidecar, encoding="utf-8")
    assert expected_source_sha256(SourceConfig(source=str(archive))) is None

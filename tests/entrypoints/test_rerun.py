"""The unchanged re-run: recognised without starting a flow, and any change is not."""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

from entrypoints.cli import build_parser, main
from entrypoints.options import configs_from_args
from entrypoints.rerun import unchanged_last_run
from imdb_rnn.config import CANONICAL_SHA256


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

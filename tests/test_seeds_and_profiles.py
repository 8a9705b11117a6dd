"""Several seeds per architecture, named profiles, and the unchanged re-run."""

from __future__ import annotations

import json
import math
import os
from contextlib import nullcontext
from importlib import metadata
from pathlib import Path

import pytest

from entrypoints.cli import build_parser, main
from entrypoints.options import configs_from_args
from entrypoints.rerun import unchanged_last_run
from imdb_rnn.config import CANONICAL_SHA256, FitConfig, TrainingConfig
from imdb_rnn.evaluation import ModelEvaluation
from imdb_rnn.profiles import PROFILES
from imdb_rnn.reporting.tables import across_seeds, format_seed_table


def _evaluation(architecture: str, seed: int, accuracy: float, seconds: float, **extra):
    return ModelEvaluation(
        model=f"{architecture}-seed{seed}",
        kind="rnn",
        metrics={
            "accuracy": accuracy,
            "roc_auc": accuracy + 0.05,
            "f1": accuracy,
            "log_loss": 0.4,
            "precision": 0.5,
            "recall": 0.5,
            "average_precision": 0.5,
            "mcc": 0.5,
        },
        confusion={"tn": 1, "fp": 1, "fn": 1, "tp": 1},
        length_buckets=[],
        parameters=10,
        train_seconds=seconds,
        predict_seconds=1.0,
        reviews_per_second=1.0,
        architecture=architecture,
        seed=seed,
        **extra,
    )


def test_seed_values_and_labels():
    training = TrainingConfig(seed=7, seeds=3)
    assert training.seed_values() == (7, 8, 9)
    fit = training.fit_for_seed(8)
    assert type(fit) is FitConfig and fit.seed == 8 and fit.epochs == training.epochs
    assert training.run_label("gru", 8) == "gru-seed8"
    assert TrainingConfig().run_label("gru", 42) == "gru"


def test_across_seeds_gives_mean_and_sample_standard_deviation():
    evaluations = [
        _evaluation("lstm", 42, 0.80, 10.0),
        _evaluation("lstm", 43, 0.84, 12.0),
        _evaluation("lstm", 44, 0.82, 14.0),
        _evaluation("gru", 42, 0.70, 5.0),  # one seed only: no spread, no row
        _evaluation("gru", 43, math.nan, 5.0, failure="loss became nan"),
    ]
    (row,) = across_seeds(evaluations)
    assert row["model"] == "lstm" and row["seeds"] == 3 and row["seed_values"] == [42, 43, 44]
    assert row["accuracy_mean"] == pytest.approx(0.82)
    assert row["accuracy_std"] == pytest.approx(0.02)  # sqrt(((-.02)^2 + .02^2) / 2)
    assert row["train_seconds_mean"] == pytest.approx(12.0)
    assert row["train_seconds_std"] == pytest.approx(2.0)
    text = format_seed_table([row])
    assert "0.8200 ± 0.0200" in text and "12.0 ± 2.0" in text


def _configs(argv: list[str]) -> dict:
    return configs_from_args(build_parser().parse_args(argv))


def test_best_profile_sets_its_values_and_flags_given_override_them():
    best = PROFILES["best"].settings
    configs = _configs(["run", "--profile", "best", "--epochs", "3", "--maxlen", "300"])
    assert (
        configs["training"].epochs == 3 != best["training"]["epochs"]
    )  # given on the command line
    assert configs["preprocess"].maxlen == 300  # given on the command line
    assert configs["preprocess"].vocab_size == best["preprocess"]["vocab_size"]
    assert configs["training"].architectures == best["training"]["architectures"]
    assert configs["model"].pooling == best["model"]["pooling"]
    assert configs["model"].bigram_buckets == best["model"]["bigram_buckets"] > 0
    assert configs["training"].ensemble_folds == best["training"]["ensemble_folds"] > 1
    words_only = _configs(["run", "--profile", "best", "--bigram-buckets", "0"])
    assert words_only["model"].bigram_buckets == 0
    one_model = _configs(["run", "--profile", "best", "--ensemble-folds", "1"])
    assert one_model["training"].ensemble_folds == 1
    assert configs["model"].skip_padding is True and configs["preprocess"].padding == "post"
    lazy = _configs(["run", "--profile", "best", "--lazy-embeddings"])
    assert lazy["training"].lazy_embeddings is True
    assert configs["training"].lazy_embeddings is False
    full_width = _configs(["run", "--profile", "best", "--no-skip-padding"])
    assert full_width["model"].skip_padding is False
    seed = _configs(["run", "--epochs", "1"])
    assert seed["preprocess"].vocab_size == 10_000 and seed["model"].pooling == "last"
    assert seed["model"].bigram_buckets == 0 and seed["model"].skip_padding is False
    assert _configs(["run", "--skip-padding"])["model"].skip_padding is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0"], "--seeds"),
        (["--ensemble-folds", "0"], "--ensemble-folds"),
        (["--profile", "fastest"], "invalid choice"),
        (["--xla", "maybe"], "invalid choice"),
        (["--early-stopping", "0"], "--early-stopping"),
    ],
)
def test_wrong_values_are_refused_before_anything_runs(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) if "invalid choice" in message else nullcontext():
        code = main(["run", "--data-dir", str(tmp_path), *argv])
        assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


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

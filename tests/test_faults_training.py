"""Faults during training: a NaN loss, a killed run, and two runs at the same time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from imdb_rnn.config import ClaimsConfig, PreprocessConfig, TrainingConfig
from rnn_models.config import ModelConfig
from tasks.evaluate import evaluate_trained_model
from tasks.report import write_report_files
from tests.conftest import PROJECT_ROOT, make_aclimdb, make_tarball, small_prepared, train_model

pytestmark = pytest.mark.slow

MODEL = ModelConfig(embedding_dim=8, units=8)


THREE_EPOCHS = TrainingConfig(epochs=3, batch_size=16, learning_rate=0.01, seed=3)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return small_prepared(tmp_path_factory.mktemp("faults"), "f" * 64)


def nan_block(layers, config):
    """A recurrent block whose output is NaN: log(-1). Stands in for a diverging model."""
    import keras

    return layers.Lambda(lambda x: keras.ops.log(x[:, -1, :] * 0.0 - 1.0), name="nan")


@pytest.fixture
def gru_diverges(monkeypatch):
    from rnn_models import registry

    monkeypatch.setitem(registry._RECURRENT_BLOCKS, "gru", nan_block)


def test_nan_loss_stops_training_and_is_reported_as_a_failed_model(
    prepared, tmp_path, gru_diverges
):
    failed = train_model("gru", prepared, MODEL, THREE_EPOCHS, tmp_path / "models")
    assert failed.failure.startswith("loss became nan in epoch 1")
    assert "--learning-rate" in failed.failure
    assert failed.epochs == 1  # TerminateOnNaN stopped after the first epoch, not 3
    assert not (tmp_path / "models" / f"gru-{failed.fingerprint}").exists()  # nothing saved
    assert not (tmp_path / "models" / ".in-progress").exists()

    healthy = train_model("lstm", prepared, MODEL, THREE_EPOCHS, tmp_path / "models")
    evaluations = [evaluate_trained_model(t, prepared) for t in (failed, healthy)]
    report = write_report_files("run", evaluations, {"preprocess": {"maxlen": 30}}, tmp_path)
    rows = {row["model"]: row for row in report.rows}
    assert rows["gru"]["status"].startswith("failed: loss became nan")
    assert rows["gru"]["accuracy"] is None and rows["lstm"]["status"] == "ok"
    assert report.best_model == "lstm"
    assert "gru failed: loss became nan in epoch 1" in report.markdown
    assert (report.directory / "report.html").is_file()


@pytest.mark.flow
def test_flow_finishes_and_reports_when_one_architecture_diverges(
    prefect_harness, fake_archive, tmp_path, gru_diverges
):
    from flows.compare import compare_architectures
    from imdb_rnn.config import SourceConfig

    result = compare_architectures(
        source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
        preprocess=PreprocessConfig(vocab_size=60, maxlen=30),
        model=MODEL,
        training=TrainingConfig(epochs=2, batch_size=8),
        claims=ClaimsConfig(enabled=False),
        data_dir=str(tmp_path / "data"),
    )
    status = {row["model"]: row["status"] for row in result.rows}
    assert status["gru"].startswith("failed: loss became nan")
    assert status["simple_rnn"] == status["lstm"] == status["tfidf_logreg"] == "ok"
    assert (result.directory / "report.html").is_file()
    champion = json.loads((tmp_path / "data/models/champion/champion.json").read_text())
    assert champion["architecture"] in {"simple_rnn", "lstm"}
    history = pd.read_parquet(tmp_path / "data/reports/history.parquet")
    assert history.loc[history["model"] == "gru", "accuracy"].isna().all()


def test_a_killed_training_resumes_from_its_last_finished_epoch(prepared, tmp_path):
    models = tmp_path / "models"
    # A separate process trains and is SIGKILLed right after epoch 1 of 3 is saved.
    script = textwrap.dedent(
        f"""
        import os, signal, pickle
        from pathlib import Path
        from tests.conftest import train_model
        prepared, model, training = pickle.load(open({str(tmp_path / "args.pkl")!r}, "rb"))
        def die(epoch, epochs, logs):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        models = Path({str(models)!r})
        train_model("lstm", prepared, model, training, models, on_epoch_end=die)
        """
    )
    import pickle

    (tmp_path / "args.pkl").write_bytes(pickle.dumps((prepared, MODEL, THREE_EPOCHS)))
    killed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # No finished model was left behind (only the lock file of the killed process, which the
    # kernel released when it died).
    assert not [p for p in models.glob("lstm-*") if p.is_dir()]
    assert len(json.loads(next(models.glob(".in-progress/lstm-*/epochs.json")).read_text())) == 1

    epochs_run = []
    resumed = train_model(
        "lstm",
        prepared,
        MODEL,
        THREE_EPOCHS,
        models,
        on_epoch_end=lambda epoch, epochs, logs: epochs_run.append(epoch),
    )
    assert epochs_run == [2, 3]  # epoch 1 was not trained again
    assert resumed.epochs == 3 and len(resumed.history["val_accuracy"]) == 3
    assert not (models / ".in-progress").exists()

    uninterrupted = train_model("lstm", prepared, MODEL, THREE_EPOCHS, tmp_path / "other")
    # Epoch 1 is bit-for-bit the same; epochs 2 and 3 see another shuffle order after the
    # restart, so the end point may differ a little: within 0.05 validation accuracy.
    assert resumed.history["loss"][0] == uninterrupted.history["loss"][0]
    final = resumed.history["val_accuracy"][-1] - uninterrupted.history["val_accuracy"][-1]
    assert abs(final) <= 0.05
    resumed_auc = evaluate_trained_model(resumed, prepared).metrics["roc_auc"]
    reference_auc = evaluate_trained_model(uninterrupted, prepared).metrics["roc_auc"]
    assert abs(resumed_auc - reference_auc) <= 0.05


def test_two_runs_at_the_same_time_on_one_data_folder_both_finish(tmp_path):
    make_aclimdb(tmp_path / "source", per_label=16)
    archive = tmp_path / "reviews.tar.gz"
    sha256 = make_tarball(tmp_path / "source", archive)
    data_dir = tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "entrypoints.cli",
        "run",
        "--source",
        str(archive),
        "--sha256",
        sha256,
        "--data-dir",
        str(data_dir),
        "--vocab-size",
        "60",
        "--maxlen",
        "30",
        "--embedding-dim",
        "8",
        "--units",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--archs",
        "lstm,gru",
        "--no-claims",
    ]
    runs = {}
    for name in ("a", "b"):
        # Each run gets its own temporary Prefect server and database; the data folder is shared.
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env["PREFECT_HOME"] = str(tmp_path / f"prefect-{name}")
        log_path = tmp_path / f"run-{name}.log"
        with log_path.open("w") as log:
            runs[name] = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
    for name, process in runs.items():
        assert process.wait(timeout=420) == 0, (tmp_path / f"run-{name}.log").read_text()[-3000:]

    reports = [
        p
        for p in (data_dir / "reports").iterdir()
        if (p / "summary.md").is_file() and not p.is_symlink()
    ]
    assert len(reports) == 2
    history = pd.read_parquet(data_dir / "reports" / "history.parquet")
    assert history["run_id"].nunique() == 2 and len(history) == 8
    # One prepared folder, one folder per model: the second run reused the first one's work.
    assert len([p for p in (data_dir / "processed").iterdir() if p.is_dir()]) == 1
    models = [p for p in (data_dir / "models").glob("*-*") if p.is_dir() and p.name[0] != "."]
    assert sorted(p.name.split("-")[0] for p in models) == [
        "gru",
        "lstm",
        "nbsvm",
        "tfidf_logreg",
    ]
    champion = json.loads((data_dir / "models" / "champion" / "champion.json").read_text())
    assert (data_dir / "models" / "champion" / "model.keras").is_file()
    assert champion["architecture"] in {"lstm", "gru"}
    leftovers = [p for p in data_dir.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert leftovers == []

"""Champion/challenger: promotion only when better, and crash-safe."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import imdb_rnn.champion as champion_module
from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.champion import read_champion
from imdb_rnn.config import ChampionConfig, PreprocessConfig, TrainingConfig
from imdb_rnn.paths import DataPaths
from rnn_models.config import ModelConfig
from tasks.champion import decide_and_promote
from tasks.evaluate import evaluate_trained_model
from tasks.prepare import prepare_dataset
from tests.conftest import make_aclimdb, train_model

pytestmark = pytest.mark.slow

TRAINING = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.01)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny trained models and their real evaluations on generated reviews."""
    base = tmp_path_factory.mktemp("champion")
    dataset = make_aclimdb(base / "source", per_label=30)
    raw = RawDataset(dataset.root, "d" * 64, "generated")
    prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=30), base / "processed")
    evaluations = {}
    for name in ("lstm", "gru"):
        model = train_model(
            name, prepared, ModelConfig(embedding_dim=8, units=8), TRAINING, base / "models"
        )
        evaluations[name] = evaluate_trained_model(model, prepared)
    return prepared, evaluations


def scored(evaluation, roc_auc):
    return replace(evaluation, metrics={**evaluation.metrics, "roc_auc": roc_auc})


def snapshot(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.resolve().iterdir())
    }


def test_first_run_promotes_its_best_recurrent_model(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decision = decide_and_promote(
        "run-1",
        [scored(evaluations["lstm"], 0.7), scored(evaluations["gru"], 0.8)],
        prepared,
        ChampionConfig(),
        paths,
    )
    assert decision.promoted and decision.challenger == "gru" and decision.champion is None
    assert paths.champion.is_symlink()
    assert snapshot(paths.champion).keys() == {"champion.json", "model.keras", "vocab.json"}
    record = read_champion(paths.champion)
    assert record["run_id"] == "run-1" and record["architecture"] == "gru"
    assert record["preprocess"]["maxlen"] == 30
    assert record["data_fingerprint"] == prepared.fingerprint


def test_better_challenger_replaces_the_champion(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decide_and_promote(
        "run-1", [scored(evaluations["lstm"], 0.6)], prepared, ChampionConfig(), paths
    )
    decision = decide_and_promote(
        "run-2",
        [scored(evaluations["gru"], 0.9), scored(evaluations["lstm"], 0.6)],
        prepared,
        ChampionConfig(),
        paths,
    )
    assert decision.promoted
    assert decision.champion == "lstm from run run-1" and decision.champion_score == 0.6
    assert read_champion(paths.champion)["run_id"] == "run-2"
    assert "beats the champion lstm from run run-1 at 0.6000 by +0.3000" in decision.reason


def test_worse_challenger_leaves_the_champion_byte_for_byte(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decide_and_promote("run-1", [evaluations["gru"]], prepared, ChampionConfig(), paths)
    before, target = snapshot(paths.champion), paths.champion.resolve()
    # The champion is not among this run's models, so it is scored by predicting the test split.
    decision = decide_and_promote(
        "run-2", [scored(evaluations["lstm"], 0.51)], prepared, ChampionConfig(), paths
    )
    assert not decision.promoted and decision.challenger == "lstm"
    assert decision.champion_score == pytest.approx(evaluations["gru"].metrics["roc_auc"], abs=1e-6)
    assert decision.reason.startswith("Kept the champion gru from run run-1")
    assert paths.champion.resolve() == target and snapshot(paths.champion) == before
    # The evidence behind the decision: the difference's interval and McNemar's p.
    low, high = decision.difference_interval
    assert low <= high and 0.0 <= decision.accuracy_p_value <= 1.0
    assert "95% interval [" in decision.reason and "McNemar's p on accuracy" in decision.reason


def test_a_champion_scored_on_this_data_before_is_not_predicted_again(
    trained, tmp_path, monkeypatch
):
    import tasks.champion

    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    # The champion's folder among the data folder's models, as a run leaves it.
    source = Path(evaluations["gru"].model_path).parent
    shutil.copytree(source, paths.models / source.name)
    champion = replace(
        evaluations["gru"],
        model_path=str(paths.models / source.name / "model.keras"),
        predictions_path=str(paths.models / source.name / "predictions.parquet"),
    )
    decide_and_promote("run-1", [champion], prepared, ChampionConfig(), paths)

    def no_prediction(*args, **kwargs):
        raise AssertionError("the champion was loaded to predict the test split again")

    monkeypatch.setattr(tasks.champion, "load_champion", no_prediction)
    decision = decide_and_promote(
        "run-2", [scored(evaluations["lstm"], 0.51)], prepared, ChampionConfig(), paths
    )
    assert not decision.promoted
    assert decision.champion_score == evaluations["gru"].metrics["roc_auc"]


def test_significant_keeps_a_champion_the_challenger_only_matches(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decide_and_promote("run-1", [evaluations["gru"]], prepared, ChampionConfig(), paths)
    # The same model again, scored a little higher: no paired test can call it better.
    decision = decide_and_promote(
        "run-2",
        [scored(evaluations["gru"], evaluations["gru"].metrics["roc_auc"] + 0.01)],
        prepared,
        ChampionConfig(min_improvement="significant"),
        paths,
    )
    assert not decision.promoted
    assert decision.difference_interval == [0.0, 0.0] and decision.accuracy_p_value == 1.0
    assert read_champion(paths.champion)["run_id"] == "run-1"


def test_a_gain_below_the_margin_is_not_enough(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decide_and_promote(
        "run-1", [scored(evaluations["lstm"], 0.80)], prepared, ChampionConfig(), paths
    )
    decision = decide_and_promote(
        "run-2",
        [scored(evaluations["gru"], 0.805), scored(evaluations["lstm"], 0.80)],
        prepared,
        ChampionConfig(min_improvement=0.01),
        paths,
    )
    assert not decision.promoted
    assert read_champion(paths.champion)["run_id"] == "run-1"


@pytest.mark.parametrize("crash_in", ["copy", "swap"])
def test_crash_during_promotion_keeps_the_previous_champion(
    trained, tmp_path, monkeypatch, crash_in
):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decide_and_promote(
        "run-1", [scored(evaluations["lstm"], 0.6)], prepared, ChampionConfig(), paths
    )
    before, target = snapshot(paths.champion), paths.champion.resolve()

    real_copy = shutil.copy2

    def copy_then_crash(src, dst, *args, **kwargs):
        real_copy(src, dst, *args, **kwargs)
        raise OSError("simulated crash after copying the model")

    def crash(*args, **kwargs):
        raise OSError("simulated crash while swapping the link")

    if crash_in == "copy":
        monkeypatch.setattr(champion_module.shutil, "copy2", copy_then_crash)
    else:
        monkeypatch.setattr(champion_module.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        decide_and_promote(
            "run-2",
            [scored(evaluations["gru"], 0.9), scored(evaluations["lstm"], 0.6)],
            prepared,
            ChampionConfig(),
            paths,
        )
    monkeypatch.undo()
    assert paths.champion.resolve() == target and snapshot(paths.champion) == before
    assert not [p for p in paths.models.iterdir() if p.name.endswith(".tmp")]
    assert not [p for p in paths.champions.iterdir() if p.name.startswith(".")]


def test_champion_step_can_be_switched_off(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    decision = decide_and_promote(
        "run-1", [evaluations["lstm"]], prepared, ChampionConfig(enabled=False), paths
    )
    assert not decision.promoted and not paths.champion.exists()


def test_a_real_folder_in_place_of_the_link_is_not_overwritten(trained, tmp_path):
    prepared, evaluations = trained
    paths = DataPaths.at(tmp_path)
    paths.champion.mkdir(parents=True)
    (paths.champion / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="real file or folder"):
        decide_and_promote("run-1", [evaluations["lstm"]], prepared, ChampionConfig(), paths)
    assert (paths.champion / "notes.txt").read_text() == "mine"

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


# --- three classes: scores from saved predictions (model files are stand-ins where no
# prediction is needed), the champion's classes in its folder


def _softmax_rows(labels, strength, seed):
    """Rows of three probabilities that favour each review's label by ``strength``."""
    import numpy as np

    logits = np.random.default_rng(seed).normal(size=(len(labels), 3))
    logits[np.arange(len(labels)), labels] += strength
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def _scored_folder(models_dir, name, prepared, probabilities):
    """A model folder as evaluate leaves it: the model, its test predictions and scores."""
    import json

    from imdb_rnn.evaluation import EVALUATION_VERSION, save_predictions, score_predictions
    from imdb_rnn.prepared import load_arrays

    folder = models_dir / f"{name}-{name}0"
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(name.encode())
    _, labels, lengths = load_arrays(prepared, "test")
    save_predictions(folder / "predictions.parquet", labels, probabilities, lengths)
    evaluation = score_predictions(
        name, "rnn", labels, probabilities, lengths, parameters=1, train_seconds=1,
        predict_seconds=1, model_path=str(folder / "model.keras"),
        predictions_path=str(folder / "predictions.parquet"), classes=prepared.classes,
    )  # fmt: skip
    record = {
        "version": EVALUATION_VERSION,
        "data_fingerprint": prepared.fingerprint,
        "evaluation": evaluation.to_dict(),
    }
    (folder / "evaluation.json").write_text(json.dumps(record), encoding="utf-8")
    return evaluation


def test_three_classes_are_judged_on_macro_one_vs_rest_roc_auc_and_name_the_classes(tmp_path):
    import math

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from imdb_rnn.prepared import load_arrays
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    paths = DataPaths.at(tmp_path / "store")
    _, labels, _ = load_arrays(prepared, "test")
    weak_p, strong_p = _softmax_rows(labels, 0.5, 1), _softmax_rows(labels, 3.0, 2)
    macro = {
        name: roc_auc_score(labels, p, multi_class="ovr", average="macro")
        for name, p in (("weak", weak_p), ("strong", strong_p))
    }
    assert macro["weak"] < macro["strong"]
    weak = _scored_folder(paths.models, "lstm", prepared, weak_p)
    strong = _scored_folder(paths.models, "gru", prepared, strong_p)

    first = decide_and_promote("run-1", [weak], prepared, ChampionConfig(), paths)
    assert first.promoted and first.challenger_score == pytest.approx(macro["weak"])
    assert read_champion(paths.champion)["classes"] == ["bad", "fine", "good"]

    second = decide_and_promote("run-2", [strong, weak], prepared, ChampionConfig(), paths)
    assert second.promoted and second.challenger == "gru"
    assert second.challenger_score == pytest.approx(macro["strong"])
    assert second.champion_score == pytest.approx(macro["weak"])
    # McNemar's exact test on the chosen class: each disagreement a fair coin.
    strong_right = strong_p.argmax(axis=1) == labels
    weak_right = weak_p.argmax(axis=1) == labels
    only = sorted(
        [int(np.sum(strong_right & ~weak_right)), int(np.sum(weak_right & ~strong_right))]
    )
    n = sum(only)
    expected_p = min(1.0, 2 * sum(math.comb(n, k) for k in range(only[0] + 1)) / 2**n)
    assert second.accuracy_p_value == pytest.approx(expected_p)
    assert read_champion(paths.champion)["run_id"] == "run-2"

    # The champion is not among this run's models: its folder's saved scores speak for it.
    in_service = paths.champion.resolve()
    third = decide_and_promote("run-3", [weak], prepared, ChampionConfig(), paths)
    assert not third.promoted and third.champion_score == pytest.approx(macro["strong"])
    assert third.reason.startswith("Kept the champion gru from run run-2")
    assert paths.champion.resolve() == in_service


def test_a_champion_of_other_classes_is_replaced_without_a_comparison(tmp_path):
    import numpy as np

    from imdb_rnn.prepared import load_arrays
    from tests.conftest import small_prepared
    from tests.samples import three_class_prepared

    paths = DataPaths.at(tmp_path / "store")
    topics = three_class_prepared(tmp_path / "topics")
    _, labels, _ = load_arrays(topics, "test")
    three = _scored_folder(paths.models, "gru", topics, _softmax_rows(labels, 3.0, 2))
    decide_and_promote("run-1", [three], topics, ChampionConfig(), paths)

    reviews = small_prepared(tmp_path / "reviews")
    _, review_labels, _ = load_arrays(reviews, "test")
    two = _scored_folder(paths.models, "lstm", reviews, np.where(review_labels == 1, 0.7, 0.4))
    decision = decide_and_promote("run-2", [two], reviews, ChampionConfig(), paths)

    assert decision.promoted and decision.champion_score is None
    assert decision.reason == (
        "Promoted lstm without a comparison: the champion in service, gru from run run-1, "
        "labels other classes (bad, fine, good). Keep each dataset in its own --data-dir to "
        "keep both."
    )
    record = read_champion(paths.champion)
    assert record["classes"] == ["neg", "pos"] and record["run_id"] == "run-2"


def test_a_three_class_champion_not_of_this_run_predicts_this_runs_test_reviews(tmp_path):
    from imdb_rnn.prepared import load_arrays
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    paths = DataPaths.at(tmp_path / "store")
    training = TrainingConfig(architectures=("gru",), epochs=2, batch_size=8, seed=1)
    model = train_model(
        "gru", prepared, ModelConfig(embedding_dim=8, units=8), training, tmp_path / "models"
    )
    evaluation = evaluate_trained_model(model, prepared)
    decide_and_promote("run-1", [evaluation], prepared, ChampionConfig(), paths)

    _, labels, _ = load_arrays(prepared, "test")
    worse = _scored_folder(paths.models, "lstm", prepared, _softmax_rows(labels, -2.0, 3))
    decision = decide_and_promote("run-2", [worse], prepared, ChampionConfig(), paths)
    # Loaded from its folder and predicted again: the scores evaluation gave it.
    assert not decision.promoted
    assert decision.champion_score == pytest.approx(evaluation.metrics["roc_auc"], abs=1e-6)

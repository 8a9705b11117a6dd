"""Training and scoring real (tiny) Keras models on generated reviews."""

from __future__ import annotations

import json

import pytest

import rnn_models
from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import ExecutionConfig, PreprocessConfig, TrainingConfig
from rnn_models.config import ModelConfig
from tasks.evaluate import evaluate_trained_model
from tasks.prepare import prepare_dataset
from tests.conftest import make_aclimdb, train_model

pytestmark = pytest.mark.slow

MODEL = ModelConfig(embedding_dim=8, units=8)
TRAINING = TrainingConfig(
    architectures=("lstm",), epochs=4, batch_size=16, learning_rate=0.01, seed=7
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    base = tmp_path_factory.mktemp("train-data")
    dataset = make_aclimdb(base / "source", per_label=40)
    raw = RawDataset(dataset.root, "c" * 64, "generated")
    return prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=30), base / "processed")


def test_training_lowers_the_loss_and_saves_model_and_history(prepared, tmp_path):
    epochs_seen = []
    trained = train_model(
        "lstm",
        prepared,
        MODEL,
        TRAINING,
        tmp_path,
        on_epoch_end=lambda epoch, epochs, logs: epochs_seen.append((epoch, epochs, sorted(logs))),
    )
    assert trained.model_path.is_file()
    history = json.loads((trained.directory / "history.json").read_text())
    assert len(history["loss"]) == 4 and len(history["val_accuracy"]) == 4
    assert history["loss"][-1] < history["loss"][0]
    assert epochs_seen[0][:2] == (1, 4) and epochs_seen[-1][:2] == (4, 4)
    assert "val_loss" in epochs_seen[0][2]
    record = json.loads((trained.directory / "training.json").read_text())
    assert record["parameters"] == trained.parameters > 0
    assert record["data_fingerprint"] == prepared.fingerprint
    assert trained.directory.name.startswith("lstm-")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


def test_same_seed_gives_the_same_weights_and_history(prepared, tmp_path):
    first = train_model("gru", prepared, MODEL, TRAINING, tmp_path / "a")
    second = train_model("gru", prepared, MODEL, TRAINING, tmp_path / "b")
    assert first.history == second.history
    other_seed = train_model(
        "gru", prepared, MODEL, TRAINING.model_copy(update={"seed": 8}), tmp_path / "c"
    )
    assert other_seed.history != first.history


def test_several_steps_per_call_train_the_same_weights_as_one_and_parts_need_one_shape(
    prepared, tmp_path, monkeypatch
):
    import numpy as np

    import rnn_models.training
    from rnn_models.optimizers import load_model

    several = train_model("gru", prepared, MODEL, TRAINING, tmp_path / "several")
    several_model = load_model(several.model_path)
    assert several_model.steps_per_execution == 4  # 64 rows, batch 16
    record = json.loads((several.directory / "training.json").read_text())
    assert record["execution"]["batch_parts"] == 2 and record["execution"]["jit_compile"] is True
    monkeypatch.setattr(rnn_models.training, "steps_per_execution", lambda steps: 1)
    one = train_model("gru", prepared, MODEL, TRAINING, tmp_path / "one")
    one_model = load_model(one.model_path)
    assert one_model.steps_per_execution == 1
    assert several.history == one.history
    for a, b in zip(several_model.get_weights(), one_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    skipping = train_model(
        "gru", prepared, MODEL.model_copy(update={"skip_padding": True}), TRAINING, tmp_path / "s"
    )
    assert load_model(skipping.model_path).steps_per_execution == 1  # batches of many widths
    assert (
        json.loads((skipping.directory / "training.json").read_text())["execution"]["batch_parts"]
        == 1
    )


def test_unchanged_inputs_reuse_the_model_and_retrain_forces_training(
    prepared, tmp_path, monkeypatch
):
    first = train_model("simple_rnn", prepared, MODEL, TRAINING, tmp_path)
    assert not first.reused

    def must_not_build(*args, **kwargs):
        raise AssertionError("a model was built although one with the same inputs exists")

    monkeypatch.setattr(rnn_models.registry, "build_model", must_not_build)
    again = train_model("simple_rnn", prepared, MODEL, TRAINING, tmp_path)
    assert again.reused and again.directory == first.directory and again.history == first.history
    # Changing only which architectures run, or how the arithmetic runs, reuses the model.
    wider = TRAINING.model_copy(update={"architectures": ("simple_rnn", "gru")})
    assert train_model("simple_rnn", prepared, MODEL, wider, tmp_path).reused
    other_arithmetic = ExecutionConfig(xla="off", batch_parts=1, threads=1)
    assert train_model(
        "simple_rnn", prepared, MODEL, TRAINING, tmp_path, execution=other_arithmetic
    ).reused
    monkeypatch.undo()
    retrained = train_model(
        "simple_rnn", prepared, MODEL, TRAINING, tmp_path, execution=ExecutionConfig(retrain=True)
    )
    assert not retrained.reused and retrained.directory == first.directory
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


def test_evaluation_scores_the_test_split_and_is_cached(prepared, tmp_path):
    trained = train_model("lstm", prepared, MODEL, TRAINING, tmp_path)
    evaluation = evaluate_trained_model(trained, prepared)
    assert evaluation.model == "lstm" and evaluation.kind == "rnn"
    assert sum(evaluation.confusion.values()) == prepared.rows["test"]
    assert sum(b["reviews"] for b in evaluation.length_buckets) == prepared.rows["test"]
    # The sentiment words make this data easy: a trained model must do better than chance.
    assert evaluation.metrics["roc_auc"] > 0.8
    assert evaluation.reviews_per_second > 0
    stored = json.loads((trained.directory / "evaluation.json").read_text())
    assert stored["data_fingerprint"] == prepared.fingerprint
    reused = train_model("lstm", prepared, MODEL, TRAINING, tmp_path)
    assert evaluate_trained_model(reused, prepared) == evaluation

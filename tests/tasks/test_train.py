"""Training real (tiny) Keras models on generated reviews."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import rnn_models
from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import (
    ExecutionConfig,
    PreprocessConfig,
    TrainingConfig,
)
from rnn_models.config import ModelConfig
from rnn_models.training import NORM_MAX_KEY, NORM_MEAN_KEY
from tasks.prepare import prepare_dataset
from tests.conftest import PROJECT_ROOT, make_aclimdb, small_prepared, train_model

_MIRRORED_SCRIPT = """
import json, sys
from pathlib import Path
import tensorflow as tf

# Two logical CPUs stand in for two GPUs: MirroredStrategy puts one replica on each.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import ExecutionConfig, PreprocessConfig, TrainingConfig
from rnn_models.config import ModelConfig
from tasks.prepare import prepare_dataset
from tests.conftest import make_aclimdb, train_model

base = Path(sys.argv[1])
dataset = make_aclimdb(base / "source", per_label=40)
raw = RawDataset(dataset.root, "c" * 64, "generated")
prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=30), base / "processed")
result = {}
for mirrored in (True, False):
    trained = train_model(
        "lstm",
        prepared,
        ModelConfig(embedding_dim=8, units=8),
        TrainingConfig(epochs=2, batch_size=16),
        base / str(mirrored),
        execution=ExecutionConfig(mirrored=mirrored),
    )
    record = json.loads((trained.directory / "training.json").read_text())
    replicas = record["execution"]["replicas"]
    result[str(mirrored)] = {"replicas": replicas, "loss": trained.history["loss"]}
print(json.dumps(result))
"""


MODEL = ModelConfig(embedding_dim=8, units=8)


TRAINING = TrainingConfig(
    architectures=("lstm",), epochs=4, batch_size=16, learning_rate=0.01, seed=7
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return small_prepared(tmp_path_factory.mktemp("train-data"))


@pytest.mark.slow
def test_training_logs_the_gradient_norm_and_saves_clipnorm(tmp_path):
    from rnn_models.optimizers import load_model
    from tests.conftest import train_model

    dataset = make_aclimdb(tmp_path / "source", per_label=16)
    raw = RawDataset(dataset.root, "d" * 64, "generated")
    prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=20), tmp_path / "p")
    training = TrainingConfig(epochs=2, batch_size=8, clipnorm=0.5)
    trained = train_model(
        "simple_rnn", prepared, ModelConfig(embedding_dim=4, units=4), training, tmp_path / "m"
    )
    history = json.loads((trained.directory / "history.json").read_text())
    assert len(history[NORM_MEAN_KEY]) == len(history[NORM_MAX_KEY]) == 2
    assert all(
        0 < m <= x for m, x in zip(history[NORM_MEAN_KEY], history[NORM_MAX_KEY], strict=True)
    )
    assert json.loads((trained.directory / "training.json").read_text())["fit"]["clipnorm"] == 0.5
    model = load_model(trained.model_path)
    assert model.optimizer.clipnorm == 0.5
    assert model.optimizer.sparse_norm is False  # simple_rnn's last state: XLA on, on CPU
    unclipped = TrainingConfig(epochs=2, batch_size=8)
    assert (
        train_model(
            "simple_rnn", prepared, ModelConfig(embedding_dim=4, units=4), unclipped, tmp_path / "m"
        ).fingerprint
        != trained.fingerprint
    )  # clipnorm changes the weights, so the folder


@pytest.mark.slow
def test_mirrored_training_splits_each_batch_over_two_replicas_with_the_same_result(tmp_path):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _MIRRORED_SCRIPT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["True"]["replicas"] == 2 and result["False"]["replicas"] == 1
    # Synchronous data parallelism averages the two half-batch gradients, which is the
    # full batch's gradient: the same losses as on one device, up to float rounding.
    assert result["True"]["loss"] == pytest.approx(result["False"]["loss"], rel=1e-5)


@pytest.mark.slow
def test_training_with_lazy_updates_runs_without_xla_and_saves_the_choice(tmp_path):
    from imdb_rnn.config import PreprocessConfig, TrainingConfig
    from rnn_models.config import ModelConfig
    from rnn_models.optimizers import load_model
    from tests.conftest import train_model

    dataset = make_aclimdb(tmp_path / "source", per_label=16)
    raw = RawDataset(dataset.root, "d" * 64, "generated")
    prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=20), tmp_path / "p")
    model_config = ModelConfig(embedding_dim=4, units=4, bigram_buckets=50)
    lazy = TrainingConfig(epochs=2, batch_size=8, lazy_embeddings=True)
    trained = train_model("gru", prepared, model_config, lazy, tmp_path / "m")
    assert len(trained.history["loss"]) == 2 and np.isfinite(trained.history["loss"]).all()
    model = load_model(trained.model_path)
    assert model.optimizer.lazy_embeddings is True
    # A last-state GRU trains with XLA on this CPU, except with lazy updates (tf.unique).
    assert model.optimizer.sparse_norm is True
    dense = TrainingConfig(epochs=2, batch_size=8)
    other = train_model("gru", prepared, model_config, dense, tmp_path / "m")
    assert other.fingerprint != trained.fingerprint
    assert load_model(other.model_path).optimizer.sparse_norm is False


@pytest.mark.slow
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
    assert record["execution"]["input"] == {
        "training_rows": "in-memory",
        "validation_rows": "in-memory",
        "memory_budget_mib": 1024,
    }
    assert trained.directory.name.startswith("lstm-")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


@pytest.mark.slow
def test_three_classes_train_a_softmax_of_three_judged_on_the_chosen_class(tmp_path):
    from imdb_rnn.prepared import load_arrays
    from rnn_models.inference import predict_probabilities
    from rnn_models.optimizers import load_model
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path / "data")
    training = TrainingConfig(architectures=("gru",), epochs=2, batch_size=8, seed=3)
    trained = train_model("gru", prepared, MODEL, training, tmp_path / "models")

    # Embedding 50 x 8, a GRU of 8 units on 8 inputs (two bias vectors), Dense(3) on 8.
    assert trained.parameters == 50 * 8 + 3 * 8 * (8 + 8 + 2) + 3 * (8 + 1)
    model = load_model(trained.model_path)
    assert model.outputs[0].shape[-1] == 3
    tokens, labels, _ = load_arrays(prepared, "validation")
    p = predict_probabilities(model, tokens).astype(np.float64)
    assert p.shape == (len(labels), 3)
    # The last epoch's validation figures are the saved weights' own: by hand, the mean of
    # -log p(label) and the share of rows whose most probable class is the label.
    rows = np.arange(len(labels))
    history = trained.history
    np.testing.assert_allclose(
        history["val_loss"][-1], -np.mean(np.log(p[rows, labels])), rtol=1e-4
    )
    assert history["val_accuracy"][-1] == pytest.approx(np.mean(p.argmax(axis=1) == labels))


@pytest.mark.slow
def test_same_seed_gives_the_same_weights_and_history(prepared, tmp_path):
    first = train_model("gru", prepared, MODEL, TRAINING, tmp_path / "a")
    second = train_model("gru", prepared, MODEL, TRAINING, tmp_path / "b")
    assert first.history == second.history
    other_seed = train_model(
        "gru", prepared, MODEL, TRAINING.model_copy(update={"seed": 8}), tmp_path / "c"
    )
    assert other_seed.history != first.history


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("skip_padding", [False, True])
def test_rows_over_the_memory_budget_train_streamed_and_training_json_says_so(
    tmp_path, skip_padding
):
    from tests.samples import regroup

    prepared = regroup(small_prepared(tmp_path / "data"), rows_per_group=10)  # 7 train groups
    model = MODEL.model_copy(update={"skip_padding": skip_padding})
    training = TrainingConfig(epochs=1, batch_size=16, seed=7)
    streamed = train_model(
        "gru",
        prepared,
        model,
        training,
        tmp_path / "models",
        execution=ExecutionConfig(memory_budget_mib=0),  # 0: stream whatever the size
    )
    assert not streamed.failure and streamed.epochs == 1
    assert set(streamed.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(np.isfinite(values[0]) for values in streamed.history.values())
    record = json.loads((streamed.directory / "training.json").read_text())
    assert record["rows"] == {"fit": 64, "validation": 16}
    assert record["execution"]["input"] == {
        "training_rows": "streamed",
        "validation_rows": "streamed",
        "window_row_groups": 1,
        "memory_budget_mib": 0,
    }

"""Train one recurrent architecture on a prepared dataset.

A trained model lives in ``models/<architecture>-<fingerprint>/``, where the fingerprint
covers the data and every parameter that changes the weights. Training again with the same
inputs reuses that folder unless ``retrain`` is set.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from imdb_rnn import __version__
from imdb_rnn.config import ModelConfig, TrainingConfig
from imdb_rnn.files import atomic_directory, sha256_json, write_json_atomic
from tasks.prepare import PreparedData, load_arrays

log = logging.getLogger(__name__)

EpochHook = Callable[[int, int, dict[str, float]], None]
"""Called after each epoch with (epoch, epochs, logs)."""

# Parameters that do not change the trained weights stay out of the fingerprint.
_NOT_IN_FINGERPRINT = {"architectures", "retrain"}


@dataclass(frozen=True)
class TrainedModel:
    """A finished ``models/<architecture>-<fingerprint>/`` folder."""

    architecture: str
    directory: Path
    fingerprint: str
    parameters: int
    train_seconds: float
    epochs: int
    history: dict[str, list[float]]
    reused: bool = False

    @property
    def model_path(self) -> Path:
        return self.directory / "model.keras"


def training_fingerprint(
    architecture: str, prepared: PreparedData, model: ModelConfig, training: TrainingConfig
) -> str:
    return sha256_json(
        {
            "version": __version__,
            "architecture": architecture,
            "data": prepared.fingerprint,
            "model": model.model_dump(),
            "training": training.model_dump(exclude=_NOT_IN_FINGERPRINT),
        }
    )[:16]


def _load_trained(directory: Path, architecture: str, fp: str) -> TrainedModel:
    record = json.loads((directory / "training.json").read_text(encoding="utf-8"))
    history = json.loads((directory / "history.json").read_text(encoding="utf-8"))
    if not (directory / "model.keras").is_file():
        raise FileNotFoundError(directory / "model.keras")
    return TrainedModel(
        architecture,
        directory,
        fp,
        record["parameters"],
        record["train_seconds"],
        record["epochs"],
        history,
        reused=True,
    )


def configure_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and ask TF for deterministic kernels."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train_architecture(
    architecture: str,
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    models_dir: Path,
    on_epoch_end: EpochHook | None = None,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> TrainedModel:
    """Fit one architecture on train, validate on validation, save model and history.

    Returns the saved model's record. An existing folder for the same inputs is reused
    unless ``training.retrain`` is set.
    """
    fp = training_fingerprint(architecture, prepared, model_config, training)
    directory = models_dir / f"{architecture}-{fp}"
    if directory.is_dir() and not training.retrain:
        try:
            trained = _load_trained(directory, architecture, fp)
            logger.info("Reusing trained %s from %s", architecture, directory)
            return trained
        except (OSError, KeyError, ValueError) as problem:
            logger.warning(
                "Training %s again: %s is incomplete (%s)", architecture, directory, problem
            )

    import keras

    from rnn_models import build_model

    configure_determinism(training.seed)
    x_train, y_train, _ = load_arrays(prepared, "train")
    x_validation, y_validation, _ = load_arrays(prepared, "validation")
    model = build_model(
        architecture, model_config, prepared.preprocess.vocab_size, prepared.preprocess.maxlen
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=training.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )

    class _ReportEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if on_epoch_end is not None:
                on_epoch_end(
                    epoch + 1, training.epochs, {k: float(v) for k, v in (logs or {}).items()}
                )

    started = time.perf_counter()
    fitted = model.fit(
        x_train,
        y_train.astype("float32"),
        validation_data=(x_validation, y_validation.astype("float32")),
        epochs=training.epochs,
        batch_size=training.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[_ReportEpoch()],
    )
    train_seconds = time.perf_counter() - started
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    parameters = int(model.count_params())

    with atomic_directory(directory, replace=True) as staging:
        model.save(staging / "model.keras")
        write_json_atomic(staging / "history.json", history)
        write_json_atomic(
            staging / "training.json",
            {
                "architecture": architecture,
                "fingerprint": fp,
                "data_fingerprint": prepared.fingerprint,
                "parameters": parameters,
                "train_seconds": round(train_seconds, 3),
                "epochs": len(history.get("loss", [])),
                "model": model_config.model_dump(),
                "training": training.model_dump(exclude=_NOT_IN_FINGERPRINT),
                "keras_version": keras.__version__,
            },
        )
    logger.info(
        "Trained %s in %.1f s (%s parameters) -> %s",
        architecture,
        train_seconds,
        f"{parameters:,}",
        directory,
    )
    return TrainedModel(
        architecture,
        directory,
        fp,
        parameters,
        train_seconds,
        len(history.get("loss", [])),
        history,
    )


def _artifact_key(architecture: str) -> str:
    return "train-" + architecture.replace("_", "-").lower()


@task(name="train", task_run_name="train-{architecture}")
def train(
    architecture: str,
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    models_dir: Path,
) -> TrainedModel:
    """Train one architecture, logging each epoch and updating a progress artifact."""
    logger = get_run_logger()
    progress_id = create_progress_artifact(
        0.0, key=_artifact_key(architecture), description=f"Training {architecture}: epochs done"
    )

    def report(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        shown = ", ".join(f"{name} {value:.4f}" for name, value in logs.items())
        logger.info("%s epoch %d/%d: %s", architecture, epoch, epochs, shown)
        update_progress_artifact(progress_id, 100.0 * epoch / epochs)

    trained = train_architecture(
        architecture, prepared, model_config, training, models_dir, report, logger
    )
    if trained.reused:
        update_progress_artifact(progress_id, 100.0)
    return trained

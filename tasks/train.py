"""Train one recurrent architecture on a prepared dataset.

A trained model lives in ``models/<architecture>-<fingerprint>/``, where the fingerprint
covers the data and every parameter that changes the weights. Training again with the same
inputs reuses that folder unless ``retrain`` is set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from imdb_rnn import __version__
from imdb_rnn.cluster import worker_name
from imdb_rnn.config import ModelConfig, TrainingConfig
from imdb_rnn.files import atomic_directory, build_lock, sha256_json, write_json_atomic
from imdb_rnn.storage import DataStore
from tasks.folds import Fold, TrainingRows, training_rows
from tasks.prepare import PreparedData, local_prepared

log = logging.getLogger(__name__)

EpochHook = Callable[[int, int, dict[str, float]], None]
"""Called after each epoch with (epoch, epochs, logs)."""

# Parameters that do not change the trained weights stay out of the fingerprint.
# Threads and replicas change where the arithmetic runs, not what it computes; an ensemble
# member's fingerprint names its fold (and the fold count) by itself.
_NOT_IN_FINGERPRINT = {
    "architectures",
    "retrain",
    "seeds",
    "threads",
    "mirrored",
    "ensemble_folds",
}


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
    failure: str = ""  # why training failed; empty when it succeeded
    seed: int = 0
    label: str = ""  # the name reports use: the architecture, plus the seed when several
    worker: str = ""  # host/pid of the process that trained or loaded it
    finished_at: float = 0.0  # Unix time the fit ended; 0 when not recorded

    @property
    def name(self) -> str:
        return self.label or self.architecture

    @property
    def model_path(self) -> Path:
        return self.directory / "model.keras"


def training_fingerprint(
    architecture: str,
    prepared: PreparedData,
    model: ModelConfig,
    training: TrainingConfig,
    fold: Fold | None = None,
) -> str:
    inputs = {
        "version": __version__,
        "architecture": architecture,
        "data": prepared.fingerprint,
        "model": model.model_dump(),
        "training": training.model_dump(exclude=_NOT_IN_FINGERPRINT),
    }
    if fold is not None:
        inputs["fold"] = [fold.index, fold.count]
    return sha256_json(inputs)[:16]


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
        seed=record.get("training", {}).get("seed", 0),
        finished_at=record.get("finished_at", 0.0),
    )


def train_architecture(
    architecture: str,
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    models_dir: Path,
    on_epoch_end: EpochHook | None = None,
    logger: logging.Logger | logging.LoggerAdapter = log,
    fold: Fold | None = None,
) -> TrainedModel:
    """Fit one architecture on train, validate on validation, save model and history.

    With ``fold``, fit the pooled train and validation rows outside the fold and validate
    on the fold instead: one member of a cross-validated ensemble.

    Returns the saved model's record. An existing folder for the same inputs is reused
    unless ``training.retrain`` is set. Runs that want the same model take turns through
    a file lock, so the second one reuses what the first trained. A training that was
    killed resumes from its last finished epoch. A loss that becomes NaN stops training
    and comes back as a failed model, with nothing saved.
    """
    fp = training_fingerprint(architecture, prepared, model_config, training, fold)
    directory = models_dir / f"{architecture}-{fp}"
    with build_lock(directory, logger):
        if directory.is_dir() and not training.retrain:
            try:
                trained = _load_trained(directory, architecture, fp)
                logger.info("Reusing trained %s from %s", architecture, directory)
                return trained
            except (OSError, KeyError, ValueError) as problem:
                logger.warning(
                    "Training %s again: %s is incomplete (%s)", architecture, directory, problem
                )
        return _fit_and_save(
            architecture,
            fp,
            prepared,
            model_config,
            training,
            directory,
            on_epoch_end,
            logger,
            fold,
        )


def _fit_and_save(
    architecture: str,
    fp: str,
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    directory: Path,
    on_epoch_end: EpochHook | None,
    logger: logging.Logger | logging.LoggerAdapter,
    fold: Fold | None,
) -> TrainedModel:
    import keras

    from rnn_models import build_model
    from rnn_models.optimizers import GradientNormAdam, LogGradientNorm
    from rnn_models.runtime import (
        configure_tensorflow,
        create_training_state,
        distribution_scope,
        jit_compile_setting,
        seeded_construction,
        steps_per_epoch,
        steps_per_execution,
        width_step,
    )

    # Survives a killed run: Keras' backup of weights and optimizer, and our epoch log.
    in_progress = directory.parent / ".in-progress" / directory.name
    epoch_log = in_progress / "epochs.json"
    done_epochs: list[dict[str, float]] = (
        json.loads(epoch_log.read_text(encoding="utf-8")) if epoch_log.is_file() else []
    )
    if done_epochs:
        logger.info(
            "Resuming %s after epoch %d of %d", architecture, len(done_epochs), training.epochs
        )

    seed = fold.member_seed(training.seed) if fold else training.seed
    configure_tensorflow(seed, training.threads)
    rows = training_rows(prepared, fold)
    with (
        distribution_scope(training.mirrored, logger) as replicas,
        seeded_construction(seed),
    ):
        model = build_model(
            architecture, model_config, prepared.preprocess.vocab_size, prepared.preprocess.maxlen
        )
        # XLA refuses MirroredStrategy's per-replica variables ("Trying to access resource
        # ... located in device CPU:1 from device CPU:0"), and cannot compile the lazy
        # update's tf.unique.
        jit_compile = (
            False
            if training.mirrored or training.lazy_embeddings
            else jit_compile_setting(training.xla, model_config.pooling != "last")
        )
        one_xla_shape = jit_compile is True and not model_config.skip_padding
        model.compile(
            # Adam that also logs the gradient norm per epoch, to show exploding gradients.
            optimizer=GradientNormAdam(
                learning_rate=training.learning_rate,
                clipnorm=training.clipnorm,
                sparse_norm=jit_compile is False,
                lazy_embeddings=training.lazy_embeddings,
            ),
            loss="binary_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile,
            # Only where every step is one XLA-compiled shape: there the weights are the same
            # to the bit. The best profile (no XLA, batches of many widths) trained slower and
            # to other weights with several steps per call.
            steps_per_execution=(
                steps_per_execution(steps_per_epoch(len(rows.fit_tokens), training.batch_size))
                if one_xla_shape
                else 1
            ),
        )
        create_training_state(model)
        batch_parts = (
            _split_batches(model, training, len(rows.fit_tokens), logger) if one_xla_shape else 1
        )

    class _RecordEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            values = {k: float(v) for k, v in (logs or {}).items()}
            done_epochs.append({**values, "seconds": time.perf_counter() - self._started})
            write_json_atomic(epoch_log, done_epochs)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, training.epochs, values)

    callbacks = [
        keras.callbacks.BackupAndRestore(str(in_progress / "backup")),
        keras.callbacks.TerminateOnNaN(),
        LogGradientNorm(),  # before _RecordEpoch, which saves the logs it adds
        _RecordEpoch(),
    ]
    if training.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=training.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    in_progress.mkdir(parents=True, exist_ok=True)
    resumed_seconds = sum(epoch.get("seconds", 0.0) for epoch in done_epochs)
    fit_started = time.perf_counter()
    model.fit(
        **_fit_inputs(
            rows,
            training,
            seed,
            first_epoch=len(done_epochs),
            skip_padding=model_config.skip_padding,
            step=width_step(prepared.preprocess.maxlen, few_shapes=jit_compile is True),
        ),
        epochs=training.epochs,
        shuffle=False,  # the dataset shuffles itself, a new order every epoch
        verbose=0,
        callbacks=callbacks,
    )
    # Wall time of fit, compilation included, so that it compares with a plain script's.
    # Rounded as training.json stores it, so a reused model reports the very same number.
    train_seconds = round(resumed_seconds + time.perf_counter() - fit_started, 3)
    finished_at = round(time.time(), 3)
    history = (
        {
            name: [epoch[name] for epoch in done_epochs]
            for name in done_epochs[-1]
            if name != "seconds"
        }
        if done_epochs
        else {"loss": [math.nan]}
    )
    parameters = int(model.count_params())
    shutil.rmtree(in_progress, ignore_errors=True)
    with contextlib.suppress(OSError):  # other trainings may still be in progress
        in_progress.parent.rmdir()

    failure = _divergence(history["loss"], training.learning_rate)
    if failure:
        logger.error("%s failed: %s", architecture, failure)
    else:
        save_model_folder(
            directory,
            model,
            history,
            {
                "architecture": architecture,
                "fingerprint": fp,
                "data_fingerprint": prepared.fingerprint,
                "parameters": parameters,
                "train_seconds": train_seconds,
                "epochs": len(history["loss"]),
                "model": model_config.model_dump(),
                "training": training.model_dump(exclude=_NOT_IN_FINGERPRINT),
                "keras_version": keras.__version__,
                "replicas": replicas,
                "batch_parts": batch_parts,
                "fold": [fold.index, fold.count] if fold else None,
                "rows": {"fit": len(rows.fit_tokens), "validation": len(rows.holdout_tokens)},
                "finished_at": finished_at,
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
        len(history["loss"]),
        history,
        failure=failure,
        seed=training.seed,
        finished_at=finished_at,
    )


def _split_batches(
    model: Any,
    training: TrainingConfig,
    fit_rows: int,
    logger: logging.Logger | logging.LoggerAdapter,
) -> int:
    """Give the XLA-compiled ``model`` a train step over ``training.batch_parts`` parts of
    each batch where it can take one; the number of parts each batch trains in (1: whole)."""
    if training.batch_parts == 1:
        return 1
    from rnn_models.batch_parts import can_split, train_in_parts

    batch = min(training.batch_size, fit_rows)  # as training_dataset batches them
    if not can_split(model, batch, training.batch_parts):
        logger.info(
            "Training whole batches: %d parts need batches they divide (of %d reviews here) "
            "and a model whose training changes nothing but its weights (no dropout)",
            training.batch_parts,
            batch,
        )
        return 1
    train_in_parts(model, training.batch_parts)
    return training.batch_parts


def _fit_inputs(
    rows: TrainingRows,
    training: TrainingConfig,
    seed: int,
    first_epoch: int,
    skip_padding: bool,
    step: int,
) -> dict[str, Any]:
    """``model.fit``'s data arguments: the rows in full width, or, for a model that skips
    padding, in batches of similar length cut to their longest review (``step`` apart)."""
    from rnn_models.runtime import (
        batched_dataset,
        even_batch_size,
        length_grouped_dataset,
        length_sorted_dataset,
        steps_per_epoch,
        training_dataset,
    )

    x_train, y_train = rows.fit_tokens, rows.fit_labels
    x_validation, y_validation = rows.holdout_tokens, rows.holdout_labels
    batches = dict(batch_size=training.batch_size, seed=seed, first_epoch=first_epoch)
    steps = {"steps_per_epoch": steps_per_epoch(len(x_train), training.batch_size)}
    validation_batch = even_batch_size(len(x_validation))
    if skip_padding:
        return {
            "x": length_grouped_dataset(
                x_train, y_train, **batches, epochs=training.epochs, step=step
            ),
            "validation_data": length_sorted_dataset(
                x_validation, y_validation, validation_batch, step
            ),
            **steps,
        }
    return {
        "x": training_dataset(x_train, y_train, **batches, epochs=training.epochs),
        "validation_data": batched_dataset(x_validation, y_validation, validation_batch),
        **steps,
    }


def save_model_folder(
    directory: Path, model: Any, history: dict[str, list[float]], record: dict[str, Any]
) -> None:
    """Write ``model.keras``, ``history.json`` and ``training.json`` as one folder, at once."""
    with atomic_directory(directory, replace=True) as staging:
        model.save(staging / "model.keras")
        write_json_atomic(staging / "history.json", history)
        write_json_atomic(staging / "training.json", record)


def _divergence(losses: list[float], learning_rate: float) -> str:
    """Why training failed, when a loss stopped being a finite number; else empty."""
    for epoch, loss in enumerate(losses, start=1):
        if not math.isfinite(loss):
            return (
                f"loss became {loss} in epoch {epoch}; training stopped "
                f"(try a lower --learning-rate than {learning_rate:g})"
            )
    return ""


def _artifact_key(architecture: str) -> str:
    return "train-" + architecture.replace("_", "-").lower()


def local_model(trained: TrainedModel, store: DataStore) -> TrainedModel:
    """``trained`` in this process's copy of the data folder, fetched from the store if needed.

    A model trained by another process (a Dask worker on another machine) names a folder
    of that process; models live at ``models/<name>`` everywhere, so only the root changes.
    """
    directory = store.paths().models / trained.directory.name
    if not trained.failure:
        with build_lock(directory):
            if not store.fetch(directory):
                raise FileNotFoundError(
                    f"{trained.name}: {store.url_of(directory)} was not published; "
                    "its training did not finish"
                )
    return dataclasses.replace(trained, directory=directory)


def _train_run_name() -> str:
    """``train-<architecture>-seed<seed>``, and the fold for an ensemble member."""
    from prefect.runtime import task_run

    parameters = task_run.parameters
    fold = parameters.get("fold")
    name = f"train-{parameters['architecture']}-seed{parameters['seed']}"
    return f"{name}-{fold.label}" if fold is not None else name


@task(name="train", task_run_name=_train_run_name)
def train(
    architecture: str,
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    store: DataStore,
    seed: int,
    fold: Fold | None = None,
) -> TrainedModel:
    """Train one architecture with one seed (and, for an ensemble member, on one fold),
    logging each epoch and updating a progress artifact.

    Runs wherever the task runner puts it: it reads the prepared data from, and publishes
    the model to, the data folder's store.
    """
    logger = get_run_logger()
    prepared = local_prepared(prepared, store)
    models_dir = store.paths().models
    one_seed = training.for_seed(seed)
    fp = training_fingerprint(architecture, prepared, model_config, one_seed, fold)
    with build_lock(models_dir / f"{architecture}-{fp}"):
        store.fetch(models_dir / f"{architecture}-{fp}")  # another machine may have trained it
    label = training.run_label(architecture, seed)
    if fold is not None:
        label += f"-{fold.label}"
    progress_id = create_progress_artifact(
        0.0, key=_artifact_key(label), description=f"Training {label}: epochs done"
    )

    def report(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        shown = ", ".join(f"{name} {value:.4f}" for name, value in logs.items())
        logger.info("%s epoch %d/%d: %s", label, epoch, epochs, shown)
        update_progress_artifact(progress_id, 100.0 * epoch / epochs)

    trained = train_architecture(
        architecture, prepared, model_config, one_seed, models_dir, report, logger, fold
    )
    if trained.reused:
        update_progress_artifact(progress_id, 100.0)
    if not trained.failure:
        store.publish(trained.directory)
    return dataclasses.replace(trained, label=label, worker=worker_name())

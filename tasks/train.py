"""Train one recurrent architecture on a prepared dataset.

A trained model lives in ``models/<architecture>-<fingerprint>/``, named by its
``TrainingRecipe``: the data and every setting that changes the weights. Training again with
the same recipe reuses that folder unless ``retrain`` is set. A training that was killed
resumes from its last finished epoch.
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
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from imdb_rnn.cluster import worker_name
from imdb_rnn.config import ExecutionConfig, FitConfig
from imdb_rnn.files import build_lock, write_json_atomic
from imdb_rnn.folds import StreamedRows, TrainingRows, training_input
from imdb_rnn.prepared import PreparedData, local_prepared
from imdb_rnn.stopping import raise_if_stop_requested, training, training_epoch
from imdb_rnn.storage import DataStore
from imdb_rnn.trained import TrainedModel, TrainingRecipe, load_trained, save_model_folder

log = logging.getLogger(__name__)

EpochHook = Callable[[int, int, dict[str, float]], None]
"""Called after each epoch with (epoch, epochs, logs)."""


def train_architecture(
    recipe: TrainingRecipe,
    prepared: PreparedData,
    execution: ExecutionConfig,
    models_dir: Path,
    on_epoch_end: EpochHook | None = None,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> TrainedModel:
    """Fit ``recipe`` on train, validate on validation, save model and history.

    With ``recipe.fold``, fit the pooled train and validation rows outside the fold and
    validate on the fold instead: one member of a cross-validated ensemble.

    Returns the saved model's record. An existing folder for the same recipe is reused
    unless ``execution.retrain`` is set. Runs that want the same model take turns through
    a file lock, so the second one reuses what the first trained. A training that was
    killed resumes from its last finished epoch. A loss that becomes NaN stops training
    and comes back as a failed model, with nothing saved.
    """
    directory = models_dir / recipe.folder_name
    with build_lock(directory, logger):
        if directory.is_dir() and not execution.retrain:
            try:
                trained = load_trained(directory, recipe)
                logger.info("Reusing trained %s from %s", recipe.architecture, directory)
                return trained
            except (OSError, KeyError, ValueError) as problem:
                logger.warning(
                    "Training %s again: %s is incomplete (%s)",
                    recipe.architecture,
                    directory,
                    problem,
                )
        return _fit_and_save(recipe, prepared, execution, directory, on_epoch_end, logger)


def _fit_and_save(
    recipe: TrainingRecipe,
    prepared: PreparedData,
    execution: ExecutionConfig,
    directory: Path,
    on_epoch_end: EpochHook | None,
    logger: logging.Logger | logging.LoggerAdapter,
) -> TrainedModel:
    import keras

    from rnn_models.runtime import configure_tensorflow

    fit = recipe.fit
    # Survives a killed run: Keras' backup of weights and optimizer, and our epoch log.
    in_progress = directory.parent / ".in-progress" / directory.name
    epoch_log = in_progress / "epochs.json"
    done_epochs: list[dict[str, float]] = (
        json.loads(epoch_log.read_text(encoding="utf-8")) if epoch_log.is_file() else []
    )
    if done_epochs:
        logger.info(
            "Resuming %s after epoch %d of %d", recipe.architecture, len(done_epochs), fit.epochs
        )
    configure_tensorflow(recipe.weights_seed, execution.threads)
    rows = training_input(prepared, recipe.fold, execution.memory_budget_mib, logger)
    model, arithmetic = _compiled_model(recipe, prepared, execution, rows.counts[0], logger)
    name = (
        recipe.architecture if recipe.fold is None else f"{recipe.architecture} {recipe.fold.label}"
    )
    callbacks = _callbacks(in_progress, epoch_log, done_epochs, fit, on_epoch_end, name)
    in_progress.mkdir(parents=True, exist_ok=True)
    resumed_seconds = sum(epoch.get("seconds", 0.0) for epoch in done_epochs)
    fit_started = time.perf_counter()
    with training(name):
        model.fit(
            **_data_arguments(rows, recipe, len(done_epochs), arithmetic["jit_compile"] is True),
            epochs=fit.epochs,
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
    shutil.rmtree(in_progress, ignore_errors=True)
    with contextlib.suppress(OSError):  # other trainings may still be in progress
        in_progress.parent.rmdir()

    trained = TrainedModel(
        recipe.architecture,
        directory,
        recipe.fingerprint,
        int(model.count_params()),
        train_seconds,
        len(history["loss"]),
        history,
        failure=_divergence(history["loss"], fit.learning_rate),
        seed=fit.seed,
        finished_at=finished_at,
    )
    if trained.failure:
        logger.error("%s failed: %s", recipe.architecture, trained.failure)
    else:
        record = _record(trained, recipe, rows, execution, arithmetic)
        save_model_folder(directory, model, history, {**record, "keras_version": keras.__version__})
        logger.info(
            "Trained %s in %.1f s (%s parameters) -> %s",
            recipe.architecture,
            train_seconds,
            f"{trained.parameters:,}",
            directory,
        )
    return trained


def _compiled_model(
    recipe: TrainingRecipe,
    prepared: PreparedData,
    execution: ExecutionConfig,
    fit_rows: int,
    logger: logging.Logger | logging.LoggerAdapter,
) -> tuple[Any, dict[str, Any]]:
    """The model of ``recipe``, built from its seed and compiled for training, and how its
    train step runs (XLA, batch parts, replicas), as ``training.json`` records it."""
    from rnn_models.optimizers import GradientNormAdam
    from rnn_models.registry import build_model
    from rnn_models.runtime import distribution_scope, seeded_construction
    from rnn_models.training import compile_for_training, train_in_batch_parts, train_step_settings

    fit, shape = recipe.fit, recipe.model
    step = train_step_settings(
        execution.xla,
        pools_over_time=shape.pooling != "last",
        skip_padding=shape.skip_padding,
        mirrored=execution.mirrored,
        lazy_embeddings=fit.lazy_embeddings,
        fit_rows=fit_rows,
        batch_size=fit.batch_size,
    )
    with (
        distribution_scope(execution.mirrored, logger) as replicas,
        seeded_construction(recipe.weights_seed),
    ):
        model = build_model(
            recipe.architecture,
            shape,
            prepared.preprocess.vocab_size,
            prepared.preprocess.maxlen,
            len(prepared.classes),
        )
        # Adam that also logs the gradient norm per epoch, to show exploding gradients.
        optimizer = GradientNormAdam(
            learning_rate=fit.learning_rate,
            clipnorm=fit.clipnorm,
            sparse_norm=step.jit_compile is False,
            lazy_embeddings=fit.lazy_embeddings,
        )
        compile_for_training(
            model, optimizer, step.jit_compile, step.steps_per_call, len(prepared.classes)
        )
        parts = (
            train_in_batch_parts(model, execution.batch_parts, fit.batch_size, fit_rows, logger)
            if step.one_xla_shape
            else 1
        )
    return model, {"jit_compile": step.jit_compile, "batch_parts": parts, "replicas": replicas}


def _callbacks(
    in_progress: Path,
    epoch_log: Path,
    done_epochs: list[dict[str, float]],
    fit: FitConfig,
    on_epoch_end: EpochHook | None,
    name: str,
) -> list[Any]:
    """Backup for resuming, stop on NaN or on request, the gradient norm, the epoch log,
    early stopping."""
    import keras

    from rnn_models.optimizers import LogGradientNorm

    class _StopOnRequest(keras.callbacks.Callback):
        # Raising, not setting stop_training: Keras would then end the epoch early and
        # record half an epoch as done, and the next run would resume from it.
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._doing = f"{name} epoch {epoch + 1}"
            training_epoch(name, epoch + 1, fit.epochs)
            raise_if_stop_requested(self._doing)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            raise_if_stop_requested(self._doing)

    class _RecordEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            values = {k: float(v) for k, v in (logs or {}).items()}
            done_epochs.append({**values, "seconds": time.perf_counter() - self._started})
            write_json_atomic(epoch_log, done_epochs)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, fit.epochs, values)

    callbacks = [
        _StopOnRequest(),
        keras.callbacks.BackupAndRestore(str(in_progress / "backup")),
        keras.callbacks.TerminateOnNaN(),
        LogGradientNorm(),  # before _RecordEpoch, which saves the logs it adds
        _RecordEpoch(),
    ]
    if fit.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=fit.early_stopping_patience, restore_best_weights=True
            )
        )
    return callbacks


def _data_arguments(
    rows: TrainingRows | StreamedRows, recipe: TrainingRecipe, first_epoch: int, xla: bool
) -> dict[str, Any]:
    from rnn_models.training import fit_inputs, streamed_fit_inputs

    batches = dict(
        batch_size=recipe.fit.batch_size,
        seed=recipe.weights_seed,
        first_epoch=first_epoch,
        epochs=recipe.fit.epochs,
        skip_padding=recipe.model.skip_padding,
        few_shapes=xla,
    )
    if isinstance(rows, StreamedRows):
        return streamed_fit_inputs(
            rows.fit, rows.holdout, **batches, window_groups=rows.window_groups
        )
    return fit_inputs(
        (rows.fit_tokens, rows.fit_labels), (rows.holdout_tokens, rows.holdout_labels), **batches
    )


def _record(
    trained: TrainedModel,
    recipe: TrainingRecipe,
    rows: TrainingRows | StreamedRows,
    execution: ExecutionConfig,
    arithmetic: dict[str, Any],
) -> dict[str, Any]:
    """``training.json``: the recipe, the result, and how the arithmetic ran (which is not
    part of the recipe: a model trained another way is reused as it is)."""
    return {
        "architecture": recipe.architecture,
        "fingerprint": recipe.fingerprint,
        "data_fingerprint": recipe.data_fingerprint,
        "parameters": trained.parameters,
        "train_seconds": trained.train_seconds,
        "epochs": trained.epochs,
        "model": recipe.model.model_dump(),
        "fit": recipe.fit.model_dump(),
        "fold": [recipe.fold.index, recipe.fold.count] if recipe.fold else None,
        "rows": dict(zip(("fit", "validation"), rows.counts, strict=True)),
        "finished_at": trained.finished_at,
        "execution": {
            "xla": execution.xla,
            "threads": execution.threads,
            **arithmetic,
            "input": {**rows.record, "memory_budget_mib": execution.memory_budget_mib},
        },
    }


def _divergence(losses: list[float], learning_rate: float) -> str:
    """Why training failed, when a loss stopped being a finite number; else empty."""
    for epoch, loss in enumerate(losses, start=1):
        if not math.isfinite(loss):
            return (
                f"loss became {loss} in epoch {epoch}; training stopped "
                f"(try a lower --learning-rate than {learning_rate:g})"
            )
    return ""


def _artifact_key(label: str) -> str:
    return "train-" + label.replace("_", "-").lower()


def _train_run_name() -> str:
    """``train-<architecture>-seed<seed>``, and the fold for an ensemble member."""
    from prefect.runtime import task_run

    parameters = task_run.parameters
    recipe = parameters["recipe"]
    name = f"train-{recipe.architecture}-seed{recipe.fit.seed}"
    return f"{name}-{recipe.fold.label}" if recipe.fold is not None else name


@task(name="train", task_run_name=_train_run_name)
def train(
    recipe: TrainingRecipe,
    label: str,
    prepared: PreparedData,
    execution: ExecutionConfig,
    store: DataStore,
) -> TrainedModel:
    """Train one model (one architecture and seed, and for an ensemble member one fold),
    logging each epoch and updating a progress artifact.

    Runs wherever the task runner puts it: it reads the prepared data from, and publishes
    the model to, the data folder's store.
    """
    logger = get_run_logger()
    prepared = local_prepared(prepared, store)
    models_dir = store.paths.models
    progress_id = create_progress_artifact(
        0.0, key=_artifact_key(label), description=f"Training {label}: epochs done"
    )

    def report(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        shown = ", ".join(f"{name} {value:.4f}" for name, value in logs.items())
        logger.info("%s epoch %d/%d: %s", label, epoch, epochs, shown)
        update_progress_artifact(progress_id, 100.0 * epoch / epochs)

    trained = store.build_shared(
        models_dir / recipe.folder_name,
        lambda: train_architecture(recipe, prepared, execution, models_dir, report, logger),
        publish_if=lambda result: not result.failure,
    )
    if trained.reused:
        update_progress_artifact(progress_id, 100.0)
    return dataclasses.replace(trained, label=label, worker=worker_name())

"""Combine the members of a cross-validated ensemble into one model.

The ensemble is a Keras model that feeds the tokens to every member and averages their
probabilities (for K classes, each class's), saved as ``model.keras`` like any other model:
evaluation, the champion, ``imdb-rnn predict`` and ``serve`` use it unchanged. Its validation
figures are out-of-fold: each pooled training review is scored by the one member that did not
train on it. Those scores are kept in ``out_of_fold.parquet`` for every K; only the stack
reads them, and only for two classes (``imdb_rnn.folds.save_out_of_fold``).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from imdb_rnn import __version__
from imdb_rnn.cluster import worker_name
from imdb_rnn.evaluation import classification_metrics
from imdb_rnn.files import build_lock, sha256_json
from imdb_rnn.folds import out_of_fold_probabilities, save_out_of_fold
from imdb_rnn.prepared import PreparedData, local_prepared
from imdb_rnn.storage import DataStore
from imdb_rnn.trained import (
    MODEL_FILE,
    RECORD_FILE,
    TrainedModel,
    local_model,
    read_record,
    save_model_folder,
)

log = logging.getLogger(__name__)


def ensemble_fingerprint(members: list[TrainedModel]) -> str:
    return sha256_json(
        {"version": __version__, "members": [member.fingerprint for member in members]}
    )[:16]


def training_span(members: list[TrainedModel]) -> float:
    """Seconds from the first member's start to the last member's end.

    Members trained at once (on several workers) overlap, so this is less than the sum of
    their fits; members trained one after another take about the sum. Members of different
    runs, or without recorded times, count as one after another: the sum.
    """
    total = sum(member.train_seconds for member in members)
    if any(member.finished_at <= 0 for member in members):
        return round(total, 3)
    first_start = min(member.finished_at - member.train_seconds for member in members)
    last_end = max(member.finished_at for member in members)
    return round(min(last_end - first_start, total), 3)


def ensemble_directory(models_dir: Path, members: list[TrainedModel]) -> Path:
    architecture = members[0].architecture
    return models_dir / f"{architecture}-ensemble{len(members)}-{ensemble_fingerprint(members)}"


def combine_members(
    architecture: str,
    members: list[TrainedModel],
    prepared: PreparedData,
    models_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> TrainedModel:
    """Save the ensemble of ``members`` (member k trained without fold k, in fold order).

    Reuses an existing ensemble of the very same members. Fails, saving nothing, when a
    member failed.
    """
    count = len(members)
    fp = ensemble_fingerprint(members)
    directory = ensemble_directory(models_dir, members)
    summary = {
        "parameters": sum(member.parameters for member in members),
        "train_seconds": training_span(members),
        "epochs": max(member.epochs for member in members),
    }
    failed = [member for member in members if member.failure]
    if failed:
        reasons = "; ".join(f"{member.name}: {member.failure}" for member in failed)
        return TrainedModel(
            architecture,
            directory,
            fp,
            history={"loss": [float("nan")]},
            failure=f"{len(failed)} of {count} ensemble members failed ({reasons})",
            seed=members[0].seed,
            **summary,
        )
    with build_lock(directory, logger):
        complete = (directory / RECORD_FILE).is_file() and (directory / MODEL_FILE).is_file()
        if complete and all(member.reused for member in members):
            record = read_record(directory)
            logger.info("Reusing the ensemble %s", directory.name)
            return TrainedModel(
                architecture,
                directory,
                fp,
                history=record["history"],
                reused=True,
                seed=members[0].seed,
                **summary,
            )
        return _build(architecture, members, prepared, directory, fp, summary, logger)


def _build(
    architecture: str,
    members: list[TrainedModel],
    prepared: PreparedData,
    directory: Path,
    fp: str,
    summary: dict[str, Any],
    logger: logging.Logger | logging.LoggerAdapter,
) -> TrainedModel:
    from rnn_models.optimizers import load_model

    loaded = [load_model(member.model_path) for member in members]
    out_of_fold, labels = out_of_fold_probabilities(loaded, prepared)
    oof_metrics, _ = classification_metrics(labels, out_of_fold)
    # One "epoch" of validation figures, so that reports read the ensemble like any model;
    # there is no training loss of its own, so no learning curve is drawn for it.
    history = {"val_accuracy": [oof_metrics["accuracy"]], "val_loss": [oof_metrics["log_loss"]]}
    from rnn_models.combined import average_of

    ensemble = average_of(loaded, f"{architecture}_ensemble")
    save_model_folder(
        directory,
        ensemble,
        history,
        {
            "architecture": architecture,
            "fingerprint": fp,
            "data_fingerprint": prepared.fingerprint,
            "members": [member.directory.name for member in members],
            "out_of_fold": oof_metrics,
            "history": history,
            **summary,
        },
    )
    save_out_of_fold(directory, out_of_fold)
    logger.info(
        "Combined %d %s members: out-of-fold accuracy %.4f over %s reviews -> %s",
        len(members),
        architecture,
        oof_metrics["accuracy"],
        f"{len(labels):,}",
        directory,
    )
    return TrainedModel(
        architecture, directory, fp, history=history, seed=members[0].seed, **summary
    )


@task(name="ensemble", task_run_name="ensemble-{label}")
def ensemble(
    members: list[TrainedModel], prepared: PreparedData, store: DataStore, label: str
) -> TrainedModel:
    """Combine one architecture's fold members, wherever the task runner puts it."""
    prepared = local_prepared(prepared, store)
    local_members = [local_model(member, store) for member in members]
    models_dir = store.paths.models
    logger = get_run_logger()
    combined = store.build_shared(
        ensemble_directory(models_dir, local_members),
        lambda: combine_members(
            members[0].architecture, local_members, prepared, models_dir, logger
        ),
        publish_if=lambda result: not result.failure,
    )
    return dataclasses.replace(combined, label=label, worker=worker_name())

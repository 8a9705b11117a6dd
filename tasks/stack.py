"""Stack the run's cross-validated ensembles and NBSVM into one model (``--stack``).

The combiner is fitted on out-of-fold scores of the pooled train and validation reviews,
on the folds the ensembles were trained on, and never on a test review (``imdb_rnn.stacking``).
The stack is saved as a model folder like any other: ``model.keras`` runs the recurrent
members side by side, and the stack's own files hold the combiner and the NBSVM that scores
a review's words. It is evaluated, compared and promoted like a recurrent model.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task

from imdb_rnn import __version__
from imdb_rnn.config import BaselineConfig, TrainingConfig
from imdb_rnn.config.steps import NBSVM_FIELDS
from imdb_rnn.evaluation import (
    EVALUATION_FILE,
    EVALUATION_VERSION,
    PREDICTIONS_FILE,
    ModelEvaluation,
    TrainedAndScored,
    classification_metrics,
    load_predictions,
    read_cached,
    save_predictions,
    score_predictions,
)
from imdb_rnn.files import atomic_directory, build_lock, sha256_json, write_json_atomic
from imdb_rnn.folds import Fold, fold_indices
from imdb_rnn.nbsvm import cross_fitted_nbsvm
from imdb_rnn.prepared import PreparedData, load_split
from imdb_rnn.stacking import (
    NBSVM_MEMBER,
    STACK_NAME,
    StackedScorer,
    ensemble_out_of_fold,
    fit_stacker,
    probability_logits,
)
from imdb_rnn.storage import DataStore
from imdb_rnn.text import tokenize_all
from imdb_rnn.trained import HISTORY_FILE, MODEL_FILE, RECORD_FILE, TrainedModel, read_record

log = logging.getLogger(__name__)
STACK_TWO_CLASSES = (
    "The stack combines two-class scores with NBSVM's; this data has %d classes, so the "
    "run has no stack (--stack)"
)


def _members(recurrent: TrainedAndScored) -> list[tuple[TrainedModel, ModelEvaluation]]:
    return [
        (trained, evaluation)
        for trained, evaluation in zip(recurrent.trained, recurrent.evaluations, strict=True)
        if not evaluation.failure
    ]


def stack_folder(
    recurrent: TrainedAndScored, prepared: PreparedData, baseline: BaselineConfig, models_dir: Path
) -> Path:
    """The stack's folder, named by its members, the data and NBSVM's settings."""
    fp = sha256_json(
        {
            "version": __version__,
            "data": prepared.fingerprint,
            "members": [trained.fingerprint for trained, _ in _members(recurrent)],
            "nbsvm": baseline.settings_of(NBSVM_FIELDS),
        }
    )[:16]
    return models_dir / f"{STACK_NAME}-{fp}"


def stack_models(
    recurrent: TrainedAndScored,
    prepared: PreparedData,
    training: TrainingConfig,
    baseline: BaselineConfig,
    models_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> tuple[TrainedModel, ModelEvaluation]:
    """Fit, save and score the stack of the run's ensembles and NBSVM.

    NBSVM is fitted fold by fold here, with the baseline's n-gram settings, its C and
    interpolation weight chosen on the first fold's held-out reviews.
    """
    members = _members(recurrent)
    directory = stack_folder(recurrent, prepared, baseline, models_dir)
    fp = directory.name.removeprefix(f"{STACK_NAME}-")
    names = (*(evaluation.model for _, evaluation in members), NBSVM_MEMBER)
    with build_lock(directory, logger):
        stored = _stored(directory, prepared)
        if stored is None:
            _build(directory, fp, members, names, prepared, training, baseline, models_dir, logger)
            stored = _stored(directory, prepared)
            assert stored is not None  # just written
        else:
            logger.info("Reusing the stack %s", directory.name)
    record = read_record(directory)
    trained = TrainedModel(
        STACK_NAME,
        directory,
        fp,
        parameters=record["parameters"],
        train_seconds=record["train_seconds"],
        epochs=0,
        history=record["history"],
        reused=True,
        seed=training.seed,
        label=STACK_NAME,
    )
    return trained, stored


def _stored(directory: Path, prepared: PreparedData) -> ModelEvaluation | None:
    stored = read_cached(directory / EVALUATION_FILE, directory / PREDICTIONS_FILE)
    complete = (directory / MODEL_FILE).is_file() and (directory / RECORD_FILE).is_file()
    if stored is None or not complete or stored.get("data_fingerprint") != prepared.fingerprint:
        return None
    return ModelEvaluation.from_dict(stored["evaluation"])


def _build(
    directory: Path,
    fp: str,
    members: list[tuple[TrainedModel, ModelEvaluation]],
    names: tuple[str, ...],
    prepared: PreparedData,
    training: TrainingConfig,
    baseline: BaselineConfig,
    models_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter,
) -> None:
    from rnn_models.combined import side_by_side
    from rnn_models.optimizers import load_model

    started = time.perf_counter()
    splits = [
        load_split(prepared, s, ["text", "label", "n_tokens"])
        for s in ("train", "validation", "test")
    ]
    pooled_texts = list(splits[0]["text"]) + list(splits[1]["text"])
    labels = np.concatenate([splits[0]["label"].to_numpy(), splits[1]["label"].to_numpy()])
    folds = [
        fold_indices(labels, fold, prepared.preprocess.split_seed)
        for fold in Fold.all(training.ensemble_folds)
    ]
    recurrent_oof = [
        ensemble_out_of_fold(trained.directory, prepared, models_dir) for trained, _ in members
    ]
    nbsvm = cross_fitted_nbsvm(
        tokenize_all(pooled_texts),
        labels,
        folds,
        max_n=baseline.nbsvm_max_ngram,
        min_df=baseline.nbsvm_min_df,
        c_grid=baseline.nbsvm_c_grid,
        betas=baseline.nbsvm_betas,
    )
    features = np.column_stack([*(probability_logits(p) for p in recurrent_oof), nbsvm.out_of_fold])
    stacker, checked = fit_stacker(names, features, labels, training.seed)
    oof_metrics, _ = classification_metrics(labels, checked)
    scorer = StackedScorer(stacker, nbsvm.scorer)
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    test = splits[2]
    test_tokens = tokenize_all(test["text"])
    recurrent_test = np.column_stack(
        [load_predictions(evaluation.predictions_path)[1] for _, evaluation in members]
    )
    probabilities = scorer.probabilities(recurrent_test, test_tokens)
    # The recurrent members' own prediction time, plus NBSVM's and the combiner's here.
    predict_seconds = time.perf_counter() - started + sum(e.predict_seconds for _, e in members)

    # The members' own training, and the NBSVM folds and the combiner fitted here.
    train_seconds = sum(trained.train_seconds for trained, _ in members) + fit_seconds
    history = {"val_accuracy": [oof_metrics["accuracy"]], "val_loss": [oof_metrics["log_loss"]]}
    parameters = sum(t.parameters for t, _ in members) + nbsvm.scorer.coefficients.size + 1
    labels_test, lengths = test["label"].to_numpy(), test["n_tokens"].to_numpy()
    with atomic_directory(directory, replace=True) as staging:
        if len(members) == 1:  # one ensemble: its own model file is the recurrent part
            shutil.copy2(members[0][0].model_path, staging / MODEL_FILE)
        else:
            loaded = [load_model(trained.model_path) for trained, _ in members]
            side_by_side(loaded, STACK_NAME).save(staging / MODEL_FILE)
        scorer.save(
            staging,
            {
                "nbsvm_c": nbsvm.c,
                "nbsvm_beta": nbsvm.beta,
                "out_of_fold": oof_metrics,
            },
        )
        save_predictions(staging / PREDICTIONS_FILE, labels_test, probabilities, lengths)
        evaluation = score_predictions(
            STACK_NAME,
            "rnn",
            labels_test,
            probabilities,
            lengths,
            parameters=parameters,
            train_seconds=round(train_seconds, 3),
            predict_seconds=predict_seconds,
            history=history,
            model_path=str(directory / MODEL_FILE),
            predictions_path=str(directory / PREDICTIONS_FILE),
            classes=prepared.classes,
        )
        evaluation = dataclasses.replace(evaluation, seed=training.seed)
        write_json_atomic(
            staging / EVALUATION_FILE,
            {
                "version": EVALUATION_VERSION,
                "data_fingerprint": prepared.fingerprint,
                "evaluation": evaluation.to_dict(),
            },
        )
        write_json_atomic(staging / HISTORY_FILE, history)
        write_json_atomic(
            staging / RECORD_FILE,
            {
                "architecture": STACK_NAME,
                "fingerprint": fp,
                "data_fingerprint": prepared.fingerprint,
                "members": list(names),
                "member_folders": [trained.directory.name for trained, _ in members],
                "coefficients": dict(zip(names, stacker.coefficients, strict=True)),
                "out_of_fold": oof_metrics,
                "history": history,
                "parameters": parameters,
                "train_seconds": round(train_seconds, 3),
            },
        )
    logger.info(
        "Stacked %s (weights %s): out-of-fold accuracy %.4f, test accuracy %.4f -> %s",
        " + ".join(names),
        ", ".join(f"{c:.2f}" for c in stacker.coefficients),
        oof_metrics["accuracy"],
        evaluation.metrics["accuracy"],
        directory,
    )


@task(name="stack", task_run_name="stack")
def stack(
    recurrent: TrainedAndScored,
    prepared: PreparedData,
    training: TrainingConfig,
    baseline: BaselineConfig,
    store: DataStore,
) -> TrainedAndScored:
    """The run's recurrent models, plus their stack with NBSVM when ``training.stack``.

    The stack is two-class (logits of one probability, NBSVM's margin): with more classes
    the run goes on without it, and the log says so in one sentence.
    """
    if not training.stack:
        return recurrent
    logger = get_run_logger()
    if not prepared.is_binary:
        logger.warning(STACK_TWO_CLASSES, len(prepared.classes))
        return recurrent
    if not any(not e.failure for e in recurrent.evaluations):
        logger.warning("No recurrent model to stack: every training failed")
        return recurrent
    started = time.perf_counter()
    models_dir = store.paths.models
    trained, evaluation = store.build_shared(
        stack_folder(recurrent, prepared, baseline, models_dir),
        lambda: stack_models(recurrent, prepared, training, baseline, models_dir, logger),
    )
    return TrainedAndScored(
        [*recurrent.trained, trained],
        [*recurrent.evaluations, evaluation],
        round(recurrent.seconds + time.perf_counter() - started, 3),
    )

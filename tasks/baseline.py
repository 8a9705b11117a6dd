"""The classical references every recurrent model is judged against: TF-IDF + logistic
regression, and NBSVM (the strongest classical model on IMDb, Wang & Manning 2012)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from imdb_rnn import __version__
from imdb_rnn.config.steps import NBSVM_FIELDS, TFIDF_FIELDS, BaselineConfig
from imdb_rnn.evaluation import (
    EVALUATION_FILE,
    EVALUATION_VERSION,
    PREDICTIONS_FILE,
    ModelEvaluation,
    read_cached,
    save_predictions,
    score_predictions,
)
from imdb_rnn.files import sha256_json, write_json_atomic
from imdb_rnn.prepared import PreparedData, load_split
from imdb_rnn.storage import DataStore
from imdb_rnn.text import tokenize_all
from imdb_rnn.tfidf import ngram_counts

log = logging.getLogger(__name__)

BASELINE_NAME = "tfidf_logreg"
NBSVM_NAME = "nbsvm"
NBSVM_TWO_CLASSES = "NBSVM compares two classes; this data has %d classes, so NBSVM is not run"


def train_and_score_baseline(
    prepared: PreparedData,
    config: BaselineConfig,
    models_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ModelEvaluation:
    """Fit TF-IDF + logistic regression on train, pick C on validation, score on test.

    The same cleaned text and tokenizer as the recurrent models are used, but no
    vocabulary cap and no truncation: that is the baseline's usual strength. Two classes
    give the probability of the second per review; K > 2 a multinomial model's K.
    """
    directory, stored = _folder_and_cache(BASELINE_NAME, TFIDF_FIELDS, prepared, config, models_dir)
    if stored is not None:
        logger.info("Reusing the baseline scored in %s", directory)
        return stored

    columns = ["text", "label", "n_tokens"]
    train, validation, test = (
        load_split(prepared, split, columns) for split in ("train", "validation", "test")
    )
    started = time.perf_counter()
    counts, features = ngram_counts(
        [tokenize_all(split["text"]) for split in (train, validation, test)],
        config.max_ngram,
        config.min_df,
    )
    weighting = TfidfTransformer(sublinear_tf=True).fit(counts[0])
    x_train, x_validation, x_test = (weighting.transform(c, copy=False) for c in counts)
    # liblinear, the seed's solver, fits two classes only; for K > 2 lbfgs fits one
    # multinomial model (a softmax over K linear scores), and C is chosen on validation
    # accuracy, the share of rows whose most probable class is the label, as for two.
    solver = "liblinear" if prepared.is_binary else "lbfgs"
    # With far more n-grams than reviews, liblinear's dual form reaches the same optimum
    # (within its tolerance) in about half the time, and less again on larger corpora.
    dual = prepared.is_binary
    best: tuple[float, float, LogisticRegression] | None = None
    for c in config.c_grid:
        candidate = LogisticRegression(C=c, solver=solver, dual=dual, max_iter=1000)
        candidate.fit(x_train, train["label"])
        accuracy = float(candidate.score(x_validation, validation["label"]))
        logger.info("Baseline C=%g: validation accuracy %.4f", c, accuracy)
        if best is None or accuracy > best[0]:
            best = (accuracy, c, candidate)
    assert best is not None  # c_grid has at least one value
    _, best_c, classifier = best
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    probabilities = classifier.predict_proba(x_test)
    probabilities = probabilities[:, 1] if prepared.is_binary else probabilities
    predict_seconds = time.perf_counter() - started
    parameters = int(classifier.coef_.size + classifier.intercept_.size)
    evaluation = _save_scores(
        BASELINE_NAME,
        directory,
        prepared,
        test,
        probabilities,
        parameters=parameters,
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        details={"chosen_c": best_c, "features": features},
    )
    logger.info(
        "Baseline (C=%g, %s features): test accuracy %.4f",
        best_c,
        f"{features:,}",
        evaluation.metrics["accuracy"],
    )
    return evaluation


def train_and_score_nbsvm(
    prepared: PreparedData,
    config: BaselineConfig,
    models_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ModelEvaluation | None:
    """Fit NBSVM on train, pick C and the interpolation weight on validation, score on test.

    Word 1-3 grams of the same cleaned text and tokenizer, binarised, with no vocabulary cap
    and no truncation. The scores are turned into probabilities by Platt scaling on the
    validation split, so ROC-AUC, log loss and calibration mean what they do for the others.
    NBSVM's log-count ratios compare two classes: with more, it is not run (None).
    """
    from imdb_rnn.nbsvm import NgramColumns, fit_nbsvm, ngram_keys, word_ids

    if not prepared.is_binary:
        logger.info(NBSVM_TWO_CLASSES, len(prepared.classes))
        return None
    directory, stored = _folder_and_cache(NBSVM_NAME, NBSVM_FIELDS, prepared, config, models_dir)
    if stored is not None:
        logger.info("Reusing the NBSVM baseline scored in %s", directory)
        return stored

    splits = [
        load_split(prepared, split, ["text", "label", "n_tokens"])
        for split in ("train", "validation", "test")
    ]
    started = time.perf_counter()
    token_ids, base = word_ids([tokenize_all(split["text"]) for split in splits])
    found = [ngram_keys(ids, base, config.nbsvm_max_ngram) for ids in token_ids]
    columns, x_train = NgramColumns.fit(*found[0], len(splits[0]), config.nbsvm_min_df)
    x_validation = columns.transform(*found[1], len(splits[1]))
    model = fit_nbsvm(
        columns,
        (x_train, splits[0]["label"].to_numpy()),
        (x_validation, splits[1]["label"].to_numpy()),
        config.nbsvm_c_grid,
        config.nbsvm_betas,
    )
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    probabilities = model.probabilities(columns.transform(*found[2], len(splits[2])))
    predict_seconds = time.perf_counter() - started
    evaluation = _save_scores(
        NBSVM_NAME,
        directory,
        prepared,
        splits[2],
        probabilities,
        parameters=columns.keys.size + 1,
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        details={"chosen_c": model.c, "chosen_beta": model.beta, "features": columns.keys.size},
    )
    logger.info(
        "NBSVM (C=%g, interpolation %g, %s features, validation accuracy %.4f): "
        "test accuracy %.4f in %.1f s",
        model.c,
        model.beta,
        f"{columns.keys.size:,}",
        model.validation_accuracy,
        evaluation.metrics["accuracy"],
        train_seconds + predict_seconds,
    )
    return evaluation


def _folder_and_cache(
    name: str,
    fields: frozenset[str],
    prepared: PreparedData,
    config: BaselineConfig,
    models_dir: Path,
) -> tuple[Path, ModelEvaluation | None]:
    """A baseline's folder, keyed by the data and its own settings, and its cached scores."""
    fp = sha256_json(
        {
            "version": __version__,
            "data": prepared.fingerprint,
            "config": config.settings_of(fields),
        }
    )[:16]
    directory = models_dir / f"{name}-{fp}"
    stored = read_cached(directory / EVALUATION_FILE, directory / PREDICTIONS_FILE)
    return directory, None if stored is None else ModelEvaluation.from_dict(stored["evaluation"])


def _save_scores(
    name: str,
    directory: Path,
    prepared: PreparedData,
    test: pd.DataFrame,
    probabilities: np.ndarray,
    *,
    parameters: int,
    train_seconds: float,
    predict_seconds: float,
    details: dict,
) -> ModelEvaluation:
    """Save a baseline's test predictions and its scores beside them, as evaluate does."""
    predictions_path = directory / PREDICTIONS_FILE
    labels, lengths = test["label"].to_numpy(), test["n_tokens"].to_numpy()
    save_predictions(predictions_path, labels, probabilities, lengths)
    evaluation = score_predictions(
        name,
        "baseline",
        labels,
        probabilities,
        lengths,
        parameters=parameters,
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        predictions_path=str(predictions_path),
        classes=prepared.classes,
    )
    write_json_atomic(
        directory / EVALUATION_FILE,
        {
            "version": EVALUATION_VERSION,
            "data_fingerprint": prepared.fingerprint,
            **details,
            "evaluation": evaluation.to_dict(),
        },
    )
    return evaluation


TRAINERS = {BASELINE_NAME: train_and_score_baseline, NBSVM_NAME: train_and_score_nbsvm}


@task(name="baseline", task_run_name="baselines")
def train_baselines(
    prepared: PreparedData, config: BaselineConfig, store: DataStore
) -> list[ModelEvaluation]:
    """Train and score each baseline of ``config.models``; none when they are off."""
    if not config.enabled:
        get_run_logger().info("Baselines turned off (--no-baseline)")
        return []
    scored = [
        TRAINERS[name](prepared, config, store.paths.models, get_run_logger())
        for name in config.models
    ]
    return [evaluation for evaluation in scored if evaluation is not None]

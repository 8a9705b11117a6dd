"""TF-IDF + logistic regression: the reference every recurrent model is judged against."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from imdb_rnn import __version__
from imdb_rnn.config import BaselineConfig
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
from imdb_rnn.text import tokenize

log = logging.getLogger(__name__)

BASELINE_NAME = "tfidf_logreg"


def train_and_score_baseline(
    prepared: PreparedData,
    config: BaselineConfig,
    models_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ModelEvaluation:
    """Fit TF-IDF + logistic regression on train, pick C on validation, score on test.

    The same cleaned text and tokenizer as the recurrent models are used, but no
    vocabulary cap and no truncation: that is the baseline's usual strength.
    """
    fp = sha256_json(
        {"version": __version__, "data": prepared.fingerprint, "config": config.model_dump()}
    )[:16]
    directory = models_dir / f"{BASELINE_NAME}-{fp}"
    cache = directory / EVALUATION_FILE
    stored = read_cached(cache, directory / PREDICTIONS_FILE)
    if stored is not None:
        logger.info("Reusing the baseline scored in %s", directory)
        return ModelEvaluation.from_dict(stored["evaluation"])

    columns = ["text", "label", "n_tokens"]
    train, validation, test = (
        load_split(prepared, split, columns) for split in ("train", "validation", "test")
    )
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(1, config.max_ngram),
        min_df=config.min_df,
        sublinear_tf=True,
        dtype=np.float32,
    )
    x_train = vectorizer.fit_transform(train["text"])
    x_validation = vectorizer.transform(validation["text"])
    best: tuple[float, float, LogisticRegression] | None = None
    for c in config.c_grid:
        candidate = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
        candidate.fit(x_train, train["label"])
        accuracy = float(candidate.score(x_validation, validation["label"]))
        logger.info("Baseline C=%g: validation accuracy %.4f", c, accuracy)
        if best is None or accuracy > best[0]:
            best = (accuracy, c, candidate)
    assert best is not None  # c_grid has at least one value
    _, best_c, classifier = best
    train_seconds = time.perf_counter() - started

    x_test = vectorizer.transform(test["text"])
    started = time.perf_counter()
    probabilities = classifier.predict_proba(x_test)[:, 1]
    predict_seconds = time.perf_counter() - started
    parameters = int(classifier.coef_.size + classifier.intercept_.size)
    predictions_path = directory / PREDICTIONS_FILE
    save_predictions(
        predictions_path, test["label"].to_numpy(), probabilities, test["n_tokens"].to_numpy()
    )
    evaluation = score_predictions(
        BASELINE_NAME,
        "baseline",
        test["label"].to_numpy(),
        probabilities,
        test["n_tokens"].to_numpy(),
        parameters=parameters,
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        predictions_path=str(predictions_path),
    )
    write_json_atomic(
        cache,
        {
            "version": EVALUATION_VERSION,
            "data_fingerprint": prepared.fingerprint,
            "chosen_c": best_c,
            "features": len(vectorizer.vocabulary_),
            "evaluation": evaluation.to_dict(),
        },
    )
    logger.info(
        "Baseline (C=%g, %s features): test accuracy %.4f",
        best_c,
        f"{len(vectorizer.vocabulary_):,}",
        evaluation.metrics["accuracy"],
    )
    return evaluation


@task(name="baseline", task_run_name="baseline-tfidf-logreg")
def train_baselines(
    prepared: PreparedData, config: BaselineConfig, store: DataStore
) -> list[ModelEvaluation]:
    """Train and score the TF-IDF + logistic regression reference; none when it is off."""
    if not config.enabled:
        get_run_logger().info("Baseline turned off (--no-baseline)")
        return []
    return [train_and_score_baseline(prepared, config, store.paths.models, get_run_logger())]

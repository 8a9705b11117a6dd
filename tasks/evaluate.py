"""Score a trained model on the test split with scikit-learn metrics."""

from __future__ import annotations

import logging
import time

from prefect import get_run_logger, task

from imdb_rnn.evaluation import (
    EVALUATION_FILE,
    EVALUATION_VERSION,
    PREDICTIONS_FILE,
    ModelEvaluation,
    failed_evaluation,
    named_for,
    read_cached,
    save_predictions,
    score_predictions,
)
from imdb_rnn.files import write_json_atomic
from imdb_rnn.prepared import PreparedData, load_arrays, local_prepared
from imdb_rnn.storage import DataStore
from imdb_rnn.trained import TrainedModel, local_model

log = logging.getLogger(__name__)


def evaluate_trained_model(
    trained: TrainedModel,
    prepared: PreparedData,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ModelEvaluation:
    """Predict the test split with a saved model and score it.

    The result is kept beside the model, keyed by the test data's fingerprint, so scoring
    the same model on the same data again costs nothing.
    """
    if trained.failure:
        return failed_evaluation(trained, prepared.classes)
    cache = trained.directory / EVALUATION_FILE
    stored = read_cached(cache, trained.directory / PREDICTIONS_FILE) if trained.reused else None
    if stored is not None and stored.get("data_fingerprint") == prepared.fingerprint:
        logger.info("Reusing the test scores of %s", trained.name)
        return named_for(ModelEvaluation.from_dict(stored["evaluation"]), trained)

    from rnn_models.inference import predict_probabilities
    from rnn_models.optimizers import load_model  # knows the optimizer the model was saved with

    # Each model gets its own predict function; TF's "retracing" warning about that is noise.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    model = load_model(trained.model_path)
    x_test, y_test, lengths = load_arrays(prepared, "test")
    started = time.perf_counter()
    probabilities = predict_probabilities(model, x_test)
    predict_seconds = time.perf_counter() - started
    predictions_path = trained.directory / PREDICTIONS_FILE
    save_predictions(predictions_path, y_test, probabilities, lengths)
    evaluation = score_predictions(
        trained.architecture,
        "rnn",
        y_test,
        probabilities,
        lengths,
        parameters=trained.parameters,
        train_seconds=trained.train_seconds,
        predict_seconds=predict_seconds,
        epochs=trained.epochs,
        history=trained.history,
        model_path=str(trained.model_path),
        predictions_path=str(predictions_path),
        classes=prepared.classes,
    )
    evaluation = named_for(evaluation, trained)
    write_json_atomic(
        cache,
        {
            "version": EVALUATION_VERSION,
            "data_fingerprint": prepared.fingerprint,
            "evaluation": evaluation.to_dict(),
        },
    )
    logger.info(
        "%s: test accuracy %.4f, ROC-AUC %.4f, %s reviews/s",
        trained.name,
        evaluation.metrics["accuracy"],
        evaluation.metrics["roc_auc"],
        f"{evaluation.reviews_per_second:,.0f}",
    )
    return evaluation


@task(name="evaluate", task_run_name="evaluate-{trained.name}")
def evaluate(trained: TrainedModel, prepared: PreparedData, store: DataStore) -> ModelEvaluation:
    """Score one trained model on the test split, wherever the task runner puts it.

    The scores and predictions are saved beside the model and published with it.
    """
    trained = local_model(trained, store)
    evaluation = evaluate_trained_model(trained, local_prepared(prepared, store), get_run_logger())
    if not trained.failure:
        store.publish(trained.directory)
    return evaluation

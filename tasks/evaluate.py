"""Score a model on the test split with scikit-learn metrics."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from sklearn import metrics as skm

from imdb_rnn.files import atomic_path, write_json_atomic
from imdb_rnn.storage import DataStore
from tasks.prepare import PreparedData, load_arrays, local_prepared
from tasks.train import TrainedModel, local_model

log = logging.getLogger(__name__)

# Buckets of review length (tokens before padding). With maxlen 200, the last two hold
# reviews whose beginnings the model never saw: the seed notes' "short memory" question.
LENGTH_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("<=100", 0, 100),
    ("101-200", 101, 200),
    ("201-400", 201, 400),
    (">400", 401, math.inf),
)
PREDICT_BATCH_SIZE = 1024
METRIC_NAMES = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "mcc",
)
# Bump when what evaluation.json holds changes, so cached evaluations are recomputed.
EVALUATION_VERSION = 2
PREDICTIONS_FILE = "predictions.parquet"


@dataclass(frozen=True)
class ModelEvaluation:
    """Everything the report shows about one model."""

    model: str
    kind: str  # "rnn" or "baseline"
    metrics: dict[str, float]
    confusion: dict[str, int]
    length_buckets: list[dict[str, float | int | str]]
    parameters: int
    train_seconds: float
    predict_seconds: float
    reviews_per_second: float
    epochs: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    model_path: str = ""
    predictions_path: str = ""
    failure: str = ""  # why this model has no scores; empty when it was scored
    architecture: str = ""  # the registry name; empty for the baseline
    seed: int | None = None
    trained_on: str = ""  # host/pid of the process that trained the model

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelEvaluation:
        return cls(**data)


def classification_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
) -> tuple[dict[str, float], dict[str, int]]:
    """Threshold and ranking metrics, and the confusion counts, as plain Python numbers."""
    y_true = np.asarray(y_true).astype(int)
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    y_pred = (probabilities >= threshold).astype(int)
    both_classes = len(np.unique(y_true)) == 2
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    values = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y_true, probabilities) if both_classes else math.nan,
        "average_precision": (
            skm.average_precision_score(y_true, probabilities) if both_classes else math.nan
        ),
        "log_loss": skm.log_loss(y_true, probabilities, labels=[0, 1]),
        "mcc": skm.matthews_corrcoef(y_true, y_pred),
    }
    confusion = {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}
    return {name: float(value) for name, value in values.items()}, confusion


def accuracy_by_length(
    y_true: np.ndarray, y_pred: np.ndarray, n_tokens: np.ndarray
) -> list[dict[str, float | int | str]]:
    """Accuracy per bucket of review length; a bucket with no reviews has accuracy NaN."""
    y_true, y_pred, n_tokens = map(np.asarray, (y_true, y_pred, n_tokens))
    rows: list[dict[str, float | int | str]] = []
    for name, low, high in LENGTH_BUCKETS:
        inside = (n_tokens >= low) & (n_tokens <= high)
        count = int(inside.sum())
        accuracy = float((y_true[inside] == y_pred[inside]).mean()) if count else math.nan
        rows.append({"bucket": name, "reviews": count, "accuracy": accuracy})
    return rows


def score_predictions(
    name: str,
    kind: str,
    y_true: np.ndarray,
    probabilities: np.ndarray,
    n_tokens: np.ndarray,
    *,
    parameters: int,
    train_seconds: float,
    predict_seconds: float,
    epochs: int = 0,
    history: dict[str, list[float]] | None = None,
    model_path: str = "",
    predictions_path: str = "",
) -> ModelEvaluation:
    metric_values, confusion = classification_metrics(y_true, probabilities)
    y_pred = (np.asarray(probabilities) >= 0.5).astype(int)
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics=metric_values,
        confusion=confusion,
        length_buckets=accuracy_by_length(y_true, y_pred, n_tokens),
        parameters=int(parameters),
        train_seconds=round(float(train_seconds), 3),
        predict_seconds=round(float(predict_seconds), 3),
        reviews_per_second=round(len(y_true) / max(predict_seconds, 1e-9), 1),
        epochs=int(epochs),
        history=history or {},
        model_path=model_path,
        predictions_path=predictions_path,
    )


def save_predictions(
    path: Path, y_true: np.ndarray, probabilities: np.ndarray, n_tokens: np.ndarray
) -> None:
    """Keep the test-set scores so curves and later analyses need no second prediction."""
    table = pa.table(
        {
            "label": pa.array(np.asarray(y_true, dtype=np.int8)),
            "probability": pa.array(np.asarray(probabilities, dtype=np.float32)),
            "n_tokens": pa.array(np.asarray(n_tokens, dtype=np.int32)),
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def load_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, probabilities, n_tokens)`` saved by ``save_predictions``."""
    table = pq.read_table(path)
    return (
        table.column("label").to_numpy(),
        table.column("probability").to_numpy(),
        table.column("n_tokens").to_numpy(),
    )


def failed_evaluation(trained: TrainedModel) -> ModelEvaluation:
    """The row of a model whose training failed: no scores, and the reason."""
    return ModelEvaluation(
        model=trained.name,
        kind="rnn",
        metrics={name: math.nan for name in METRIC_NAMES},
        confusion={"tn": 0, "fp": 0, "fn": 0, "tp": 0},
        length_buckets=[
            {"bucket": name, "reviews": 0, "accuracy": math.nan} for name, _, _ in LENGTH_BUCKETS
        ],
        parameters=trained.parameters,
        train_seconds=round(trained.train_seconds, 3),
        predict_seconds=0.0,
        reviews_per_second=0.0,
        epochs=trained.epochs,
        history=trained.history,
        failure=trained.failure,
        architecture=trained.architecture,
        seed=trained.seed,
        trained_on=trained.worker,
    )


def _named_for(evaluation: ModelEvaluation, trained: TrainedModel) -> ModelEvaluation:
    """The evaluation under the name this run gives the model (a seed suffix or none)."""
    return replace(
        evaluation,
        model=trained.name,
        architecture=trained.architecture,
        seed=trained.seed,
        trained_on=trained.worker,
    )


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
        return failed_evaluation(trained)
    cache = trained.directory / "evaluation.json"
    if cache.is_file() and trained.reused:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if (
            stored.get("data_fingerprint") == prepared.fingerprint
            and stored.get("version") == EVALUATION_VERSION
            and (trained.directory / PREDICTIONS_FILE).is_file()
        ):
            logger.info("Reusing the test scores of %s", trained.name)
            return _named_for(ModelEvaluation.from_dict(stored["evaluation"]), trained)

    from rnn_models.optimizers import load_model  # knows the optimizer the model was saved with
    from rnn_models.runtime import predict_probabilities

    # Each model gets its own predict function; TF's "retracing" warning about that is noise.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    model = load_model(trained.model_path)
    x_test, y_test, lengths = load_arrays(prepared, "test")
    started = time.perf_counter()
    probabilities = predict_probabilities(model, x_test, PREDICT_BATCH_SIZE)
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
    )
    evaluation = _named_for(evaluation, trained)
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


def with_local_files(evaluation: ModelEvaluation, trained: TrainedModel) -> ModelEvaluation:
    """``evaluation`` naming the files of ``trained`` (already in this process's copy)."""
    if not evaluation.model_path:
        return evaluation
    return replace(
        evaluation,
        model_path=str(trained.model_path),
        predictions_path=str(trained.directory / PREDICTIONS_FILE),
    )


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

"""What evaluation produces: a model's scores on the test split, and how they are computed.

``ModelEvaluation`` is the record every later step reads (the champion, the claims, the
history and the report). The metrics are scikit-learn's, on the saved test predictions
(``predictions.parquet`` beside the model), so curves and later analyses need no second
prediction.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn import metrics as skm

from imdb_rnn.calibration import brier_score, expected_calibration_error
from imdb_rnn.files import atomic_path
from imdb_rnn.trained import TrainedModel

# Buckets of review length (tokens before padding). With maxlen 200, the last two hold
# reviews whose beginnings the model never saw: the seed notes' "short memory" question.
LENGTH_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("<=100", 0, 100),
    ("101-200", 101, 200),
    ("201-400", 201, 400),
    (">400", 401, math.inf),
)
METRIC_NAMES = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "mcc",
    "brier",
    "ece",
)
# Bump when what evaluation.json holds changes, so cached evaluations are recomputed.
EVALUATION_VERSION = 3
PREDICTIONS_FILE = "predictions.parquet"
EVALUATION_FILE = "evaluation.json"


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
    """Threshold, ranking and calibration metrics, and the confusion counts, as plain numbers."""
    y_true = np.asarray(y_true).astype(int)
    calibration = {
        "brier": brier_score(y_true, probabilities),
        "ece": expected_calibration_error(y_true, probabilities),
    }
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
        **calibration,
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


Predictions = dict[str, tuple[np.ndarray, np.ndarray]]  # model -> (labels, probabilities)


def load_all_predictions(evaluations: list[ModelEvaluation]) -> Predictions:
    """Each scored model's saved test scores; models without a file (failed) are left out."""
    found: Predictions = {}
    for evaluation in evaluations:
        if evaluation.predictions_path:
            labels, probabilities, _ = load_predictions(evaluation.predictions_path)
            found[evaluation.model] = (labels, probabilities)
    return found


def read_cached(cache: Path, predictions: Path) -> dict | None:
    """A stored ``evaluation.json`` record, brought up to this version; None when unusable.

    A record of version 2 lacks only the calibration metrics, which the saved predictions
    give, so upgrading the package does not retrain the baseline or predict again.
    """
    if not (cache.is_file() and predictions.is_file()):
        return None
    stored = json.loads(cache.read_text(encoding="utf-8"))
    if stored.get("version") == 2:
        labels, probabilities, _ = load_predictions(predictions)
        added, _ = classification_metrics(labels, probabilities)
        metrics = stored["evaluation"]["metrics"]
        metrics.update({name: added[name] for name in METRIC_NAMES if name not in metrics})
        stored["version"] = EVALUATION_VERSION
    return stored if stored.get("version") == EVALUATION_VERSION else None


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


def named_for(evaluation: ModelEvaluation, trained: TrainedModel) -> ModelEvaluation:
    """The evaluation under the name this run gives the model (a seed suffix or none)."""
    return replace(
        evaluation,
        model=trained.name,
        architecture=trained.architecture,
        seed=trained.seed,
        trained_on=trained.worker,
    )


def with_local_files(evaluation: ModelEvaluation, trained: TrainedModel) -> ModelEvaluation:
    """``evaluation`` naming the files of ``trained`` (already in this process's copy)."""
    if not evaluation.model_path:
        return evaluation
    return replace(
        evaluation,
        model_path=str(trained.model_path),
        predictions_path=str(trained.directory / PREDICTIONS_FILE),
    )


@dataclass(frozen=True)
class TrainedAndScored:
    """The recurrent models of a run, and their evaluations in the same order."""

    trained: list[TrainedModel]
    evaluations: list[ModelEvaluation]
    seconds: float  # wall time of all the trainings and evaluations, however parallel

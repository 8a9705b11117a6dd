"""What evaluation produces: a model's scores on the test split, and how they are computed.

``ModelEvaluation`` is the record every later step reads (the champion, the claims, the
history and the report). The metrics are scikit-learn's, on the saved test predictions
(``predictions.parquet`` beside the model), so curves and later analyses need no second
prediction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
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
# K > 2 classes also report these; their precision, recall, F1, ROC-AUC and average
# precision are the macro averages (one-vs-rest for the ranking metrics).
MULTICLASS_METRIC_NAMES = ("weighted_precision", "weighted_recall", "weighted_f1")
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
    classes: list[str] = field(default_factory=list)  # empty in records older than classes
    # Rows are the true classes, columns the predicted ones (binary: [[tn, fp], [fn, tp]]).
    confusion_matrix: list[list[int]] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return self.classes or ["neg", "pos"]

    @property
    def is_binary(self) -> bool:
        return len(self.class_names) == 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelEvaluation:
        return cls(**data)


def metric_names(classes: int) -> tuple[str, ...]:
    """The metrics a model of ``classes`` classes is scored on."""
    return METRIC_NAMES if classes == 2 else (*METRIC_NAMES, *MULTICLASS_METRIC_NAMES)


def class_count(probabilities: np.ndarray) -> int:
    """Two for one probability per row (of the second class), K for rows of K."""
    return 2 if np.ndim(probabilities) == 1 else int(np.shape(probabilities)[1])


def predicted_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Each row's predicted class id: over ``threshold`` for one probability per row, the
    most probable class for rows of K."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2:
        return probabilities.argmax(axis=1)
    return (probabilities >= threshold).astype(int)


def normalised(probabilities: np.ndarray) -> np.ndarray:
    """K-class rows clipped as the binary log loss clips, summing to 1 in float64 (a float32
    softmax is a few ulps off): for the log loss only, so that tied scores stay tied."""
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)


def confusion_matrix_of(y_true: np.ndarray, probabilities: np.ndarray) -> list[list[int]]:
    """Rows true class, columns predicted class, over every class the model knows."""
    labels = list(range(class_count(probabilities)))
    matrix = skm.confusion_matrix(
        np.asarray(y_true).astype(int), predicted_classes(probabilities), labels=labels
    )
    return matrix.astype(int).tolist()


def _one_vs_rest(y_true: np.ndarray, probabilities: np.ndarray, score) -> float:
    """The mean over the classes (that test has, with other classes beside) of a binary
    ranking metric of that class against the rest."""
    values = [
        score(y_true == k, probabilities[:, k])
        for k in range(probabilities.shape[1])
        if 0 < np.count_nonzero(y_true == k) < len(y_true)
    ]
    return float(np.mean(values)) if values else math.nan


def roc_auc(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    """ROC-AUC of one probability per row, or the macro one-vs-rest ROC-AUC of rows of K;
    NaN when test holds a single class."""
    y_true = np.asarray(y_true).astype(int)
    if np.ndim(probabilities) == 2:
        return _one_vs_rest(y_true, np.asarray(probabilities, np.float64), skm.roc_auc_score)
    if len(np.unique(y_true)) < 2:
        return math.nan
    return float(skm.roc_auc_score(y_true, probabilities))


def multiclass_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The metrics of ``METRIC_NAMES`` for K classes (macro where the binary one has a
    positive class), and the weighted precision, recall and F1. A class test lacks still
    counts in the macro averages (precision and recall 0, as scikit-learn's labels= does)."""
    y_true = np.asarray(y_true).astype(int)
    p = np.asarray(probabilities, dtype=np.float64)
    labels = list(range(p.shape[1]))
    y_pred = p.argmax(axis=1)

    def averaged(average: str) -> tuple[float, float, float]:
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        return float(precision), float(recall), float(f1)

    macro, weighted = averaged("macro"), averaged("weighted")
    values = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": macro[0],
        "recall": macro[1],
        "f1": macro[2],
        "roc_auc": roc_auc(y_true, p),
        "average_precision": _one_vs_rest(y_true, p, skm.average_precision_score),
        "log_loss": skm.log_loss(y_true, normalised(p), labels=labels),
        "mcc": skm.matthews_corrcoef(y_true, y_pred),
        "brier": brier_score(y_true, p),
        "ece": expected_calibration_error(y_true, p),
        "weighted_precision": weighted[0],
        "weighted_recall": weighted[1],
        "weighted_f1": weighted[2],
    }
    return {name: float(value) for name, value in values.items()}


def classification_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
) -> tuple[dict[str, float], dict[str, int]]:
    """Threshold, ranking and calibration metrics, and the confusion counts, as plain numbers.

    For K > 2 classes (rows of K probabilities) see ``multiclass_metrics``; their confusion
    counts are the matrix of ``confusion_matrix_of`` alone, so the dict is empty.
    """
    if np.ndim(probabilities) == 2:
        return multiclass_metrics(y_true, probabilities), {}
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
    classes: Sequence[str] | None = None,
) -> ModelEvaluation:
    metric_values, confusion = classification_metrics(y_true, probabilities)
    y_pred = predicted_classes(probabilities)
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
        classes=list(classes) if classes is not None else [],
        confusion_matrix=confusion_matrix_of(y_true, probabilities),
    )


def save_predictions(
    path: Path, y_true: np.ndarray, probabilities: np.ndarray, n_tokens: np.ndarray
) -> None:
    """Keep the test-set scores so curves and later analyses need no second prediction.

    K-class rows are kept whole (``probabilities``), beside the chosen class's probability.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    columns = {
        "label": pa.array(np.asarray(y_true, dtype=np.int8)),
        "probability": pa.array(
            probabilities.max(axis=1) if probabilities.ndim == 2 else probabilities
        ),
    }
    if probabilities.ndim == 2:
        columns["probabilities"] = pa.FixedSizeListArray.from_arrays(
            pa.array(probabilities.reshape(-1)), probabilities.shape[1]
        )
    columns["n_tokens"] = pa.array(np.asarray(n_tokens, dtype=np.int32))
    table = pa.table(columns)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def load_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, probabilities, n_tokens)`` saved by ``save_predictions``; K-class
    probabilities come back as rows of K."""
    table = pq.read_table(path)
    if "probabilities" in table.column_names:
        rows = table.column("probabilities").combine_chunks()
        flat = rows.flatten().to_numpy(zero_copy_only=False)  # flatten heeds a slice's offset
        probabilities = flat.reshape(len(rows), rows.type.list_size)
    else:
        probabilities = table.column("probability").to_numpy()
    return table.column("label").to_numpy(), probabilities, table.column("n_tokens").to_numpy()


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


def failed_evaluation(
    trained: TrainedModel, classes: Sequence[str] | None = None
) -> ModelEvaluation:
    """The row of a model whose training failed: no scores, and the reason."""
    count = 2 if classes is None else len(classes)
    return ModelEvaluation(
        model=trained.name,
        kind="rnn",
        metrics={name: math.nan for name in metric_names(count)},
        confusion={"tn": 0, "fp": 0, "fn": 0, "tp": 0} if count == 2 else {},
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
        classes=list(classes) if classes is not None else [],
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

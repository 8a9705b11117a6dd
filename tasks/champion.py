"""Champion/challenger: a retrain replaces the model in service only when it is better.

The run's best recurrent model (the challenger) and the champion are scored on this run's
test data; the challenger is promoted when it is better by more than the configured margin,
or, with ``min_improvement="significant"``, when a paired test says it is better.
How the champion's folder is written and swapped is ``imdb_rnn.champion``.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from prefect import get_run_logger, task

from imdb_rnn.champion import (
    ChampionDecision,
    judge,
    load_champion,
    read_champion,
    swap_link,
    write_champion_folder,
)
from imdb_rnn.config import ChampionConfig, ReportConfig
from imdb_rnn.evaluation import (
    EVALUATION_FILE,
    PREDICTIONS_FILE,
    ModelEvaluation,
    classification_metrics,
    load_predictions,
    read_cached,
)
from imdb_rnn.paths import DataPaths
from imdb_rnn.prepared import BINARY_CLASSES, PreparedData, load_split
from imdb_rnn.storage import DataStore
from imdb_rnn.text import VOCABULARY_FILE, tokenize_all

log = logging.getLogger(__name__)


def score_champion(
    champion_dir: Path,
    prepared: PreparedData,
    metric: str,
    evaluations: list[ModelEvaluation],
    models_dir: Path,
) -> tuple[float, np.ndarray]:
    """The champion's score on this run's test split, and its probabilities, in test order.

    When the champion is one of this run's models on the same prepared data, or was scored
    on this very data by an earlier run (its folder keeps the scores), both are already
    known. Otherwise the champion encodes the current test reviews with its own
    vocabulary and padding, exactly as it would in service, and predicts them.
    """
    record = read_champion(champion_dir) or {}
    same_data = record.get("data_fingerprint") == prepared.fingerprint
    for evaluation in evaluations:
        same_model = Path(evaluation.model_path).parent.name == record.get("model_folder")
        if same_model and same_data:
            probabilities = load_predictions(evaluation.predictions_path)[1]
            return float(evaluation.metrics[metric]), probabilities
    # A champion of an earlier run on the same data: its folder still holds those scores.
    model_folder = models_dir / record.get("model_folder", "")
    stored = read_cached(model_folder / EVALUATION_FILE, model_folder / PREDICTIONS_FILE)
    if same_data and stored is not None and stored.get("data_fingerprint") == prepared.fingerprint:
        probabilities = load_predictions(model_folder / PREDICTIONS_FILE)[1]
        return float(stored["evaluation"]["metrics"][metric]), probabilities

    champion = load_champion(champion_dir)
    test = load_split(prepared, "test", ["text", "label"])
    probabilities = champion.probabilities(tokenize_all(test["text"]))
    values, _ = classification_metrics(test["label"].to_numpy(), probabilities)
    return float(values[metric]), probabilities


def promote(
    run_id: str,
    challenger: ModelEvaluation,
    prepared: PreparedData,
    paths: DataPaths,
) -> Path:
    """Write the challenger's champion folder, then point ``models/champion`` at it."""
    model_dir = Path(challenger.model_path).parent
    target = paths.champions / f"{run_id}-{challenger.model}"
    write_champion_folder(
        target,
        model_dir,
        prepared.directory / VOCABULARY_FILE,
        {
            "run_id": run_id,
            "architecture": challenger.model,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "metrics": challenger.metrics,
            "model_folder": model_dir.name,
            "data_fingerprint": prepared.fingerprint,
            "source_sha256": prepared.source_sha256,
            "preprocess": prepared.preprocess.model_dump(mode="json"),
            "classes": list(prepared.classes),
        },
    )
    swap_link(paths.champion, target)
    return target


def _finite(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def decide_and_promote(
    run_id: str,
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    config: ChampionConfig,
    paths: DataPaths,
    report: ReportConfig = ReportConfig(),  # noqa: B008 - frozen, so a shared default is safe
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ChampionDecision:
    """Compare this run's best recurrent model with the champion; promote it if better.

    Only recurrent models can become champion: the TF-IDF baseline is the yardstick, not a
    model in service. Runs that decide at the same time take turns through a file lock.
    With K > 2 classes the metric is evaluation's K-class one (ROC-AUC and average
    precision: the mean over the classes of each class against the rest; F1: macro; MCC:
    multi-class), and McNemar's test reads the chosen class. A champion of other classes
    than this data's is not compared with: the challenger replaces it, and the reason says
    so.
    """
    metric = config.metric
    candidates = [e for e in evaluations if e.kind == "rnn" and e.model_path and not e.failure]
    if not config.enabled or not candidates:
        current = read_champion(paths.champion)
        return ChampionDecision(
            metric,
            None,
            None,
            _describe(current),
            None,
            config.min_improvement,
            False,
            current["directory"] if current else None,
            skipped="Champion step off."
            if not config.enabled
            else "No recurrent model to promote.",
        )

    challenger = max(candidates, key=lambda e: _finite(e.metrics[metric]))
    labels, challenger_probabilities, _ = load_predictions(challenger.predictions_path)
    paths.models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(paths.models / ".champion.lock")):
        current = read_champion(paths.champion)
        verdict = None
        other_classes = current is not None and _classes_of(current) != list(prepared.classes)
        replaced = ""
        if other_classes:
            # Nothing to compare on: the data folder now serves this data's classes.
            replaced = (
                f"Promoted {challenger.model} without a comparison: the champion in service, "
                f"{_describe(current)}, labels other classes "
                f"({', '.join(_classes_of(current))}). Keep each dataset in its own "
                "--data-dir to keep both."
            )
            logger.warning(replaced)
        elif current is not None:
            champion_score, champion_probabilities = score_champion(
                Path(current["directory"]), prepared, metric, evaluations, paths.models
            )
            verdict = judge(
                labels,
                challenger_probabilities,
                champion_probabilities,
                (float(challenger.metrics[metric]), champion_score),
                metric,
                config.min_improvement,
                report.bootstrap,
                report.confidence,
                report.bootstrap_seed,
            )
        promoted = verdict is None or verdict.better
        # Not promoted implies a champion exists, so its folder stays in service.
        in_service = (
            str(promote(run_id, challenger, prepared, paths)) if promoted else current["directory"]
        )
    decision = ChampionDecision(
        metric,
        challenger.model,
        float(challenger.metrics[metric]),
        _describe(current),
        None if verdict is None else verdict.champion_score,
        config.min_improvement,
        promoted,
        in_service,
        difference_interval=None if verdict is None else verdict.difference_interval,
        accuracy_p_value=None if verdict is None else verdict.accuracy_p_value,
        confidence=report.confidence,
        skipped=replaced,
    )
    logger.info(decision.reason)
    return decision


def _classes_of(record: dict[str, Any]) -> list[str]:
    return list(record.get("classes", BINARY_CLASSES))


def _describe(record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    return f"{record['architecture']} from run {record['run_id']}"


@task(name="champion", task_run_name="champion-vs-challenger")
def crown_champion(
    run_id: str,
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    config: ChampionConfig,
    report: ReportConfig,
    store: DataStore,
) -> ChampionDecision:
    """Promote the run's best recurrent model if it beats the model in service."""
    return decide_and_promote(
        run_id, evaluations, prepared, config, store.paths, report, get_run_logger()
    )

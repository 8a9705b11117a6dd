"""Weigh the evidence: intervals, pairwise verdicts, calibration and readable mistakes.

Runs on the test predictions every model saved, so it needs no model and no TensorFlow.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from prefect import get_run_logger, task

from imdb_rnn.calibration import reliability_curve
from imdb_rnn.config import ReportConfig
from imdb_rnn.evaluation import ModelEvaluation, TrainedAndScored, load_all_predictions
from imdb_rnn.evidence import Evidence, Scored, weigh_evidence
from imdb_rnn.mistakes import disagreements, most_confident_errors
from imdb_rnn.prepared import PreparedData, load_split
from imdb_rnn.reporting.tables import best_by

log = logging.getLogger(__name__)


def gather_evidence(
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    config: ReportConfig,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> Evidence:
    """Everything the report needs to say which differences are real, and to show mistakes."""
    started = time.perf_counter()
    predictions = load_all_predictions(evaluations)
    models = [
        Scored(e.model, e.kind, float(e.metrics["accuracy"]), e.architecture, e.seed)
        for e in evaluations
        if e.model in predictions
    ]
    evidence = weigh_evidence(
        models, predictions, config.bootstrap, config.confidence, config.bootstrap_seed
    )
    calibration = {
        name: reliability_curve(labels, probabilities)
        for name, (labels, probabilities) in predictions.items()
    }
    mistakes: dict[str, list] = {}
    disagreeing: list[dict] = []
    if predictions and config.error_examples:
        texts = load_split(prepared, "test", ["text"])["text"].tolist()
        mistakes = {
            name: most_confident_errors(
                labels, probabilities, texts, config.error_examples, prepared.classes
            )
            for name, (labels, probabilities) in predictions.items()
        }
        recurrent = [e for e in evaluations if e.kind == "rnn" and e.model in predictions]
        best_rnn = best_by(recurrent).model if recurrent else None
        for baseline in (e for e in evaluations if e.kind == "baseline" and e.model in predictions):
            for model in recurrent:
                labels = predictions[model.model][0]
                disagreeing.append(
                    disagreements(
                        labels,
                        (model.model, predictions[model.model][1]),
                        (baseline.model, predictions[baseline.model][1]),
                        texts,
                        # Examples for the best recurrent model only; counts for every one.
                        2 if model.model == best_rnn else 0,
                        prepared.classes,
                    )
                )
    evidence = replace(
        evidence,
        calibration=calibration,
        confident_errors=mistakes,
        disagreements=disagreeing,
        seconds=round(time.perf_counter() - started, 3),
    )
    for sentence in evidence.headline:
        logger.info(sentence)
    return evidence


@task(name="evidence", task_run_name="intervals-and-verdicts")
def weigh(
    recurrent: TrainedAndScored,
    baselines: list[ModelEvaluation],
    prepared: PreparedData,
    config: ReportConfig,
) -> Evidence:
    """Intervals for every metric, pairwise verdicts, calibration, and readable mistakes."""
    return gather_evidence([*recurrent.evaluations, *baselines], prepared, config, get_run_logger())

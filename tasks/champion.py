"""Champion/challenger: a retrain replaces the model in service only when it is better.

The champion is ``models/champion``, a symbolic link to one immutable folder under
``models/champions/`` holding ``model.keras``, ``vocab.json`` and ``champion.json``
(preprocessing parameters, metrics, run id). Promotion writes the new folder completely,
then swaps the link with one ``os.replace``: a crash at any point leaves the previous
champion in service, byte for byte.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from prefect import get_run_logger, task

from imdb_rnn.config import ChampionConfig
from imdb_rnn.errors import DataContractError
from imdb_rnn.files import atomic_directory, write_json_atomic
from imdb_rnn.paths import CHAMPION_FILE, DataPaths
from tasks.evaluate import PREDICT_BATCH_SIZE, ModelEvaluation, classification_metrics
from tasks.prepare import PreparedData, SequenceEncoder, load_split, tokenize_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChampionDecision:
    """What the comparison with the model in service concluded."""

    metric: str
    challenger: str | None
    challenger_score: float | None
    champion: str | None  # "<architecture> from run <run id>" of the model in service before
    champion_score: float | None
    min_improvement: float
    promoted: bool
    champion_dir: str | None  # the folder in service after the decision
    skipped: str = ""  # why no comparison was made; empty when one was

    @property
    def reason(self) -> str:
        """The decision in one sentence, with both scores."""
        if self.skipped or self.challenger is None or self.challenger_score is None:
            return self.skipped
        challenger, score, margin = self.challenger, self.challenger_score, self.min_improvement
        if self.champion is None or self.champion_score is None:
            return f"Promoted {challenger} ({self.metric} {score:.4f}): there was no champion yet."
        gain = score - self.champion_score
        if self.promoted:
            return (
                f"Promoted {challenger}: {self.metric} {score:.4f} beats the champion "
                f"{self.champion} at {self.champion_score:.4f} by {gain:+.4f} "
                f"(needed more than {margin:.4f})."
            )
        return (
            f"Kept the champion {self.champion}: {self.metric} {self.champion_score:.4f} on this "
            f"test data; the best challenger, {challenger}, scored {score:.4f} ({gain:+.4f}, "
            f"needed more than {margin:.4f})."
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reason": self.reason}


def read_champion(champion_link: Path) -> dict[str, Any] | None:
    """The champion's record, or None when no model has been promoted yet."""
    record_path = champion_link / CHAMPION_FILE
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["directory"] = str(champion_link.resolve())
    return record


def score_champion(
    champion_dir: Path, prepared: PreparedData, metric: str, evaluations: list[ModelEvaluation]
) -> float:
    """Score the champion on this run's test split.

    When the champion is one of this run's models on the same prepared data, its score is
    already known. Otherwise the champion encodes the current test reviews with its own
    vocabulary and padding, exactly as it would in service, and predicts them.
    """
    record = json.loads((champion_dir / CHAMPION_FILE).read_text(encoding="utf-8"))
    for evaluation in evaluations:
        same_model = Path(evaluation.model_path).parent.name == record.get("model_folder")
        if same_model and record.get("data_fingerprint") == prepared.fingerprint:
            return float(evaluation.metrics[metric])

    from rnn_models.optimizers import load_model  # knows the optimizer the model was saved with
    from rnn_models.runtime import predict_probabilities

    encoder = SequenceEncoder.load(champion_dir, CHAMPION_FILE)
    test = load_split(prepared, "test", ["text", "label"])
    tokens, _ = encoder.encode_tokens(tokenize_all(test["text"]))
    model = load_model(champion_dir / "model.keras")
    probabilities = predict_probabilities(model, tokens, PREDICT_BATCH_SIZE)
    values, _ = classification_metrics(test["label"].to_numpy(), probabilities)
    return float(values[metric])


def promote(
    run_id: str,
    challenger: ModelEvaluation,
    prepared: PreparedData,
    paths: DataPaths,
) -> Path:
    """Write the challenger's champion folder, then point ``models/champion`` at it."""
    model_dir = Path(challenger.model_path).parent
    target = paths.champions / f"{run_id}-{challenger.model}"
    with atomic_directory(target, replace=True) as staging:
        shutil.copy2(model_dir / "model.keras", staging / "model.keras")
        shutil.copy2(prepared.directory / "vocab.json", staging / "vocab.json")
        write_json_atomic(
            staging / CHAMPION_FILE,
            {
                "run_id": run_id,
                "architecture": challenger.model,
                "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "metrics": challenger.metrics,
                "model_folder": model_dir.name,
                "data_fingerprint": prepared.fingerprint,
                "source_sha256": prepared.source_sha256,
                "preprocess": prepared.preprocess.model_dump(mode="json"),
            },
        )
    swap_link(paths.champion, target)
    return target


def swap_link(link: Path, target: Path) -> None:
    """Atomically make ``link`` a relative symbolic link to ``target``."""
    if link.exists() and not link.is_symlink():
        raise DataContractError(
            f"{link} is a real folder, not the link this pipeline manages; move it away"
        )
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), temporary, target_is_directory=True)
    try:
        os.replace(temporary, link)
    finally:
        temporary.unlink(missing_ok=True)


def _finite(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def decide_and_promote(
    run_id: str,
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    config: ChampionConfig,
    paths: DataPaths,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ChampionDecision:
    """Compare this run's best recurrent model with the champion; promote it if better.

    Only recurrent models can become champion: the TF-IDF baseline is the yardstick, not a
    model in service. Runs that decide at the same time take turns through a file lock.
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
    challenger_score = float(challenger.metrics[metric])
    paths.models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(paths.models / ".champion.lock")):
        current = read_champion(paths.champion)
        champion_score = (
            None
            if current is None
            else score_champion(Path(current["directory"]), prepared, metric, evaluations)
        )
        promoted = (
            champion_score is None or challenger_score - champion_score > config.min_improvement
        )
        # Not promoted implies a champion exists, so its folder stays in service.
        in_service = (
            str(promote(run_id, challenger, prepared, paths)) if promoted else current["directory"]
        )
    decision = ChampionDecision(
        metric,
        challenger.model,
        challenger_score,
        _describe(current),
        champion_score,
        config.min_improvement,
        promoted,
        in_service,
    )
    logger.info(decision.reason)
    return decision


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
    paths: DataPaths,
) -> ChampionDecision:
    """Promote the run's best recurrent model if it beats the model in service."""
    return decide_and_promote(run_id, evaluations, prepared, config, paths, get_run_logger())

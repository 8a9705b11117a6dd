"""Explain the champion: a few test reviews with every word's effect on its score."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from imdb_rnn.champion import ChampionDecision, load_champion
from imdb_rnn.config import ReportConfig
from imdb_rnn.occlusion import explain_reviews
from imdb_rnn.prepared import PreparedData, load_split

log = logging.getLogger(__name__)

# Test reviews of a readable length the champion scores to pick its examples from: enough to
# find confident right and wrong ones, few enough to cost well under a second.
CANDIDATES = 2000


def explain_champion_reviews(
    champion_dir: Path,
    prepared: PreparedData,
    config: ReportConfig,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> list[dict[str, Any]]:
    """Occlusion on ``config.explained_reviews`` test reviews, with the champion's encoder."""
    started = time.perf_counter()
    champion = load_champion(champion_dir)
    if champion.classes != list(prepared.classes):
        logger.info("The champion labels other classes than this data's; nothing to explain")
        return []
    test = load_split(prepared, "test", ["text", "label", "n_tokens"])
    readable = test[(test["n_tokens"] >= 30) & (test["n_tokens"] <= 120)].head(CANDIDATES)
    explained = explain_reviews(
        readable["text"].tolist(),
        readable["label"].to_numpy(),
        champion.encoder,
        champion.probabilities,
        config.explained_reviews,
        champion.classes,
    )
    logger.info(
        "Explained %d reviews with %s in %.1f s",
        len(explained),
        champion.record.get("architecture"),
        time.perf_counter() - started,
    )
    return explained


@task(name="explain", task_run_name="explain-champion")
def explain_champion(
    decision: ChampionDecision, prepared: PreparedData, config: ReportConfig
) -> list[dict[str, Any]]:
    """Word effects for a few test reviews, scored by the model in service (none without one)."""
    if not config.explained_reviews or not decision.champion_dir:
        return []
    return explain_champion_reviews(Path(decision.champion_dir), prepared, config, get_run_logger())

"""The champion: the model in service, its folder, and the record of each decision about it.

The champion is ``models/champion``, a symbolic link to one immutable folder under
``models/champions/`` holding ``model.keras``, ``vocab.json`` and ``champion.json``
(preprocessing parameters, metrics, run id), and for a stacked model the stack's own files.
A new folder is written completely before the link is swapped with one ``os.replace``: a
crash at any point leaves the previous champion in service, byte for byte. ``imdb-rnn
predict`` loads it with the encoder it was trained with, so prediction cannot drift from
training.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imdb_rnn.errors import DataContractError, ImdbRnnError
from imdb_rnn.evaluation import predicted_classes
from imdb_rnn.files import atomic_directory, write_json_atomic
from imdb_rnn.prepared import BINARY_CLASSES
from imdb_rnn.stacking import STACK_FILES, StackedScorer, is_stack
from imdb_rnn.text import VOCABULARY_FILE, SequenceEncoder, TokenLists, token_list_array
from imdb_rnn.trained import MODEL_FILE

CHAMPION_FILE = "champion.json"


class NoChampionError(ImdbRnnError):
    """No model has been promoted in this data folder yet."""


@dataclass(frozen=True)
class ChampionDecision:
    """What the comparison with the model in service concluded, and on what evidence."""

    metric: str
    challenger: str | None
    challenger_score: float | None
    champion: str | None  # "<architecture> from run <run id>" of the model in service before
    champion_score: float | None
    min_improvement: float | str  # a margin, or "significant"
    promoted: bool
    champion_dir: str | None  # the folder in service after the decision
    skipped: str = ""  # why no comparison was made; empty when one was
    # The challenger minus the champion on this run's test reviews: the paired bootstrap's
    # interval of the metric's difference, and McNemar's p-value on their accuracies.
    difference_interval: list[float] | None = None
    accuracy_p_value: float | None = None
    confidence: float = 0.95

    @property
    def evidence(self) -> str:
        """The difference's interval and McNemar's p, as the reason quotes them."""
        parts = []
        if self.difference_interval:
            low, high = self.difference_interval
            parts.append(f"{self.confidence:.0%} interval [{low:+.4f}, {high:+.4f}]")
        if self.accuracy_p_value is not None:
            parts.append(f"McNemar's p on accuracy {self.accuracy_p_value:.3g}")
        return "; ".join(parts)

    @property
    def reason(self) -> str:
        """The decision in one sentence, with both scores and the evidence."""
        if self.skipped or self.challenger is None or self.challenger_score is None:
            return self.skipped
        challenger, score = self.challenger, self.challenger_score
        if self.champion is None or self.champion_score is None:
            return f"Promoted {challenger} ({self.metric} {score:.4f}): there was no champion yet."
        gain = score - self.champion_score
        evidence = f"; {self.evidence}" if self.evidence else ""
        if self.min_improvement == "significant":
            rule = "needed a significant improvement"
        else:
            rule = f"needed more than {self.min_improvement:.4f}"
        if self.promoted:
            return (
                f"Promoted {challenger}: {self.metric} {score:.4f} beats the champion "
                f"{self.champion} at {self.champion_score:.4f} by {gain:+.4f}{evidence} "
                f"({rule})."
            )
        return (
            f"Kept the champion {self.champion}: {self.metric} {self.champion_score:.4f} on this "
            f"test data; the best challenger, {challenger}, scored {score:.4f} "
            f"({gain:+.4f}{evidence}, {rule})."
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reason": self.reason}


@dataclass(frozen=True)
class Verdict:
    """The challenger against the champion on the same test reviews."""

    challenger_score: float
    champion_score: float
    difference_interval: list[float] | None
    accuracy_p_value: float
    better: bool  # by the rule asked for: the margin, or the paired test


def judge(
    labels: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    scores: tuple[float, float],
    metric: str,
    min_improvement: float | str,
    resamples: int,
    confidence: float,
    seed: int = 0,
) -> Verdict:
    """Apply the promotion rule to the challenger's and the champion's ``scores`` on
    ``metric``, given both models' probabilities for the same test reviews.

    With ``min_improvement="significant"``, accuracy is judged by McNemar's exact test and
    every other metric by whether the paired bootstrap's interval of the difference lies
    above zero.
    """
    from imdb_rnn.significance import mcnemar_exact, paired_bootstrap, percentile_interval

    challenger_score, champion_score = scores
    truth = np.asarray(labels)
    test = mcnemar_exact(
        predicted_classes(challenger) == truth, predicted_classes(champion) == truth
    )
    interval = None
    if resamples > 0:
        both = paired_bootstrap(
            labels, {"challenger": challenger, "champion": champion}, resamples, seed
        )
        differences = both["challenger"][metric] - both["champion"][metric]
        interval = list(percentile_interval(differences, confidence))
    gain = challenger_score - champion_score
    if min_improvement != "significant":
        better = gain > float(min_improvement)
    elif metric == "accuracy":
        better = gain > 0 and test.p_value < 1 - confidence
    else:
        better = interval is not None and interval[0] > 0
    return Verdict(challenger_score, champion_score, interval, test.p_value, better)


@dataclass(frozen=True)
class Champion:
    """The model in service, the encoder it reads reviews with, and its record. A stacked
    champion also carries the combiner of its members' scores (and their NBSVM)."""

    model: Any
    encoder: SequenceEncoder
    record: dict[str, Any]
    stack: StackedScorer | None = None

    @property
    def classes(self) -> list[str]:
        """The class names it predicts (champions promoted before names were kept: aclImdb's)."""
        return list(self.record.get("classes", BINARY_CLASSES))

    def probabilities(self, token_lists: TokenLists | list[list[str]]) -> np.ndarray:
        """The probability that each review (its words, as ``tokenize_all`` finds them) is
        of the second class, or for K classes each class's probability (rows of K): what
        evaluation computed for the same words."""
        from rnn_models.inference import predict_probabilities

        token_lists = token_list_array(token_lists)
        padded, _ = self.encoder.encode_tokens(token_lists)
        probabilities = predict_probabilities(self.model, padded)
        if self.stack is None:
            return probabilities
        return self.stack.probabilities(probabilities, token_lists)


def read_champion(champion_link: Path) -> dict[str, Any] | None:
    """The champion's record, or None when no model has been promoted yet."""
    record_path = champion_link / CHAMPION_FILE
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["directory"] = str(champion_link.resolve())
    return record


def load_champion(champion_link: Path) -> Champion:
    """The model in service with its encoder; fails with how to train one if there is none."""
    record = read_champion(champion_link)
    if record is None:
        raise NoChampionError(
            f"no champion model in {champion_link}: train one with 'imdb-rnn run' "
            "(or pass --data-dir pointing at the data folder of a run)"
        )
    from rnn_models.optimizers import load_model  # knows the optimizer the model was saved with

    return Champion(
        load_model(champion_link / MODEL_FILE),
        SequenceEncoder.load(champion_link, CHAMPION_FILE),
        record,
        StackedScorer.load(champion_link) if is_stack(champion_link) else None,
    )


def write_champion_folder(
    target: Path, model_dir: Path, vocabulary: Path, record: dict[str, Any]
) -> None:
    """Write one immutable champion folder: the model (a stack's files too), its vocabulary
    and ``champion.json``."""
    with atomic_directory(target, replace=True) as staging:
        shutil.copy2(model_dir / MODEL_FILE, staging / MODEL_FILE)
        for name in STACK_FILES:
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, staging / name)
        shutil.copy2(vocabulary, staging / VOCABULARY_FILE)
        write_json_atomic(staging / CHAMPION_FILE, record)


def swap_link(link: Path, target: Path) -> None:
    """Atomically make ``link`` a relative symbolic link to ``target``."""
    if link.exists() and not link.is_symlink():
        raise DataContractError(
            f"{link} is a real file or folder, not the link this pipeline manages; move it away"
        )
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), temporary, target_is_directory=True)
    try:
        os.replace(temporary, link)
    finally:
        temporary.unlink(missing_ok=True)

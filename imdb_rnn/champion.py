"""The champion: the model in service, its folder, and the record of each decision about it.

The champion is ``models/champion``, a symbolic link to one immutable folder under
``models/champions/`` holding ``model.keras``, ``vocab.json`` and ``champion.json``
(preprocessing parameters, metrics, run id). A new folder is written completely before the
link is swapped with one ``os.replace``: a crash at any point leaves the previous champion
in service, byte for byte. ``imdb-rnn predict`` loads it with the encoder it was trained
with, so prediction cannot drift from training.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imdb_rnn.errors import DataContractError, ImdbRnnError
from imdb_rnn.files import atomic_directory, write_json_atomic
from imdb_rnn.text import VOCABULARY_FILE, SequenceEncoder
from imdb_rnn.trained import MODEL_FILE

CHAMPION_FILE = "champion.json"


class NoChampionError(ImdbRnnError):
    """No model has been promoted in this data folder yet."""


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


@dataclass(frozen=True)
class Champion:
    """The model in service, the encoder it reads reviews with, and its record."""

    model: Any
    encoder: SequenceEncoder
    record: dict[str, Any]


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
    )


def write_champion_folder(
    target: Path, model_dir: Path, vocabulary: Path, record: dict[str, Any]
) -> None:
    """Write one immutable champion folder: the model, its vocabulary and ``champion.json``."""
    with atomic_directory(target, replace=True) as staging:
        shutil.copy2(model_dir / MODEL_FILE, staging / MODEL_FILE)
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

"""Trained models on disk: what identifies one, its folder, and reading it back.

A trained model lives in ``models/<architecture>-<fingerprint>/`` with ``model.keras``,
``history.json`` and ``training.json``. The fingerprint is the hash of its
``TrainingRecipe``: the architecture, the model's shape, how it was fitted, the prepared
data and the fold. Nothing else enters it, so a model trained with other execution settings
(threads, XLA, batch parts, replicas) is the same model, reused as it is.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imdb_rnn import __version__
from imdb_rnn.config import FitConfig, TrainingConfig
from imdb_rnn.files import atomic_directory, sha256_json, write_json_atomic
from imdb_rnn.folds import Fold
from imdb_rnn.storage import DataStore
from rnn_models.config import ModelConfig

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
RECORD_FILE = "training.json"


@dataclass(frozen=True)
class TrainingRecipe:
    """Every input that changes the weights of one trained model."""

    architecture: str
    model: ModelConfig
    fit: FitConfig
    data_fingerprint: str
    fold: Fold | None = None  # an ensemble member trains on every fold but this one

    @property
    def fingerprint(self) -> str:
        inputs: dict[str, Any] = {
            "version": __version__,
            "architecture": self.architecture,
            "data": self.data_fingerprint,
            "model": self.model.model_dump(),
            "fit": self.fit.model_dump(),
        }
        if self.fold is not None:
            inputs["fold"] = [self.fold.index, self.fold.count]
        return sha256_json(inputs)[:16]

    @property
    def folder_name(self) -> str:
        return f"{self.architecture}-{self.fingerprint}"

    @property
    def weights_seed(self) -> int:
        """The seed of the initial weights and batch order: each fold member has its own."""
        return self.fold.member_seed(self.fit.seed) if self.fold else self.fit.seed


@dataclass(frozen=True)
class PlannedModel:
    """One model a run scores: trained once, or combined from cross-validation members."""

    label: str  # how reports name it
    members: list[tuple[TrainingRecipe, str]]  # each training and its label

    @property
    def is_ensemble(self) -> bool:
        return self.members[0][0].fold is not None


def plan_models(
    training: TrainingConfig, model: ModelConfig, data_fingerprint: str
) -> list[PlannedModel]:
    """The models ``training`` asks for: one per architecture and seed, each a single
    training or ``ensemble_folds`` fold members."""
    planned = []
    for architecture in training.architectures:
        for seed in training.seed_values():
            label = training.run_label(architecture, seed)
            recipe = TrainingRecipe(
                architecture, model, training.fit_for_seed(seed), data_fingerprint
            )
            if training.ensemble_folds == 1:
                planned.append(PlannedModel(label, [(recipe, label)]))
                continue
            members = [
                (dataclasses.replace(recipe, fold=fold), f"{label}-{fold.label}")
                for fold in Fold.all(training.ensemble_folds)
            ]
            planned.append(PlannedModel(label, members))
    return planned


@dataclass(frozen=True)
class TrainedModel:
    """A finished ``models/<architecture>-<fingerprint>/`` folder."""

    architecture: str
    directory: Path
    fingerprint: str
    parameters: int
    train_seconds: float
    epochs: int
    history: dict[str, list[float]]
    reused: bool = False
    failure: str = ""  # why training failed; empty when it succeeded
    seed: int = 0
    label: str = ""  # the name reports use: the architecture, plus the seed when several
    worker: str = ""  # host/pid of the process that trained or loaded it
    finished_at: float = 0.0  # Unix time the fit ended; 0 when not recorded

    @property
    def name(self) -> str:
        return self.label or self.architecture

    @property
    def model_path(self) -> Path:
        return self.directory / MODEL_FILE


def save_model_folder(
    directory: Path, model: Any, history: dict[str, list[float]], record: dict[str, Any]
) -> None:
    """Write ``model.keras``, ``history.json`` and ``training.json`` as one folder, at once."""
    with atomic_directory(directory, replace=True) as staging:
        model.save(staging / MODEL_FILE)
        write_json_atomic(staging / HISTORY_FILE, history)
        write_json_atomic(staging / RECORD_FILE, record)


def read_record(directory: Path) -> dict[str, Any]:
    """The ``training.json`` of a model folder."""
    return json.loads((directory / RECORD_FILE).read_text(encoding="utf-8"))


def load_trained(directory: Path, recipe: TrainingRecipe) -> TrainedModel:
    """The finished folder of ``recipe``; raises ``OSError``, ``KeyError`` or ``ValueError``
    when a file is missing or unreadable, so that the model is trained again."""
    record = read_record(directory)
    history = json.loads((directory / HISTORY_FILE).read_text(encoding="utf-8"))
    if not (directory / MODEL_FILE).is_file():
        raise FileNotFoundError(directory / MODEL_FILE)
    return TrainedModel(
        recipe.architecture,
        directory,
        recipe.fingerprint,
        record["parameters"],
        record["train_seconds"],
        record["epochs"],
        history,
        reused=True,
        seed=record["fit"]["seed"],
        finished_at=record.get("finished_at", 0.0),
    )


def local_model(trained: TrainedModel, store: DataStore) -> TrainedModel:
    """``trained`` in this process's copy of the data folder, fetched from the store if needed.

    A model trained by another process (a Dask worker on another machine) names a folder
    of that process; models live at ``models/<name>`` everywhere, so only the root changes.
    """
    directory = store.paths.models / trained.directory.name
    if not trained.failure and not store.fetched(directory):
        raise FileNotFoundError(
            f"{trained.name}: {store.url_of(directory)} was not published; "
            "its training did not finish"
        )
    return dataclasses.replace(trained, directory=directory)

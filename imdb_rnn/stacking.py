"""Stacking: a logistic regression over several models' scores, fitted on out-of-fold scores.

Each member scores every pooled training review with the one fold model that never saw it
(the cross-validated ensembles' members, and NBSVM fitted fold by fold), so the combiner
learns how far to trust each member on reviews the members did not learn from. It never
sees a test review: test scores go through it only once it is fitted.

A member's score enters as a logit: a recurrent model's probability, or NBSVM's margin. The
fitted stack is a handful of numbers (``Stacker``); ``StackedScorer`` adds the NBSVM it needs
to score new text, and is saved beside the recurrent members' Keras model. No Prefect, and
Keras only when an ensemble's out-of-fold scores have to be worked out again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imdb_rnn.files import atomic_path, write_json_atomic
from imdb_rnn.folds import OUT_OF_FOLD_FILE, out_of_fold_probabilities
from imdb_rnn.nbsvm import NbsvmScorer, NgramColumns
from imdb_rnn.prepared import PreparedData
from imdb_rnn.trained import MODEL_FILE, read_record

STACK_NAME = "stack"  # the stacked model's name in reports, and its folder's prefix
STACK_FILE = "stack.json"
NBSVM_WORDS_FILE = "nbsvm_words.parquet"
NBSVM_COLUMNS_FILE = "nbsvm_columns.parquet"
STACK_FILES = (STACK_FILE, NBSVM_WORDS_FILE, NBSVM_COLUMNS_FILE)
NBSVM_MEMBER = "nbsvm"
# Probabilities are clipped this far from 0 and 1 before their logit is taken.
_EDGE = 1e-6


def probability_logits(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), _EDGE, 1 - _EDGE)
    return np.log(clipped) - np.log1p(-clipped)


@dataclass(frozen=True)
class Stacker:
    """``sigmoid(intercept + sum_i coefficient_i * feature_i)``, one feature per member."""

    members: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(features @ np.asarray(self.coefficients) + self.intercept)))


def fit_stacker(
    members: tuple[str, ...], features: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[Stacker, np.ndarray]:
    """The stack fitted on all ``features`` (out-of-fold member scores), and its own
    cross-validated probabilities on them (5 folds): an honest figure for the stack itself,
    since each review is then scored by a combiner that did not see its label."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    labels = np.asarray(labels).astype(int)
    combiner = LogisticRegression(C=1.0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    checked = cross_val_predict(combiner, features, labels, cv=folds, method="predict_proba")
    combiner.fit(features, labels)
    stacker = Stacker(
        members,
        tuple(float(c) for c in combiner.coef_[0]),
        float(combiner.intercept_[0]),
    )
    return stacker, checked[:, 1]


@dataclass(frozen=True)
class StackedScorer:
    """What a stack needs to score reviews, given the recurrent members' probabilities."""

    stacker: Stacker
    nbsvm: NbsvmScorer | None

    def probabilities(self, recurrent: np.ndarray, token_lists: pa.LargeListArray) -> np.ndarray:
        """Combine the recurrent members' probabilities (reviews x members, in the order of
        ``stacker.members``) with NBSVM's margins of the same reviews' words."""
        features = probability_logits(np.asarray(recurrent).reshape(len(token_lists), -1))
        if self.nbsvm is not None:
            features = np.column_stack([features, self.nbsvm.scores(token_lists)])
        return self.stacker.probabilities(features)

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        """Write the stack's files into ``directory`` (a staging folder)."""
        stack = {
            "members": list(self.stacker.members),
            "coefficients": list(self.stacker.coefficients),
            "intercept": self.stacker.intercept,
            **record,
        }
        if self.nbsvm is not None:
            stack["nbsvm"] = {"max_n": self.nbsvm.max_n, "bias": self.nbsvm.bias}
            _write_table(directory / NBSVM_WORDS_FILE, pa.table({"word": self.nbsvm.words}))
            columns = {
                "key": pa.array(self.nbsvm.columns.keys),
                "coefficient": pa.array(self.nbsvm.coefficients),
            }
            _write_table(directory / NBSVM_COLUMNS_FILE, pa.table(columns))
        write_json_atomic(directory / STACK_FILE, stack)

    @classmethod
    def load(cls, directory: Path) -> StackedScorer:
        stack = json.loads((directory / STACK_FILE).read_text(encoding="utf-8"))
        stacker = Stacker(
            tuple(stack["members"]), tuple(stack["coefficients"]), float(stack["intercept"])
        )
        if "nbsvm" not in stack:
            return cls(stacker, None)
        words = pq.read_table(directory / NBSVM_WORDS_FILE).column("word").combine_chunks()
        columns = pq.read_table(directory / NBSVM_COLUMNS_FILE)
        nbsvm = NbsvmScorer(
            words,
            int(stack["nbsvm"]["max_n"]),
            NgramColumns(columns.column("key").to_numpy()),
            columns.column("coefficient").to_numpy(),
            float(stack["nbsvm"]["bias"]),
        )
        return cls(stacker, nbsvm)


def is_stack(directory: Path) -> bool:
    return (directory / STACK_FILE).is_file()


def _write_table(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def ensemble_out_of_fold(directory: Path, prepared: PreparedData, models_dir: Path) -> np.ndarray:
    """The out-of-fold probabilities of the ensemble saved in ``directory``: read from its
    folder, or worked out again from its members for a folder saved without them."""
    saved = directory / OUT_OF_FOLD_FILE
    if saved.is_file():
        return pq.read_table(saved).column("probability").to_numpy()
    from rnn_models.optimizers import load_model

    members = read_record(directory)["members"]
    loaded = [load_model(models_dir / member / MODEL_FILE) for member in members]
    return out_of_fold_probabilities(loaded, prepared)[0]

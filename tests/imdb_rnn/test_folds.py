"""Cross-validation folds: stratified, disjoint, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_rnn.errors import DatasetLayoutError
from imdb_rnn.folds import Fold, fold_indices


def test_folds_are_stratified_disjoint_and_cover_every_row_once():
    labels = np.array([0] * 30 + [1] * 18)
    holdouts = []
    for fold in Fold.all(3):
        fit, holdout = fold_indices(labels, fold, seed=7)
        assert set(fit).isdisjoint(holdout) and len(fit) + len(holdout) == 48
        assert sorted(np.bincount(labels[holdout]).tolist()) == [6, 10]  # a third of each label
        holdouts.append(holdout)
    assert sorted(np.concatenate(holdouts).tolist()) == list(range(48))
    again = fold_indices(labels, Fold(1, 3), seed=7)[1]
    assert again.tolist() == holdouts[1].tolist()
    assert fold_indices(labels, Fold(1, 3), seed=8)[1].tolist() != holdouts[1].tolist()


def test_more_folds_than_reviews_of_a_label_is_a_clear_error():
    with pytest.raises(DatasetLayoutError, match="lower --ensemble-folds"):
        fold_indices(np.array([0] * 10 + [1] * 3), Fold(0, 4), seed=0)


def test_members_start_from_different_seeds():
    seeds = {Fold(index, 8).member_seed(seed) for index in range(8) for seed in (42, 43)}
    assert len(seeds) == 16 and not seeds & {42, 43}
    with pytest.raises(ValueError, match="fold 3 of 3"):
        Fold(3, 3)

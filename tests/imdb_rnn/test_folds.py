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


def test_three_class_folds_hold_out_a_share_of_every_class():
    labels = np.array([0] * 15 + [1] * 9 + [2] * 6)
    holdouts = [fold_indices(labels, fold, seed=3)[1] for fold in Fold.all(3)]
    for holdout in holdouts:
        assert np.bincount(labels[holdout], minlength=3).tolist() == [5, 3, 2]
    assert sorted(np.concatenate(holdouts).tolist()) == list(range(30))


def test_too_few_reviews_of_the_third_class_is_the_same_clear_error():
    with pytest.raises(DatasetLayoutError, match="hold only 2 of one"):
        fold_indices(np.array([0] * 10 + [1] * 10 + [2] * 2), Fold(0, 3), seed=0)


def test_out_of_fold_rows_of_three_classes_come_from_the_member_that_held_them_out(
    tmp_path, monkeypatch
):
    import pyarrow.parquet as pq

    from imdb_rnn.folds import (
        OUT_OF_FOLD_FILE,
        out_of_fold_probabilities,
        pooled_rows,
        save_out_of_fold,
    )
    from tests.samples import three_class_prepared

    prepared = three_class_prepared(tmp_path)
    # Stand-ins for two members: each gives every review the same row, its own.
    rows = {"first": [0.7, 0.2, 0.1], "second": [0.1, 0.3, 0.6]}
    monkeypatch.setattr(
        "rnn_models.inference.predict_probabilities",
        lambda model, tokens: np.tile(rows[model], (len(tokens), 1)),
    )
    out_of_fold, labels = out_of_fold_probabilities(["first", "second"], prepared)

    assert labels.tolist() == pooled_rows(prepared)[1].tolist()
    _, second_holdout = fold_indices(labels, Fold(1, 2), prepared.preprocess.split_seed)
    from_second = np.zeros(len(labels), dtype=bool)
    from_second[second_holdout] = True
    assert out_of_fold.shape == (len(labels), 3)
    assert (out_of_fold[from_second] == rows["second"]).all()
    assert (out_of_fold[~from_second] == rows["first"]).all()

    save_out_of_fold(tmp_path, out_of_fold)
    saved = pq.read_table(tmp_path / OUT_OF_FOLD_FILE)
    assert saved.column_names == ["probabilities"]
    np.testing.assert_array_equal(np.array(saved.column("probabilities").to_pylist()), out_of_fold)


def test_two_class_out_of_fold_scores_stay_one_column_of_probabilities(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from imdb_rnn.folds import OUT_OF_FOLD_FILE, save_out_of_fold

    save_out_of_fold(tmp_path, np.array([0.25, 0.5, 0.875]))
    saved = pq.read_table(tmp_path / OUT_OF_FOLD_FILE)
    assert saved.schema == pa.schema([pa.field("probability", pa.float64())])
    assert saved.column("probability").to_pylist() == [0.25, 0.5, 0.875]

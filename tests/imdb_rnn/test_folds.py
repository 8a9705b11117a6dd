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


def _sized(rows: dict[str, int], maxlen: int):
    """A prepared folder's record with these rows per split (nothing on disk)."""
    from pathlib import Path

    from imdb_rnn.config import PreprocessConfig
    from imdb_rnn.prepared import PreparedData

    return PreparedData(Path("unused"), "f" * 16, "a" * 64, PreprocessConfig(maxlen=maxlen), rows)


def test_rows_pass_the_budget_by_rows_times_maxlen_int32_tokens_and_a_label():
    from imdb_rnn.folds import over_budget

    prepared = _sized({"train": 1000, "validation": 100, "test": 50}, maxlen=200)
    needed = 1000 * (200 * 4 + 4)  # 804,000 bytes
    assert not over_budget(prepared, None, needed)
    assert over_budget(prepared, None, needed - 1)
    # a fold is cut from train and validation pooled, which are loaded whole
    assert over_budget(prepared, Fold(0, 5), needed)
    assert not over_budget(prepared, Fold(0, 5), 1100 * 804)


@pytest.fixture(scope="module")
def row_grouped(tmp_path_factory):
    """The small prepared folder (64 train, 16 validation rows, maxlen 30) in row groups of 10."""
    from tests.conftest import small_prepared
    from tests.samples import regroup

    return regroup(small_prepared(tmp_path_factory.mktemp("row-groups")), rows_per_group=10)


def test_below_the_budget_rows_are_loaded_as_before(row_grouped):
    from imdb_rnn.folds import TrainingRows, training_input, training_rows

    rows = training_input(row_grouped, None, budget_mib=1)
    assert isinstance(rows, TrainingRows)
    loaded = training_rows(row_grouped, None)
    np.testing.assert_array_equal(rows.fit_tokens, loaded.fit_tokens)
    assert rows.record == {"training_rows": "in-memory", "validation_rows": "in-memory"}


def test_above_the_budget_the_train_split_streams_and_small_validation_stays_loaded(
    row_grouped,
):
    from imdb_rnn.folds import StreamedRows, streamed_rows
    from imdb_rnn.prepared import load_arrays

    row_bytes = 30 * 4 + 4
    # A quarter of the budget holds the 16 validation rows, or a window of 2 groups of 10.
    rows = streamed_rows(row_grouped, budget_bytes=4 * 20 * row_bytes)
    assert isinstance(rows, StreamedRows) and rows.window_groups == 2
    assert rows.fit.group_rows == (10,) * 6 + (4,) and rows.counts == (64, 16)
    assert isinstance(rows.holdout, tuple)
    np.testing.assert_array_equal(rows.holdout[0], load_arrays(row_grouped, "validation")[0])
    assert rows.record["validation_rows"] == "in-memory"
    tight = streamed_rows(row_grouped, budget_bytes=4 * 15 * row_bytes)
    assert tight.window_groups == 1 and tight.record == {
        "training_rows": "streamed",
        "validation_rows": "streamed",
        "window_row_groups": 1,
    }
    assert tight.counts == (64, 16)


def test_a_fold_over_the_budget_loads_its_rows_and_says_so(row_grouped):
    from imdb_rnn.folds import TrainingRows, training_input
    from tests.samples import listening_logger

    logger, said = listening_logger("test-folds-budget")
    rows = training_input(row_grouped, Fold(0, 2), budget_mib=0, logger=logger)
    assert isinstance(rows, TrainingRows) and rows.counts == (40, 40)
    assert len(said) == 1 and "fold1of2" in said[0] and "memory budget of 0 MiB" in said[0]
    streamed = training_input(row_grouped, None, budget_mib=0, logger=logger)
    assert streamed.record["training_rows"] == "streamed"
    assert "Streaming 64 training rows" in said[1]

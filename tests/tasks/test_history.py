"""reports/history.parquet: rows per model and run, appended atomically, and the trend."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imdb_rnn.champion import ChampionDecision
from imdb_rnn.config import PreprocessConfig
from imdb_rnn.errors import DataContractError
from imdb_rnn.prepared import PreparedData
from tasks.history import SCHEMA, append_history, history_rows, read_history, trend
from tests.samples import evaluation

PREPARED = PreparedData(Path("/x"), "f" * 16, "a" * 64, PreprocessConfig(), {"test": 100})


def decision(promoted: str | None) -> ChampionDecision:
    return ChampionDecision(
        "roc_auc", promoted or "lstm", 0.9, None, None, 0.0, promoted is not None, None
    )


def rows_for(run_id: str, day: int, lstm_auc: float, gru_auc: float, promoted: str | None):
    evaluations = [
        evaluation("lstm", "rnn", 0.85, lstm_auc, 0.3),
        evaluation("gru", "rnn", 0.84, gru_auc, 0.3),
        evaluation("tfidf_logreg", "baseline", 0.90, 0.96, 0.2),
    ]
    when = datetime(2026, 1, day, 3, 0, tzinfo=UTC)
    return history_rows(run_id, when, evaluations, decision(promoted), PREPARED, {"epochs": 2})


def test_one_row_per_model_and_only_the_promoted_one_flagged():
    rows = rows_for("run-1", 1, 0.91, 0.93, "gru")
    assert list(rows["model"]) == ["lstm", "gru", "tfidf_logreg"]
    assert list(rows["promoted"]) == [False, True, False]
    assert set(rows.columns) == set(SCHEMA.names)
    assert rows["parameters"].iloc[0] == '{"epochs": 2}'


def test_appending_keeps_earlier_runs(tmp_path):
    path = tmp_path / "reports" / "history.parquet"
    append_history(path, rows_for("run-1", 1, 0.91, 0.93, "gru"))
    combined = append_history(path, rows_for("run-2", 2, 0.95, 0.92, "lstm"))
    assert len(combined) == 6
    stored = read_history(path)
    assert list(stored["run_id"]) == ["run-1"] * 3 + ["run-2"] * 3
    assert pq.read_schema(path).remove_metadata().equals(SCHEMA)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_trend_shows_best_recurrent_model_per_run_newest_last(tmp_path):
    history = pd.concat(
        [rows_for("run-2", 2, 0.95, 0.92, "lstm"), rows_for("run-1", 1, 0.91, 0.93, None)],
        ignore_index=True,
    )
    recent = trend(history, "roc_auc")
    assert [r["run_id"] for r in recent] == ["run-1", "run-2"]
    assert [r["best_rnn"] for r in recent] == ["gru", "lstm"]
    assert [r["roc_auc"] for r in recent] == [0.93, 0.95]
    assert [r["promoted"] for r in recent] == ["", "lstm"]
    assert recent[0]["baseline_accuracy"] == 0.9


def test_a_foreign_history_file_is_refused_not_overwritten(tmp_path):
    path = tmp_path / "history.parquet"
    pq.write_table(pa.table({"something": [1, 2]}), path)
    before = path.read_bytes()
    with pytest.raises(DataContractError, match="history schema"):
        append_history(path, rows_for("run-1", 1, 0.9, 0.9, None))
    assert path.read_bytes() == before


# The history's columns as release 0.3.0 wrote them, spelt out: a file of then must append.
RELEASE_030_COLUMNS = [
    ("run_id", pa.string(), False),
    ("time", pa.timestamp("ms", tz="UTC"), False),
    ("source_sha256", pa.string(), False),
    ("data_fingerprint", pa.string(), False),
    ("model", pa.string(), False),
    ("kind", pa.string(), False),
    ("parameters", pa.string(), False),
    *((name, pa.float64(), True) for name in ("accuracy", "precision", "recall", "f1")),
    *((name, pa.float64(), True) for name in ("roc_auc", "average_precision", "log_loss")),
    ("mcc", pa.float64(), True),
    ("train_seconds", pa.float64(), True),
    ("promoted", pa.bool_(), False),
]


def test_a_three_class_run_appends_its_macro_scores_to_a_release_030_file(tmp_path):
    from tests.imdb_rnn.reporting.three_classes import three_class_evaluation

    old = pa.schema([pa.field(name, kind, nullable=ok) for name, kind, ok in RELEASE_030_COLUMNS])
    path = tmp_path / "history.parquet"
    pq.write_table(pa.Table.from_pandas(rows_for("run-1", 1, 0.91, 0.93, None), schema=old), path)

    three = [
        three_class_evaluation("gru", "rnn"),
        three_class_evaluation("tfidf_logreg", "baseline"),
    ]
    when = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    rows = history_rows("run-2", when, three, decision("gru"), PREPARED, {"epochs": 2})
    combined = append_history(path, rows)

    assert len(combined) == 5
    assert pq.read_schema(path).remove_metadata().equals(old)
    stored = read_history(path).set_index(["run_id", "model"])
    gru = stored.loc[("run-2", "gru")]
    # The macro values fill the binary columns; the weighted ones stay in metrics.json.
    assert (gru["accuracy"], gru["precision"], gru["roc_auc"]) == pytest.approx((0.7, 0.71, 0.85))
    assert "weighted_f1" not in stored.columns and bool(gru["promoted"])
    recent = trend(read_history(path), "roc_auc")
    assert [(r["run_id"], r["best_rnn"], r["roc_auc"]) for r in recent] == [
        ("run-1", "gru", 0.93),
        ("run-2", "gru", 0.85),
    ]


def test_a_run_whose_recurrent_models_all_failed_has_no_best_one():
    failed = evaluation("lstm", "rnn", math.nan, math.nan, math.nan)
    baseline = evaluation("tfidf_logreg", "baseline", 0.9, 0.96, 0.2)
    when = datetime(2026, 1, 3, 3, 0, tzinfo=UTC)
    rows = history_rows("run-3", when, [failed, baseline], decision(None), PREPARED, {})
    (recent,) = trend(rows, "roc_auc")
    assert (recent["best_rnn"], recent["roc_auc"], recent["baseline_accuracy"]) == (None, None, 0.9)

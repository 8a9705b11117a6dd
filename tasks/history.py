"""``reports/history.parquet``: one row per model per run, appended by every run."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock
from prefect import get_run_logger, task

from imdb_rnn.champion import ChampionDecision
from imdb_rnn.errors import DataContractError
from imdb_rnn.evaluation import ModelEvaluation, TrainedAndScored
from imdb_rnn.files import atomic_path
from imdb_rnn.prepared import PreparedData
from imdb_rnn.run import Run

log = logging.getLogger(__name__)

# The columns of release 0.3.0: a history file written then must stay readable and appendable.
# A run of K > 2 classes fills the same columns with their macro meanings (see
# ``imdb_rnn.evaluation``); its weighted metrics stay in metrics.json, not here, since a new
# column would make every older history file unreadable by the schema check.
METRIC_COLUMNS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "average_precision",
    "log_loss",
    "mcc",
)
SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("source_sha256", pa.string(), nullable=False),
        pa.field("data_fingerprint", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("parameters", pa.string(), nullable=False),  # JSON of the run's configs
        *(pa.field(column, pa.float64()) for column in METRIC_COLUMNS),
        pa.field("train_seconds", pa.float64()),
        pa.field("promoted", pa.bool_(), nullable=False),
    ]
)
TREND_RUNS = 10


def history_rows(
    run_id: str,
    when: datetime,
    evaluations: list[ModelEvaluation],
    decision: ChampionDecision | None,
    prepared: PreparedData,
    parameters: dict[str, Any],
) -> pd.DataFrame:
    """This run's rows: one per model; ``promoted`` is true for the model put in service."""
    promoted_model = decision.challenger if decision and decision.promoted else None
    encoded = json.dumps(parameters, sort_keys=True, default=str)
    records = [
        {
            "run_id": run_id,
            "time": pd.Timestamp(when).tz_convert("UTC").floor("s"),
            "source_sha256": prepared.source_sha256,
            "data_fingerprint": prepared.fingerprint,
            "model": evaluation.model,
            "kind": evaluation.kind,
            "parameters": encoded,
            **{
                column: float(evaluation.metrics.get(column, math.nan)) for column in METRIC_COLUMNS
            },
            "train_seconds": float(evaluation.train_seconds),
            "promoted": evaluation.model == promoted_model,
        }
        for evaluation in evaluations
    ]
    return pd.DataFrame.from_records(records, columns=SCHEMA.names)


def read_history(path: Path) -> pd.DataFrame:
    """All rows so far (an empty frame when there is no history yet)."""
    if not path.is_file():
        return pd.DataFrame(columns=SCHEMA.names)
    table = pq.read_table(path)
    if not table.schema.remove_metadata().equals(SCHEMA):
        raise DataContractError(
            f"{path} does not have the history schema; move it away and the next run starts "
            "a new history"
        )
    return table.to_pandas()


def append_history(path: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``rows`` to the history file atomically; concurrent runs take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_name(path.name + ".lock"))):
        combined = (
            pd.concat([read_history(path), rows], ignore_index=True) if path.is_file() else rows
        )
        table = pa.Table.from_pandas(combined, schema=SCHEMA, preserve_index=False)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    return combined


def trend(history: pd.DataFrame, metric: str, runs: int = TREND_RUNS) -> list[dict[str, Any]]:
    """Per run, newest last: the best recurrent model, the baseline and the promotion."""
    if history.empty:
        return []
    result = []
    for run_id, rows in history.groupby("run_id", sort=False):
        # A failed model's metrics are NaN; a run whose recurrent models all failed has none.
        recurrent = rows[(rows["kind"] == "rnn") & rows[metric].notna()]
        baseline = rows[rows["kind"] == "baseline"]
        best = recurrent.loc[recurrent[metric].idxmax()] if not recurrent.empty else None
        promoted = rows.loc[rows["promoted"], "model"].tolist()
        result.append(
            {
                "run_id": str(run_id),
                "time": str(rows["time"].iloc[0]),
                "best_rnn": None if best is None else str(best["model"]),
                metric: None if best is None else round(float(best[metric]), 4),
                "baseline_accuracy": (
                    None if baseline.empty else round(float(baseline["accuracy"].iloc[0]), 4)
                ),
                "promoted": promoted[0] if promoted else "",
            }
        )
    result.sort(key=lambda row: row["time"])
    return result[-runs:]


@task(name="history", task_run_name="append-history")
def record_history(
    run: Run,
    recurrent: TrainedAndScored,
    baselines: list[ModelEvaluation],
    decision: ChampionDecision,
    prepared: PreparedData,
) -> list[dict[str, Any]]:
    """Append this run's models to the history and return the recent trend for the report."""
    rows = history_rows(
        run.run_id,
        datetime.now(UTC),
        [*recurrent.evaluations, *baselines],
        decision,
        prepared,
        run.settings.as_json(),
    )
    path = run.store.paths.history
    combined = append_history(path, rows)
    get_run_logger().info("History now holds %d rows (%s)", len(combined), path)
    return trend(combined, decision.metric)

"""One stage of the scaling benchmark in a process of its own, so that its peak memory is
its own: ``python -m bench.scale_stage STAGE CORPUS SHA256 DATA_DIR``.

Stages, each the plain function its Prefect task wraps: ``prepare`` (the table to the
prepared Parquet), ``train`` (one epoch of the seed LSTM), ``train_streamed`` (the same
epoch streamed from Parquet row groups), ``evaluate`` (that model on the test split),
``baseline`` (TF-IDF and logistic regression). The last line on stdout is one
JSON object: ``rows`` and ``seconds`` (the reviews the stage's timed part handled, and its
seconds), ``wall_seconds`` (the whole stage, imports inside it included) and
``peak_rss_gib`` (the process's peak resident memory).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import BaselineConfig, PreprocessConfig, TableConfig, TrainingConfig
from imdb_rnn.config.training import ExecutionConfig
from imdb_rnn.prepared import PreparedData, fingerprint, load_prepared
from imdb_rnn.trained import TrainedModel, TrainingRecipe, load_trained, plan_models
from rnn_models.config import ModelConfig

# The seed settings, and the corpus's split column: the pipeline's own-data path.
PREPROCESS = PreprocessConfig()
TABLE = TableConfig(split_column="split")
log = logging.getLogger("bench.scale")


def _raw(corpus: Path, sha256: str) -> RawDataset:
    return RawDataset(corpus, sha256, corpus.name, "table")


def _prepared(corpus: Path, sha256: str, data_dir: Path) -> PreparedData:
    fp = fingerprint(sha256, PREPROCESS, TABLE)
    return load_prepared(data_dir / "processed" / fp, fp, sha256, PREPROCESS)


def _lstm_recipe(prepared: PreparedData) -> TrainingRecipe:
    """The seed LSTM (default ``ModelConfig``, the first seed) for one epoch."""
    training = TrainingConfig(architectures=("lstm",), epochs=1)
    return plan_models(training, ModelConfig(), prepared.fingerprint)[0].members[0][0]


def prepare(corpus: Path, sha256: str, data_dir: Path) -> dict[str, Any]:
    from tasks.prepare import prepare_dataset

    started = time.perf_counter()
    prepared = prepare_dataset(_raw(corpus, sha256), PREPROCESS, data_dir / "processed", log, TABLE)
    seconds = time.perf_counter() - started
    return {"rows": sum(prepared.rows.values()), "seconds": seconds, "splits": prepared.rows}


def train(corpus: Path, sha256: str, data_dir: Path) -> dict[str, Any]:
    return _one_epoch(corpus, sha256, data_dir, ExecutionConfig(), data_dir / "models")


def train_streamed(corpus: Path, sha256: str, data_dir: Path) -> dict[str, Any]:
    """The same epoch with the rows read from their Parquet row groups at every size (a
    memory budget of 0), in a folder of its own: what training over the budget costs."""
    execution = ExecutionConfig(memory_budget_mib=0)
    return _one_epoch(corpus, sha256, data_dir, execution, data_dir / "models-streamed")


def _one_epoch(
    corpus: Path, sha256: str, data_dir: Path, execution: ExecutionConfig, models_dir: Path
) -> dict[str, Any]:
    from tasks.train import train_architecture

    prepared = _prepared(corpus, sha256, data_dir)
    recipe = _lstm_recipe(prepared)
    trained = train_architecture(recipe, prepared, execution, models_dir, logger=log)
    if trained.failure:
        raise RuntimeError(trained.failure)
    record = json.loads((trained.directory / "training.json").read_text("utf-8"))
    return {
        "rows": record["rows"]["fit"],
        # Fit's wall time, compilation included (as training.json has it).
        "seconds": trained.train_seconds,
        "validation_rows": record["rows"]["validation"],
        # In memory, or streamed from Parquet row groups over the memory budget.
        "input": record["execution"]["input"],
    }


def evaluate(corpus: Path, sha256: str, data_dir: Path) -> dict[str, Any]:
    from tasks.evaluate import evaluate_trained_model

    prepared = _prepared(corpus, sha256, data_dir)
    recipe = _lstm_recipe(prepared)
    # Loaded, never trained here: a failed train stage must not be redone under this name.
    trained: TrainedModel = load_trained(data_dir / "models" / recipe.folder_name, recipe)
    evaluation = evaluate_trained_model(trained, prepared, log)
    return {
        "rows": prepared.rows["test"],
        "seconds": evaluation.predict_seconds,
        "reviews_per_second": evaluation.reviews_per_second,
        "accuracy": evaluation.metrics["accuracy"],
    }


def baseline(corpus: Path, sha256: str, data_dir: Path) -> dict[str, Any]:
    from tasks.baseline import train_and_score_baseline

    prepared = _prepared(corpus, sha256, data_dir)
    started = time.perf_counter()
    evaluation = train_and_score_baseline(prepared, BaselineConfig(), data_dir / "models", log)
    return {
        "rows": sum(prepared.rows.values()),
        "seconds": time.perf_counter() - started,
        "accuracy": evaluation.metrics["accuracy"],
    }


STAGES: dict[str, Callable[[Path, str, Path], dict[str, Any]]] = {
    "prepare": prepare,
    "train": train,
    "train_streamed": train_streamed,
    "evaluate": evaluate,
    "baseline": baseline,
}


def main(argv: list[str]) -> int:
    stage, corpus, sha256, data_dir = argv[0], Path(argv[1]), argv[2], Path(argv[3])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    started = time.perf_counter()
    result = STAGES[stage](corpus, sha256, data_dir)
    result["seconds"] = round(result["seconds"], 3)
    result["wall_seconds"] = round(time.perf_counter() - started, 3)
    # ru_maxrss is in KiB on Linux.
    result["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 4)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

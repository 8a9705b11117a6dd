"""The flow on a local Dask cluster, and with its data folder in an fsspec store."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from imdb_rnn.config import RunnerConfig, TrainingConfig
from imdb_rnn.storage import CACHE_ENV, LISTING_NAME, DataStore
from tests.conftest import PROJECT_ROOT


def _read_table_artifact(key: str) -> list[dict]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        (found,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return json.loads(found.data)


def _task_runs_of_latest(flow_name: str) -> dict[str, str]:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (latest,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[latest.id]))
        )
    return {run.name: run.state_type.value for run in task_runs}


def _small_run(fake_archive, data_dir: str, **overrides):
    from imdb_rnn.config import BaselineConfig, ClaimsConfig, PreprocessConfig, SourceConfig
    from rnn_models.config import ModelConfig

    return dict(
        source=SourceConfig(source=str(fake_archive.path), sha256=fake_archive.sha256),
        preprocess=PreprocessConfig(vocab_size=60, maxlen=40),
        model=ModelConfig(embedding_dim=8, units=8),
        training=TrainingConfig(architectures=("simple_rnn", "gru"), epochs=1, batch_size=8),
        baseline=BaselineConfig(enabled=False),
        claims=ClaimsConfig(enabled=False),
        data_dir=data_dir,
        **overrides,
    )


@pytest.mark.flow
@pytest.mark.slow
def test_a_memory_store_holds_the_data_models_and_report_for_another_machine(
    prefect_harness, fake_archive, memory_store, monkeypatch, tmp_path
):
    from flows.compare import compare_architectures

    parameters = _small_run(fake_archive, memory_store.location)
    result = compare_architectures(**parameters)

    fs, root = memory_store.filesystem()
    published = {
        path.removeprefix(root.rstrip("/") + "/")
        for path in fs.find(root)
        if path.endswith(LISTING_NAME)
    }
    assert {folder.split("/")[0] for folder in published} == {"processed", "models", "reports"}
    (prepared,) = [p for p in published if p.startswith("processed/")]
    for split in ("train", "validation", "test"):
        assert fs.exists(f"{root}/{prepared.rsplit('/', 1)[0]}/{split}.parquet")
    for model in ("simple_rnn", "gru"):
        (folder,) = fs.glob(f"{root}/models/{model}-*")
        assert {Path(p).name for p in fs.ls(folder, detail=False)} >= {
            "model.keras",
            "history.json",
            "training.json",
            "evaluation.json",
            "predictions.parquet",
        }
    assert fs.exists(f"{root}/reports/{result.run_id}/report.html")

    # Another machine (an empty cache) gets the prepared data and models from the store:
    # nothing is prepared or trained again, and the scores are the same.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-b"))
    again = compare_architectures(**parameters)
    assert again.rows == result.rows
    machine_b = DataStore(memory_store.location).paths
    for folder in machine_b.models.glob("*-*"):
        assert json.loads((folder / "training.json").read_text()) == json.loads(
            fs.cat_file(f"{root}/models/{folder.name}/training.json")
        )
    assert [p.name for p in machine_b.processed.iterdir() if not p.name.startswith(".")] == [
        prepared.split("/")[1]
    ]


@pytest.mark.slow
@pytest.mark.dask
def test_the_cli_trains_on_two_local_workers_reporting_to_its_one_temporary_server(
    fake_archive, tmp_path
):
    import subprocess

    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    command = [
        sys.executable,
        "-m",
        "entrypoints.cli",
        "run",
        "--source",
        str(fake_archive.path),
        "--sha256",
        fake_archive.sha256,
        "--data-dir",
        str(tmp_path / "data"),
        "--vocab-size",
        "60",
        "--maxlen",
        "40",
        "--embedding-dim",
        "8",
        "--units",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--archs",
        "simple_rnn,gru",
        "--no-claims",
        "--no-baseline",
        "--runner",
        "dask",
    ]
    with subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as done:
        output, _ = done.communicate(timeout=600)
    assert done.returncode == 0, output[-3000:]
    # One server, the flow's: the workers were told its address instead of starting their own.
    assert output.count("Starting temporary server") == 1, output[-3000:]
    data_dir = tmp_path / "data"
    metrics = json.loads((data_dir / "reports" / "latest" / "metrics.json").read_text())
    assert {model["model"] for model in metrics["models"]} == {"simple_rnn", "gru"}
    # Two worker processes trained the two architectures at once, neither in the command's.
    pids = {int(model["trained_on"].rsplit("/", 1)[1]) for model in metrics["models"]}
    assert len(pids) == 2 and done.pid not in pids, metrics["models"]
    # The workers wrote to the data folder; the flow read their models from it.
    assert len(list((data_dir / "models").glob("*-*/model.keras"))) == 2
    assert metrics["run"]["runner"]["runner"] == "dask"
    assert metrics["run"]["execution"]["threads"] == max(1, (os.cpu_count() or 1) // 2)


@pytest.mark.flow
@pytest.mark.slow
@pytest.mark.dask
def test_two_dask_workers_train_ensemble_members_at_once(prefect_harness, fake_archive, tmp_path):
    from flows.compare import compare_architectures

    data_dir = tmp_path / "shared"
    run = _small_run(
        fake_archive,
        f"file://{data_dir}",
        runner=RunnerConfig(runner="dask", workers=2, tasks_per_worker=1),
    )
    run["training"] = TrainingConfig(
        architectures=("gru",), epochs=1, batch_size=8, ensemble_folds=2
    )
    result = compare_architectures(**run)

    assert [row["model"] for row in result.rows] == ["gru-ensemble2"]
    assert [row["model"] for row in _read_table_artifact("rnn-comparison")] == ["gru-ensemble2"]
    members = [
        json.loads(path.read_text())
        for path in (data_dir / "models").glob("gru-*/training.json")
        if "fold" in json.loads(path.read_text())
    ]
    assert sorted(member["fold"] for member in members) == [[0, 2], [1, 2]]
    assert _task_runs_of_latest("train-and-evaluate") == {
        "train-gru-seed42-fold1of2": "COMPLETED",
        "train-gru-seed42-fold2of2": "COMPLETED",
        "ensemble-gru-ensemble2": "COMPLETED",
        "evaluate-gru-ensemble2": "COMPLETED",
    }

"""Scale-out: the data folder as an fsspec store, the task runner choice, and Dask workers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import fsspec
import pytest

from entrypoints.cli import main
from imdb_rnn.cluster import require_dask, task_runner, tensorflow_threads
from imdb_rnn.config import ExecutionConfig, RunnerConfig, TrainingConfig
from imdb_rnn.errors import ConfigError
from imdb_rnn.storage import CACHE_ENV, LISTING_NAME, DataStore


@pytest.fixture
def memory_store(monkeypatch, tmp_path):
    """A fresh ``memory://`` store, and a cache folder per simulated machine."""
    location = f"memory://imdb-{os.getpid()}-{tmp_path.name}"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-a"))
    yield DataStore.open(location)
    fs = fsspec.filesystem("memory")
    if fs.exists(location):
        fs.rm(location, recursive=True)


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


# ---------------------------------------------------------------- the store


def test_a_path_and_a_file_url_name_the_same_local_folder(tmp_path):
    as_path = DataStore.open(str(tmp_path / "data"))
    as_url = DataStore.open(f"file://{tmp_path / 'data'}/")
    assert not as_path.is_remote and not as_url.is_remote
    assert as_path.local_root == as_url.local_root == (tmp_path / "data").resolve()
    # Local folders are shared in place: there is nothing to publish or fetch.
    as_url.publish(tmp_path / "data" / "models" / "x")
    assert not (tmp_path / "data").exists()


def test_a_remote_store_works_in_a_cache_folder_named_after_the_url(memory_store, tmp_path):
    assert memory_store.is_remote
    assert memory_store.local_root.parent == (tmp_path / "machine-a" / "stores").resolve()
    other = DataStore.open(memory_store.location + "-other")
    assert other.local_root != memory_store.local_root


def test_a_published_folder_is_fetched_whole_on_another_machine(
    memory_store, monkeypatch, tmp_path
):
    files = {"model.keras": b"weights", "history.json": b"{}", "sub/notes.txt": b"n"}
    folder = _folder(memory_store.paths.models / "gru-abc", files)
    memory_store.publish(folder)

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-b"))
    there = memory_store.paths.models / "gru-abc"
    assert there != folder and not there.exists()
    assert memory_store.fetch(there)
    assert {
        p.relative_to(there).as_posix(): p.read_bytes() for p in there.rglob("*") if p.is_file()
    } == files
    listing = json.loads(
        fsspec.filesystem("memory").cat_file(
            f"{memory_store.location}/models/gru-abc/{LISTING_NAME}"
        )
    )
    assert sorted(listing) == sorted(files)


def test_a_folder_without_its_listing_is_not_trusted(memory_store, monkeypatch, tmp_path):
    fs = fsspec.filesystem("memory")
    # An upload cut off before its last file: the data is there, the listing is not.
    fs.pipe_file(f"{memory_store.location}/processed/f1/train.parquet", b"half")
    local = memory_store.paths.processed / "f1"
    assert memory_store.fetch(local) is False
    assert not local.exists()


def test_a_file_changed_in_the_store_fails_the_fetch_and_leaves_nothing(
    memory_store, monkeypatch, tmp_path
):
    folder = _folder(memory_store.paths.processed / "f2", {"test.parquet": b"rows"})
    memory_store.publish(folder)
    fsspec.filesystem("memory").pipe_file(
        f"{memory_store.location}/processed/f2/test.parquet", b"edited"
    )
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "machine-b"))
    local = memory_store.paths.processed / "f2"
    with pytest.raises(OSError, match="does not match its listing"):
        memory_store.fetch(local)
    assert not local.exists()
    assert not list(local.parent.glob(".f2.*"))  # no staging folder left behind


def test_publishing_again_sends_only_new_files(memory_store, monkeypatch):
    folder = _folder(memory_store.paths.models / "lstm-1", {"model.keras": b"w"})
    memory_store.publish(folder)
    (folder / "evaluation.json").write_text("{}")
    fs, _ = memory_store.filesystem()
    sent = []
    original = type(fs).put_file
    monkeypatch.setattr(
        type(fs),
        "put_file",
        lambda self, lpath, rpath, **kw: (
            sent.append(Path(lpath).name),
            original(self, lpath, rpath, **kw),
        ),
    )
    memory_store.publish(folder)
    assert sent == ["evaluation.json"]


def test_a_url_whose_filesystem_is_not_installed_names_the_package():
    with pytest.raises(ConfigError, match="s3fs"):
        DataStore.open("s3://bucket/imdb")


# ---------------------------------------------------------------- runner choice


def test_the_default_runner_trains_one_model_at_a_time():
    from prefect.task_runners import ThreadPoolTaskRunner

    runner = task_runner(RunnerConfig())
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == 1


def test_dask_runner_starts_a_local_cluster_or_joins_a_scheduler():
    from prefect_dask import DaskTaskRunner

    local = task_runner(RunnerConfig(runner="dask", workers=3, tasks_per_worker=1))
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 3
    assert local.cluster_kwargs["threads_per_worker"] == 1
    assert local.cluster_kwargs["processes"] is True
    remote = task_runner(RunnerConfig(runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert remote.address == "tcp://10.0.0.5:8786" and not remote.cluster_kwargs


def test_each_local_worker_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    execution = ExecutionConfig()
    assert tensorflow_threads(RunnerConfig(), execution) == 0  # sequential: every core
    assert tensorflow_threads(RunnerConfig(runner="dask", workers=2), execution) == 4
    assert (
        tensorflow_threads(RunnerConfig(runner="dask", workers=3, tasks_per_worker=2), execution)
        == 1
    )
    assert tensorflow_threads(RunnerConfig(runner="dask", workers=16), execution) == 1
    asked = ExecutionConfig(threads=3)
    assert tensorflow_threads(RunnerConfig(runner="dask", workers=2), asked) == 3
    # Another cluster's machines are not visible from here: the user says, or TF decides.
    remote = RunnerConfig(runner="dask", dask_address="tcp://h:8786")
    assert tensorflow_threads(remote, execution) == 0


@pytest.fixture
def without_dask(monkeypatch):
    # A None entry makes `import prefect_dask` raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "prefect_dask", None)


def test_dask_without_the_extra_says_how_to_install_it(without_dask):
    with pytest.raises(ConfigError, match=r"pip install 'imdb-rnn\[dask\]'"):
        require_dask()
    with pytest.raises(ConfigError, match="not installed"):
        task_runner(RunnerConfig(runner="dask"))


def test_the_cli_refuses_dask_without_the_extra_before_any_work(without_dask, tmp_path, capsys):
    code = main(["run", "--runner", "dask", "--data-dir", str(tmp_path / "d")])
    assert code == 2
    error = capsys.readouterr().err
    assert "imdb-rnn[dask]" in error and "--runner sequential" in error
    assert not (tmp_path / "d").exists()


def test_a_scheduler_address_alone_picks_the_dask_runner(monkeypatch, tmp_path):
    from entrypoints.cli import build_parser
    from entrypoints.options import configs_from_args

    parser = build_parser()
    argv = ["run", "--dask-address", "tcp://scheduler:8786", "--data-dir", str(tmp_path)]
    configs = configs_from_args(parser.parse_args(argv))
    assert configs["runner"].runner == "dask"
    assert configs["runner"].dask_address == "tcp://scheduler:8786"
    argv = ["run", "--data-dir", str(tmp_path)]
    assert configs_from_args(parser.parse_args(argv))["runner"].runner == "sequential"


# ---------------------------------------------------------------- whole flows


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
@pytest.mark.dask
def test_two_dask_workers_train_two_architectures_in_parallel(
    prefect_harness, fake_archive, tmp_path
):
    from flows.compare import compare_architectures

    data_dir = tmp_path / "shared"
    result = compare_architectures(
        **_small_run(
            fake_archive,
            f"file://{data_dir}",
            runner=RunnerConfig(runner="dask", workers=2, tasks_per_worker=1),
        )
    )

    models = {row["model"] for row in result.rows}
    assert models == {"simple_rnn", "gru"}
    assert {row["model"] for row in _read_table_artifact("rnn-comparison")} == models
    metrics = json.loads((data_dir / "reports" / result.run_id / "metrics.json").read_text())
    trained_on = {model["model"]: model["trained_on"] for model in metrics["models"]}
    hosts_and_pids = [value.rsplit("/", 1) for value in trained_on.values()]
    pids = {int(pid) for _, pid in hosts_and_pids}
    assert len(pids) == 2, f"both trainings ran in one process: {trained_on}"
    assert os.getpid() not in pids  # neither ran in the flow's own process
    # The workers wrote to the shared folder; the flow read their models from it.
    assert len(list((data_dir / "models").glob("*-*/model.keras"))) == 2
    assert metrics["run"]["runner"]["runner"] == "dask"
    # The workers reported their task runs to this flow's Prefect API, not to servers of
    # their own: the fan-out subflow lists every train and evaluate task, all completed.
    assert _task_runs_of_latest("train-and-evaluate") == {
        "train-simple_rnn-seed42": "COMPLETED",
        "train-gru-seed42": "COMPLETED",
        "evaluate-simple_rnn": "COMPLETED",
        "evaluate-gru": "COMPLETED",
    }
    assert metrics["run"]["execution"]["threads"] == max(1, (os.cpu_count() or 1) // 2)


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


# ---------------------------------------------------------------- several devices

_MIRRORED_SCRIPT = """
import json, sys
from pathlib import Path
import tensorflow as tf

# Two logical CPUs stand in for two GPUs: MirroredStrategy puts one replica on each.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from imdb_rnn.aclimdb import RawDataset
from imdb_rnn.config import ExecutionConfig, PreprocessConfig, TrainingConfig
from rnn_models.config import ModelConfig
from tasks.prepare import prepare_dataset
from tests.conftest import make_aclimdb, train_model

base = Path(sys.argv[1])
dataset = make_aclimdb(base / "source", per_label=40)
raw = RawDataset(dataset.root, "c" * 64, "generated")
prepared = prepare_dataset(raw, PreprocessConfig(vocab_size=60, maxlen=30), base / "processed")
result = {}
for mirrored in (True, False):
    trained = train_model(
        "lstm",
        prepared,
        ModelConfig(embedding_dim=8, units=8),
        TrainingConfig(epochs=2, batch_size=16),
        base / str(mirrored),
        execution=ExecutionConfig(mirrored=mirrored),
    )
    record = json.loads((trained.directory / "training.json").read_text())
    replicas = record["execution"]["replicas"]
    result[str(mirrored)] = {"replicas": replicas, "loss": trained.history["loss"]}
print(json.dumps(result))
"""


@pytest.mark.slow
def test_mirrored_training_splits_each_batch_over_two_replicas_with_the_same_result(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _MIRRORED_SCRIPT, str(tmp_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["True"]["replicas"] == 2 and result["False"]["replicas"] == 1
    # Synchronous data parallelism averages the two half-batch gradients, which is the
    # full batch's gradient: the same losses as on one device, up to float rounding.
    assert result["True"]["loss"] == pytest.approx(result["False"]["loss"], rel=1e-5)


@pytest.mark.slow
@pytest.mark.dask
def test_the_cli_on_a_local_cluster_records_every_task_in_its_one_temporary_server(
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
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    # One server, the flow's: the workers were told its address instead of starting their own.
    assert output.count("Starting temporary server") == 1, output[-3000:]
    metrics = json.loads((tmp_path / "data" / "reports" / "latest" / "metrics.json").read_text())
    assert len({model["trained_on"] for model in metrics["models"]}) == 2


def test_replacing_a_published_file_withdraws_the_listing_until_the_upload_is_done(
    memory_store, monkeypatch
):
    folder = _folder(memory_store.paths.models / "gru-2", {"model.keras": b"old"})
    memory_store.publish(folder)
    (folder / "model.keras").write_bytes(b"retrained")
    fs, root = memory_store.filesystem()
    listing_path = f"{root}/models/gru-2/{LISTING_NAME}"
    seen_during_upload = []
    original = type(fs).put_file

    def put_file(self, lpath, rpath, **kwargs):
        seen_during_upload.append(fs.exists(listing_path))
        return original(self, lpath, rpath, **kwargs)

    monkeypatch.setattr(type(fs), "put_file", put_file)
    memory_store.publish(folder)
    assert seen_during_upload == [False]  # no reader could pair the old listing with new bytes
    assert fs.cat_file(f"{root}/models/gru-2/model.keras") == b"retrained"
    import hashlib

    expected = hashlib.sha256(b"retrained").hexdigest()
    assert json.loads(fs.cat_file(listing_path)) == {"model.keras": expected}


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

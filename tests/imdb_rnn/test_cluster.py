"""The task runner of the training fan-out and the CPU threads each training gets."""

from __future__ import annotations

import os
import sys

import pytest

from imdb_rnn.cluster import require_dask, task_runner, tensorflow_threads
from imdb_rnn.config import ExecutionConfig, RunnerConfig
from imdb_rnn.errors import ConfigError


@pytest.fixture
def without_dask(monkeypatch):
    # A None entry makes `import prefect_dask` raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "prefect_dask", None)


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


def test_dask_without_the_extra_says_how_to_install_it(without_dask):
    with pytest.raises(ConfigError, match=r"pip install 'imdb-rnn\[dask\]'"):
        require_dask()
    with pytest.raises(ConfigError, match="not installed"):
        task_runner(RunnerConfig(runner="dask"))

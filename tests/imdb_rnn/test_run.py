"""One run: its id, its settings, and what is settled before any work starts."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime

import pytest

from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ExecutionConfig,
    PreprocessConfig,
    ReportConfig,
    RunnerConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.errors import ConfigError
from imdb_rnn.run import RunSettings, make_run_id, start_run
from rnn_models.config import ModelConfig


def test_run_id_sorts_by_time_and_carries_the_suffix():
    early = make_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "brave-otter")
    late = make_run_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "apt-heron")
    assert early == "20260102T030405Z-brave-otter"
    assert early < late


def _settings(**sections) -> RunSettings:
    defaults = {
        "source": SourceConfig(),
        "preprocess": PreprocessConfig(),
        "model": ModelConfig(),
        "training": TrainingConfig(),
        "execution": ExecutionConfig(),
        "baseline": BaselineConfig(),
        "champion": ChampionConfig(),
        "claims": ClaimsConfig(),
        "runner": RunnerConfig(),
        "report": ReportConfig(),
    }
    return RunSettings(**{**defaults, **sections})


def test_starting_a_run_opens_the_data_folder_without_creating_anything(tmp_path):
    data_dir = tmp_path / "data"
    run = start_run(str(data_dir), _settings(), name="brave-otter")
    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == []
    assert run.store.location == str(data_dir)
    assert run.store.paths.root == data_dir.resolve()
    assert re.fullmatch(r"\d{8}T\d{6}Z-brave-otter", run.run_id)
    assert run.settings == _settings()  # nothing to move, nothing to share out


def test_a_run_without_a_name_gets_a_random_suffix(tmp_path):
    first = start_run(str(tmp_path), _settings()).run_id
    second = start_run(str(tmp_path), _settings()).run_id
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", first)
    assert first != second


@pytest.mark.parametrize("data_dir", ["", "   "])
def test_an_empty_data_dir_is_refused(data_dir):
    with pytest.raises(ConfigError, match="--data-dir is empty"):
        start_run(data_dir, _settings())


def test_execution_settings_given_inside_training_by_a_0_3_deployment_move_to_execution(tmp_path):
    run = start_run(str(tmp_path), _settings(training=TrainingConfig(threads=3, retrain=True)))
    assert run.settings.execution == ExecutionConfig(threads=3, retrain=True)
    assert run.settings.training == TrainingConfig()  # nothing set aside is left behind
    saved = run.settings.as_json()
    assert saved["execution"]["threads"] == 3 and saved["execution"]["retrain"] is True
    assert set(saved["training"]) == set(TrainingConfig.model_fields)
    assert not set(saved["training"]) & set(ExecutionConfig.model_fields)


def test_execution_settings_given_as_such_win_over_those_inside_training(tmp_path):
    settings = _settings(
        training=TrainingConfig(threads=3, xla="off"),
        execution=ExecutionConfig(threads=1, batch_parts=4),
    )
    execution = start_run(str(tmp_path), settings).settings.execution
    assert execution == ExecutionConfig(threads=1, batch_parts=4, xla="off")


@pytest.mark.parametrize(
    ("cores", "workers", "tasks_per_worker", "threads"),
    [(8, 2, 1, 4), (8, 3, 1, 2), (8, 2, 2, 2), (3, 2, 1, 1), (1, 4, 1, 1)],
)
def test_a_local_dask_cluster_shares_the_cores_among_the_trainings_at_once(
    tmp_path, monkeypatch, cores, workers, tasks_per_worker, threads
):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    runner = RunnerConfig(runner="dask", workers=workers, tasks_per_worker=tasks_per_worker)
    run = start_run(str(tmp_path), _settings(runner=runner))
    assert run.settings.execution.threads == threads
    assert run.settings.runner == runner


@pytest.mark.parametrize(
    ("runner", "execution", "threads"),
    [
        (RunnerConfig(), ExecutionConfig(), 0),  # one training at a time: every core
        (RunnerConfig(runner="dask"), ExecutionConfig(threads=3), 3),  # the user's choice
        (RunnerConfig(dask_address="tcp://scheduler:8786"), ExecutionConfig(), 0),  # unseen
    ],
    ids=["sequential", "threads given", "existing cluster"],
)
def test_the_cores_are_shared_out_only_for_a_local_cluster_without_threads_given(
    tmp_path, monkeypatch, runner, execution, threads
):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    run = start_run(str(tmp_path), _settings(runner=runner, execution=execution))
    assert run.settings.execution.threads == threads


@pytest.mark.parametrize(
    ("training", "execution"),
    [
        (TrainingConfig(lazy_embeddings=True), ExecutionConfig(xla="on")),
        (TrainingConfig(lazy_embeddings=True, xla="on"), ExecutionConfig()),  # 0.3.0 style
    ],
)
def test_lazy_embeddings_with_xla_forced_on_are_refused(tmp_path, training, execution):
    with pytest.raises(ConfigError, match="lazy-embeddings"):
        start_run(str(tmp_path / "data"), _settings(training=training, execution=execution))
    assert not (tmp_path / "data").exists()


def test_lazy_embeddings_train_with_xla_on_auto_or_off(tmp_path):
    for xla in ("auto", "off"):
        settings = _settings(
            training=TrainingConfig(lazy_embeddings=True), execution=ExecutionConfig(xla=xla)
        )
        assert start_run(str(tmp_path), settings).settings.execution.xla == xla


def test_the_settings_as_json_have_every_section_in_order_in_plain_json_values(tmp_path):
    settings = _settings(
        training=TrainingConfig(architectures="gru,lstm", seeds=2),
        claims=ClaimsConfig(distances=(50, 10)),
        baseline=BaselineConfig(c_grid=(0.5, 2.0)),
    )
    saved = settings.as_json()
    assert list(saved) == [
        "source",
        "preprocess",
        "model",
        "training",
        "execution",
        "baseline",
        "champion",
        "claims",
        "runner",
        "report",
        "table",
    ]
    # Lists, not tuples, and nothing json cannot write: it reads back the same.
    assert json.loads(json.dumps(saved)) == saved
    assert saved["training"]["architectures"] == ["gru", "lstm"]
    assert saved["claims"]["distances"] == [10, 50]
    assert saved["baseline"]["c_grid"] == [0.5, 2.0]
    for name, section in saved.items():
        assert list(section) == list(type(getattr(settings, name)).model_fields), name

"""Download -> prepare -> train and evaluate each architecture -> champion -> history -> report."""

# No ``from __future__ import annotations`` here: `imdb-rnn serve` ships this flow to each run's
# subprocess with cloudpickle, and string annotations naming the configs would not resolve there.

import time
from dataclasses import dataclass

from prefect import flow

from imdb_rnn.cluster import task_runner, tensorflow_threads
from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ModelConfig,
    PreprocessConfig,
    RunnerConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.storage import DataStore
from tasks.baseline import baseline as train_baseline
from tasks.champion import crown_champion
from tasks.claims import measure_claims
from tasks.download import download_archive, unpack_dataset
from tasks.ensemble import ensemble
from tasks.evaluate import ModelEvaluation, evaluate, with_local_files
from tasks.folds import Fold
from tasks.history import record_history
from tasks.prepare import PreparedData, prepare
from tasks.report import RunReport, make_run_id, publish_report, report
from tasks.train import TrainedModel, local_model, train


@flow(name="compare-architectures", log_prints=True)
def compare_architectures(
    source: SourceConfig = SourceConfig(),  # noqa: B008 - frozen, so a shared default is safe
    preprocess: PreprocessConfig = PreprocessConfig(),  # noqa: B008
    model: ModelConfig = ModelConfig(),  # noqa: B008
    training: TrainingConfig = TrainingConfig(),  # noqa: B008
    baseline: BaselineConfig = BaselineConfig(),  # noqa: B008
    champion: ChampionConfig = ChampionConfig(),  # noqa: B008
    claims: ClaimsConfig = ClaimsConfig(),  # noqa: B008
    runner: RunnerConfig = RunnerConfig(),  # noqa: B008
    data_dir: str = "data",
) -> RunReport:
    """Train every architecture in ``training.architectures`` on IMDb and compare them."""
    store = DataStore.open(data_dir)
    fan_out = train_and_evaluate.with_options(task_runner=task_runner(runner))
    paths = store.paths()
    run_id = make_run_id()

    archive = download_archive(source, paths)
    raw = unpack_dataset(archive, paths)
    prepared = prepare(raw, preprocess, store)

    training = training.model_copy(update={"threads": tensorflow_threads(runner, training)})
    fanned_out = fan_out(prepared, model, training, store)
    trained, evaluations = fanned_out.trained, fanned_out.evaluations
    if baseline.enabled:
        evaluations.append(train_baseline(prepared, baseline, paths))
    seed_claims = measure_claims(trained, evaluations, prepared, model, training, claims, paths)

    decision = crown_champion(run_id, evaluations, prepared, champion, paths)
    configs = {
        "preprocess": preprocess,
        "model": model,
        "training": training,
        "baseline": baseline,
        "champion": champion,
        "claims": claims,
        "runner": runner,
    }
    recent_runs = record_history(run_id, evaluations, decision, prepared, configs, paths)
    run_report = report(
        run_id,
        evaluations,
        prepared,
        source.source,
        configs,
        paths.reports,
        decision,
        recent_runs,
        seed_claims,
        {"train and evaluate (wall)": fanned_out.seconds},
    )
    publish_report(run_report, store)
    return run_report


@dataclass(frozen=True)
class TrainedAndScored:
    trained: list[TrainedModel]
    evaluations: list[ModelEvaluation]
    seconds: float  # wall time of all the trainings and evaluations, however parallel


@flow(name="train-and-evaluate", log_prints=True)
def train_and_evaluate(
    prepared: PreparedData,
    model: ModelConfig,
    training: TrainingConfig,
    store: DataStore,
) -> TrainedAndScored:
    """One train and one evaluate task per architecture and seed, on this flow's task runner.

    With ``training.ensemble_folds`` = K > 1, each of those trainings is K fold members and
    an ensemble task that combines them; the ensemble is what gets evaluated.

    The tasks exchange only paths: each reads the prepared Parquet from the data folder and
    publishes its model there, so they can run in other processes or on other machines.
    """
    started = time.perf_counter()
    if training.ensemble_folds > 1:
        members = {
            (name, seed): [
                train.submit(name, prepared, model, training, store, seed, fold)
                for fold in Fold.all(training.ensemble_folds)
            ]
            for name in training.architectures
            for seed in training.seed_values()
        }
        # Every member is submitted before any is awaited, so they all run as the runner
        # allows; awaiting them here raises a member's own error instead of leaving its
        # ensemble pending for ever.
        trained = [
            ensemble.submit(
                [future.result() for future in futures],
                prepared,
                store,
                training.run_label(name, seed),
            )
            for (name, seed), futures in members.items()
        ]
    else:
        trained = [
            train.submit(name, prepared, model, training, store, seed)
            for name in training.architectures
            for seed in training.seed_values()
        ]
    scored = [evaluate.submit(future, prepared, store) for future in trained]
    # The steps after this one run here, so they read this process's copy of each model.
    local = [local_model(future.result(), store) for future in trained]
    evaluations = [
        with_local_files(future.result(), model_run)
        for future, model_run in zip(scored, local, strict=True)
    ]
    return TrainedAndScored(local, evaluations, round(time.perf_counter() - started, 3))

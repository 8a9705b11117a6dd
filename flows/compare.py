"""Download -> unpack -> prepare -> train and evaluate each architecture -> baseline ->
claims -> stack (with --stack) -> evidence -> champion -> explanation -> history -> report.

The claims' synthetic task needs no data: it starts first and runs beside the data stages
and the trainings. The baselines start as soon as the data is prepared. When a step fails,
the synthetic task stops at its next batch, so the error is not held back until it ends."""

# No ``from __future__ import annotations`` here: `imdb-rnn serve` ships this flow to each run's
# subprocess with cloudpickle, and string annotations naming the configs would not resolve there.

import time

from prefect import Flow, State, flow
from prefect.client.schemas.objects import FlowRun
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from imdb_rnn.cluster import task_runner
from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ExecutionConfig,
    PreprocessConfig,
    ReportConfig,
    RunnerConfig,
    SourceConfig,
    TableConfig,
    TrainingConfig,
)
from imdb_rnn.evaluation import TrainedAndScored, with_local_files
from imdb_rnn.prepared import PreparedData
from imdb_rnn.run import RunSettings, start_run
from imdb_rnn.stopping import abandon_run
from imdb_rnn.storage import DataStore
from imdb_rnn.trained import PlannedModel, local_model, plan_models
from rnn_models.config import ModelConfig
from tasks.baseline import train_baselines
from tasks.champion import crown_champion
from tasks.claims import measure_claims, synthetic_claims
from tasks.download import download_archive
from tasks.ensemble import ensemble
from tasks.evaluate import evaluate
from tasks.evidence import weigh
from tasks.explain import explain_champion
from tasks.history import record_history
from tasks.prepare import prepare
from tasks.report import RunReport, publish_report, write_report
from tasks.stack import stack
from tasks.train import train
from tasks.unpack import unpack_dataset


def _stop_work_beside_the_steps(flow: Flow, failed_run: FlowRun, state: State) -> None:
    """A failed run's synthetic task stops after its current batch (``on_failure`` hooks
    run before the flow waits for the tasks it submitted)."""
    abandon_run(str(failed_run.id))


@flow(name="compare-architectures", log_prints=True, on_failure=[_stop_work_beside_the_steps])
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
    execution: ExecutionConfig = ExecutionConfig(),  # noqa: B008
    report: ReportConfig = ReportConfig(),  # noqa: B008
    table: TableConfig = TableConfig(),  # noqa: B008
) -> RunReport:
    """Train every architecture in ``training.architectures`` on IMDb (or on the table of
    labeled text ``source`` names, read as ``table`` says) and compare them."""
    settings = RunSettings(
        source=source,
        preprocess=preprocess,
        model=model,
        training=training,
        execution=execution,
        baseline=baseline,
        champion=champion,
        claims=claims,
        runner=runner,
        report=report,
        table=table,
    )
    run = start_run(data_dir, settings, flow_run.name)
    fan_out = train_and_evaluate.with_options(task_runner=task_runner(runner))
    # Submitted, these run beside the other stages, on whatever core those leave idle: the
    # synthetic task needs no data, so it starts first; the baselines once data is prepared.
    synthetic = synthetic_claims.submit(model, training, claims, run.store)
    archive = download_archive(source, run.store, table)
    raw = unpack_dataset(archive, run.store)
    prepared = prepare(raw, preprocess, run.store, table)
    baselines = train_baselines.submit(prepared, baseline, run.store)
    recurrent = fan_out(prepared, model, training, run.settings.execution, run.store)
    seed_claims = measure_claims(recurrent, prepared, model, training, claims, run.store, synthetic)
    recurrent = stack(recurrent, prepared, training, baseline, run.store)
    evidence = weigh(recurrent, baselines, prepared, report)
    decision = crown_champion(
        run.run_id, recurrent.evaluations, prepared, champion, report, run.store
    )
    explained = explain_champion(decision, prepared, report)
    recent_runs = record_history(run, recurrent, baselines, decision, prepared)
    run_report = write_report(
        run, recurrent, baselines, prepared, decision, recent_runs, seed_claims, evidence, explained
    )
    publish_report(run_report, run.store)
    return run_report


@flow(name="train-and-evaluate", log_prints=True)
def train_and_evaluate(
    prepared: PreparedData,
    model: ModelConfig,
    training: TrainingConfig,
    execution: ExecutionConfig,
    store: DataStore,
) -> TrainedAndScored:
    """One train and one evaluate task per architecture and seed, on this flow's task runner.

    With ``training.ensemble_folds`` = K > 1, each of those trainings is K fold members and
    an ensemble task that combines them; the ensemble is what gets evaluated.

    The tasks exchange only paths: each reads the prepared Parquet from the data folder and
    publishes its model there, so they can run in other processes or on other machines.
    """
    started = time.perf_counter()
    planned = plan_models(training, model, prepared.fingerprint)
    # Every training is submitted before any is awaited, so they all run as the runner allows.
    members = [
        [train.submit(recipe, label, prepared, execution, store) for recipe, label in plan.members]
        for plan in planned
    ]
    trained = [
        _combined(plan, futures, prepared, store)
        for plan, futures in zip(planned, members, strict=True)
    ]
    scored = [evaluate.submit(future, prepared, store) for future in trained]
    # The steps after this one run here, so they read this process's copy of each model.
    local = [local_model(future.result(), store) for future in trained]
    evaluations = [
        with_local_files(future.result(), model_run)
        for future, model_run in zip(scored, local, strict=True)
    ]
    return TrainedAndScored(local, evaluations, round(time.perf_counter() - started, 3))


def _combined(
    plan: PlannedModel, members: list[PrefectFuture], prepared: PreparedData, store: DataStore
) -> PrefectFuture:
    """The future of the model ``plan`` scores: its one training, or its members' ensemble.

    Awaiting the members here raises a member's own error instead of leaving its ensemble
    pending for ever.
    """
    if not plan.is_ensemble:
        return members[0]
    return ensemble.submit([future.result() for future in members], prepared, store, plan.label)

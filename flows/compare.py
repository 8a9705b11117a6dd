"""Download -> prepare -> train and evaluate each architecture -> champion -> history -> report."""

# No ``from __future__ import annotations`` here: `imdb-rnn serve` ships this flow to each run's
# subprocess with cloudpickle, and string annotations naming the configs would not resolve there.

from prefect import flow

from imdb_rnn.config import (
    BaselineConfig,
    ChampionConfig,
    ClaimsConfig,
    ModelConfig,
    PreprocessConfig,
    SourceConfig,
    TrainingConfig,
)
from imdb_rnn.paths import DataPaths
from tasks.baseline import baseline as train_baseline
from tasks.champion import crown_champion
from tasks.claims import measure_claims
from tasks.download import download_archive, unpack_dataset
from tasks.evaluate import evaluate
from tasks.history import record_history
from tasks.prepare import prepare
from tasks.report import RunReport, make_run_id, report
from tasks.train import train


@flow(name="compare-architectures", log_prints=True)
def compare_architectures(
    source: SourceConfig = SourceConfig(),  # noqa: B008 - frozen, so a shared default is safe
    preprocess: PreprocessConfig = PreprocessConfig(),  # noqa: B008
    model: ModelConfig = ModelConfig(),  # noqa: B008
    training: TrainingConfig = TrainingConfig(),  # noqa: B008
    baseline: BaselineConfig = BaselineConfig(),  # noqa: B008
    champion: ChampionConfig = ChampionConfig(),  # noqa: B008
    claims: ClaimsConfig = ClaimsConfig(),  # noqa: B008
    data_dir: str = "data",
) -> RunReport:
    """Train every architecture in ``training.architectures`` on IMDb and compare them."""
    paths = DataPaths.at(data_dir)
    run_id = make_run_id()

    archive = download_archive(source, paths)
    raw = unpack_dataset(archive, paths)
    prepared = prepare(raw, preprocess, paths.processed)

    trained = [
        train(name, prepared, model, training, paths.models, seed)
        for name in training.architectures
        for seed in training.seed_values()
    ]
    evaluations = [evaluate(model_run, prepared) for model_run in trained]
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
    }
    recent_runs = record_history(run_id, evaluations, decision, prepared, configs, paths)
    return report(
        run_id,
        evaluations,
        prepared,
        source.source,
        configs,
        paths.reports,
        decision,
        recent_runs,
        seed_claims,
    )

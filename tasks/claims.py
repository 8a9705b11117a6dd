"""The claims step: measure the seed notes' claims for the models a run trained.

For every trained architecture it measures, and keeps beside the model or in ``claims/``:

- the gradient of the model's own loss (cross-entropy over its two or K classes) with
  respect to the embedding output at each position, averaged over a fixed sample of test
  reviews (``rnn_models.probes.gradient_by_position``);
- accuracy on a synthetic task whose label is one marker token ``d`` steps before the end
  (``rnn_models.probes.synthetic_accuracies``): a two-class task of its own, whatever the
  data's classes, needing no data, so the flow measures it first (``synthetic_claims``);
- the gradient norm during training (logged by ``rnn_models.optimizers``), and complexity,
  from numbers the pipeline already has.

The verdicts come from the fixed rules of ``imdb_rnn.claim_rules``; the report draws its
own tables from the result.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from imdb_rnn import __version__
from imdb_rnn.claims import ArchitectureClaims, ClaimsResult, norm_stats
from imdb_rnn.config import ClaimsConfig, TrainingConfig
from imdb_rnn.evaluation import ModelEvaluation, TrainedAndScored
from imdb_rnn.files import sha256_json, write_json_atomic
from imdb_rnn.prepared import PreparedData, load_arrays
from imdb_rnn.stopping import raise_if_stop_requested
from imdb_rnn.storage import DataStore
from imdb_rnn.trained import TrainedModel
from rnn_models.config import ModelConfig

log = logging.getLogger(__name__)

TABLE_ARTIFACT_KEY = "seed-claims"
# Bump when how a number is measured changes, so cached curves and accuracies are redone.
CLAIMS_VERSION = 2
CURVE_FILE = "claims.json"


def _curve_key(trained: TrainedModel, prepared: PreparedData, claims: ClaimsConfig, seed: int):
    return sha256_json(
        {
            "version": CLAIMS_VERSION,
            "model": trained.fingerprint,
            "data": prepared.fingerprint,
            "sample_reviews": claims.sample_reviews,
            "seed": seed,
        }
    )


def cached_gradient_curve(
    trained: TrainedModel,
    prepared: PreparedData,
    claims: ClaimsConfig,
    seed: int,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> tuple[list[float], bool]:
    """The model's gradient by position and whether it came from its ``claims.json``.

    The sample is a fixed, seeded choice of test reviews, so the same model and settings
    always give the same curve; it is kept beside the model and reused.
    """
    cache = trained.directory / CURVE_FILE
    key = _curve_key(trained, prepared, claims, seed)
    if cache.is_file():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            logger.info("Reusing the gradient by position of %s", trained.architecture)
            return stored["curve"], True

    from rnn_models.optimizers import load_model
    from rnn_models.probes import gradient_by_position

    x_test, y_test, _ = load_arrays(prepared, "test")
    rng = np.random.default_rng(seed)
    chosen = np.sort(
        rng.choice(len(x_test), size=min(claims.sample_reviews, len(x_test)), replace=False)
    )
    model = load_model(trained.model_path)
    curve = [float(v) for v in gradient_by_position(model, x_test[chosen], y_test[chosen])]
    write_json_atomic(
        cache,
        {"key": key, "sample_reviews": len(chosen), "seed": seed, "curve": curve},
    )
    return curve, False


def synthetic_fingerprint(
    architecture: str, model_config: ModelConfig, claims: ClaimsConfig, seed: int
) -> str:
    """Names ``claims/<fingerprint>.json``: every input that changes the synthetic results."""
    return sha256_json(
        {
            "version": CLAIMS_VERSION,
            "package": __version__,
            "architecture": architecture,
            "model": model_config.model_dump(),
            "budget": dataclasses.asdict(claims.synthetic_budget()),
            "distances": list(claims.distances),
            "seed": seed,
        }
    )[:16]


def cached_synthetic_results(
    architecture: str,
    model_config: ModelConfig,
    claims: ClaimsConfig,
    seed: int,
    claims_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
    run_id: str | None = None,
) -> tuple[dict[str, dict[str, float]], bool]:
    """``{str(distance): {"accuracy", "epochs", "seconds"}}`` and whether it was reused.

    The training stops after the batch in which Ctrl-C was pressed or the flow run
    ``run_id`` failed (``imdb_rnn.stopping``).
    """
    path = claims_dir / f"{synthetic_fingerprint(architecture, model_config, claims, seed)}.json"
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if set(stored.get("results", {})) == {str(d) for d in claims.distances}:
            logger.info("Reusing the synthetic long-range results of %s", architecture)
            return stored["results"], True
    from rnn_models.probes import synthetic_accuracies

    results = {}
    measured = synthetic_accuracies(
        architecture,
        model_config,
        claims.synthetic_budget(),
        claims.distances,
        seed,
        check_stop=lambda: raise_if_stop_requested(f"the synthetic task of {architecture}", run_id),
    )
    for distance, result in measured:
        results[str(distance)] = result
        logger.info(
            "%s synthetic d=%d: accuracy %.3f after %d epoch(s), %.1f s",
            architecture,
            distance,
            result["accuracy"],
            result["epochs"],
            result["seconds"],
        )
    write_json_atomic(
        path,
        {
            "architecture": architecture,
            "model": model_config.model_dump(),
            "budget": dataclasses.asdict(claims.synthetic_budget()),
            "seed": seed,
            "results": results,
        },
    )
    return results, False


@dataclasses.dataclass(frozen=True)
class SyntheticResults:
    """The synthetic long-range results of each architecture, measured before the models
    that use them are trained: ``{architecture: (results, reused)}``, and the seconds."""

    by_architecture: dict[str, tuple[dict[str, dict[str, float]], bool]]
    seconds: float


def measure_synthetic(
    model_config: ModelConfig,
    training: TrainingConfig,
    claims: ClaimsConfig,
    claims_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
    run_id: str | None = None,
) -> SyntheticResults:
    """The synthetic task for every architecture the run trains; nothing when claims are off.

    It needs no data and no trained model, so the flow starts it first and it runs beside
    the other stages, on the core they leave: beside the single-threaded ones (unpack,
    prepare, the baselines) most of all. It stops once the flow run ``run_id`` has failed.
    """
    started = time.perf_counter()
    if not claims.enabled:
        return SyntheticResults({}, 0.0)
    by_architecture = {
        architecture: cached_synthetic_results(
            architecture, model_config, claims, training.seed, claims_dir, logger, run_id
        )
        for architecture in training.architectures
    }
    return SyntheticResults(by_architecture, time.perf_counter() - started)


def _first_per_architecture(trained: list[TrainedModel]) -> list[TrainedModel]:
    """With several seeds there are several models per architecture: the first one speaks."""
    first: dict[str, TrainedModel] = {}
    for model in trained:
        first.setdefault(model.architecture, model)
    return list(first.values())


def measure_seed_claims(
    trained: list[TrainedModel],
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    claims: ClaimsConfig,
    claims_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
    synthetic: SyntheticResults | None = None,
) -> ClaimsResult:
    """Measure every claim for the first trained model of each architecture.

    The synthetic results come from ``synthetic`` when the flow measured them beforehand;
    an architecture it lacks is measured (or read from ``claims_dir``) here.
    """
    started = time.perf_counter()
    beforehand = synthetic.by_architecture if synthetic else {}
    scored = {e.model: e for e in evaluations if e.kind == "rnn"}
    measured, all_reused = [], True
    for model in _first_per_architecture(trained):
        evaluation = scored.get(model.name)  # the architecture, plus the seed when several
        seconds_per_epoch = model.train_seconds / max(1, model.epochs)
        first_norm, max_norm = norm_stats(model.history)
        if model.failure:
            curve: list[float] = []
            synthetic_results: dict[str, dict[str, float]] = {}
        else:
            curve, curve_reused = cached_gradient_curve(
                model, prepared, claims, training.seed, logger
            )
            synthetic_results, synthetic_reused = beforehand.get(
                model.architecture
            ) or cached_synthetic_results(
                model.architecture, model_config, claims, training.seed, claims_dir, logger
            )
            all_reused = all_reused and curve_reused and synthetic_reused
        measured.append(
            ArchitectureClaims(
                model=model.architecture,
                window=prepared.preprocess.maxlen,
                gradient_curve=curve,
                synthetic=synthetic_results,
                parameters=model.parameters,
                seconds_per_epoch=seconds_per_epoch,
                reviews_per_second=evaluation.reviews_per_second if evaluation else 0.0,
                gradient_norm_first=first_norm,
                gradient_norm_max=max_norm,
                failure=model.failure,
            )
        )
    return ClaimsResult(
        distances=claims.distances,
        measured=measured,
        # The synthetic task's seconds count although they overlapped other stages: they
        # are the claims' work.
        seconds=time.perf_counter() - started + (synthetic.seconds if synthetic else 0.0),
        reused=all_reused,
        config=claims.model_dump(mode="json"),
    )


@task(name="synthetic-claims", task_run_name="synthetic-claims")
def synthetic_claims(
    model_config: ModelConfig, training: TrainingConfig, claims: ClaimsConfig, store: DataStore
) -> SyntheticResults:
    """Train each architecture briefly on the synthetic long-range task (claims' first half);
    stopped when the flow run that started it fails."""
    return measure_synthetic(
        model_config, training, claims, store.paths.claims, get_run_logger(), flow_run.id
    )


@task(name="seed-claims", task_run_name="seed-claims")
def measure_claims(
    recurrent: TrainedAndScored,
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    claims: ClaimsConfig,
    store: DataStore,
    synthetic: SyntheticResults | None = None,
) -> ClaimsResult | None:
    """Measure the seed notes' claims and publish the ``seed-claims`` table; None when off."""
    logger = get_run_logger()
    if not claims.enabled:
        logger.info("Claims step turned off (--no-claims)")
        return None
    result = measure_seed_claims(
        recurrent.trained,
        recurrent.evaluations,
        prepared,
        model_config,
        training,
        claims,
        store.paths.claims,
        logger,
        synthetic,
    )
    create_table_artifact(
        table=result.rows,
        key=TABLE_ARTIFACT_KEY,
        description="The seed notes' claims measured per architecture: gradient span, "
        "synthetic long-range accuracy, gradient norm growth, complexity.",
    )
    for verdict in result.verdicts:
        logger.info("%s", verdict["text"])
    logger.info("Claims measured in %.1f s", result.seconds)
    return result

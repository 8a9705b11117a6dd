"""Measure the seed notes' claims for the models a run trained.

The notes end in a table that is asserted, not measured: RNN short memory, low complexity,
no long-term dependency; LSTM long, high, yes; GRU long, medium, yes; and vanilla RNNs
suffer from vanishing or exploding gradients. For every trained architecture this step
measures:

- the gradient of the loss with respect to the embedding output at each position, averaged
  over a fixed sample of test reviews, and the effective memory span it implies;
- accuracy on a synthetic task whose label is one marker token ``d`` steps before the end;
- the gradient norm during training (logged by ``rnn_models.optimizers``);
- complexity, from numbers the pipeline already has.

Each claim is then judged by the fixed rules below. Plain functions, testable without
Prefect; Keras and TensorFlow are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact

from imdb_rnn import __version__
from imdb_rnn.config import ClaimsConfig, ModelConfig, TrainingConfig
from imdb_rnn.files import sha256_json, write_json_atomic
from imdb_rnn.paths import DataPaths
from tasks.evaluate import ModelEvaluation
from tasks.prepare import PreparedData, load_arrays
from tasks.train import TrainedModel

log = logging.getLogger(__name__)

TABLE_ARTIFACT_KEY = "seed-claims"
# Bump when how a number is measured changes, so cached curves and accuracies are redone.
CLAIMS_VERSION = 2
CURVE_FILE = "claims.json"

# --- Verdict rules. Fixed before any run was measured; never tune them to results. ---
# The span counts positions back from the last token while the gradient stays
# above 1 % of its peak. Below that, a token moves the loss a hundred times less than the
# token the model reacts to most: for practical purposes it is forgotten.
SPAN_THRESHOLD = 0.01
# "Long memory" means the span covers at least half of what the model reads (100 of 200
# positions at the seed maxlen): tokens from the first half still count. Less is "short".
LONG_MEMORY_FRACTION = 0.5
# A distance is "handled" when held-out accuracy is at least 0.9 (chance is 0.5): the model
# recovers the marker for nine sequences in ten, far beyond guessing and sampling noise
# (two standard errors at 1,024 test sequences are about 0.02).
HANDLED_ACCURACY = 0.9
# "Exploding" means grown by orders of magnitude: the largest step's gradient norm is more
# than 100 times (two orders) the first epoch's mean norm.
EXPLODING_GROWTH = 100.0
# The synthetic training stops early once the training accuracy reaches this: the task is
# learnt, and more epochs would only cost time. Accuracy is measured on held-out data.
SOLVED_TRAIN_ACCURACY = 0.99

# Synthetic token ids: 0 and 1 stay unused (padding and unknown in the real data), the two
# markers decide the label, every other position holds a distractor that is never a marker.
MARKER_NEGATIVE, MARKER_POSITIVE = 2, 3
FIRST_DISTRACTOR = 4

# History keys written by rnn_models.optimizers.LogGradientNorm (not imported: it loads Keras).
NORM_MEAN_KEY, NORM_MAX_KEY = "gradient_norm_mean", "gradient_norm_max"

# The notes' table, as asserted, for the architectures it names.
NOTES_NAMES = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
NOTES_TABLE: dict[str, dict[str, str]] = {
    "simple_rnn": {"memory": "short", "complexity": "low", "long_term": "no"},
    "lstm": {"memory": "long", "complexity": "high", "long_term": "yes"},
    "gru": {"memory": "long", "complexity": "medium", "long_term": "yes"},
}
CLAIM_HEADINGS = {
    "memory": "memory",
    "complexity": "complexity",
    "long_term": "handles long-term dependency",
    "gradients": "vanishing or exploding gradients",
}


# --------------------------------------------------------------------------- measurements


def gradient_by_position(
    model: Any, tokens: np.ndarray, labels: np.ndarray, batch_size: int = 64
) -> np.ndarray:
    """Mean over reviews of ``|d loss / d embedding output|`` at each position, shape ``(T,)``.

    The model is split at its ``Embedding`` layer: the embedding output is computed, watched
    by a ``GradientTape``, and the rest of the graph (a functional model from the embedding
    output and the token ids to the model's output, so pooling branches work too) is applied
    to it in inference mode. Each review's loss is summed, not averaged, so every review's
    gradient is its own.
    """
    import keras
    import tensorflow as tf

    # An ensemble averages members of one architecture: its first member speaks for them.
    model = next((layer for layer in model.layers if isinstance(layer, keras.Model)), model)
    embedding = next(
        (layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)), None
    )
    if embedding is None:
        raise ValueError(f"model {model.name!r} has no Embedding layer to measure gradients at")
    # The token ids stay an input: pooling over time reads them to leave padding out.
    tokens_input = model.inputs[0]
    after_embedding = keras.Model([tokens_input, embedding.output], model.outputs[0])
    tokens = np.asarray(tokens)
    labels = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
    total = np.zeros(tokens.shape[1], dtype=np.float64)
    for start in range(0, len(tokens), batch_size):
        token_batch = tf.convert_to_tensor(tokens[start : start + batch_size])
        embedded = embedding(token_batch)
        with tf.GradientTape() as tape:
            tape.watch(embedded)
            output = after_embedding([token_batch, embedded], training=False)
            target = tf.convert_to_tensor(labels[start : start + batch_size])
            loss = tf.reduce_sum(keras.losses.binary_crossentropy(target, output))
        gradient = tape.gradient(loss, embedded)
        total += tf.norm(gradient, axis=-1).numpy().sum(axis=0)
    return total / max(1, len(tokens))


def effective_span(curve: np.ndarray | list[float], threshold: float = SPAN_THRESHOLD) -> int:
    """Positions back from the last one while ``curve`` stays above ``threshold`` x its peak.

    The last position counts as the first of the span; the first position at or below the
    floor ends it. An empty, all-zero or non-finite curve has span 0.
    """
    values = np.asarray(curve, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all() or values.max() <= 0:
        return 0
    above = values[::-1] > threshold * values.max()
    return int(values.size if above.all() else np.argmin(above))


def synthetic_task(
    n: int, length: int, distance: int, vocab_size: int, seed: int, *, exact: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random sequences whose label is the marker ``distance`` steps before the end.

    Exactly ``distance`` distractors follow the marker, so the model must carry it that
    many steps; with ``exact=False`` each sequence gets its own distance in
    ``1..distance``. Half the labels are 1 (one more 0 when ``n`` is odd), in random order.
    Distractors are drawn from ``FIRST_DISTRACTOR..vocab_size-1`` and never equal a marker.
    """
    if not 1 <= distance < length:
        raise ValueError(f"distance {distance} must be in 1..{length - 1} for length {length}")
    if vocab_size <= FIRST_DISTRACTOR:
        raise ValueError(f"vocab_size must be > {FIRST_DISTRACTOR}, got {vocab_size}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2).astype(np.int8)
    tokens = rng.integers(FIRST_DISTRACTOR, vocab_size, size=(n, length), dtype=np.int32)
    distances = np.full(n, distance) if exact else rng.integers(1, distance + 1, size=n)
    markers = np.where(labels == 1, MARKER_POSITIVE, MARKER_NEGATIVE)
    tokens[np.arange(n), length - 1 - distances] = markers
    return tokens, labels


def synthetic_accuracy(
    architecture: str, model_config: ModelConfig, claims: ClaimsConfig, distance: int, seed: int
) -> dict[str, float]:
    """Train ``architecture`` briefly on the synthetic task at ``distance``; held-out accuracy.

    Returns ``{"accuracy", "epochs", "seconds"}``. The test sequences (another seed, never
    seen in training) all have the marker exactly ``distance`` steps before the end. In
    training it is anywhere from 1 to ``distance`` steps before the end: with the marker
    always far back, a brief training gets no learning signal at all (a GRU trained on
    4,096 sequences with d=50 for 4 epochs stayed at chance), so the result would measure
    the training budget, not whether the architecture can carry the marker ``distance``
    steps. The nearer markers teach what to keep; the test asks how far it is kept.
    """
    import keras

    from rnn_models import build_model
    from rnn_models.runtime import (
        configure_tensorflow,
        create_training_state,
        jit_compile_setting,
        predict_probabilities,
        seeded_construction,
        steps_per_epoch,
        training_dataset,
    )

    configure_tensorflow(seed)
    length = claims.synthetic_length
    x_train, y_train = synthetic_task(
        claims.synthetic_train, length, distance, claims.synthetic_vocab, seed, exact=False
    )
    x_test, y_test = synthetic_task(
        claims.synthetic_test, length, distance, claims.synthetic_vocab, seed + 1
    )
    with seeded_construction(seed):
        model = build_model(architecture, model_config, claims.synthetic_vocab, length)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=claims.synthetic_learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile_setting("auto", model_config.pooling != "last"),
    )
    create_training_state(model)

    class _StopWhenSolved(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if (logs or {}).get("accuracy", 0.0) >= SOLVED_TRAIN_ACCURACY:
                self.model.stop_training = True

    started = time.perf_counter()
    history = model.fit(
        training_dataset(
            x_train, y_train, claims.synthetic_batch_size, seed, 0, claims.synthetic_epochs
        ),
        steps_per_epoch=steps_per_epoch(len(x_train), claims.synthetic_batch_size),
        epochs=claims.synthetic_epochs,
        shuffle=False,  # the dataset shuffles itself
        verbose=0,
        callbacks=[_StopWhenSolved()],
    )
    probabilities = predict_probabilities(model, x_test)
    accuracy = float(((probabilities >= 0.5).astype(np.int8) == y_test).mean())
    return {
        "accuracy": accuracy,
        "epochs": len(history.history["loss"]),
        "seconds": round(time.perf_counter() - started, 2),
    }


# ------------------------------------------------------------------------------- caching


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
            "claims": claims.model_dump(exclude={"enabled", "sample_reviews"}),
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
) -> tuple[dict[str, dict[str, float]], bool]:
    """``{str(distance): {"accuracy", "epochs", "seconds"}}`` and whether it was reused."""
    path = claims_dir / f"{synthetic_fingerprint(architecture, model_config, claims, seed)}.json"
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if set(stored.get("results", {})) == {str(d) for d in claims.distances}:
            logger.info("Reusing the synthetic long-range results of %s", architecture)
            return stored["results"], True
    results = {}
    for distance in claims.distances:
        results[str(distance)] = synthetic_accuracy(
            architecture, model_config, claims, distance, seed
        )
        logger.info(
            "%s synthetic d=%d: accuracy %.3f after %d epoch(s), %.1f s",
            architecture,
            distance,
            results[str(distance)]["accuracy"],
            results[str(distance)]["epochs"],
            results[str(distance)]["seconds"],
        )
    write_json_atomic(
        path,
        {
            "architecture": architecture,
            "model": model_config.model_dump(),
            "claims": claims.model_dump(mode="json", exclude={"enabled", "sample_reviews"}),
            "seed": seed,
            "results": results,
        },
    )
    return results, False


# ------------------------------------------------------------------------------ verdicts


def memory_class(span: int, window: int) -> str:
    """``long`` when the span covers at least ``LONG_MEMORY_FRACTION`` of the window."""
    return "long" if span >= LONG_MEMORY_FRACTION * window else "short"


def longest_handled(accuracy: dict[int, float]) -> int | None:
    """The largest distance up to which every tested distance reaches ``HANDLED_ACCURACY``."""
    handled = None
    for distance in sorted(accuracy):
        if accuracy[distance] is None or not accuracy[distance] >= HANDLED_ACCURACY:
            break
        handled = distance
    return handled


def long_term_class(accuracy: dict[int, float]) -> str:
    """``yes`` when the largest tested distance is handled."""
    return "yes" if accuracy and longest_handled(accuracy) == max(accuracy) else "no"


def norm_growth(first_epoch_mean: float | None, largest: float | None) -> float | None:
    """How many times the largest step norm exceeds the first epoch's mean; None if unknown."""
    if first_epoch_mean is None or largest is None:
        return None
    if not (math.isfinite(first_epoch_mean) and first_epoch_mean > 0):
        return None
    return largest / first_epoch_mean if math.isfinite(largest) else math.inf


def is_exploding(growth: float | None) -> bool | None:
    return None if growth is None else growth > EXPLODING_GROWTH


def complexity_classes(parameters: dict[str, int]) -> dict[str, str]:
    """low / medium / high by parameter count among the notes' architectures present.

    The fewest parameters is ``low``, the most ``high``, anything between ``medium``.
    """
    ranked = sorted((p, name) for name, p in parameters.items() if name in NOTES_TABLE)
    classes = {}
    for index, (_, name) in enumerate(ranked):
        if index == 0:
            classes[name] = "low"
        elif index == len(ranked) - 1:
            classes[name] = "high"
        else:
            classes[name] = "medium"
    return classes


def complexity_supported(name: str, parameters: dict[str, int]) -> bool:
    """Whether the notes' order (RNN < GRU < LSTM) holds for ``name`` against each other one."""
    order = {"low": 0, "medium": 1, "high": 2}
    mine = order[NOTES_TABLE[name]["complexity"]]
    for other, count in parameters.items():
        if other == name or other not in NOTES_TABLE:
            continue
        theirs = order[NOTES_TABLE[other]["complexity"]]
        if (mine < theirs and not parameters[name] < count) or (
            mine > theirs and not parameters[name] > count
        ):
            return False
    return True


@dataclass(frozen=True)
class ArchitectureClaims:
    """What was measured for one architecture."""

    model: str
    window: int  # positions the model reads (maxlen)
    gradient_curve: list[float]
    synthetic: dict[str, dict[str, float]]  # str(distance) -> accuracy, epochs, seconds
    parameters: int
    seconds_per_epoch: float
    reviews_per_second: float
    gradient_norm_first: float | None  # mean norm in the first epoch
    gradient_norm_max: float | None  # largest step norm over the whole training
    failure: str = ""

    @property
    def span(self) -> int:
        return effective_span(self.gradient_curve)

    @property
    def oldest_to_peak(self) -> float | None:
        """Gradient at the first (oldest) position over the peak: the vanishing factor."""
        curve = np.asarray(self.gradient_curve, dtype=np.float64)
        if curve.size == 0 or curve.max() <= 0:
            return None
        return float(curve[0] / curve.max())

    @property
    def accuracy(self) -> dict[int, float]:
        return {int(d): float(v["accuracy"]) for d, v in self.synthetic.items()}

    @property
    def growth(self) -> float | None:
        return norm_growth(self.gradient_norm_first, self.gradient_norm_max)


def claim_verdicts(measured: list[ArchitectureClaims]) -> list[dict[str, Any]]:
    """One record per notes claim: asserted, measured, supported (True/False/None), evidence."""
    by_name = {m.model: m for m in measured if not m.failure}
    parameters = {name: m.parameters for name, m in by_name.items()}
    complexity = complexity_classes(parameters)
    verdicts = []
    for name, asserted in NOTES_TABLE.items():
        label = NOTES_NAMES[name]
        m = by_name.get(name)
        if m is None:
            continue
        window = m.window
        needed = math.ceil(LONG_MEMORY_FRACTION * window)
        measured_memory = memory_class(m.span, window) if m.gradient_curve else None
        verdicts.append(
            _verdict(
                name,
                "memory",
                asserted["memory"],
                measured_memory,
                f"span {m.span} of {window} positions (long means at least {needed})",
                f"{label}: {asserted['memory']} memory",
            )
        )
        others = ", ".join(
            f"{NOTES_NAMES[o]} {p:,}"
            for o, p in sorted(parameters.items(), key=lambda i: i[1])
            if o != name and o in NOTES_TABLE
        )
        supported = complexity_supported(name, parameters) if len(complexity) > 1 else None
        verdicts.append(
            {
                "model": name,
                "claim": "complexity",
                "asserted": asserted["complexity"],
                "measured": complexity.get(name) if len(complexity) > 1 else None,
                "supported": supported,
                "text": f"{label}: {asserted['complexity']} complexity: "
                + _word(supported)
                + f", {m.parameters:,} parameters"
                + (f" (others: {others})" if others else "")
                + f", {m.seconds_per_epoch:.1f} s per epoch, {m.reviews_per_second:,.0f} reviews/s",
            }
        )
        accuracy = m.accuracy
        if accuracy:
            largest = max(accuracy)
            handled = longest_handled(accuracy)
            evidence = (
                f"accuracy {accuracy[largest]:.3f} at d={largest} "
                f"(handled means at least {HANDLED_ACCURACY:.2f}); "
                + (f"handled up to d={handled}" if handled else "no distance handled")
            )
            measured_long = long_term_class(accuracy)
        else:
            evidence, measured_long = "no synthetic results", None
        verdicts.append(
            _verdict(
                name,
                "long_term",
                asserted["long_term"],
                measured_long,
                evidence,
                f"{label}: handles long-term dependency: {asserted['long_term']}",
            )
        )
    simple = by_name.get("simple_rnn")
    if simple is not None:
        ratio, growth = simple.oldest_to_peak, simple.growth
        vanishing = None if ratio is None else ratio < SPAN_THRESHOLD
        exploding = is_exploding(growth)
        known = [v for v in (vanishing, exploding) if v is not None]
        supported = any(known) if known else None
        parts = []
        if ratio is not None:
            parts.append(
                f"gradient at the oldest position is {ratio:.2g} of its peak "
                + ("(vanishing: below 1 %)" if vanishing else "(not vanishing: at least 1 %)")
            )
        if growth is not None:
            parts.append(
                f"gradient norm peaked at {growth:.3g}x the first epoch's mean "
                + (
                    f"(exploding: more than {EXPLODING_GROWTH:g}x)"
                    if exploding
                    else f"(not exploding: at most {EXPLODING_GROWTH:g}x)"
                )
            )
        verdicts.append(
            {
                "model": "simple_rnn",
                "claim": "gradients",
                "asserted": "yes",
                "measured": None if supported is None else ("yes" if supported else "no"),
                "supported": supported,
                "text": "RNN: suffers from vanishing or exploding gradients: "
                + _word(supported)
                + (", " + "; ".join(parts) if parts else ", not measured"),
            }
        )
    return verdicts


def _word(supported: bool | None) -> str:
    return {True: "supported", False: "not supported", None: "not measured"}[supported]


def _verdict(
    name: str, claim: str, asserted: str, measured: str | None, evidence: str, prefix: str
) -> dict[str, Any]:
    supported = None if measured is None else measured == asserted
    return {
        "model": name,
        "claim": claim,
        "asserted": asserted,
        "measured": measured,
        "supported": supported,
        "text": f"{prefix}: {_word(supported)}, {evidence}",
    }


def claims_rows(measured: list[ArchitectureClaims], distances: tuple[int, ...]) -> list[dict]:
    """The ``seed-claims`` table: one row per architecture, plain JSON types only."""
    parameters = {m.model: m.parameters for m in measured if not m.failure}
    complexity = complexity_classes(parameters)
    rows = []
    for m in measured:
        row: dict[str, Any] = {"model": m.model}
        row["memory_span"] = m.span if m.gradient_curve else None
        row["window"] = m.window
        row["memory"] = memory_class(m.span, m.window) if m.gradient_curve else None
        ratio = m.oldest_to_peak
        row["oldest_to_peak"] = None if ratio is None else float(f"{ratio:.3g}")
        accuracy = m.accuracy
        for distance in distances:
            value = accuracy.get(distance)
            row[f"accuracy_d{distance}"] = None if value is None else round(value, 4)
        handled = longest_handled(accuracy) if accuracy else None
        row["handled_up_to"] = handled
        row["long_term"] = long_term_class(accuracy) if accuracy else None
        row["parameters"] = int(m.parameters)
        row["complexity"] = complexity.get(m.model) if len(complexity) > 1 else None
        row["seconds_per_epoch"] = round(float(m.seconds_per_epoch), 2)
        row["reviews_per_second"] = round(float(m.reviews_per_second), 1)
        row["gradient_norm_first"] = _rounded(m.gradient_norm_first)
        row["gradient_norm_max"] = _rounded(m.gradient_norm_max)
        growth = m.growth
        row["gradient_norm_growth"] = None if growth is None else _rounded(growth)
        row["exploding"] = is_exploding(growth)
        row["status"] = f"failed: {m.failure}" if m.failure else "ok"
        rows.append(row)
    return rows


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")


@dataclass(frozen=True)
class ClaimsResult:
    """Everything the report shows about the notes' claims."""

    distances: tuple[int, ...]
    measured: list[ArchitectureClaims]
    seconds: float
    reused: bool
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return claims_rows(self.measured, self.distances)

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        return claim_verdicts(self.measured)

    def to_dict(self) -> dict[str, Any]:
        """What the report files and renderers read (``run_info["seed_claims"]``)."""
        return {
            "distances": list(self.distances),
            "rows": self.rows,
            "verdicts": self.verdicts,
            "curves": {m.model: m.gradient_curve for m in self.measured if m.gradient_curve},
            "synthetic": {m.model: m.synthetic for m in self.measured if m.synthetic},
            "seconds": round(self.seconds, 1),
            "reused": self.reused,
            "config": self.config,
            "thresholds": {
                "span_threshold": SPAN_THRESHOLD,
                "long_memory_fraction": LONG_MEMORY_FRACTION,
                "handled_accuracy": HANDLED_ACCURACY,
                "exploding_growth": EXPLODING_GROWTH,
            },
            "measured": [asdict(m) for m in self.measured],
        }


# ---------------------------------------------------------------------------- the step


def _first_per_architecture(trained: list[TrainedModel]) -> list[TrainedModel]:
    """With several seeds there are several models per architecture: the first one speaks."""
    first: dict[str, TrainedModel] = {}
    for model in trained:
        first.setdefault(model.architecture, model)
    return list(first.values())


def _norm_stats(history: dict[str, list[float]]) -> tuple[float | None, float | None]:
    means, maxima = history.get(NORM_MEAN_KEY), history.get(NORM_MAX_KEY)
    if not means or not maxima:
        return None, None  # trained before the norm was logged
    return float(means[0]), float(max(maxima))


def measure_seed_claims(
    trained: list[TrainedModel],
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    claims: ClaimsConfig,
    claims_dir: Path,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> ClaimsResult:
    """Measure every claim for the first trained model of each architecture."""
    started = time.perf_counter()
    scored = {e.model: e for e in evaluations if e.kind == "rnn"}
    measured, all_reused = [], True
    for model in _first_per_architecture(trained):
        evaluation = scored.get(model.name)  # the architecture, plus the seed when several
        seconds_per_epoch = model.train_seconds / max(1, model.epochs)
        first_norm, max_norm = _norm_stats(model.history)
        if model.failure:
            curve: list[float] = []
            synthetic: dict[str, dict[str, float]] = {}
        else:
            curve, curve_reused = cached_gradient_curve(
                model, prepared, claims, training.seed, logger
            )
            synthetic, synthetic_reused = cached_synthetic_results(
                model.architecture, model_config, claims, training.seed, claims_dir, logger
            )
            all_reused = all_reused and curve_reused and synthetic_reused
        measured.append(
            ArchitectureClaims(
                model=model.architecture,
                window=prepared.preprocess.maxlen,
                gradient_curve=curve,
                synthetic=synthetic,
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
        seconds=time.perf_counter() - started,
        reused=all_reused,
        config=claims.model_dump(mode="json"),
    )


@task(name="seed-claims", task_run_name="seed-claims")
def measure_claims(
    trained: list[TrainedModel],
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    model_config: ModelConfig,
    training: TrainingConfig,
    claims: ClaimsConfig,
    paths: DataPaths,
) -> ClaimsResult | None:
    """Measure the seed notes' claims and publish the ``seed-claims`` table; None when off."""
    logger = get_run_logger()
    if not claims.enabled:
        logger.info("Claims step turned off (--no-claims)")
        return None
    result = measure_seed_claims(
        trained, evaluations, prepared, model_config, training, claims, paths.claims, logger
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


# ------------------------------------------------------------------- report table cells


def notes_table(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The notes' table as asserted, for the architectures this run measured."""
    headings = ["model", "memory", "complexity", "handles long-term dependency"]
    rows = [
        [NOTES_NAMES[row["model"]]]
        + [NOTES_TABLE[row["model"]][c] for c in ("memory", "complexity", "long_term")]
        for row in section["rows"]
        if row["model"] in NOTES_TABLE
    ]
    return headings, rows


def measured_table(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The same table filled with this run's numbers (``section`` is ``ClaimsResult.to_dict``)."""
    headings = [
        "model",
        "memory (gradient span)",
        "complexity (parameters, s/epoch, reviews/s)",
        "handles long-term dependency (synthetic)",
        "gradient norm (max / first epoch's mean)",
    ]
    rows = []
    for row in section["rows"]:
        if row["status"] != "ok":
            rows.append([NOTES_NAMES.get(row["model"], row["model"]), row["status"], "", "", ""])
            continue
        largest = max(section["distances"])
        accuracy = row.get(f"accuracy_d{largest}")
        handled = row["handled_up_to"]
        growth = row["gradient_norm_growth"]
        rows.append(
            [
                NOTES_NAMES.get(row["model"], row["model"]),
                f"{row['memory'] or 'n/a'} ({row['memory_span']} of {row['window']})",
                f"{row['complexity'] or 'n/a'} ({row['parameters']:,}, "
                f"{row['seconds_per_epoch']:.1f}, {row['reviews_per_second']:,.0f})",
                f"{row['long_term'] or 'n/a'} (accuracy "
                + ("n/a" if accuracy is None else f"{accuracy:.3f}")
                + f" at d={largest}; "
                + (f"handled up to d={handled})" if handled else "no distance handled)"),
                "n/a"
                if growth is None
                else f"{growth:.3g}x" + (" exploding" if row["exploding"] else ""),
            ]
        )
    return headings, rows


def contradictions(section: dict[str, Any]) -> str:
    """One sentence: which of the notes' claims this run's numbers do not support."""
    against = [v for v in section["verdicts"] if v["supported"] is False]
    if not against:
        measured = [v for v in section["verdicts"] if v["supported"] is not None]
        return (
            f"This run's numbers support all {len(measured)} claims measured."
            if measured
            else "No claim could be measured in this run."
        )
    listed = "; ".join(v["text"].split(": not supported")[0] for v in against)
    return (
        f"This run's numbers contradict the notes on {len(against)} of "
        f"{sum(v['supported'] is not None for v in section['verdicts'])} claims measured: "
        f"{listed}."
    )

"""The fixed rules that judge the seed notes' claims, and the notes' table they judge.

The notes end in a table that is asserted, not measured: RNN short memory, low complexity,
no long-term dependency; LSTM long, high, yes; GRU long, medium, yes; and vanilla RNNs
suffer from vanishing or exploding gradients. The claims step measures each architecture
(``rnn_models.probes``); these rules turn the numbers into classes and verdicts. They were
fixed before any run was measured; never tune them to results. The claim about accuracy by
review length is judged here too, on the evaluations (``memory_verdict``).
"""

from __future__ import annotations

import math
from statistics import mean
from typing import Any

import numpy as np

from imdb_rnn.evaluation import ModelEvaluation

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

# The notes' table, as asserted, for the architectures it names.
NOTES_NAMES = {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
NOTES_TABLE: dict[str, dict[str, str]] = {
    "simple_rnn": {"memory": "short", "complexity": "low", "long_term": "no"},
    "lstm": {"memory": "long", "complexity": "high", "long_term": "yes"},
    "gru": {"memory": "long", "complexity": "medium", "long_term": "yes"},
}
GATED_ARCHITECTURES = ("lstm", "gru", "bilstm", "bigru")
SHORT_BUCKET, LONG_BUCKET = "<=100", ">400"


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


def _bucket(evaluation: ModelEvaluation, name: str) -> dict[str, Any]:
    return next(b for b in evaluation.length_buckets if b["bucket"] == name)


def memory_verdict(evaluations: list[ModelEvaluation]) -> dict[str, Any]:
    """Test the notes' claim that SimpleRNN has short memory and gated RNNs long memory.

    The claim predicts that SimpleRNN loses more accuracy than LSTM/GRU going from short
    reviews (<=100 tokens) to long ones (>400 tokens). The length penalty of each model is
    compared with an approximate 95% interval (two binomial standard errors).
    """
    penalties: dict[str, dict[str, float]] = {}
    for evaluation in evaluations:
        # With several seeds, the first model of each architecture speaks for it.
        name = evaluation.architecture or evaluation.model
        if name in penalties:
            continue
        short, long_ = _bucket(evaluation, SHORT_BUCKET), _bucket(evaluation, LONG_BUCKET)
        if not short["reviews"] or not long_["reviews"]:
            continue
        a, b = float(short["accuracy"]), float(long_["accuracy"])
        se = math.sqrt(a * (1 - a) / short["reviews"] + b * (1 - b) / long_["reviews"])
        penalties[name] = {"short": a, "long": b, "penalty": a - b, "se": se}

    gated = [name for name in GATED_ARCHITECTURES if name in penalties]
    if "simple_rnn" not in penalties or not gated:
        return {
            "supported": None,
            "penalties": penalties,
            "text": "Not measured: the run needs simple_rnn and at least one of "
            f"{', '.join(GATED_ARCHITECTURES)}, with reviews in both the {SHORT_BUCKET} and "
            f"{LONG_BUCKET} token buckets.",
        }
    simple = penalties["simple_rnn"]
    gated_penalty = mean(penalties[name]["penalty"] for name in gated)
    excess = simple["penalty"] - gated_penalty
    margin = 2 * math.sqrt(
        simple["se"] ** 2 + sum(penalties[name]["se"] ** 2 for name in gated) / len(gated) ** 2
    )
    gated_text = ", ".join(f"{name} {penalties[name]['penalty'] * 100:+.1f}" for name in gated)
    numbers = (
        f"From {SHORT_BUCKET} to {LONG_BUCKET} tokens, accuracy falls by "
        f"{simple['penalty'] * 100:+.1f} points for simple_rnn and by {gated_text} for the gated "
        f"models (difference {excess * 100:+.1f} ± {margin * 100:.1f} points, about 95%)."
    )
    if excess > margin:
        supported, claim = (
            True,
            "Supported: SimpleRNN loses clearly more on long reviews than the gated models.",
        )
    elif excess < -margin:
        supported, claim = (
            False,
            "Contradicted: SimpleRNN loses less on long reviews than the gated models.",
        )
    else:
        supported, claim = (
            False,
            "Not supported by this run: SimpleRNN does not lose measurably more on long reviews "
            "than the gated models.",
        )
    accuracy: dict[str, float] = {}
    for evaluation in evaluations:
        accuracy.setdefault(
            evaluation.architecture or evaluation.model, evaluation.metrics["accuracy"]
        )
    best_gated = max(gated, key=lambda name: accuracy[name])
    overall = (
        f" Overall, simple_rnn scores {accuracy['simple_rnn']:.4f} against "
        f"{accuracy[best_gated]:.4f} for {best_gated}."
    )
    return {"supported": supported, "penalties": penalties, "text": f"{claim} {numbers}{overall}"}

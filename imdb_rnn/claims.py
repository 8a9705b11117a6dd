"""What the claims step measured per architecture, and the verdicts the rules give it.

``ClaimsResult`` is what the report and the ``seed-claims`` artifact read. The rules and
the notes' table are in ``imdb_rnn.claim_rules``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from imdb_rnn.claim_rules import (
    EXPLODING_GROWTH,
    HANDLED_ACCURACY,
    LONG_MEMORY_FRACTION,
    NOTES_NAMES,
    NOTES_TABLE,
    SPAN_THRESHOLD,
    complexity_classes,
    complexity_supported,
    effective_span,
    is_exploding,
    long_term_class,
    longest_handled,
    memory_class,
    norm_growth,
)
from rnn_models.training import NORM_MAX_KEY, NORM_MEAN_KEY


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


def norm_stats(history: dict[str, list[float]]) -> tuple[float | None, float | None]:
    """The first epoch's mean gradient norm and the largest step's, from a training history."""
    means, maxima = history.get(NORM_MEAN_KEY), history.get(NORM_MAX_KEY)
    if not means or not maxima:
        return None, None  # trained before the norm was logged
    return float(means[0]), float(max(maxima))

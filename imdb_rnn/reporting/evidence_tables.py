"""The evidence as tables and text: shared by the markdown and HTML reports and the CLI.

Each function takes the plain dictionaries of ``Evidence.to_dict()``, so a finished run's
``metrics.json`` renders the same way as a run in progress. Cells are unescaped text; the
renderers escape them for their format.
"""

from __future__ import annotations

import math
from typing import Any

from imdb_rnn.reporting.tables import aligned_table, fmt

PAIRWISE_NOTE = (
    "Each row compares two models on the same test reviews: the accuracy difference (first "
    "minus second) with its paired-bootstrap interval, the reviews only one of them got "
    "right, McNemar's exact test on those, and the ROC-AUC difference with its interval. "
    "p-values are corrected for the number of comparisons (Holm). A verdict of better or "
    "worse needs a corrected p below {alpha:g}."
)


def p_cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def signed(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}".replace("-", "−")


def interval_cell(interval: list[float] | None, digits: int = 4) -> str:
    if not interval or any(v is None or math.isnan(v) for v in interval):
        return ""
    return f"[{signed(interval[0], digits)}, {signed(interval[1], digits)}]"


def value_interval(interval: list[float] | None) -> str:
    """``[low, high]`` of a metric (unsigned), or nothing when there is no interval."""
    if not interval or any(v is None or math.isnan(v) for v in interval):
        return ""
    return f"[{fmt(interval[0])}, {fmt(interval[1])}]"


def _difference(value: float | None, interval: list[float] | None) -> str:
    text = signed(value)
    bounds = interval_cell(interval)
    return f"{text} {bounds}" if bounds else text


def pairwise_table(evidence: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headings = [
        "model",
        "vs",
        "accuracy difference",
        "only model right",
        "only other right",
        "McNemar p",
        "Holm p",
        "ROC-AUC difference",
        "verdict",
    ]
    body = [
        [
            row["model"],
            row["other"],
            _difference(row["accuracy_difference"], row["accuracy_interval"]),
            fmt(row["only_model_right"]),
            fmt(row["only_other_right"]),
            p_cell(row["p_value"]),
            p_cell(row["p_holm"]),
            _difference(row["roc_auc_difference"], row["roc_auc_interval"]),
            row["verdict"],
        ]
        for row in evidence.get("comparisons", [])
    ]
    return headings, body


def seed_comparison_table(evidence: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headings = ["model", "vs", "seeds", "mean accuracy difference", "paired t p", "Holm p"]
    headings.append("verdict")
    body = [
        [
            row["model"],
            row["other"],
            str(row["seeds"]),
            _difference(row["accuracy_difference"], row["accuracy_interval"]),
            p_cell(row["p_value"]),
            p_cell(row["p_holm"]),
            row["verdict"],
        ]
        for row in evidence.get("seed_comparisons", [])
    ]
    return headings, body


def variation_table(evidence: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headings = ["model", "seeds", "accuracy sd over seeds", "over test resamples", "larger"]
    body = [
        [
            row["model"],
            str(row["seeds"]),
            fmt(row["seed_sd"]),
            fmt(row["test_sample_sd"]),
            row["dominant"],
        ]
        for row in evidence.get("seed_variation", [])
    ]
    return headings, body


def disagreement_table(evidence: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headings = ["model", "baseline", "both right", "only model right", "only baseline right"]
    headings.append("both wrong")
    body = [
        [
            row["model"],
            row["baseline"],
            fmt(row["both_right"]),
            fmt(row["only_model_right"]),
            fmt(row["only_baseline_right"]),
            fmt(row["both_wrong"]),
        ]
        for row in evidence.get("disagreements", [])
    ]
    return headings, body


def disagreement_examples(evidence: dict[str, Any]) -> list[tuple[str, dict[str, Any], list]]:
    """``(who alone was right, the disagreement row, its example reviews)``, those with any."""
    return [
        (who, row, row[key])
        for row in evidence.get("disagreements", [])
        for key, who in (
            ("model_right_examples", row["model"]),
            ("baseline_right_examples", row["baseline"]),
        )
        if row[key]
    ]


def review_rows(reviews: list[dict[str, Any]]) -> list[list[str]]:
    """``[probability, true label, excerpt]`` per review (with the baseline's, if known).

    For K classes each probability is that of the class the model chose, named after it.
    """
    rows = []
    for review in reviews:
        probability = _chosen(review["probability"], review.get("predicted"))
        if "baseline_probability" in review:
            baseline = _chosen(review["baseline_probability"], review.get("baseline_predicted"))
            probability += f" (baseline {baseline})"
        rows.append([probability, review["label"], review["excerpt"]])
    return rows


def _chosen(probability: float, predicted: str | None) -> str:
    return fmt(probability) if predicted is None else f"{fmt(probability)} → {predicted}"


def probability_meaning(reviews: list[dict[str, Any]]) -> str:
    """What the probabilities of ``reviews`` are: of positive, or of the chosen class."""
    if any("predicted" in review for review in reviews):
        return "the probability of the class the model chose (named after the arrow)"
    return "the model's probability of positive"


def interval_note(evidence: dict[str, Any]) -> str:
    resamples = evidence.get("resamples", 0)
    confidence = evidence.get("confidence", 0.95)
    if not resamples:
        return "Intervals are off (--bootstrap 0)."
    return (
        f"Brackets hold {confidence:.0%} intervals: percentiles of {resamples:,} paired "
        "bootstrap resamples of the test reviews (every model scored on the same resamples)."
    )


def effect_colour(effect: float, strongest: float) -> str:
    """A background colour for a word's effect: green pushes positive, red negative."""
    if strongest <= 0:
        return "transparent"
    share = min(1.0, abs(effect) / strongest)
    alpha = round(0.85 * share, 2)
    return f"rgba(46,160,67,{alpha})" if effect > 0 else f"rgba(218,54,51,{alpha})"


def coloured_words(review: dict[str, Any]) -> list[tuple[str, str]]:
    """Each word of an explained review with the colour of its effect."""
    strongest = max((abs(effect) for effect in review["effects"]), default=0.0)
    return [
        (word, effect_colour(effect, strongest))
        for word, effect in zip(review["words"], review["effects"], strict=True)
    ]


def format_verdicts(evidence: dict[str, Any]) -> str:
    """The pairwise verdicts (and those by seed) as aligned text for the terminal."""
    headings, body = pairwise_table(evidence)
    keep = [0, 1, 2, 6, 8]  # model, vs, accuracy difference, Holm p, verdict
    text = aligned_table([headings[i] for i in keep], [[row[i] for i in keep] for row in body])
    if evidence.get("seed_comparisons"):
        headings, body = seed_comparison_table(evidence)
        text += "\n\nBy seed (paired t-test, Holm):\n" + aligned_table(headings, body)
    return text


def strongest_words(review: dict[str, Any], count: int = 5) -> tuple[str, str]:
    """The words that pushed the score most towards positive, and towards negative."""
    ranked = sorted(
        zip(review["effects"], review["words"], strict=True), key=lambda pair: -abs(pair[0])
    )
    positive = [f"{word} ({signed(effect, 3)})" for effect, word in ranked if effect > 0]
    negative = [f"{word} ({signed(effect, 3)})" for effect, word in ranked if effect < 0]
    return ", ".join(positive[:count]), ", ".join(negative[:count])


def _and_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def variation_sentence(rows: list[dict[str, Any]]) -> str:
    """Which source of variation dominates, in one sentence."""
    if not rows:
        return ""
    seed_led = [r["model"] for r in rows if r["dominant"] == "seed"]
    test_led = [r["model"] for r in rows if r["dominant"] != "seed"]
    parts = []
    if seed_led:
        parts.append(
            f"For {_and_names(seed_led)}, the seed moves test accuracy more than the choice of "
            "test reviews does: compare architectures by seed, not by one run"
        )
    if test_led:
        parts.append(
            f"for {_and_names(test_led)}, the test sample's spread is the larger: one seed's "
            "interval already shows the uncertainty"
        )
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."

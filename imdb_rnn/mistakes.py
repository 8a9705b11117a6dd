"""Errors a person can read: each model's most confident mistakes, and the reviews the
recurrent models and the baseline disagree on. Plain numpy over saved test predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

EXCERPT_CHARACTERS = 280
CLASS_NAMES = ("negative", "positive")


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """The start of a review, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def _review(index: int, texts: Sequence[str], label: int, probability: float) -> dict[str, Any]:
    return {
        "review": int(index),
        "excerpt": excerpt(texts[index]),
        "label": CLASS_NAMES[int(label)],
        "probability": round(float(probability), 4),
    }


def most_confident_errors(
    labels: np.ndarray, probabilities: np.ndarray, texts: Sequence[str], count: int
) -> list[dict[str, Any]]:
    """The ``count`` wrongly labelled reviews whose probability is furthest from 0.5."""
    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    wrong = np.flatnonzero((probabilities >= 0.5) != labels.astype(bool))
    # Ties in confidence go to the lower review number, so the choice never depends on sorting.
    order = np.lexsort((wrong, -np.abs(probabilities[wrong] - 0.5)))
    return [_review(i, texts, labels[i], probabilities[i]) for i in wrong[order][:count].tolist()]


def disagreements(
    labels: np.ndarray,
    model: tuple[str, np.ndarray],
    baseline: tuple[str, np.ndarray],
    texts: Sequence[str],
    examples: int,
) -> dict[str, Any]:
    """How often ``model`` and ``baseline`` are right together, alone, or neither, with the
    most confident examples of each being right alone."""
    labels = np.asarray(labels).astype(bool)
    (model_name, model_scores), (baseline_name, baseline_scores) = model, baseline
    model_right = (model_scores >= 0.5) == labels
    baseline_right = (baseline_scores >= 0.5) == labels

    def strongest(mask: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        chosen = np.flatnonzero(mask)
        order = np.lexsort((chosen, -np.abs(scores[chosen] - 0.5)))
        return [
            {
                **_review(i, texts, labels[i], model_scores[i]),
                "baseline_probability": round(float(baseline_scores[i]), 4),
            }
            for i in chosen[order][:examples].tolist()
        ]

    only_model = model_right & ~baseline_right
    only_baseline = baseline_right & ~model_right
    return {
        "model": model_name,
        "baseline": baseline_name,
        "both_right": int(np.sum(model_right & baseline_right)),
        "only_model_right": int(only_model.sum()),
        "only_baseline_right": int(only_baseline.sum()),
        "both_wrong": int(np.sum(~model_right & ~baseline_right)),
        "model_right_examples": strongest(only_model, model_scores),
        "baseline_right_examples": strongest(only_baseline, baseline_scores),
    }

"""Errors a person can read: each model's most confident mistakes, and the reviews the
recurrent models and the baseline disagree on. Plain numpy over saved test predictions.

Binary scores are the probability of the second class, and confidence is the distance from
0.5; K-class scores are rows of K, confidence is the chosen class's probability, and each
review also names the class the model chose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from imdb_rnn.evaluation import class_count, predicted_classes

EXCERPT_CHARACTERS = 280
CLASS_NAMES = ("negative", "positive")
# aclImdb's class names, shown as the words the report has always used.
_ACLIMDB_CLASSES = ("neg", "pos")


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """The start of a review, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def display_names(classes: Sequence[str] | None, count: int = 2) -> Sequence[str]:
    """How the report names the ``count`` classes: aclImdb's (and two unnamed ones) as
    negative and positive, other unnamed ones by their ids."""
    if classes is None:
        return CLASS_NAMES if count == 2 else [str(k) for k in range(count)]
    return CLASS_NAMES if tuple(classes) == _ACLIMDB_CLASSES else classes


def _confidence(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 2:
        return scores.max(axis=1)
    return np.abs(scores - 0.5)


def _review(
    index: int, texts: Sequence[str], label: int, scores: np.ndarray, names: Sequence[str]
) -> dict[str, Any]:
    row = {
        "review": int(index),
        "excerpt": excerpt(texts[index]),
        "label": names[int(label)],
    }
    if scores.ndim == 2:
        chosen = int(scores[index].argmax())
        row["predicted"] = names[chosen]
        row["probability"] = round(float(scores[index, chosen]), 4)
    else:
        row["probability"] = round(float(scores[index]), 4)
    return row


def most_confident_errors(
    labels: np.ndarray,
    probabilities: np.ndarray,
    texts: Sequence[str],
    count: int,
    classes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The ``count`` wrongly labelled reviews the model was surest of."""
    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    wrong = np.flatnonzero(predicted_classes(probabilities) != labels)
    # Ties in confidence go to the lower review number, so the choice never depends on sorting.
    order = np.lexsort((wrong, -_confidence(probabilities)[wrong]))
    names = display_names(classes, class_count(probabilities))
    return [_review(i, texts, labels[i], probabilities, names) for i in wrong[order][:count]]


def disagreements(
    labels: np.ndarray,
    model: tuple[str, np.ndarray],
    baseline: tuple[str, np.ndarray],
    texts: Sequence[str],
    examples: int,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """How often ``model`` and ``baseline`` are right together, alone, or neither, with the
    most confident examples of each being right alone."""
    labels = np.asarray(labels).astype(int)
    (model_name, model_scores), (baseline_name, baseline_scores) = model, baseline
    model_scores, baseline_scores = np.asarray(model_scores), np.asarray(baseline_scores)
    model_right = predicted_classes(model_scores) == labels
    baseline_right = predicted_classes(baseline_scores) == labels
    names = display_names(classes, class_count(model_scores))

    def strongest(mask: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        chosen = np.flatnonzero(mask)
        order = np.lexsort((chosen, -_confidence(scores)[chosen]))
        shown = []
        for i in chosen[order][:examples].tolist():
            other = _review(i, texts, labels[i], baseline_scores, names)
            shown.append(
                {
                    **_review(i, texts, labels[i], model_scores, names),
                    "baseline_probability": other["probability"],
                    **({"baseline_predicted": other["predicted"]} if "predicted" in other else {}),
                }
            )
        return shown

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

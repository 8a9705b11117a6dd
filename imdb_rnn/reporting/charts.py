"""The report's charts, each a PNG data URI, so that report.html is one self-contained file.

matplotlib and scikit-learn's curves are imported inside the functions, so importing this
module stays cheap.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from imdb_rnn.evaluation import LENGTH_BUCKETS, ModelEvaluation, Predictions
from imdb_rnn.reporting.evidence_tables import coloured_words

DPI = 110


def _png_data_uri(draw: Callable[[Any], None], size: tuple[float, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from PIL import Image

    figure = plt.figure(figsize=size, dpi=DPI)
    try:
        draw(figure)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    # A chart has few colours: a 64-colour palette keeps it sharp at a third of the bytes,
    # which matters in the Prefect UI, where every chart is inlined in one artifact.
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=64)
    small = io.BytesIO()
    image.save(small, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(small.getvalue()).decode("ascii")


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[np.asarray(labels, dtype=np.int64)]


def _macro_roc(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one-vs-rest ROC curves of the classes test holds, averaged on one grid of false
    positive rates (the curve of the macro ROC-AUC)."""
    from sklearn.metrics import roc_curve

    grid = np.linspace(0, 1, 201)
    curves = []
    for k in range(probabilities.shape[1]):
        truth = np.asarray(labels) == k
        if 0 < truth.sum() < len(truth):
            fpr, tpr, _ = roc_curve(truth, probabilities[:, k])
            curves.append(np.interp(grid, fpr, tpr))
    return grid, np.mean(curves, axis=0) if curves else grid


def roc_chart(predictions: Predictions) -> str:
    """ROC curves; for K classes each model's one-vs-rest curves averaged (macro)."""
    from sklearn.metrics import roc_curve

    from imdb_rnn.evaluation import roc_auc

    several = any(np.ndim(p) == 2 for _, p in predictions.values())

    def draw(figure: Any) -> None:
        axes = figure.add_subplot(1, 1, 1)
        for name, (labels, probabilities) in predictions.items():
            if np.ndim(probabilities) == 2:
                fpr, tpr = _macro_roc(labels, probabilities)
            else:
                fpr, tpr, _ = roc_curve(labels, probabilities)
            auc = roc_auc(labels, probabilities)
            axes.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
        axes.plot([0, 1], [0, 1], color="#999", linestyle=":", label="chance")
        title = "ROC curves, one-vs-rest, macro average" if several else "ROC curves"
        axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
        axes.legend(loc="lower right", fontsize=8)

    return _png_data_uri(draw, (5.2, 4.4))


def precision_recall_chart(predictions: Predictions) -> str:
    """Precision-recall curves; for K classes over every (review, class) pair (micro)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    several = any(np.ndim(p) == 2 for _, p in predictions.values())

    def draw(figure: Any) -> None:
        axes = figure.add_subplot(1, 1, 1)
        chance = 0.5
        for name, (labels, probabilities) in predictions.items():
            if np.ndim(probabilities) == 2:
                truth = _one_hot(labels, probabilities.shape[1]).ravel()
                scores = np.asarray(probabilities).ravel()
                chance = 1 / probabilities.shape[1]
            else:
                truth, scores = labels, probabilities
                chance = float(np.mean(labels))
            precision, recall, _ = precision_recall_curve(truth, scores)
            ap = average_precision_score(truth, scores)
            shown = "micro AP" if several else "AP"
            axes.plot(recall, precision, label=f"{name} ({shown} {ap:.3f})")
        axes.axhline(chance, color="#999", linestyle=":", label="chance")
        title = (
            "Precision-recall, every review and class (micro)"
            if several
            else ("Precision-recall curves")
        )
        axes.set(xlabel="recall", ylabel="precision", title=title)
        axes.set_ylim(0, 1.02)
        axes.legend(loc="lower left", fontsize=8)

    return _png_data_uri(draw, (5.2, 4.4))


def training_chart(evaluations: list[ModelEvaluation]) -> str | None:
    trained = [e for e in evaluations if e.history.get("loss")]
    if not trained:
        return None

    def draw(figure: Any) -> None:
        loss_axes = figure.add_subplot(1, 2, 1)
        accuracy_axes = figure.add_subplot(1, 2, 2)
        for index, evaluation in enumerate(trained):
            color = f"C{index}"
            epochs = range(1, len(evaluation.history["loss"]) + 1)
            for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
                axes.plot(
                    epochs,
                    evaluation.history[metric],
                    color=color,
                    marker="o",
                    label=f"{evaluation.model} train",
                )
                if f"val_{metric}" in evaluation.history:
                    axes.plot(
                        epochs,
                        evaluation.history[f"val_{metric}"],
                        color=color,
                        marker="s",
                        linestyle="--",
                        label=f"{evaluation.model} validation",
                    )
        several = any(not e.is_binary for e in trained)
        loss_name = "cross-entropy" if several else "binary cross-entropy"
        loss_axes.set(xlabel="epoch", ylabel=loss_name, title="Loss per epoch")
        accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="Accuracy per epoch")
        for axes in (loss_axes, accuracy_axes):
            axes.xaxis.get_major_locator().set_params(integer=True)
        accuracy_axes.legend(fontsize=7, loc="lower right")

    return _png_data_uri(draw, (10.5, 4.0))


def length_chart(evaluations: list[ModelEvaluation]) -> str:
    def draw(figure: Any) -> None:
        axes = figure.add_subplot(1, 1, 1)
        names = [name for name, _, _ in LENGTH_BUCKETS]
        width = 0.8 / max(1, len(evaluations))
        for index, evaluation in enumerate(evaluations):
            values = [b["accuracy"] for b in evaluation.length_buckets]
            positions = np.arange(len(names)) + (index - (len(evaluations) - 1) / 2) * width
            axes.bar(positions, values, width=width, label=evaluation.model)
        axes.set_xticks(np.arange(len(names)), [f"{n} tokens" for n in names])
        lows = [
            b["accuracy"]
            for e in evaluations
            for b in e.length_buckets
            if not math.isnan(b["accuracy"])
        ]
        axes.set_ylim(max(0.0, min(lows, default=0.5) - 0.05), 1.0)
        axes.set(ylabel="test accuracy", title="Accuracy by review length")
        axes.legend(fontsize=8, ncol=min(5, len(evaluations)))

    return _png_data_uri(draw, (10.5, 3.8))


def confusion_matrix(evaluation: ModelEvaluation) -> np.ndarray:
    """Rows true class, columns predicted; from the binary counts of older records."""
    if evaluation.confusion_matrix:
        return np.asarray(evaluation.confusion_matrix)
    c = evaluation.confusion
    return np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])


def confusion_chart(evaluations: list[ModelEvaluation]) -> str:
    """One heatmap per model: K x K counts, true classes down, predicted across."""
    names = evaluations[0].class_names
    side = 2.4 if len(names) == 2 else 0.42 * len(names) + 1.4
    # Beyond four classes a heatmap needs room for its counts: two per row.
    across = len(evaluations) if len(names) <= 4 else min(2, len(evaluations))
    down = math.ceil(len(evaluations) / across)

    def draw(figure: Any) -> None:
        for index, evaluation in enumerate(evaluations):
            axes = figure.add_subplot(down, across, index + 1)
            matrix = confusion_matrix(evaluation)
            axes.imshow(matrix, cmap="Blues")
            for (row, column), value in np.ndenumerate(matrix):
                dark = value > matrix.max() / 2
                axes.text(
                    column,
                    row,
                    f"{value:,}",
                    ha="center",
                    va="center",
                    color="white" if dark else "black",
                    fontsize=9 if len(names) <= 4 else 7,
                )
            ticks = list(range(len(names)))
            axes.set_xticks(ticks, names, rotation=0 if len(names) <= 4 else 90)
            axes.set_yticks(ticks, names)
            axes.set(xlabel="predicted", title=evaluation.model)
            if index % across == 0:
                axes.set_ylabel("actual")

    return _png_data_uri(draw, (side * across + 0.6, (side + 0.4) * down))


def gradient_position_chart(curves: dict[str, list[float]], threshold: float) -> str:
    """Each model's gradient by position over its own peak, log scale, newest token at 0."""

    def draw(figure: Any) -> None:
        axes = figure.add_subplot(1, 1, 1)
        for name, curve in curves.items():
            values = np.asarray(curve, dtype=np.float64)
            if values.size == 0 or values.max() <= 0:
                continue
            relative = values[::-1] / values.max()
            # A log scale cannot show exact zeros; they are left out of the line.
            relative[relative <= 0] = np.nan
            axes.plot(np.arange(values.size), relative, label=name)
        axes.axhline(threshold, color="#999", linestyle=":", label=f"{threshold:.0%} of peak")
        axes.set_yscale("log")
        axes.set(
            xlabel="positions before the last token",
            ylabel="mean |d loss / d embedding| / peak",
            title="Gradient by position (test reviews)",
        )
        axes.legend(fontsize=8)

    return _png_data_uri(draw, (5.2, 4.4))


def synthetic_chart(synthetic: dict[str, dict[str, dict[str, float]]], handled: float) -> str:
    """Held-out accuracy of each architecture against the marker's distance."""

    def draw(figure: Any) -> None:
        axes = figure.add_subplot(1, 1, 1)
        for name, results in synthetic.items():
            distances = sorted(int(d) for d in results)
            axes.plot(
                distances,
                [results[str(d)]["accuracy"] for d in distances],
                marker="o",
                label=name,
            )
        axes.axhline(0.5, color="#999", linestyle=":", label="chance")
        axes.axhline(handled, color="#4a6cf7", linestyle="--", label=f"handled ({handled:.2f})")
        axes.set_ylim(0.4, 1.02)
        axes.set(
            xlabel="marker distance d (steps before the end)",
            ylabel="held-out accuracy",
            title="Synthetic long-range task",
        )
        axes.legend(fontsize=8)

    return _png_data_uri(draw, (5.2, 4.4))


def reliability_chart(curves: dict[str, list[dict[str, Any]]], top_label: bool = False) -> str:
    """Fraction positive against mean predicted probability per bin; the diagonal is perfect.
    With ``top_label`` (K classes): how often the chosen class is right, against its
    probability."""

    def draw(figure: Any) -> None:
        axes = figure.add_subplot(1, 1, 1)
        axes.plot([0, 1], [0, 1], color="#999", linestyle=":", label="perfectly calibrated")
        for name, points in curves.items():
            axes.plot(
                [point["mean_probability"] for point in points],
                [point["fraction_positive"] for point in points],
                marker="o",
                markersize=3,
                label=name,
            )
        if top_label:
            axes.set(
                xlabel="mean probability of the chosen class (10 bins)",
                ylabel="fraction right",
                title="Reliability diagram, top label (test)",
            )
        else:
            axes.set(
                xlabel="mean predicted probability of positive (10 bins)",
                ylabel="fraction positive",
                title="Reliability diagram (test)",
            )
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.legend(loc="upper left", fontsize=8)

    return _png_data_uri(draw, (5.2, 4.4))


def word_effects_chart(words: list[tuple[str, str]], width_inches: float = 8.0) -> str:
    """A review's words on coloured backgrounds (``(word, CSS rgba colour)`` pairs), wrapped:
    how the Prefect UI, which strips inline styles, shows the champion's word effects."""
    from matplotlib.colors import to_rgba

    def rgba(css: str) -> tuple[float, float, float, float]:
        if not css.startswith("rgba("):
            return to_rgba("white", 0.0)
        red, green, blue, alpha = (float(v) for v in css[5:-1].split(","))
        return (red / 255, green / 255, blue / 255, alpha)

    line_height, margin = 0.3, 0.1
    lines_needed = max(1, int(sum(len(w) + 1 for w, _ in words) * 0.085 / width_inches) + 2)

    def draw(figure: Any) -> None:
        renderer = figure.canvas.get_renderer()
        height = figure.get_figheight()
        x, y = margin, height - margin - line_height
        for word, colour in words:
            text = figure.text(
                x / width_inches,
                y / height,
                word,
                fontsize=10,
                bbox={"facecolor": rgba(colour), "edgecolor": "none", "pad": 1.5},
            )
            extent = text.get_window_extent(renderer).width / figure.dpi
            if x + extent > width_inches - margin and x > margin:
                x, y = margin, y - line_height
                text.set_position((x / width_inches, y / height))
            x += extent + 0.06

    return _png_data_uri(draw, (width_inches, line_height * lines_needed + 2 * margin))


def report_charts(
    evaluations: list[ModelEvaluation],
    predictions: Predictions,
    run_info: dict[str, Any],
    evidence: dict[str, Any] | None = None,
) -> dict[str, tuple[str, str]]:
    """Every chart of a report, by name: ``(PNG data URI, alternative text)``.

    Drawn once, and shared by ``report.html`` and the markdown artifact.
    """
    charts: dict[str, tuple[str, str]] = {}
    if predictions:
        charts["roc"] = (roc_chart(predictions), "ROC curves of all models")
        charts["precision_recall"] = (
            precision_recall_chart(predictions),
            "Precision-recall curves of all models",
        )
    several = any(not e.is_binary for e in evaluations)
    if evidence and evidence.get("calibration"):
        charts["reliability"] = (
            reliability_chart(evidence["calibration"], top_label=several),
            "Reliability diagram: fraction right against the chosen class's probability"
            if several
            else "Reliability diagram: fraction positive against predicted probability",
        )
    training = training_chart(evaluations)
    if training:
        charts["training"] = (training, "Loss and accuracy per epoch, train and validation")
    if evaluations:
        charts["length"] = (length_chart(evaluations), "Accuracy by review length per model")
    scored = [e for e in evaluations if not e.failure]
    if scored:
        charts["confusion"] = (confusion_chart(scored), "Confusion matrix per model")
    claims = run_info.get("seed_claims")
    if claims and claims.get("curves"):
        charts["gradient"] = (
            gradient_position_chart(claims["curves"], claims["thresholds"]["span_threshold"]),
            "Gradient by position per model, log scale",
        )
    if claims and claims.get("synthetic"):
        charts["synthetic"] = (
            synthetic_chart(claims["synthetic"], claims["thresholds"]["handled_accuracy"]),
            "Synthetic task accuracy against marker distance",
        )
    for index, review in enumerate((evidence or {}).get("explained", [])):
        charts[f"explained-{index}"] = (
            word_effects_chart(coloured_words(review)),
            f"The words of review {index + 1}, coloured by their effect on the champion's score",
        )
    return charts

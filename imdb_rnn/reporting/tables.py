"""What a run's numbers say, as rows and tables: shared by the markdown and HTML reports,
the Prefect table artifacts and ``imdb-rnn report``.

Plain functions over ``ModelEvaluation`` records; no Prefect and no TensorFlow here, so the
CLI can print a finished run's tables at once.
"""

from __future__ import annotations

import math
from statistics import mean, stdev
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a type only: importing it would load scikit-learn, slowing the CLI down
    from imdb_rnn.evaluation import ModelEvaluation

# (column, heading, higher is better)
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("accuracy", "accuracy", True),
    ("precision", "precision", True),
    ("recall", "recall", True),
    ("f1", "F1", True),
    ("roc_auc", "ROC-AUC", True),
    ("average_precision", "avg precision", True),
    ("log_loss", "log loss", False),
    ("mcc", "MCC", True),
    ("brier", "Brier", False),
    ("ece", "ECE", False),
)

# K > 2 classes: these columns are macro averages, and the weighted ones follow.
MACRO_COLUMNS = frozenset({"precision", "recall", "f1", "roc_auc", "average_precision"})
WEIGHTED_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("weighted_precision", "weighted precision", True),
    ("weighted_recall", "weighted recall", True),
    ("weighted_f1", "weighted F1", True),
)


def metric_columns(evaluations: list[ModelEvaluation]) -> tuple[tuple[str, str, bool], ...]:
    """The metric columns of a run's tables: ``COLUMNS``, or for K > 2 classes the same with
    "(macro)" where that is their meaning, then the weighted ones."""
    if all(e.is_binary for e in evaluations):
        return COLUMNS
    macro = tuple(
        (column, f"{heading} (macro)" if column in MACRO_COLUMNS else heading, higher)
        for column, heading, higher in COLUMNS
    )
    return macro + WEIGHTED_COLUMNS


def calibration_note(evaluations: list[ModelEvaluation]) -> str:
    """What the calibration figures bin: the probability of positive, or for K > 2 classes
    the chosen class's (top label), since no one class's probability speaks for every row."""
    binned = (
        "the probability of positive"
        if all(e.is_binary for e in evaluations)
        else "the chosen class's probability, top label"
    )
    return (
        "Does a predicted 0.9 mean 90 %? The Brier score and the expected calibration error "
        f"(ECE, 10 equal-width bins of {binned}) are in the metrics table; on the diagram, "
        "a calibrated model follows the diagonal."
    )


# The config sections a report lists.
PARAMETER_SECTIONS = (
    "preprocess",
    "model",
    "training",
    "execution",
    "baseline",
    "champion",
    "claims",
    "runner",
    "report",
)


def plain(value: Any) -> Any:
    """JSON-safe scalar: NaN becomes None, numpy numbers become Python numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return plain(value.item())
    return value


def fmt(value: Any, digits: int = 4) -> str:
    """Numbers as the reports show them: 4 decimals, thousands separators, n/a for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.0f}" if digits == 0 else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def comparison_rows(
    evaluations: list[ModelEvaluation], intervals: dict[str, dict[str, list[float]]] | None = None
) -> list[dict[str, Any]]:
    """One row per model: metrics rounded to 4 places, plain Python types only.

    With ``intervals`` (model -> metric -> [low, high]), each metric is followed by its
    interval's bounds, ``<metric>_low`` and ``<metric>_high``.
    """
    rows = []
    for evaluation in evaluations:
        row: dict[str, Any] = {"model": evaluation.model, "kind": evaluation.kind}
        bounds = (intervals or {}).get(evaluation.model, {})
        for column, _, _ in metric_columns(evaluations):
            row[column] = plain(round(float(evaluation.metrics.get(column, math.nan)), 4))
            if intervals is not None:
                low, high = bounds.get(column, (math.nan, math.nan))
                row[f"{column}_low"] = plain(round(float(low), 4))
                row[f"{column}_high"] = plain(round(float(high), 4))
        row["parameters"] = int(evaluation.parameters)
        row["train_seconds"] = round(float(evaluation.train_seconds), 1)
        row["reviews_per_second"] = round(float(evaluation.reviews_per_second), 1)
        row["status"] = f"failed: {evaluation.failure}" if evaluation.failure else "ok"
        rows.append(row)
    return rows


def best_by(
    evaluations: list[ModelEvaluation], metric: str = "accuracy", kind: str | None = None
) -> ModelEvaluation:
    candidates = [e for e in evaluations if kind is None or e.kind == kind]
    return max(
        candidates, key=lambda e: -math.inf if math.isnan(e.metrics[metric]) else e.metrics[metric]
    )


def best_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The best value of each metric column (lowest for log loss, Brier and ECE)."""
    best: dict[str, Any] = {}
    for column, _, higher in COLUMNS + WEIGHTED_COLUMNS:
        values = [row[column] for row in rows if row.get(column) is not None]
        if values:
            best[column] = max(values) if higher else min(values)
    return best


def summary_sentences(
    evaluations: list[ModelEvaluation], headline: list[str] | None = None
) -> list[str]:
    """The headline: what the pairwise tests support when they were run (``headline``);
    else the best model on point estimates, and whether a recurrent model beats the baseline.
    """
    failures = [f"{e.model} failed: {e.failure}." for e in evaluations if e.failure]
    if headline:
        return [*headline, *failures]
    best = best_by(evaluations)
    auc = "ROC-AUC" if best.is_binary else "macro ROC-AUC"
    sentences = [
        f"Best model on test accuracy: {best.model} ({best.metrics['accuracy']:.4f}, "
        f"{auc} {best.metrics['roc_auc']:.4f})."
    ]
    recurrent = [e for e in evaluations if e.kind == "rnn" and not e.failure]
    baselines = [e for e in evaluations if e.kind == "baseline"]
    if recurrent and baselines:
        best_rnn, reference = best_by(recurrent), baselines[0]
        gap = best_rnn.metrics["accuracy"] - reference.metrics["accuracy"]
        verdict = "beats" if gap > 0 else "does not beat"
        sentences.append(
            f"The best recurrent model, {best_rnn.model}, {verdict} the TF-IDF baseline "
            f"({best_rnn.metrics['accuracy']:.4f} vs {reference.metrics['accuracy']:.4f}, "
            f"{gap:+.4f})."
        )
    return sentences + failures


def trend_table(recent_runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headings and cells of the recent-runs table (newest last)."""
    if not recent_runs:
        return [], []
    metric = next(key for key in recent_runs[0] if key not in _TREND_FIXED)
    headings = ["run", "best recurrent model", metric, "baseline accuracy", "promoted"]
    rows = [
        [
            str(run["run_id"]),
            str(run["best_rnn"] or "n/a"),
            fmt(run[metric]),
            fmt(run["baseline_accuracy"]),
            str(run["promoted"] or "-"),
        ]
        for run in recent_runs
    ]
    return headings, rows


# Metrics summarised across seeds, with the headings the reports use.
SEED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("roc_auc", "ROC-AUC"),
    ("f1", "F1"),
    ("log_loss", "log loss"),
    ("train_seconds", "train s"),
)


def across_seeds(evaluations: list[ModelEvaluation]) -> list[dict[str, Any]]:
    """Mean and sample standard deviation per architecture trained with several seeds.

    Only models that were scored count; ``seeds`` says how many did. An architecture with
    fewer than two scored seeds has no spread, so it gets no row.
    """
    groups: dict[str, list[ModelEvaluation]] = {}
    for evaluation in evaluations:
        if evaluation.kind == "rnn" and evaluation.architecture and not evaluation.failure:
            groups.setdefault(evaluation.architecture, []).append(evaluation)
    rows = []
    for architecture, members in groups.items():
        if len(members) < 2:
            continue
        row: dict[str, Any] = {
            "model": architecture,
            "seeds": len(members),
            "seed_values": sorted(int(m.seed) for m in members if m.seed is not None),
        }
        for column, _ in SEED_COLUMNS:
            values = [
                float(m.train_seconds) if column == "train_seconds" else float(m.metrics[column])
                for m in members
            ]
            row[f"{column}_mean"] = round(mean(values), 4)
            row[f"{column}_std"] = round(stdev(values), 4)
        rows.append(row)
    return rows


def seed_table(seed_rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headings and ``mean ± std`` cells of ``across_seeds`` rows."""
    headings = ["model", "seeds"] + [heading for _, heading in SEED_COLUMNS]
    body = []
    for row in seed_rows:
        cells = [row["model"], str(row["seeds"])]
        for column, _ in SEED_COLUMNS:
            digits = 1 if column == "train_seconds" else 4
            cells.append(
                f"{fmt(row[f'{column}_mean'], digits)} ± {fmt(row[f'{column}_std'], digits)}"
            )
        body.append(cells)
    return headings, body


_TREND_FIXED = {"run_id", "time", "best_rnn", "baseline_accuracy", "promoted"}


def format_text_table(rows: list[dict[str, Any]]) -> str:
    """Aligned plain-text table for the terminal; `*` marks the best value per column.

    When the rows carry intervals, each model's line is followed by one with their bounds.
    """
    best = best_values(rows)
    columns = [c for c in COLUMNS + WEIGHTED_COLUMNS if any(c[0] in row for row in rows)]
    headings = ["model"] + [heading for _, heading, _ in columns] + ["params", "train s"]
    lines_cells = []
    for row in rows:
        cells = [row["model"]]
        for column, _, _ in columns:
            value = row.get(column)
            mark = "*" if value is not None and value == best.get(column) else " "
            cells.append(fmt(value) + mark)
        cells += [fmt(row["parameters"]), fmt(row["train_seconds"], 1)]
        lines_cells.append(cells)
        if any(f"{column}_low" in row for column, _, _ in columns):
            bounds = [
                _bounds(row.get(f"{column}_low"), row.get(f"{column}_high")) + " "
                for column, _, _ in columns
            ]
            lines_cells.append(["", *bounds, "", ""])
    return aligned_table(headings, lines_cells)


def _bounds(low: float | None, high: float | None) -> str:
    """An interval in 3 decimals, short enough for a terminal column: ``.851-.869``."""
    if low is None or high is None:
        return ""
    return f"{low:.3f}-{high:.3f}".replace("0.", ".")


def format_seed_table(seed_rows: list[dict[str, Any]]) -> str:
    """``across_seeds`` rows as an aligned plain-text table."""
    return aligned_table(*seed_table(seed_rows))


def aligned_table(headings: list[str], lines_cells: list[list[str]]) -> str:
    widths = [
        max(len(str(c)) for c in column) for column in zip(headings, *lines_cells, strict=True)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join(
        [line(headings), line(["-" * w for w in widths])] + [line(c) for c in lines_cells]
    )


def ensemble_note(folds: int) -> str:
    """How a run's cross-validated ensembles were built, in two sentences for the reports."""
    return (
        f"Each model averages the probabilities of {folds} members. The train and validation "
        f"reviews were pooled and cut into {folds} stratified folds; member k trained on every "
        "fold but k and was validated on fold k. Out-of-fold figures score every pooled "
        "review with the one member that never trained on it, so they are honest validation "
        "figures for the ensemble."
    )


def stack_note(stack: dict[str, Any]) -> str:
    """What the run's stack combines and how, in one paragraph; empty without a stack."""
    if not stack:
        return ""
    weights = ", ".join(
        f"{'NBSVM' if name == 'nbsvm' else name} {weight:+.2f}"
        for name, weight in stack["coefficients"].items()
    )
    return (
        "The stack is a logistic regression over its members' scores (each recurrent "
        "ensemble's probability as a logit, NBSVM's margin), with weights "
        f"{weights}. It was fitted on out-of-fold scores of the pooled training reviews, on "
        "the same folds as the ensembles (NBSVM too was fitted fold by fold), never on a test "
        "review; its out-of-fold accuracy "
        f"({stack['out_of_fold_accuracy']:.4f}) scores each review with a combiner fitted "
        "without it (5 folds)."
    )


def ensemble_table(evaluations: list[ModelEvaluation]) -> tuple[list[str], list[list[str]]]:
    """Out-of-fold validation beside test accuracy, per ensemble (model names unformatted)."""
    headings = ["model", "out-of-fold accuracy", "out-of-fold log loss", "test accuracy"]
    body = [
        [
            e.model,
            fmt(e.history.get("val_accuracy", [None])[-1]),
            fmt(e.history.get("val_loss", [None])[-1]),
            fmt(e.metrics["accuracy"]),
        ]
        for e in evaluations
        if e.kind == "rnn"
    ]
    return headings, body

"""The report of a run of three classes: macro headings, weighted columns, K x K confusion
tables and heatmaps, one-vs-rest curves; and the binary report with none of it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from imdb_rnn.reporting import charts
from imdb_rnn.reporting.markdown import confusion_markdown, render_markdown
from imdb_rnn.reporting.tables import COLUMNS, comparison_rows, metric_columns
from tests.imdb_rnn.reporting.three_classes import (
    CLASSES,
    MATRICES,
    scores_for,
    three_class_card,
    three_class_evaluation,
)
from tests.samples import EVALUATIONS, RUN_INFO

THREE = [three_class_evaluation("gru", "rnn"), three_class_evaluation("tfidf_logreg", "baseline")]
THREE_INFO = {**RUN_INFO, "data": {**RUN_INFO["data"], "card": three_class_card()}}


@pytest.fixture
def drawn(monkeypatch):
    """The figures the charts draw, kept instead of turned into PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figures = []

    def keep(draw, size):
        figure = plt.figure(figsize=size)
        draw(figure)
        figures.append(figure)
        return "data:image/png;base64,"

    monkeypatch.setattr(charts, "_png_data_uri", keep)
    yield figures
    for figure in figures:
        plt.close(figure)


def test_macro_metrics_say_so_and_the_weighted_ones_follow():
    headings = [heading for _, heading, _ in metric_columns(THREE)]
    assert headings == [
        "accuracy",
        "precision (macro)",
        "recall (macro)",
        "F1 (macro)",
        "ROC-AUC (macro)",
        "avg precision (macro)",
        "log loss",
        "MCC",
        "Brier",
        "ECE",
        "weighted precision",
        "weighted recall",
        "weighted F1",
    ]
    row = comparison_rows(THREE)[0]
    assert (row["accuracy"], row["weighted_f1"]) == (0.7, 0.6912)  # 21 of 30 right
    markdown = render_markdown("run-3", THREE, THREE_INFO)
    assert "| ROC-AUC (macro) |" in markdown and "| weighted F1 |" in markdown
    assert "**0.8654**" in markdown  # the baseline's weighted F1 is the best
    assert "(0.8667, macro ROC-AUC 0.9300)" in markdown  # 26 of 30 right


def test_the_confusion_table_of_three_classes_has_their_counts():
    text = confusion_markdown(THREE)
    assert "| `gru`: true \\ predicted | food | sport | tech |" in text
    assert "| **food** | 8 | 1 | 1 |" in text
    assert "| **sport** | 2 | 6 | 2 |" in text
    assert "| **tech** | 0 | 3 | 7 |" in text
    assert "| `tfidf_logreg`: true \\ predicted | food | sport | tech |" in text
    assert "| **sport** | 1 | 8 | 1 |" in text
    # A failed model has no counts, and no table.
    failed = three_class_evaluation("lstm", "rnn", failure="out of memory")
    assert "lstm" not in confusion_markdown([*THREE, failed])


def test_the_confusion_chart_is_a_three_by_three_heatmap_per_model(drawn):
    charts.confusion_chart(THREE)
    (figure,) = drawn
    assert [axes.get_title() for axes in figure.axes] == ["gru", "tfidf_logreg"]
    for axes in figure.axes:
        matrix = MATRICES[axes.get_title()]
        assert axes.images[0].get_array().tolist() == matrix
        assert [label.get_text() for label in axes.get_xticklabels()] == CLASSES
        assert [label.get_text() for label in axes.get_yticklabels()] == CLASSES
        # Each cell's count, row by row as the matrix reads.
        assert [text.get_text() for text in axes.texts] == [str(v) for row in matrix for v in row]
        assert axes.get_xlabel() == "predicted"
    assert figure.axes[0].get_ylabel() == "actual"


def test_the_roc_chart_averages_the_one_vs_rest_curves(drawn):
    labels, probabilities = scores_for(MATRICES["gru"])
    charts.roc_chart({"gru": (labels, probabilities)})
    (figure,) = drawn
    axes = figure.axes[0]
    assert axes.get_title() == "ROC curves, one-vs-rest, macro average"
    fpr, tpr = axes.lines[0].get_data()
    expected = roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")
    # The area under the averaged curve is the mean of the classes' areas, to the grid's step.
    assert np.trapezoid(tpr, fpr) == pytest.approx(expected, abs=0.01)
    assert axes.get_legend().get_texts()[0].get_text() == f"gru (AUC {expected:.3f})"


def test_the_precision_recall_chart_pools_every_row_and_class(drawn):
    labels, probabilities = scores_for(MATRICES["gru"])
    charts.precision_recall_chart({"gru": (labels, probabilities)})
    axes = drawn[0].axes[0]
    micro = average_precision_score(np.eye(3)[labels], probabilities, average="micro")
    assert axes.get_legend().get_texts()[0].get_text() == f"gru (micro AP {micro:.3f})"
    assert axes.lines[1].get_ydata()[0] == pytest.approx(1 / 3)  # chance: one class in three


def test_every_chart_of_a_three_class_run_draws(drawn):
    predictions = {"gru": scores_for(MATRICES["gru"])}
    calibration = {"gru": [{"mean_probability": 0.6, "fraction_positive": 0.7, "rows": 30}]}
    made = charts.report_charts(THREE, predictions, THREE_INFO, {"calibration": calibration})
    assert set(made) == {
        "roc",
        "precision_recall",
        "reliability",
        "training",
        "length",
        "confusion",
    }
    assert made["reliability"][1] == (
        "Reliability diagram: fraction right against the chosen class's probability"
    )
    training = next(
        f for f in drawn if len(f.axes) == 2 and f.axes[0].get_title() == "Loss per epoch"
    )
    assert training.axes[0].get_ylabel() == "cross-entropy"


def test_the_calibration_section_says_top_label():
    evidence = {"calibration": {"gru": []}}
    charts_given = {"reliability": ("data:image/png;base64,", "diagram")}
    markdown = render_markdown("run-3", THREE, THREE_INFO, evidence, charts_given)
    assert "10 equal-width bins of the chosen class's probability, top label" in markdown
    binary = render_markdown("run-2", EVALUATIONS, RUN_INFO, evidence, charts_given)
    assert "10 equal-width bins of the probability of positive" in binary


def test_the_binary_report_keeps_its_columns_and_counts():
    assert metric_columns(EVALUATIONS) == COLUMNS
    markdown = render_markdown("run-2", EVALUATIONS, RUN_INFO)
    assert "(macro)" not in markdown and "weighted" not in markdown
    assert "| model | true neg | false pos | false neg | true pos |" in markdown
    assert "macro ROC-AUC" not in markdown

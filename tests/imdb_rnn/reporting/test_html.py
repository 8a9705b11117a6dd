"""report.html on a fixed small input: sections, charts, rounding, no external resources."""

from __future__ import annotations

import base64
import re

from imdb_rnn.evaluation import load_all_predictions
from imdb_rnn.reporting.html import render_html
from tests.samples import PAGE_RUN_INFO

SECTIONS = (
    "Test metrics",
    "ROC and precision-recall curves",
    "Training and validation per epoch",
    "Accuracy by review length: short vs long memory",
    "Confusion matrices (test)",
    "Run details",
    "Timings",
)


def test_every_section_and_chart_is_present(evaluations):
    page = render_html(
        "20260101T000000Z-run", evaluations, PAGE_RUN_INFO, load_all_predictions(evaluations)
    )
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', page)
    assert [alt for _, alt in images] == [
        "ROC curves of all models",
        "Precision-recall curves of all models",
        "Loss and accuracy per epoch, train and validation",
        "Accuracy by review length per model",
        "Confusion matrix per model",
    ]
    for encoded, _ in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")


def test_numbers_are_rounded_and_best_values_highlighted(evaluations):
    page = render_html("r", evaluations, PAGE_RUN_INFO, {})
    assert "<td>0.6953</td>" in page and "0.69531" not in page
    assert '<td class="best">0.9074</td>' in page  # best accuracy: the baseline
    assert "<td>322,113</td>" in page and "<td>24.0</td>" in page
    assert "Best model on test accuracy: tfidf_logreg (0.9074" in page
    # Without predictions there are no curves, and the other charts still render.
    assert "ROC and precision-recall curves" not in page
    assert page.count("<img ") == 3


def test_no_external_resources(evaluations):
    page = render_html("r", evaluations, PAGE_RUN_INFO, load_all_predictions(evaluations))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(" not in page and "@import" not in page
    assert "<script" not in page and "<link" not in page
    # The data source is shown as text only.
    assert "<code>https://example.org/aclImdb.tar.gz</code>" in page


def test_text_is_escaped(evaluations):
    info = {
        **PAGE_RUN_INFO,
        "data": {**PAGE_RUN_INFO["data"], "source": "<script>alert(1)</script>"},
    }
    page = render_html("r", evaluations, info, {})
    assert "<script>" not in page and "&lt;script&gt;" in page

"""summary.md on a fixed set of evaluations."""

from __future__ import annotations

from imdb_rnn.reporting.markdown import render_markdown
from tests.samples import EVALUATIONS, RUN_INFO


def test_markdown_names_the_best_model_and_bolds_best_values():
    markdown = render_markdown("run-1", EVALUATIONS, RUN_INFO)
    assert "**Best model on test accuracy: tfidf_logreg (0.9000, ROC-AUC 0.9600).**" in markdown
    # Best accuracy is the baseline's, best ROC-AUC too, lowest log loss is gru's.
    assert "**0.9000**" in markdown and "**0.9600**" in markdown and "**0.3000**" in markdown
    assert "**0.8512**" not in markdown
    assert "does not beat the TF-IDF baseline" in markdown
    assert "`gru` | 0.8000" in markdown
    # Length table: bucket sizes in the heading, the empty bucket shown as n/a.
    assert ">400 tokens (n=10)" in markdown
    assert "| `lstm` | 0.9000 | 0.8000 | 0.7000 | n/a |" in markdown
    assert "maxlen (200)" in markdown
    assert "| `lstm` | 40 | 10 | 15 | 35 |" in markdown

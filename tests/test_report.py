"""The summary files and tables, on a fixed set of evaluations."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime

import pytest

from imdb_rnn.evaluation import ModelEvaluation
from imdb_rnn.reporting.markdown import render_markdown
from imdb_rnn.reporting.tables import comparison_rows, format_text_table
from imdb_rnn.run import make_run_id
from tasks.report import write_report_files


def evaluation(
    name: str, kind: str, accuracy: float, roc_auc: float, log_loss: float
) -> ModelEvaluation:
    return ModelEvaluation(
        model=name,
        kind=kind,
        metrics={
            "accuracy": accuracy,
            "precision": 0.8,
            "recall": 0.7,
            "f1": 0.74666,
            "roc_auc": roc_auc,
            "average_precision": 0.9,
            "log_loss": log_loss,
            "mcc": 0.5,
        },
        confusion={"tn": 40, "fp": 10, "fn": 15, "tp": 35},
        length_buckets=[
            {"bucket": "<=100", "reviews": 30, "accuracy": 0.9},
            {"bucket": "101-200", "reviews": 40, "accuracy": 0.8},
            {"bucket": "201-400", "reviews": 20, "accuracy": 0.7},
            {"bucket": ">400", "reviews": 10, "accuracy": math.nan},
        ],
        parameters=1234,
        train_seconds=12.345,
        predict_seconds=0.5,
        reviews_per_second=200.0,
    )


EVALUATIONS = [
    evaluation("lstm", "rnn", 0.85123456, 0.92, 0.35),
    evaluation("gru", "rnn", 0.80, 0.95, 0.30),
    evaluation("tfidf_logreg", "baseline", 0.90, 0.96, 0.40),
]
RUN_INFO = {
    "data": {
        "source": "file:///x.tar.gz",
        "source_sha256": "ab" * 32,
        "fingerprint": "f" * 16,
        "rows": {"train": 80, "validation": 20, "test": 100},
    },
    "preprocess": {"maxlen": 200, "vocab_size": 10000},
    "timings": {"prepare": 1.25},
    "software": {"python": "3.11"},
}


def test_rows_are_rounded_plain_python_values():
    rows = comparison_rows(EVALUATIONS)
    assert [row["model"] for row in rows] == ["lstm", "gru", "tfidf_logreg"]
    assert rows[0]["accuracy"] == 0.8512
    assert rows[0]["train_seconds"] == 12.3
    assert type(rows[0]["parameters"]) is int
    json.dumps(rows, allow_nan=False)


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


def test_text_table_marks_best_per_column():
    text = format_text_table(comparison_rows(EVALUATIONS))
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["model", "accuracy"]
    baseline_line = next(line for line in lines if line.startswith("tfidf_logreg"))
    gru_line = next(line for line in lines if line.startswith("gru"))
    assert "0.9000*" in baseline_line and "0.3000*" in gru_line
    assert len({len(line) for line in lines}) == 1  # aligned columns


def test_write_report_files_writes_all_three_and_points_latest(tmp_path):
    reports = tmp_path / "reports"
    first = write_report_files("20260101T000000Z-a", EVALUATIONS, RUN_INFO, reports)
    second = write_report_files("20260102T000000Z-b", EVALUATIONS[:2], RUN_INFO, reports)
    assert first.best_model == "tfidf_logreg" and second.best_model == "lstm"
    for name in ("summary.md", "summary.csv", "metrics.json", "report.html"):
        assert (first.directory / name).is_file()
    with (first.directory / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["model"] for row in rows] == ["lstm", "gru", "tfidf_logreg"]
    assert float(rows[2]["accuracy"]) == pytest.approx(0.9)
    metrics = json.loads((first.directory / "metrics.json").read_text())
    assert metrics["best_model"] == "tfidf_logreg"
    assert metrics["models"][0]["length_buckets"][3]["accuracy"] is None  # NaN -> null
    latest = reports / "latest"
    assert latest.is_symlink() and latest.resolve() == second.directory.resolve()
    assert not list(reports.glob(".*tmp*"))


def test_report_refuses_an_empty_run(tmp_path):
    with pytest.raises(ValueError, match="nothing to report"):
        write_report_files("x", [], RUN_INFO, tmp_path)


def test_run_id_sorts_by_time_and_carries_the_suffix():
    early = make_run_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "brave-otter")
    late = make_run_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "apt-heron")
    assert early == "20260102T030405Z-brave-otter"
    assert early < late

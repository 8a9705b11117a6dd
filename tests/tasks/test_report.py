"""The report files of a run, written at once, and latest repointed."""

from __future__ import annotations

import csv
import json

import pytest

from tasks.report import write_report_files
from tests.samples import EVALUATIONS, RUN_INFO


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


def test_the_report_shows_intervals_verdicts_mistakes_and_embeds_every_chart(tmp_path, evaluations):
    import base64
    import re

    from tests.samples import PAGE_RUN_INFO, evidence_for

    evidence = evidence_for(evaluations)
    written = write_report_files(
        "20260101T000000Z-e", evaluations, PAGE_RUN_INFO, tmp_path / "reports", evidence
    )
    metrics = json.loads((written.directory / "metrics.json").read_text())
    assert metrics["headline"] == evidence.headline
    assert metrics["evidence"]["comparisons"][0]["verdict"] in {
        "better",
        "worse",
        "no detectable difference",
    }
    row = metrics["rows"][1]
    low, high = evidence.intervals[row["model"]]["accuracy"]
    assert (row["accuracy_low"], row["accuracy_high"]) == (round(low, 4), round(high, 4))
    assert low < high
    with (written.directory / "summary.csv").open() as handle:
        assert "roc_auc_low" in next(csv.reader(handle))

    summary = (written.directory / "summary.md").read_text()
    artifact = written.markdown
    for section in (
        "## Is the difference real?",
        "## Calibration",
        "## Mistakes a person can read",
        "## Which words moved the champion",
    ):
        assert section in summary and section in artifact
    assert "data:image/png" not in summary  # summary.md stays light
    # A pipe inside a review would break the markdown table; it is escaped.
    assert ": a \\| pipe and" in summary and ": a | pipe" not in summary
    assert "&lt;b&gt;markup" in summary and "<b>" not in summary

    images = re.findall(r"!\[([^\]]+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", artifact)
    assert [alt for alt, _ in images] == [
        "ROC curves of all models",
        "Precision-recall curves of all models",
        "Loss and accuracy per epoch, train and validation",
        "Reliability diagram: fraction positive against predicted probability",
        "Accuracy by review length per model",
        "Confusion matrix per model",
        "The words of review 1, coloured by their effect on the champion's score",
    ]
    assert "Towards positive: wonderful (+0.400), film (+0.010). Towards negative: dull" in artifact
    sizes = [len(base64.b64decode(data)) for _, data in images]
    assert all(size < 60_000 for size in sizes), sizes  # the UI page stays quick to load

    page = (written.directory / "report.html").read_text()
    for section in ("Is the difference real?", "Calibration", "Which words moved the champion"):
        assert section in page
    assert "title='+0.4000'>wonderful</span>" in page


def test_metrics_json_keeps_the_dataset_card(tmp_path):
    from tests.imdb_rnn.reporting.three_classes import three_class_card

    card = three_class_card(test_rows=3)
    info = {**RUN_INFO, "data": {**RUN_INFO["data"], "card": card}}
    written = write_report_files("20260103T000000Z-c", EVALUATIONS, info, tmp_path / "reports")
    metrics = json.loads((written.directory / "metrics.json").read_text())
    assert metrics["run"]["data"]["card"] == card
    assert "**Warning: 3 test rows" in (written.directory / "summary.md").read_text()
    assert "<p class='warning'>3 test rows" in (written.directory / "report.html").read_text()


def test_a_three_class_run_writes_its_report(tmp_path):
    import re

    from tests.imdb_rnn.reporting.three_classes import saved_three_class_run, three_class_card

    evaluations = saved_three_class_run(tmp_path)
    info = {**RUN_INFO, "data": {**RUN_INFO["data"], "card": three_class_card()}}
    written = write_report_files("20260104T000000Z-k", evaluations, info, tmp_path / "reports")
    assert written.best_model == "tfidf_logreg"  # 26 of 30 right, against 21
    metrics = json.loads((written.directory / "metrics.json").read_text())
    assert metrics["models"][0]["confusion_matrix"] == [[8, 1, 1], [2, 6, 2], [0, 3, 7]]
    assert metrics["rows"][1]["weighted_f1"] == 0.8654
    with (written.directory / "summary.csv").open() as handle:
        assert "weighted_f1" in next(csv.reader(handle))

    summary = (written.directory / "summary.md").read_text()
    assert summary.index("## Dataset") < summary.index("## Test metrics")
    assert "3 classes: food, sport, tech." in summary
    assert "| **tech** | 0 | 1 | 9 |" in summary  # the baseline's third row
    alts = re.findall(r"!\[([^\]]+)\]\(data:image/png;base64,", written.markdown)
    assert alts == [
        "ROC curves of all models",
        "Precision-recall curves of all models",
        "Loss and accuracy per epoch, train and validation",
        "Accuracy by review length per model",
        "Confusion matrix per model",
    ]
    page = (written.directory / "report.html").read_text()
    assert "<th>ROC-AUC (macro)</th>" in page and "Confusion matrix per model" in page

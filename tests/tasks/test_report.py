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

"""The comparison summary: Prefect artifacts and files a person reads.

Writes ``reports/<run-id>/`` (``report.html``, ``summary.md``, ``summary.csv``,
``metrics.json``), repoints ``reports/latest`` and publishes the Prefect artifacts. What the
pages say is built by ``imdb_rnn.reporting``.
"""

from __future__ import annotations

import csv
import io
import os
import platform
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from imdb_rnn.champion import ChampionDecision
from imdb_rnn.claim_rules import memory_verdict
from imdb_rnn.claims import ClaimsResult
from imdb_rnn.evaluation import ModelEvaluation, TrainedAndScored, load_all_predictions
from imdb_rnn.evidence import Evidence
from imdb_rnn.files import write_json_atomic, write_text_atomic
from imdb_rnn.prepared import PreparedData
from imdb_rnn.reporting.charts import report_charts
from imdb_rnn.reporting.html import render_html
from imdb_rnn.reporting.markdown import render_markdown
from imdb_rnn.reporting.tables import (
    across_seeds,
    best_by,
    comparison_rows,
    plain,
    summary_sentences,
)
from imdb_rnn.run import Run
from imdb_rnn.stacking import STACK_NAME
from imdb_rnn.storage import DataStore
from imdb_rnn.trained import read_record

TABLE_ARTIFACT_KEY = "rnn-comparison"

MARKDOWN_ARTIFACT_KEY = "rnn-summary"

LINK_ARTIFACT_KEY = "rnn-report"

SEEDS_ARTIFACT_KEY = "rnn-seeds"

SOFTWARE = (
    "imdb-rnn",
    "prefect",
    "tensorflow",
    "keras",
    "scikit-learn",
    "pandas",
    "pyarrow",
    "numpy",
)


@dataclass(frozen=True)
class RunReport:
    """Where a run's summary went and what it says."""

    run_id: str
    directory: Path
    best_model: str
    rows: list[dict[str, Any]]
    markdown: str  # the whole report, charts embedded: the rnn-summary artifact
    seed_rows: list[dict[str, Any]] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)
    evidence: dict[str, Any] | None = None

    @property
    def html_path(self) -> Path:
        return self.directory / "report.html"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return plain(value)


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _rows_to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _point_latest(reports_dir: Path, run_id: str) -> None:
    """Atomically repoint ``reports/latest`` at this run's folder."""
    link = reports_dir / "latest"
    tmp = reports_dir / f".latest.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(run_id, tmp, target_is_directory=True)
    os.replace(tmp, link)


def run_info_for(prepared: PreparedData, run: Run, timings: dict[str, float]) -> dict[str, Any]:
    """The facts about a run that the report prints besides the metrics."""
    return {
        "data": {
            "source": run.settings.source.source,
            "source_sha256": prepared.source_sha256,
            "fingerprint": prepared.fingerprint,
            "rows": prepared.rows,
            "directory": str(prepared.directory),
            "classes": list(prepared.classes),
            "card": prepared.card,
        },
        **run.settings.as_json(),
        "timings": timings,
        "software": software_versions(),
    }


def write_report_files(
    run_id: str,
    evaluations: list[ModelEvaluation],
    run_info: dict[str, Any],
    reports_dir: Path,
    evidence: Evidence | None = None,
) -> RunReport:
    """Write ``reports/<run-id>/``: report.html, summary.md/.csv, metrics.json; move ``latest``.

    ``RunReport.markdown`` is the whole report with its charts embedded, for the Prefect UI;
    ``summary.md`` is the same without the charts.
    """
    if not evaluations:
        raise ValueError("no model was evaluated, so there is nothing to report")
    directory = reports_dir / run_id
    found = None if evidence is None else _json_safe(evidence.to_dict())
    headline = summary_sentences(evaluations, (found or {}).get("headline"))
    rows = comparison_rows(evaluations, (found or {}).get("intervals") or None)
    charts = report_charts(evaluations, load_all_predictions(evaluations), run_info, found)
    markdown = render_markdown(run_id, evaluations, run_info, found)
    best = best_by(evaluations)
    write_text_atomic(directory / "summary.csv", _rows_to_csv(rows))
    write_json_atomic(
        directory / "metrics.json",
        _json_safe(
            {
                "run_id": run_id,
                "best_model": best.model,
                "headline": headline,
                "rows": rows,
                "across_seeds": across_seeds(evaluations),
                "memory_verdict": memory_verdict(evaluations)["text"],
                "evidence": found,
                "run": run_info,
                "models": [e.to_dict() for e in evaluations],
            }
        ),
    )
    page = render_html(run_id, evaluations, run_info, charts=charts, evidence=found)
    write_text_atomic(directory / "report.html", page)
    # summary.md last: its presence marks a complete report folder.
    write_text_atomic(directory / "summary.md", markdown)
    _point_latest(reports_dir, run_id)
    return RunReport(
        run_id,
        directory,
        best.model,
        rows,
        render_markdown(run_id, evaluations, run_info, found, charts),
        across_seeds(evaluations),
        headline,
        found,
    )


def stack_record(recurrent: TrainedAndScored) -> dict[str, Any]:
    """What the run's stack combines, with what weights; empty when there is no stack."""
    for trained in recurrent.trained:
        if trained.architecture == STACK_NAME and not trained.failure:
            record = read_record(trained.directory)
            return {
                "coefficients": record["coefficients"],
                "out_of_fold_accuracy": record["out_of_fold"]["accuracy"],
            }
    return {}


@task(name="report", task_run_name="report")
def write_report(
    run: Run,
    recurrent: TrainedAndScored,
    baselines: list[ModelEvaluation],
    prepared: PreparedData,
    decision: ChampionDecision | None = None,
    recent_runs: list[dict[str, Any]] | None = None,
    claims: ClaimsResult | None = None,
    evidence: Evidence | None = None,
    explained: list[dict[str, Any]] | None = None,
) -> RunReport:
    """Publish the comparison as Prefect artifacts and as files under ``reports/<run-id>/``."""
    evaluations = [*recurrent.evaluations, *baselines]
    timings = {"prepare": prepared.seconds, "train and evaluate (wall)": recurrent.seconds}
    for evaluation in evaluations:
        timings[f"train {evaluation.model}"] = evaluation.train_seconds
        timings[f"predict {evaluation.model}"] = evaluation.predict_seconds
    run_info = run_info_for(prepared, run, timings)
    run_info["trained_on"] = {e.model: e.trained_on for e in evaluations if e.trained_on}
    if decision is not None:
        run_info["champion_decision"] = decision.to_dict()
    stacked = stack_record(recurrent)
    if stacked:
        run_info["stack"] = stacked
    if recent_runs:
        run_info["recent_runs"] = recent_runs
    if claims is not None:
        run_info["seed_claims"] = claims.to_dict()
        run_info["timings"]["seed claims"] = claims.seconds
    if evidence is not None:
        evidence = replace(evidence, explained=explained or [])
        run_info["timings"]["evidence"] = evidence.seconds
    written = write_report_files(
        run.run_id, evaluations, run_info, run.store.paths.reports, evidence
    )
    run_id = run.run_id
    create_table_artifact(
        table=written.rows,
        key=TABLE_ARTIFACT_KEY,
        description=f"Test metrics per model, run {run_id}. Report: {written.directory}",
    )
    if written.seed_rows:
        create_table_artifact(
            table=written.seed_rows,
            key=SEEDS_ARTIFACT_KEY,
            description=f"Mean and standard deviation across seeds per architecture, run {run_id}",
        )
    create_markdown_artifact(
        markdown=written.markdown + f"\n\nThis report as one HTML file: `{written.html_path}`\n",
        key=MARKDOWN_ARTIFACT_KEY,
        description=f"The whole report, charts included, run {run_id}",
    )
    create_link_artifact(
        link=written.html_path.as_uri(),
        link_text=f"report.html of run {run_id}",
        key=LINK_ARTIFACT_KEY,
        description="Self-contained HTML report: tables, curves, training history, verdicts.",
    )
    get_run_logger().info(
        "Report written to %s (best model: %s)", written.directory, written.best_model
    )
    return written


@task(name="publish-report", task_run_name="publish-report", retries=2, retry_delay_seconds=5)
def publish_report(written: RunReport, store: DataStore) -> None:
    """Copy the run's report folder to the data folder's store, when that is a remote URL."""
    if store.is_remote:
        store.publish(written.directory)
        get_run_logger().info("Report published to %s", store.url_of(written.directory))

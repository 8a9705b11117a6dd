"""The comparison summary: Prefect artifacts and files a person reads."""

from __future__ import annotations

import csv
import io
import os
import platform
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from imdb_rnn.files import write_json_atomic, write_text_atomic
from imdb_rnn.storage import DataStore
from tasks.champion import ChampionDecision
from tasks.claims import ClaimsResult, contradictions, measured_table, notes_table
from tasks.evaluate import LENGTH_BUCKETS, ModelEvaluation
from tasks.html_report import load_all_predictions, render_html
from tasks.prepare import PreparedData
from tasks.summary import (
    COLUMNS,
    PARAMETER_SECTIONS,
    across_seeds,
    best_by,
    best_values,
    comparison_rows,
    ensemble_note,
    ensemble_table,
    fmt,
    memory_verdict,
    plain,
    seed_table,
    summary_sentences,
    trend_table,
)

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
    markdown: str
    seed_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def html_path(self) -> Path:
        return self.directory / "report.html"


def make_run_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """A sortable, readable id: UTC time plus the Prefect flow run's name when there is one."""
    now = now or datetime.now(UTC)
    if suffix is None:
        try:
            from prefect.runtime import flow_run

            suffix = flow_run.name or None
        except Exception:  # runtime context is optional; any failure just means no name
            suffix = None
    suffix = suffix or secrets.token_hex(3)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{suffix}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return plain(value)


def _markdown_table(headings: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headings) + " |", "|" + "|".join("---" for _ in headings) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def render_markdown(
    run_id: str,
    evaluations: list[ModelEvaluation],
    run_info: dict[str, Any],
) -> str:
    """The summary a person reads: best model, metrics, length buckets, data, parameters."""
    rows = comparison_rows(evaluations)
    best = best_values(rows)
    parts = [f"# IMDb sentiment: recurrent model comparison\n\nRun `{run_id}`.\n"]
    headline, *rest = summary_sentences(evaluations)
    parts.append(" ".join([f"**{headline}**", *rest]) + "\n")

    parts.append("## Test metrics\n\nBest value in each column in bold.\n")
    headings = (
        ["model"] + [heading for _, heading, _ in COLUMNS] + ["parameters", "train s", "reviews/s"]
    )
    body = []
    for row in rows:
        cells = [f"`{row['model']}`"]
        for column, _, _ in COLUMNS:
            text = fmt(row[column])
            cells.append(
                f"**{text}**"
                if row[column] is not None and row[column] == best.get(column)
                else text
            )
        cells += [
            fmt(row["parameters"]),
            fmt(row["train_seconds"], 1),
            fmt(row["reviews_per_second"], 0),
        ]
        body.append(cells)
    parts.append(_markdown_table(headings, body) + "\n")
    seed_rows = across_seeds(evaluations)
    if seed_rows:
        parts.append(
            "## Across seeds\n\nMean ± sample standard deviation over the seeds each "
            "architecture was trained with. Differences smaller than the spread are noise.\n"
        )
        parts.append(_markdown_table(*seed_table(seed_rows)) + "\n")

    folds = run_info.get("training", {}).get("ensemble_folds", 1)
    if folds > 1:
        parts.append(ensembles_markdown(evaluations, folds))

    maxlen = run_info.get("preprocess", {}).get("maxlen")
    parts.append(
        "## Accuracy by review length\n\n"
        f"Length is counted in tokens before padding. Reviews longer than maxlen ({maxlen}) were "
        "cut, keeping their end, so a model sees only their last part.\n"
    )
    counts = {bucket["bucket"]: bucket["reviews"] for bucket in evaluations[0].length_buckets}
    length_headings = ["model"] + [
        f"{name} tokens (n={counts.get(name, 0):,})" for name, _, _ in LENGTH_BUCKETS
    ]
    length_body = [
        [f"`{e.model}`"] + [fmt(bucket["accuracy"]) for bucket in e.length_buckets]
        for e in evaluations
    ]
    parts.append(_markdown_table(length_headings, length_body) + "\n")
    parts.append(f"**Short vs long memory.** {memory_verdict(evaluations)['text']}\n")
    if run_info.get("seed_claims"):
        parts.append(claims_markdown(run_info["seed_claims"], memory_verdict(evaluations)["text"]))

    parts.append("## Confusion matrices (test)\n")
    confusion_body = [
        [f"`{e.model}`"] + [fmt(e.confusion[k]) for k in ("tn", "fp", "fn", "tp")]
        for e in evaluations
    ]
    parts.append(
        _markdown_table(["model", "true neg", "false pos", "false neg", "true pos"], confusion_body)
        + "\n"
    )

    decision = run_info.get("champion_decision")
    if decision:
        parts.append(f"## Champion\n\n{decision['reason']}\n")
    trend_headings, trend_rows = trend_table(run_info.get("recent_runs", []))
    if trend_rows:
        parts.append("## Recent runs\n")
        parts.append(_markdown_table(trend_headings, trend_rows) + "\n")

    data = run_info.get("data", {})
    split_rows = data.get("rows", {})
    parts.append(
        "## Data\n\n"
        f"- source: `{data.get('source')}`\n"
        f"- source sha256: `{data.get('source_sha256')}`\n"
        f"- prepared data: `{data.get('fingerprint')}` "
        f"({fmt(split_rows.get('train'))} train, {fmt(split_rows.get('validation'))} "
        f"validation, {fmt(split_rows.get('test'))} test reviews)\n"
    )
    parts.append("## Parameters\n")
    for section in (*PARAMETER_SECTIONS, "trained_on"):
        if run_info.get(section):
            rendered = ", ".join(f"{k}={v}" for k, v in run_info[section].items())
            parts.append(f"- **{section}**: {rendered}")
    parts.append("")
    timings = run_info.get("timings", {})
    if timings:
        parts.append("## Timings (seconds)\n")
        parts.append(
            _markdown_table(
                ["stage", "seconds"], [[k, fmt(float(v), 1)] for k, v in timings.items()]
            )
            + "\n"
        )
    versions = run_info.get("software", {})
    if versions:
        parts.append("## Software\n\n" + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")
    return "\n".join(parts)


def ensembles_markdown(evaluations: list[ModelEvaluation], folds: int) -> str:
    """How the ensembles were built, and their out-of-fold validation beside their test score."""
    headings, body = ensemble_table(evaluations)
    body = [[f"`{row[0]}`", *row[1:]] for row in body]
    return (
        f"## Cross-validated ensembles\n\n{ensemble_note(folds)}\n\n"
        + _markdown_table(headings, body)
        + "\n"
    )


def claims_markdown(section: dict[str, Any], real_data: str) -> str:
    """The seed notes' table beside the measured one, each claim's verdict, the evidence."""
    thresholds = section["thresholds"]
    distances = section["distances"]
    parts = [
        "## The seed notes' claims, measured\n",
        "The notes assert the first table; the second is this run's measurement. Rules, fixed "
        "in `tasks/claims.py` before any run: memory is *long* when the gradient of the loss "
        "with respect to the embedding output stays above "
        f"{thresholds['span_threshold']:.0%} of its peak for at least "
        f"{thresholds['long_memory_fraction']:.0%} of the positions read; a long-term "
        "dependency is *handled* when held-out accuracy on the synthetic marker task is at "
        f"least {thresholds['handled_accuracy']:.2f} at the largest distance ({max(distances)}); "
        "complexity ranks parameter counts; gradients *explode* when a step's norm exceeds "
        f"{thresholds['exploding_growth']:g}x the first epoch's mean.\n",
        "**As asserted by the notes**\n",
        _markdown_table(*notes_table(section)) + "\n",
        "**As measured in this run**\n",
        _markdown_table(*measured_table(section)) + "\n",
        "**Verdicts**\n",
    ]
    parts += [f"- {verdict['text']}" for verdict in section["verdicts"]]
    parts.append(f"\n**{contradictions(section)}**\n")
    accuracy_rows = [
        [f"`{row['model']}`"] + [fmt(row[f"accuracy_d{d}"]) for d in distances]
        for row in section["rows"]
    ]
    parts.append(
        "**Synthetic long-range task: held-out accuracy by marker distance d** (chance 0.5)\n"
    )
    parts.append(_markdown_table(["model"] + [f"d={d}" for d in distances], accuracy_rows) + "\n")
    parts.append(f"**Real-data evidence (accuracy by review length).** {real_data}\n")
    return "\n".join(parts)


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


def run_info_for(
    prepared: PreparedData, source: str, configs: dict[str, Any], timings: dict[str, float]
) -> dict[str, Any]:
    """The facts about a run that the report prints besides the metrics."""
    return {
        "data": {
            "source": source,
            "source_sha256": prepared.source_sha256,
            "fingerprint": prepared.fingerprint,
            "rows": prepared.rows,
            "directory": str(prepared.directory),
        },
        **{
            name: (config.model_dump(mode="json") if hasattr(config, "model_dump") else config)
            for name, config in configs.items()
        },
        "timings": timings,
        "software": software_versions(),
    }


def write_report_files(
    run_id: str,
    evaluations: list[ModelEvaluation],
    run_info: dict[str, Any],
    reports_dir: Path,
) -> RunReport:
    """Write ``reports/<run-id>/``: report.html, summary.md/.csv, metrics.json; move ``latest``."""
    if not evaluations:
        raise ValueError("no model was evaluated, so there is nothing to report")
    directory = reports_dir / run_id
    rows = comparison_rows(evaluations)
    markdown = render_markdown(run_id, evaluations, run_info)
    best = best_by(evaluations)
    write_text_atomic(directory / "summary.csv", _rows_to_csv(rows))
    write_json_atomic(
        directory / "metrics.json",
        _json_safe(
            {
                "run_id": run_id,
                "best_model": best.model,
                "rows": rows,
                "across_seeds": across_seeds(evaluations),
                "memory_verdict": memory_verdict(evaluations)["text"],
                "run": run_info,
                "models": [e.to_dict() for e in evaluations],
            }
        ),
    )
    page = render_html(run_id, evaluations, run_info, load_all_predictions(evaluations))
    write_text_atomic(directory / "report.html", page)
    # summary.md last: its presence marks a complete report folder.
    write_text_atomic(directory / "summary.md", markdown)
    _point_latest(reports_dir, run_id)
    return RunReport(run_id, directory, best.model, rows, markdown, across_seeds(evaluations))


@task(name="report", task_run_name="report")
def report(
    run_id: str,
    evaluations: list[ModelEvaluation],
    prepared: PreparedData,
    source: str,
    configs: dict[str, Any],
    reports_dir: Path,
    decision: ChampionDecision | None = None,
    recent_runs: list[dict[str, Any]] | None = None,
    claims: ClaimsResult | None = None,
    stage_seconds: dict[str, float] | None = None,
) -> RunReport:
    """Publish the comparison as Prefect artifacts and as files under ``reports/<run-id>/``."""
    timings = {"prepare": prepared.seconds, **(stage_seconds or {})}
    for evaluation in evaluations:
        timings[f"train {evaluation.model}"] = evaluation.train_seconds
        timings[f"predict {evaluation.model}"] = evaluation.predict_seconds
    run_info = run_info_for(prepared, source, configs, timings)
    run_info["trained_on"] = {e.model: e.trained_on for e in evaluations if e.trained_on}
    if decision is not None:
        run_info["champion_decision"] = decision.to_dict()
    if recent_runs:
        run_info["recent_runs"] = recent_runs
    if claims is not None:
        run_info["seed_claims"] = claims.to_dict()
        run_info["timings"]["seed claims"] = claims.seconds
    written = write_report_files(run_id, evaluations, run_info, reports_dir)
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
        markdown=written.markdown + f"\n\nFull report with charts: `{written.html_path}`\n",
        key=MARKDOWN_ARTIFACT_KEY,
        description=f"Comparison summary, run {run_id}",
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

"""``summary.md`` and the ``rnn-summary`` artifact: the report as markdown."""

from __future__ import annotations

from typing import Any

from imdb_rnn.claim_rules import memory_verdict
from imdb_rnn.evaluation import LENGTH_BUCKETS, ModelEvaluation
from imdb_rnn.reporting.claims_tables import contradictions, measured_table, notes_table
from imdb_rnn.reporting.tables import (
    COLUMNS,
    PARAMETER_SECTIONS,
    across_seeds,
    best_values,
    comparison_rows,
    ensemble_note,
    ensemble_table,
    fmt,
    seed_table,
    summary_sentences,
    trend_table,
)


def _markdown_table(headings: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headings) + " |", "|" + "|".join("---" for _ in headings) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


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
        "in `imdb_rnn/claim_rules.py` before any run: memory is *long* when the gradient of "
        "the loss "
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

"""``summary.md`` and the ``rnn-summary`` artifact: the report as markdown.

The artifact is the whole report, charts embedded as PNG data URIs, because a run on a
worker's disk has no ``report.html`` a user of the Prefect UI can open.
"""

from __future__ import annotations

import html
from typing import Any

from imdb_rnn.claim_rules import memory_verdict
from imdb_rnn.evaluation import LENGTH_BUCKETS, ModelEvaluation
from imdb_rnn.reporting.card import card_sentences, card_table, duplicates_warning, report_title
from imdb_rnn.reporting.claims_tables import contradictions, measured_table, notes_table
from imdb_rnn.reporting.evidence_tables import (
    PAIRWISE_NOTE,
    disagreement_examples,
    disagreement_table,
    interval_note,
    pairwise_table,
    probability_meaning,
    review_rows,
    seed_comparison_table,
    strongest_words,
    value_interval,
    variation_sentence,
    variation_table,
)
from imdb_rnn.reporting.tables import (
    PARAMETER_SECTIONS,
    across_seeds,
    best_values,
    calibration_note,
    comparison_rows,
    ensemble_note,
    ensemble_table,
    fmt,
    metric_columns,
    seed_table,
    stack_note,
    summary_sentences,
    trend_table,
)


def card_markdown(card: dict[str, Any]) -> str:
    """The dataset card: rows per split and class, lengths, coverage, shared texts."""
    warning, warns = duplicates_warning(card)
    # Not "Data": the run details at the end have that heading.
    lines = ["## Dataset\n", " ".join(card_sentences(card)) + "\n"]
    lines.append(_markdown_table(*card_table(card)) + "\n")
    lines.append(f"**Warning: {_cell(warning)}**\n" if warns else f"{_cell(warning)}\n")
    return "\n".join(lines)


def confusion_markdown(evaluations: list[ModelEvaluation]) -> str:
    """The binary counts in one table; for K classes a K x K table per model (rows are the
    true classes, columns the predicted ones)."""
    if all(e.is_binary for e in evaluations):
        body = [
            [f"`{e.model}`"] + [fmt(e.confusion[k]) for k in ("tn", "fp", "fn", "tp")]
            for e in evaluations
        ]
        headings = ["model", "true neg", "false pos", "false neg", "true pos"]
        return _markdown_table(headings, body) + "\n"
    tables = []
    for evaluation in evaluations:
        if evaluation.failure or not evaluation.confusion_matrix:
            continue
        names = evaluation.class_names
        body = [
            [f"**{_cell(name)}**"] + [f"{value:,}" for value in row]
            for name, row in zip(names, evaluation.confusion_matrix, strict=True)
        ]
        headings = [f"`{evaluation.model}`: true \\ predicted", *(_cell(n) for n in names)]
        tables.append(_markdown_table(headings, body) + "\n")
    return "\n".join(tables)


def _markdown_table(headings: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headings) + " |", "|" + "|".join("---" for _ in headings) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text that cannot break a markdown table row, nor become markup."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _chart(charts: dict[str, tuple[str, str]] | None, name: str) -> str:
    if not charts or name not in charts:
        return ""
    uri, alt = charts[name]
    return f"![{alt}]({uri})\n"


def metrics_markdown(evaluations: list[ModelEvaluation], evidence: dict[str, Any] | None) -> str:
    """The test metrics, each with its interval when there is one; best values in bold."""
    intervals = (evidence or {}).get("intervals") or None
    rows = comparison_rows(evaluations, intervals)
    best = best_values(rows)
    columns = metric_columns(evaluations)
    headings = (
        ["model"] + [heading for _, heading, _ in columns] + ["parameters", "train s", "reviews/s"]
    )
    body = []
    for row in rows:
        cells = [f"`{row['model']}`"]
        for column, _, _ in columns:
            text = fmt(row[column])
            if row[column] is not None and row[column] == best.get(column):
                text = f"**{text}**"
            bounds = value_interval(
                [row[f"{column}_low"], row[f"{column}_high"]] if intervals else None
            )
            cells.append(f"{text} {bounds}" if bounds else text)
        cells += [
            fmt(row["parameters"]),
            fmt(row["train_seconds"], 1),
            fmt(row["reviews_per_second"], 0),
        ]
        body.append(cells)
    note = "Best value in each column in bold. Brier score and ECE: lower is better."
    if evidence:
        note += " " + interval_note(evidence)
    return f"## Test metrics\n\n{note}\n\n" + _markdown_table(headings, body) + "\n"


def verdicts_markdown(evidence: dict[str, Any]) -> str:
    """Which differences are real: the pairwise table, then the comparison by seed."""
    alpha = 1 - evidence.get("confidence", 0.95)
    parts = [
        "## Is the difference real?\n",
        PAIRWISE_NOTE.format(alpha=alpha) + "\n",
        _markdown_table(*_code_names(*pairwise_table(evidence), columns=2)) + "\n",
    ]
    if evidence.get("seed_comparisons"):
        parts += [
            "### By seed\n",
            "The same architectures compared seed by seed (each pair trained with the same "
            "seed): the mean of the accuracy differences, its t interval, and a paired t-test, "
            "Holm-corrected.\n",
            _markdown_table(*_code_names(*seed_comparison_table(evidence), columns=2)) + "\n",
        ]
    if evidence.get("seed_variation"):
        parts += [
            _markdown_table(*_code_names(*variation_table(evidence), columns=1)) + "\n",
            f"**{variation_sentence(evidence['seed_variation'])}**\n",
        ]
    return "\n".join(parts)


def _code_names(
    headings: list[str], body: list[list[str]], columns: int
) -> tuple[list[str], list[list[str]]]:
    """The first ``columns`` cells of each row (model names) as code."""
    return headings, [[f"`{c}`" for c in row[:columns]] + row[columns:] for row in body]


def _review_list(reviews: list[dict[str, Any]], model: str) -> str:
    """One bullet per review (a list wraps where a table row would not)."""
    lines = []
    for probability, label, text in review_rows(reviews):
        lines.append(f"- **{model} {probability}**, true label {label}: {_cell(text)}")
    return "\n".join(lines) + "\n"


def mistakes_markdown(evidence: dict[str, Any]) -> str:
    """Each model's most confident mistakes, and where the recurrent models and the baseline
    disagree, with examples."""
    shown = [r for reviews in evidence.get("confident_errors", {}).values() for r in reviews]
    meaning = (
        "the model's probability of *positive*"
        if not any("predicted" in review for review in shown)
        else probability_meaning(shown)
    )
    parts = [
        "## Mistakes a person can read\n",
        "The test reviews each model got most confidently wrong (cleaned text: lower case, "
        f"markup removed), with {meaning}.\n",
    ]
    for model, reviews in evidence.get("confident_errors", {}).items():
        if reviews:
            parts.append(f"**`{model}`**\n")
            parts.append(_review_list(reviews, model))
    if evidence.get("disagreements"):
        parts.append("### Recurrent models against the baseline\n")
        parts.append(_markdown_table(*_code_names(*disagreement_table(evidence), columns=2)))
        parts.append("")
        for who, row, reviews in disagreement_examples(evidence):
            parts.append(f"**Only `{who}` right** (`{row['model']}` vs `{row['baseline']}`)\n")
            parts.append(_review_list(reviews, row["model"]))
    return "\n".join(parts)


def explained_markdown(
    explained: list[dict[str, Any]], charts: dict[str, tuple[str, str]] | None
) -> str:
    """The champion's reviews: each as a picture of its words coloured by their effect when
    ``charts`` are embedded, and the words that moved the score most, in text."""
    several = any("predicted" in review for review in explained)
    up, down = ("the predicted class", "the others") if several else ("positive", "negative")
    parts = [
        "## Which words moved the champion\n",
        "Each word dropped in turn and the review scored again: green words pushed the score "
        f"towards {up}, red ones towards {down}; the stronger the colour, the larger "
        "the change.\n",
    ]
    for index, review in enumerate(explained):
        scored = (
            f"predicted {review['predicted']} with probability"
            if "predicted" in review
            else "probability of positive"
        )
        parts.append(f"**True label {review['label']}, {scored} {review['probability']:.4f}**\n")
        parts.append(_chart(charts, f"explained-{index}"))
        towards_up, towards_down = strongest_words(review)
        parts.append(
            f"Towards {up}: {_cell(towards_up) or 'none'}. "
            f"Towards {down}: {_cell(towards_down) or 'none'}.\n"
        )
    return "\n".join(parts)


def render_markdown(
    run_id: str,
    evaluations: list[ModelEvaluation],
    run_info: dict[str, Any],
    evidence: dict[str, Any] | None = None,
    charts: dict[str, tuple[str, str]] | None = None,
) -> str:
    """The report as markdown: ``summary.md`` without ``charts``; with them, embedded as PNG
    data URIs, the whole report, for the Prefect UI."""
    card = run_info.get("data", {}).get("card") or {}
    parts = [f"# {report_title(card)}\n\nRun `{run_id}`.\n"]
    headline, *rest = summary_sentences(evaluations, (evidence or {}).get("headline"))
    parts.append(" ".join([f"**{headline}**", *rest]) + "\n")
    if card:
        parts.append(card_markdown(card))
    parts.append(metrics_markdown(evaluations, evidence))
    if evidence and evidence.get("comparisons"):
        parts.append(verdicts_markdown(evidence))
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
        if run_info.get("stack"):
            parts.append(stack_note(run_info["stack"]) + "\n")
    if charts and ("roc" in charts or "training" in charts):
        parts.append("## Curves and training\n")
        parts += [_chart(charts, name) for name in ("roc", "precision_recall", "training")]
    if evidence and evidence.get("calibration"):
        parts.append(f"## Calibration\n\n{calibration_note(evaluations)}\n")
        parts.append(_chart(charts, "reliability"))

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
    parts.append(_chart(charts, "length"))
    parts.append(f"**Short vs long memory.** {memory_verdict(evaluations)['text']}\n")
    if run_info.get("seed_claims"):
        parts.append(claims_markdown(run_info["seed_claims"], memory_verdict(evaluations)["text"]))
        parts += [_chart(charts, "gradient"), _chart(charts, "synthetic")]

    parts.append("## Confusion matrices (test)\n")
    parts.append(confusion_markdown(evaluations))
    parts.append(_chart(charts, "confusion"))
    if evidence and (evidence.get("confident_errors") or evidence.get("disagreements")):
        parts.append(mistakes_markdown(evidence))
    if evidence and evidence.get("explained"):
        parts.append(explained_markdown(evidence["explained"], charts))

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

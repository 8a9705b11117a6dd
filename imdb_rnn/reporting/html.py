"""``report.html``: one self-contained page (charts embedded as PNG data URIs, no CDN)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from imdb_rnn.claim_rules import memory_verdict
from imdb_rnn.evaluation import LENGTH_BUCKETS, ModelEvaluation, load_predictions
from imdb_rnn.reporting.charts import (
    Predictions,
    confusion_chart,
    gradient_position_chart,
    length_chart,
    precision_recall_chart,
    roc_chart,
    synthetic_chart,
    training_chart,
)
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

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
  max-width:1100px;color:#1d2433;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #dde;padding-bottom:.2rem}
.muted{color:#667}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e4e6ee;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f3f4f8}
td.best{font-weight:700;background:#e7f5ea}
.verdict{background:#f6f7fb;border-left:4px solid #4a6cf7;padding:.6rem 1rem;margin:.8rem 0}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
.charts figure{margin:0;flex:1 1 480px}
figure{margin:.6rem 0}
img{max-width:100%;height:auto}
code{background:#f3f4f8;padding:0 .25rem;border-radius:3px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{font-weight:600}
dd{margin:0}
.side{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
.supported{color:#1b7a36}.unsupported{color:#b3261e}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def claims_html(section: dict[str, Any], real_data: str) -> str:
    """The notes' table beside the measured one, the verdicts, both charts, the evidence."""
    thresholds = section["thresholds"]
    parts = ["<h2>The seed notes' claims, measured</h2>"]
    parts.append(
        "<p class='muted'>Rules fixed in <code>imdb_rnn/claim_rules.py</code> before any run: "
        "memory is "
        f"long when the gradient stays above {thresholds['span_threshold']:.0%} of its peak for "
        f"at least {thresholds['long_memory_fraction']:.0%} of the positions read; a long-term "
        "dependency is handled when held-out synthetic accuracy is at least "
        f"{thresholds['handled_accuracy']:.2f} at the largest distance; complexity ranks "
        "parameter counts; gradients explode when a step's norm exceeds "
        f"{thresholds['exploding_growth']:g}x the first epoch's mean.</p>"
    )
    notes_headings, notes_rows = notes_table(section)
    measured_headings, measured_rows = measured_table(section)
    parts.append("<div class='side'><div><h3>As asserted by the notes</h3>")
    parts.append(_table(notes_headings, [[_esc(c) for c in row] for row in notes_rows]))
    parts.append("</div><div><h3>As measured in this run</h3>")
    parts.append(_table(measured_headings, [[_esc(c) for c in row] for row in measured_rows]))
    parts.append("</div></div><ul>")
    for verdict in section["verdicts"]:
        css = {True: "supported", False: "unsupported"}.get(verdict["supported"], "muted")
        parts.append(f"<li class='{css}'>{_esc(verdict['text'])}</li>")
    parts.append(
        f"</ul><div class='verdict'><strong>{_esc(contradictions(section))}</strong></div>"
    )
    parts.append("<div class='charts'>")
    if section["curves"]:
        parts.append(
            _figure(
                gradient_position_chart(section["curves"], thresholds["span_threshold"]),
                "Gradient by position per model, log scale",
            )
        )
    if section["synthetic"]:
        parts.append(
            _figure(
                synthetic_chart(section["synthetic"], thresholds["handled_accuracy"]),
                "Synthetic task accuracy against marker distance",
            )
        )
    parts.append("</div>")
    parts.append(
        "<div class='verdict'><strong>Real-data evidence (accuracy by review length).</strong> "
        f"{_esc(real_data)}</div>"
    )
    return "".join(parts)


def _table(
    headings: list[str], rows: list[list[str]], best_cells: frozenset | set = frozenset()
) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headings)
    body = []
    for r, row in enumerate(rows):
        cells = "".join(
            f'<td class="best">{cell}</td>' if (r, c) in best_cells else f"<td>{cell}</td>"
            for c, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{_esc(alt)}"></figure>'


def load_all_predictions(evaluations: list[ModelEvaluation]) -> Predictions:
    """Read each model's saved test scores; models without a file are left out."""
    found: Predictions = {}
    for evaluation in evaluations:
        if evaluation.predictions_path:
            labels, probabilities, _ = load_predictions(evaluation.predictions_path)
            found[evaluation.model] = (labels, probabilities)
    return found


def render_html(
    run_id: str,
    evaluations: list[ModelEvaluation],
    run_info: dict[str, Any],
    predictions: Predictions,
) -> str:
    """The whole report page as one string."""
    rows = comparison_rows(evaluations)
    best = best_values(rows)
    parts: list[str] = []

    parts.append("<h1>IMDb sentiment: recurrent model comparison</h1>")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f'<p class="muted">Run <code>{_esc(run_id)}</code> · generated {generated}</p>')
    parts.append("".join(f"<p>{_esc(s)}</p>" for s in summary_sentences(evaluations)))

    parts.append("<h2>Test metrics</h2><p class='muted'>Best value in each column highlighted.</p>")
    headings = ["model"] + [h for _, h, _ in COLUMNS] + ["parameters", "train s", "reviews/s"]
    table_rows, best_cells = [], set()
    for r, row in enumerate(rows):
        cells = [f"<code>{_esc(row['model'])}</code>"]
        for c, (column, _, _) in enumerate(COLUMNS, start=1):
            cells.append(fmt(row[column]))
            if row[column] is not None and row[column] == best.get(column):
                best_cells.add((r, c))
        cells += [
            fmt(row["parameters"]),
            fmt(row["train_seconds"], 1),
            fmt(row["reviews_per_second"], 0),
        ]
        table_rows.append(cells)
    parts.append(_table(headings, table_rows, best_cells))
    seed_rows = across_seeds(evaluations)
    if seed_rows:
        parts.append(
            "<h2>Across seeds</h2><p class='muted'>Mean ± sample standard deviation over the "
            "seeds each architecture was trained with. Differences smaller than the spread "
            "are noise.</p>"
        )
        seed_headings, seed_body = seed_table(seed_rows)
        parts.append(_table(seed_headings, [[_esc(cell) for cell in row] for row in seed_body]))
    folds = run_info.get("training", {}).get("ensemble_folds", 1)
    if folds > 1:
        parts.append(f"<h2>Cross-validated ensembles</h2><p>{_esc(ensemble_note(folds))}</p>")
        ensemble_headings, ensemble_body = ensemble_table(evaluations)
        parts.append(
            _table(
                ensemble_headings,
                [[f"<code>{_esc(row[0])}</code>", *row[1:]] for row in ensemble_body],
            )
        )

    if predictions:
        parts.append("<h2>ROC and precision-recall curves</h2><div class='charts'>")
        parts.append(_figure(roc_chart(predictions), "ROC curves of all models"))
        parts.append(_figure(precision_recall_chart(predictions), "Precision-recall curves"))
        parts.append("</div>")

    chart = training_chart(evaluations)
    if chart:
        parts.append("<h2>Training and validation per epoch</h2>")
        parts.append(_figure(chart, "Loss and accuracy per epoch, train and validation"))

    maxlen = run_info.get("preprocess", {}).get("maxlen")
    verdict = memory_verdict(evaluations)
    parts.append("<h2>Accuracy by review length: short vs long memory</h2>")
    parts.append(
        "<p class='muted'>Length in tokens before padding. Reviews longer than maxlen "
        f"({_esc(maxlen)}) were cut, keeping their end.</p>"
    )
    counts = {b["bucket"]: b["reviews"] for b in evaluations[0].length_buckets}
    length_rows = [
        [f"<code>{_esc(e.model)}</code>"] + [fmt(b["accuracy"]) for b in e.length_buckets]
        for e in evaluations
    ]
    length_headings = ["model"] + [
        f"{n} tokens (n={counts.get(n, 0):,})" for n, _, _ in LENGTH_BUCKETS
    ]
    parts.append(_table(length_headings, length_rows))
    parts.append(_figure(length_chart(evaluations), "Accuracy by review length per model"))
    parts.append(f"<div class='verdict'><strong>Verdict.</strong> {_esc(verdict['text'])}</div>")
    if run_info.get("seed_claims"):
        parts.append(claims_html(run_info["seed_claims"], verdict["text"]))

    parts.append("<h2>Confusion matrices (test)</h2>")
    scored = [e for e in evaluations if not e.failure]
    parts.append(_figure(confusion_chart(scored), "Confusion matrix per model"))

    decision = run_info.get("champion_decision")
    if decision:
        parts.append("<h2>Champion</h2>")
        parts.append(f"<div class='verdict'>{_esc(decision['reason'])}</div>")
    trend_headings, trend_rows = trend_table(run_info.get("recent_runs", []))
    if trend_rows:
        parts.append("<h2>Recent runs</h2>")
        parts.append(_table(trend_headings, [[_esc(c) for c in row] for row in trend_rows]))

    parts.append("<h2>Run details</h2><dl>")
    data = run_info.get("data", {})
    split_rows = data.get("rows", {})
    details = [
        ("source", data.get("source")),
        ("source sha256", data.get("source_sha256")),
        (
            "prepared data",
            f"{data.get('fingerprint')} ({fmt(split_rows.get('train'))} train, "
            f"{fmt(split_rows.get('validation'))} validation, {fmt(split_rows.get('test'))} test)",
        ),
    ]
    for section in (*PARAMETER_SECTIONS, "trained_on"):
        if run_info.get(section):
            details.append((section, ", ".join(f"{k}={v}" for k, v in run_info[section].items())))
    software = run_info.get("software", {})
    if software:
        details.append(("software", ", ".join(f"{k} {v}" for k, v in software.items())))
    parts += [f"<dt>{_esc(k)}</dt><dd><code>{_esc(v)}</code></dd>" for k, v in details]
    parts.append("</dl>")
    timings = run_info.get("timings", {})
    if timings:
        parts.append(
            "<h2>Timings</h2><p class='muted'>Stages reused from an earlier run show the time "
            "they took when they ran.</p>"
        )
        parts.append(
            _table(["stage", "seconds"], [[_esc(k), fmt(float(v), 1)] for k, v in timings.items()])
        )

    title = f"IMDb RNN comparison {run_id}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )

"""``report.html``: one self-contained page (charts embedded as PNG data URIs, no CDN)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imdb_rnn.claim_rules import memory_verdict
from imdb_rnn.evaluation import LENGTH_BUCKETS, ModelEvaluation, Predictions
from imdb_rnn.reporting.card import (
    card_sentences,
    card_table,
    duplicates_warning,
    page_title,
    report_title,
)
from imdb_rnn.reporting.charts import report_charts
from imdb_rnn.reporting.claims_tables import contradictions, measured_table, notes_table
from imdb_rnn.reporting.evidence_tables import (
    PAIRWISE_NOTE,
    interval_note,
    pairwise_table,
    seed_comparison_table,
    value_interval,
    variation_sentence,
    variation_table,
)
from imdb_rnn.reporting.html_mistakes import explained_html, mistakes_html
from imdb_rnn.reporting.html_parts import esc as _esc
from imdb_rnn.reporting.html_parts import names_as_code as _names_as_code
from imdb_rnn.reporting.html_parts import table as _table
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
.warning{background:#fff4e5;border-left:4px solid #e8a33d;padding:.5rem 1rem}
.headline{background:#f6f7fb;border-left:4px solid #4a6cf7;padding:.2rem 1rem;margin:.8rem 0}
.scroll{overflow-x:auto}
td{white-space:nowrap}
table.reviews th,table.reviews td{text-align:left;vertical-align:top;white-space:normal}
table.reviews td:last-child{max-width:720px}
.explained{line-height:2;max-width:900px}
.word{padding:.1rem .15rem;border-radius:3px}
"""


def claims_html(section: dict[str, Any], real_data: str, charts: dict[str, tuple[str, str]]) -> str:
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
    parts.append(_chart(charts, "gradient") + _chart(charts, "synthetic"))
    parts.append("</div>")
    parts.append(
        "<div class='verdict'><strong>Real-data evidence (accuracy by review length).</strong> "
        f"{_esc(real_data)}</div>"
    )
    return "".join(parts)


def _figure(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{_esc(alt)}"></figure>'


def _chart(charts: dict[str, tuple[str, str]], name: str) -> str:
    return _figure(*charts[name]) if name in charts else ""


def card_html(card: dict[str, Any]) -> str:
    """The dataset card: rows per split and class, lengths, coverage, shared texts."""
    warning, warns = duplicates_warning(card)
    css = "warning" if warns else "muted"
    return (
        "<h2>Dataset</h2>"
        + "".join(f"<p class='muted'>{_esc(s)}</p>" for s in card_sentences(card))
        + _table(*card_table(card))
        + f"<p class='{css}'>{_esc(warning)}</p>"
    )


def metrics_html(evaluations: list[ModelEvaluation], evidence: dict[str, Any] | None) -> str:
    """The test metrics with their intervals under them; best value in each column marked."""
    intervals = (evidence or {}).get("intervals") or None
    rows = comparison_rows(evaluations, intervals)
    best = best_values(rows)
    columns = metric_columns(evaluations)
    headings = ["model"] + [h for _, h, _ in columns] + ["parameters", "train s", "reviews/s"]
    table_rows, best_cells = [], set()
    for r, row in enumerate(rows):
        cells = [f"<code>{_esc(row['model'])}</code>"]
        for c, (column, _, _) in enumerate(columns, start=1):
            bounds = value_interval(
                [row[f"{column}_low"], row[f"{column}_high"]] if intervals else None
            )
            small = f"<br><small class='muted'>{_esc(bounds)}</small>" if bounds else ""
            cells.append(fmt(row[column]) + small)
            if row[column] is not None and row[column] == best.get(column):
                best_cells.add((r, c))
        cells += [
            fmt(row["parameters"]),
            fmt(row["train_seconds"], 1),
            fmt(row["reviews_per_second"], 0),
        ]
        table_rows.append(cells)
    note = "Best value in each column highlighted. Brier score and ECE: lower is better."
    if evidence:
        note += " " + interval_note(evidence)
    return f"<h2>Test metrics</h2><p class='muted'>{_esc(note)}</p>" + _table(
        headings, table_rows, best_cells
    )


def verdicts_html(evidence: dict[str, Any]) -> str:
    alpha = 1 - evidence.get("confidence", 0.95)
    headings, body = pairwise_table(evidence)
    parts = [
        "<h2 id='verdicts'>Is the difference real?</h2>",
        f"<p class='muted'>{_esc(PAIRWISE_NOTE.format(alpha=alpha))}</p>",
        _table(headings, [_names_as_code(row, 2) for row in body]),
    ]
    if evidence.get("seed_comparisons"):
        headings, body = seed_comparison_table(evidence)
        parts += [
            "<h3>By seed</h3><p class='muted'>The same architectures compared seed by seed: "
            "the mean of the accuracy differences, its t interval, and a paired t-test, "
            "Holm-corrected.</p>",
            _table(headings, [_names_as_code(row, 2) for row in body]),
        ]
    if evidence.get("seed_variation"):
        headings, body = variation_table(evidence)
        parts.append(_table(headings, [_names_as_code(row, 1) for row in body]))
        sentence = variation_sentence(evidence["seed_variation"])
        parts.append(f"<div class='verdict'>{_esc(sentence)}</div>")
    return "".join(parts)


def render_html(
    run_id: str,
    evaluations: list[ModelEvaluation],
    run_info: dict[str, Any],
    predictions: Predictions | None = None,
    *,
    charts: dict[str, tuple[str, str]] | None = None,
    evidence: dict[str, Any] | None = None,
) -> str:
    """The whole report page as one string (``charts`` drawn here when not given)."""
    if charts is None:
        charts = report_charts(evaluations, predictions or {}, run_info, evidence)
    parts: list[str] = []

    card = run_info.get("data", {}).get("card") or {}
    parts.append(f"<h1>{_esc(report_title(card))}</h1>")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f'<p class="muted">Run <code>{_esc(run_id)}</code> · generated {generated}</p>')
    sentences = summary_sentences(evaluations, (evidence or {}).get("headline"))
    parts.append("<div class='headline'>")
    parts.append("".join(f"<p>{_esc(s)}</p>" for s in sentences))
    parts.append("</div>")
    if card:
        parts.append(card_html(card))
    parts.append(metrics_html(evaluations, evidence))
    if evidence and evidence.get("comparisons"):
        parts.append(verdicts_html(evidence))
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
        if run_info.get("stack"):
            parts.append(f"<p>{_esc(stack_note(run_info['stack']))}</p>")
        ensemble_headings, ensemble_body = ensemble_table(evaluations)
        parts.append(
            _table(
                ensemble_headings,
                [[f"<code>{_esc(row[0])}</code>", *row[1:]] for row in ensemble_body],
            )
        )

    if "roc" in charts:
        parts.append("<h2>ROC and precision-recall curves</h2><div class='charts'>")
        parts.append(_chart(charts, "roc") + _chart(charts, "precision_recall"))
        parts.append("</div>")
    if "reliability" in charts:
        parts.append(
            "<h2 id='calibration'>Calibration</h2>"
            f"<p class='muted'>{_esc(calibration_note(evaluations))}</p>"
        )
        parts.append(_chart(charts, "reliability"))

    if "training" in charts:
        parts.append("<h2>Training and validation per epoch</h2>")
        parts.append(_chart(charts, "training"))

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
    parts.append(_chart(charts, "length"))
    parts.append(f"<div class='verdict'><strong>Verdict.</strong> {_esc(verdict['text'])}</div>")
    if run_info.get("seed_claims"):
        parts.append(claims_html(run_info["seed_claims"], verdict["text"], charts))

    parts.append("<h2>Confusion matrices (test)</h2>")
    parts.append(_chart(charts, "confusion"))
    if evidence and (evidence.get("confident_errors") or evidence.get("disagreements")):
        parts.append(mistakes_html(evidence))
    if evidence and evidence.get("explained"):
        parts.append(explained_html(evidence["explained"]))

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

    title = page_title(card, run_id)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )

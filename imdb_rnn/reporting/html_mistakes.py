"""The report page's sections on mistakes: each model's most confident ones, where the
recurrent models and the baseline disagree, and the champion's word effects."""

from __future__ import annotations

import html
from typing import Any

from imdb_rnn.reporting.evidence_tables import (
    coloured_words,
    disagreement_examples,
    disagreement_table,
    probability_meaning,
    review_rows,
)
from imdb_rnn.reporting.html_parts import esc as _esc
from imdb_rnn.reporting.html_parts import names_as_code as _names_as_code
from imdb_rnn.reporting.html_parts import table as _table


def _reviews_table(reviews: list[dict[str, Any]], probability_heading: str) -> str:
    body = [[_esc(cell) for cell in row] for row in review_rows(reviews)]
    return _table([probability_heading, "true label", "review"], body, css="reviews")


def mistakes_html(evidence: dict[str, Any]) -> str:
    shown = [r for reviews in evidence.get("confident_errors", {}).values() for r in reviews]
    meaning = (
        "The probability is the model's for <em>positive</em>."
        if not any("predicted" in review for review in shown)
        else f"Each probability is {_esc(probability_meaning(shown))}."
    )
    parts = [
        "<h2 id='mistakes'>Mistakes a person can read</h2><p class='muted'>The test reviews "
        f"each model got most confidently wrong (cleaned text: lower case, markup removed). "
        f"{meaning}</p>"
    ]
    for model, reviews in evidence.get("confident_errors", {}).items():
        if reviews:
            parts.append(f"<h3><code>{_esc(model)}</code></h3>")
            parts.append(_reviews_table(reviews, "probability"))
    if evidence.get("disagreements"):
        headings, body = disagreement_table(evidence)
        parts.append("<h3>Recurrent models against the baseline</h3>")
        parts.append(_table(headings, [_names_as_code(row, 2) for row in body]))
        for who, row, reviews in disagreement_examples(evidence):
            parts.append(
                f"<p><strong>Only <code>{_esc(who)}</code> right</strong> "
                f"(<code>{_esc(row['model'])}</code> vs <code>{_esc(row['baseline'])}</code>)</p>"
            )
            parts.append(_reviews_table(reviews, f"probability ({row['model']})"))
    return "".join(parts)


def explained_html(explained: list[dict[str, Any]]) -> str:
    several = any("predicted" in review for review in explained)
    up, down = ("the predicted class", "the others") if several else ("positive", "negative")
    parts = [
        "<h2 id='explained'>Which words moved the champion</h2><p class='muted'>Each word "
        "dropped in turn and the review scored again: green words pushed the score towards "
        f"{up}, red ones towards {down}; the stronger the colour, the larger the change. "
        "Hover a word for its effect.</p>"
    ]
    for review in explained:
        words = " ".join(
            f"<span class='word' style='background:{colour}' "
            f"title='{effect:+.4f}'>{html.escape(word, quote=False)}</span>"
            for (word, colour), effect in zip(
                coloured_words(review), review["effects"], strict=True
            )
        )
        scored = (
            f"predicted {_esc(review['predicted'])} with probability"
            if "predicted" in review
            else "probability of positive"
        )
        parts.append(
            f"<p><strong>True label {_esc(review['label'])}, {scored} "
            f"{review['probability']:.4f}</strong></p><p class='explained'>{words}</p>"
        )
    return "".join(parts)

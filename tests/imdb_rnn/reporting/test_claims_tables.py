"""The seed notes' claims as report tables and sections."""

from __future__ import annotations

import json

from imdb_rnn.claims import ArchitectureClaims, ClaimsResult


def _measured(name, curve, accuracy, parameters, norms=(1.0, 2.0)):
    return ArchitectureClaims(
        model=name,
        window=len(curve),
        gradient_curve=list(curve),
        synthetic={
            str(d): {"accuracy": a, "epochs": 1, "seconds": 0.1} for d, a in accuracy.items()
        },
        parameters=parameters,
        seconds_per_epoch=12.0,
        reviews_per_second=5000.0,
        gradient_norm_first=norms[0],
        gradient_norm_max=norms[1],
    )


def hand_made_result() -> ClaimsResult:
    decaying = [0.5**k for k in range(200)][::-1]  # span 7: short
    flat_end = [0.001] * 20 + [1.0] * 180  # span 180: long
    return ClaimsResult(
        distances=(10, 200),
        measured=[
            _measured("simple_rnn", decaying, {10: 0.99, 200: 0.5}, 1000, norms=(0.1, 50.0)),
            _measured("lstm", flat_end, {10: 1.0, 200: 0.95}, 4000),
            _measured("gru", flat_end, {10: 1.0, 200: 0.6}, 3000),
        ],
        seconds=1.0,
        reused=False,
    )


def test_claims_rows_and_report_sections():
    from imdb_rnn.reporting.html import claims_html
    from imdb_rnn.reporting.markdown import claims_markdown

    section = json.loads(json.dumps(hand_made_result().to_dict()))  # as stored in metrics.json
    rows = {row["model"]: row for row in section["rows"]}
    assert rows["simple_rnn"]["memory_span"] == 7 and rows["simple_rnn"]["memory"] == "short"
    assert rows["gru"]["accuracy_d200"] == 0.6 and rows["gru"]["handled_up_to"] == 10
    assert rows["simple_rnn"]["exploding"] is True and rows["lstm"]["exploding"] is False
    assert rows["lstm"]["complexity"] == "high"
    markdown = claims_markdown(section, "Real data say so.")
    assert "## The seed notes' claims, measured" in markdown
    assert "| RNN | short | low | no |" in markdown  # the notes' table as asserted
    assert "- GRU: long memory: supported, span 180 of 200 positions" in markdown
    assert "**Real-data evidence (accuracy by review length).** Real data say so." in markdown
    page = claims_html(section, "Real data say so.")
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "As asserted by the notes" in page and "As measured in this run" in page

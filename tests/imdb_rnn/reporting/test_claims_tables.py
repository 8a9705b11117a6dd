"""The seed notes' claims as report tables and sections."""

from __future__ import annotations

import json

from tests.samples import hand_made_result


def test_claims_rows_and_report_sections():
    from imdb_rnn.reporting.charts import report_charts
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
    charts = report_charts([], {}, {"seed_claims": section})
    assert set(charts) == {"gradient", "synthetic"}
    page = claims_html(section, "Real data say so.", charts)
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "As asserted by the notes" in page and "As measured in this run" in page

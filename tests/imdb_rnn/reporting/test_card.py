"""The dataset card at the top of the report: its table, its sentences, the duplicates warning."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imdb_rnn.dataset_card import dataset_card, duplicate_summary, split_summary
from imdb_rnn.reporting.card import card_sentences, card_table, duplicates_warning, report_title
from imdb_rnn.reporting.html import render_html
from imdb_rnn.reporting.markdown import render_markdown
from tests.imdb_rnn.reporting.three_classes import three_class_card
from tests.samples import EVALUATIONS, RUN_INFO


def with_card(card: dict) -> dict:
    return {**RUN_INFO, "data": {**RUN_INFO["data"], "card": card}}


def test_the_card_table_has_a_row_per_split_with_counts_per_class():
    headings, body = card_table(three_class_card())
    assert headings == [
        "split",
        "food",
        "sport",
        "tech",
        "rows",
        "tokens p50 / p90 / max",
        "cut at maxlen",
    ]
    # 1200 + 30 + 7 = 1237; 100 + 5 + 1 = 106; 400 + 10 + 2 = 412.
    assert body == [
        ["train", "1,200", "30", "7", "1,237", "174 / 450 / 2,470", "41.0%"],
        ["validation", "100", "5", "1", "106", "170 / 440 / 1,999", "39.1%"],
        ["test", "400", "10", "2", "412", "9 / 30 / 41", "5.0%"],
    ]


def test_a_card_computed_from_a_split_renders_its_own_numbers():
    # Four test rows of 1, 3, 5 and 10 tokens, read 4 wide: 5 and 10 are cut (50 %).
    # Median of 1, 3, 5, 10 is 4; the 90th percentile is 5 + 0.7 * (10 - 5) = 8.5, shown 8.
    tokens = np.array([[0, 0, 0, 7], [0, 5, 1, 9], [4, 4, 1, 3], [2, 2, 2, 2]])  # id 1: unknown
    summary = split_summary(np.array([0, 0, 1, 2]), np.array([1, 3, 5, 10]), tokens, "abc")
    card = dataset_card(
        "t.csv",
        "table",
        "abc",
        {"test": summary},
        duplicate_summary(pd.Series(["x"]), np.array([False]), 0),
        {},
    )
    assert card_table(card)[1] == [["test", "2", "1", "1", "4", "4 / 8 / 10", "50.0%"]]
    # 1 + 3 + 4 + 4 = 12 non-padding ids, 2 of them unknown: 10 / 12 = 83.3 %.
    assert "The vocabulary knows 83.3% of the test tokens" in " ".join(card_sentences(card))


def test_the_sentences_name_the_source_the_classes_coverage_and_what_was_left_out():
    sentences = card_sentences(three_class_card())
    assert sentences[0] == (
        "Source: s3://bucket/news/topics.csv (table); 3 classes: food, sport, tech."
    )
    # Three classes: the two-class methods are missing from the run, and the card says why.
    assert sentences[1] == (
        "NBSVM and the stack (--stack) compare two classes, so a run on more has neither."
    )
    assert sentences[2].startswith("The vocabulary knows 97.3% of the test tokens")
    assert sentences[3] == (
        "1,234 rows without text or label were left out (--invalid-reviews skip)."
    )
    assert len(sentences) == 4  # nothing was replaced or cut, so no sentence says so


def test_shared_texts_warn_and_name_the_flag_only_when_test_holds_some():
    warning, warns = duplicates_warning(three_class_card(test_rows=3))
    assert warns
    assert warning.startswith("3 test rows (2 distinct texts) are also in train or validation")
    assert "--drop-test-duplicates" in warning and "“new chip”" in warning

    dropped, warns = duplicates_warning(three_class_card(dropped=5))
    assert not warns
    assert dropped == (
        "5 test rows whose text is also in train or validation were left out "
        "(--drop-test-duplicates)."
    )
    clean, warns = duplicates_warning(three_class_card())
    assert not warns and clean == "No test text is also in train or validation."


def test_the_card_opens_both_pages_with_its_warning():
    info = with_card(three_class_card(test_rows=3))
    markdown = render_markdown("run-1", EVALUATIONS, info)
    assert markdown.startswith("# topics.csv: recurrent model comparison\n")
    assert markdown.index("## Dataset") < markdown.index("## Test metrics")
    assert "| train | 1,200 | 30 | 7 | 1,237 | 174 / 450 / 2,470 | 41.0% |" in markdown
    # An example's pipe is escaped, so the warning cannot break the page's markdown.
    assert "**Warning: 3 test rows (2 distinct texts)" in markdown
    assert "“great \\| match”" in markdown

    page = render_html("run-1", EVALUATIONS, info, charts={})
    assert "<title>topics.csv RNN comparison run-1</title>" in page
    assert page.index("<h2>Dataset</h2>") < page.index("<h2>Test metrics</h2>")
    assert "<td>train</td><td>1,200</td><td>30</td><td>7</td><td>1,237</td>" in page
    assert "<p class='warning'>3 test rows (2 distinct texts)" in page


def test_no_warning_without_shared_texts():
    info = with_card(three_class_card())
    markdown = render_markdown("run-1", EVALUATIONS, info)
    assert "Warning" not in markdown
    assert "No test text is also in train or validation." in markdown
    page = render_html("run-1", EVALUATIONS, info, charts={})
    assert "class='warning'" not in page


def test_an_empty_card_renders_nothing():
    assert render_markdown("run-1", EVALUATIONS, with_card({})) == render_markdown(
        "run-1", EVALUATIONS, RUN_INFO
    )
    page = render_html("run-1", EVALUATIONS, with_card({}), charts={})
    assert "<h2>Dataset</h2>" not in page
    assert "<title>IMDb RNN comparison run-1</title>" in page
    assert report_title({}) == "IMDb sentiment: recurrent model comparison"


def test_a_card_without_lengths_still_renders_its_rows():
    card = {"classes": ["neg", "pos"], "rows": {"test": {"neg": 5, "pos": 7}}}
    assert card_table(card)[1] == [["test", "5", "7", "12", "n/a / n/a / n/a", "n/a"]]
    assert "## Dataset" in render_markdown("run-1", EVALUATIONS, with_card(card))

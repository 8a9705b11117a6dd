"""The dataset card at the top of the report: what the models were trained and tested on.

Rows and headings here; ``markdown.py`` and ``html.py`` render them. An empty card (a
prepared folder older than cards) renders nothing.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from imdb_rnn.reporting.tables import fmt

SPLITS = ("train", "validation", "test")


def _table_name(card: dict[str, Any]) -> str:
    return PurePosixPath(str(card.get("source", "")).replace("\\", "/")).name or "table"


def report_title(card: dict[str, Any]) -> str:
    """IMDb's title, or the table's file name for a table source."""
    if card.get("kind") == "table":
        return f"{_table_name(card)}: recurrent model comparison"
    return "IMDb sentiment: recurrent model comparison"


def page_title(card: dict[str, Any], run_id: str) -> str:
    """The browser tab's title: IMDb's as before cards, the table's name for a table."""
    if card.get("kind") == "table":
        return f"{_table_name(card)} RNN comparison {run_id}"
    return f"IMDb RNN comparison {run_id}"


def card_table(card: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per split: rows per class, all rows, tokens (median and 90th percentile, max),
    and the share longer than the models read."""
    classes = card.get("classes", [])
    headings = ["split", *classes, "rows", "tokens p50 / p90 / max", "cut at maxlen"]
    body = []
    for split in SPLITS:
        counts = card.get("rows", {}).get(split)
        if counts is None:
            continue
        # A card hand-edited or written by an older prepare may lack a split's lengths: the
        # rows still show, the missing figures read n/a.
        tokens = card.get("tokens", {}).get(split) or {}
        lengths = " / ".join(fmt(tokens.get(key)) for key in ("p50", "p90", "max"))
        share = card.get("truncated_share", {}).get(split)
        body.append(
            [
                split,
                *(fmt(int(counts.get(name, 0))) for name in classes),
                fmt(int(sum(counts.values()))),
                lengths,
                "n/a" if share is None else f"{share:.1%}",
            ]
        )
    return headings, body


def card_sentences(card: dict[str, Any]) -> list[str]:
    """The source and classes, the vocabulary's coverage of test, what was left out."""
    classes = card.get("classes", [])
    kind = "table" if card.get("kind") == "table" else "aclImdb archive"
    sentences = [
        f"Source: {card.get('source', '')} ({kind}); {len(classes)} classes: {', '.join(classes)}."
    ]
    if len(classes) > 2:
        sentences.append(
            "NBSVM and the stack (--stack) compare two classes, so a run on more has neither."
        )
    coverage = card.get("test_token_coverage")
    if coverage is not None:
        sentences.append(
            f"The vocabulary knows {coverage:.1%} of the test tokens the models read; the "
            "rest are read as unknown."
        )
    left_out = card.get("left_out", {})
    if left_out.get("invalid_rows"):
        sentences.append(
            f"{left_out['invalid_rows']:,} rows without text or label were left out "
            "(--invalid-reviews skip)."
        )
    if left_out.get("replaced_characters"):
        sentences.append(
            f"{left_out['replaced_characters']:,} characters were not valid in the file's "
            "encoding and were replaced (--text-encoding)."
        )
    if left_out.get("truncated_texts"):
        sentences.append(f"{left_out['truncated_texts']:,} very long texts were cut.")
    return sentences


def duplicates_warning(card: dict[str, Any]) -> tuple[str, bool]:
    """A sentence on the test texts train or validation also hold, and whether it warns."""
    duplicates = card.get("duplicates") or {}
    shared, dropped = duplicates.get("test_rows", 0), duplicates.get("dropped", 0)
    if shared:
        examples = "; ".join(f"“{text}”" for text in duplicates.get("examples", []))
        return (
            f"{shared:,} test rows ({duplicates.get('distinct_texts', shared):,} distinct "
            "texts) are also in train or validation: the models may have learned them, so "
            "test scores are a little optimistic. --drop-test-duplicates leaves them out"
            + (f". For example: {examples}" if examples else "."),
            True,
        )
    if dropped:
        return (
            f"{dropped:,} test rows whose text is also in train or validation were left out "
            "(--drop-test-duplicates).",
            False,
        )
    return "No test text is also in train or validation.", False

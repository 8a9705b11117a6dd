"""The seed notes' claims as report tables: the notes' table, the measured one, and the
one sentence that says which claims this run's numbers contradict."""

from __future__ import annotations

from typing import Any

from imdb_rnn.claim_rules import NOTES_NAMES, NOTES_TABLE


def notes_table(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The notes' table as asserted, for the architectures this run measured."""
    headings = ["model", "memory", "complexity", "handles long-term dependency"]
    rows = [
        [NOTES_NAMES[row["model"]]]
        + [NOTES_TABLE[row["model"]][c] for c in ("memory", "complexity", "long_term")]
        for row in section["rows"]
        if row["model"] in NOTES_TABLE
    ]
    return headings, rows


def measured_table(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The same table filled with this run's numbers (``section`` is ``ClaimsResult.to_dict``)."""
    headings = [
        "model",
        "memory (gradient span)",
        "complexity (parameters, s/epoch, reviews/s)",
        "handles long-term dependency (synthetic)",
        "gradient norm (max / first epoch's mean)",
    ]
    rows = []
    for row in section["rows"]:
        if row["status"] != "ok":
            rows.append([NOTES_NAMES.get(row["model"], row["model"]), row["status"], "", "", ""])
            continue
        largest = max(section["distances"])
        accuracy = row.get(f"accuracy_d{largest}")
        handled = row["handled_up_to"]
        growth = row["gradient_norm_growth"]
        rows.append(
            [
                NOTES_NAMES.get(row["model"], row["model"]),
                f"{row['memory'] or 'n/a'} ({row['memory_span']} of {row['window']})",
                f"{row['complexity'] or 'n/a'} ({row['parameters']:,}, "
                f"{row['seconds_per_epoch']:.1f}, {row['reviews_per_second']:,.0f})",
                f"{row['long_term'] or 'n/a'} (accuracy "
                + ("n/a" if accuracy is None else f"{accuracy:.3f}")
                + f" at d={largest}; "
                + (f"handled up to d={handled})" if handled else "no distance handled)"),
                "n/a"
                if growth is None
                else f"{growth:.3g}x" + (" exploding" if row["exploding"] else ""),
            ]
        )
    return headings, rows


def contradictions(section: dict[str, Any]) -> str:
    """One sentence: which of the notes' claims this run's numbers do not support."""
    against = [v for v in section["verdicts"] if v["supported"] is False]
    if not against:
        measured = [v for v in section["verdicts"] if v["supported"] is not None]
        return (
            f"This run's numbers support all {len(measured)} claims measured."
            if measured
            else "No claim could be measured in this run."
        )
    listed = "; ".join(v["text"].split(": not supported")[0] for v in against)
    return (
        f"This run's numbers contradict the notes on {len(against)} of "
        f"{sum(v['supported'] is not None for v in section['verdicts'])} claims measured: "
        f"{listed}."
    )

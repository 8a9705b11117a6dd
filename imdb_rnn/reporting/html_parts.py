"""The pieces every section of ``report.html`` is built from: escaped text and tables."""

from __future__ import annotations

import html
from typing import Any


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def table(
    headings: list[str],
    rows: list[list[str]],
    best_cells: frozenset | set = frozenset(),
    css: str = "",
) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    body = []
    for r, row in enumerate(rows):
        cells = "".join(
            f'<td class="best">{cell}</td>' if (r, c) in best_cells else f"<td>{cell}</td>"
            for c, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    attribute = f" class='{css}'" if css else ""
    return f"<table{attribute}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def names_as_code(row: list[str], columns: int) -> list[str]:
    return [f"<code>{esc(c)}</code>" for c in row[:columns]] + [esc(c) for c in row[columns:]]

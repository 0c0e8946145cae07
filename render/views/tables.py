"""Tables: a trends insight shown as a table, SQL rows, and the shared table cut to a readable length."""

from __future__ import annotations

from posthog_api.content import Insight

from .. import formatting as fmt
from . import charts
from .model import InsightView, TableView

MAX_TABLE_ROWS = 50  # an image is not a spreadsheet; the rest is summarised in a footer line


def trends_table(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = charts.visible(insight.series)
    if not series:
        charts.empty(view)
        return
    has_breakdown = any(s.breakdown_value not in (None, "") for s in series)
    columns = ["Series"] + (["Breakdown"] if has_breakdown else []) + ["Value"]
    rows = []
    for s in series:
        label = s.label + (" (previous)" if s.compare_label == "previous" else "")
        row = [fmt.cell(label)] + ([fmt.cell(s.breakdown_value or "")] if has_breakdown else [])
        rows.append(row + [fmt.number(charts.aggregated(s))])
    numeric = [False] * (len(columns) - 1) + [True]
    set_table(view, columns, rows, numeric)


def set_table(view: InsightView, columns: list[str], rows: list[list[str]], numeric: list[bool]) -> None:
    view.body = "table"
    view.table = TableView(
        columns=columns,
        rows=rows[:MAX_TABLE_ROWS],
        numeric=numeric,
        more_rows=max(0, len(rows) - MAX_TABLE_ROWS),
    )
    view.min_width = min(2400, 150 * len(columns))


def sql_table(insight: Insight, view: InsightView, chart_width: int) -> None:
    table = insight.table
    if table is None or not table.rows:
        charts.empty(view, "This query returned no rows.")
        return
    numeric = [
        all(charts.is_number(row[i]) or row[i] is None for row in table.rows if i < len(row))
        and any(charts.is_number(row[i]) for row in table.rows if i < len(row))
        for i in range(len(table.columns))
    ]
    rows = [[fmt.cell(row[i] if i < len(row) else None) for i in range(len(table.columns))] for row in table.rows]
    set_table(view, [fmt.shorten(c, 60) for c in table.columns], rows, numeric)

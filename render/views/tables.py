"""Tables: a trends insight shown as a table, SQL rows, and the shared table cut to a readable length."""

from __future__ import annotations

from posthog_api.content import Insight

from .. import formatting as fmt
from ..theme import READABLE_MAX_WIDTH
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
        rows.append(row + [fmt.value(charts.aggregated(s), insight.formatting)])
    numeric = [False] * (len(columns) - 1) + [True]
    set_table(view, columns, rows, numeric)


def set_table(
    view: InsightView, columns: list[str], rows: list[list[str]], numeric: list[bool], *, has_more: bool = False
) -> None:
    view.body = "table"
    view.table = TableView(
        columns=columns,
        rows=rows[:MAX_TABLE_ROWS],
        numeric=numeric,
        more_rows=max(0, len(rows) - MAX_TABLE_ROWS),
        more_in_posthog=has_more,
    )
    view.min_width = min(READABLE_MAX_WIDTH, 150 * len(columns))


def sql_table(insight: Insight, view: InsightView, chart_width: int) -> None:
    """SQL rows; DateTime columns (PostHog's `types`) read in the project's time zone, as PostHog shows them."""
    _rows(insight, view, "This query returned no rows.")


def events_table(insight: Insight, view: InsightView, chart_width: int) -> None:
    """Events, persons and web analytics rows, each column rendered as PostHog renders it: timestamps in the
    project's time zone, ratios as percentages, durations in words (events and people are named already)."""
    _rows(insight, view, "There are no rows for this period.")


def _rows(insight: Insight, view: InsightView, empty_message: str) -> None:
    table = insight.table
    if table is None or not table.rows:
        charts.empty(view, empty_message)
        return
    kinds = table.kinds + [""] * (len(table.columns) - len(table.kinds))

    def cell(value: object, kind: str) -> str:
        if kind == "time":
            return fmt.timestamp(value, insight.time_zone) or fmt.cell(value)
        if kind == "ratio" and charts.is_number(value):
            return fmt.percent(round(float(value), 4))  # type: ignore[arg-type]
        if kind == "duration" and charts.is_number(value):
            return fmt.duration(float(value))  # type: ignore[arg-type]
        return fmt.cell(value)

    numeric = [
        kind in ("ratio", "duration")
        or (
            kind == ""
            and all(charts.is_number(r[i]) or r[i] is None for r in table.rows if i < len(r))
            and any(charts.is_number(r[i]) for r in table.rows if i < len(r))
        )
        for i, kind in enumerate(kinds)
    ]
    rows = [[cell(row[i] if i < len(row) else None, kinds[i]) for i in range(len(table.columns))] for row in table.rows]
    set_table(view, [fmt.shorten(c, 60) for c in table.columns], rows, numeric, has_more=table.has_more)

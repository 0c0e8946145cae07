"""PostHog content as plain tables: what the CSV and Excel writers put in a file.

A `Table` is a title, column names and rows. The rows are streamed (a list, any iterable, or an async iterator
such as pages of raw data read from PostHog), so that a million events never sit in memory at once.

`insight_table` turns each kind of insight of the content model into the table a person would build from its
chart: a row per date for trends, a row per step for funnels, the cohort matrix for retention, and so on.
Numbers stay numbers and dates become `date`/`datetime`, so that a spreadsheet can sort, sum and chart them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from posthog_api import ChartKind, Dashboard, Insight, Series

Rows = AsyncIterator[list[Any]] | Iterable[list[Any]]


@dataclass
class Table:
    """One sheet of an export. `note` is said under the rows (and on the index of a workbook): why a table is
    empty, for instance."""

    title: str
    columns: list[str]
    rows: Rows
    note: str = ""


async def iterate(rows: Rows) -> AsyncIterator[list[Any]]:
    """The rows of a table, whichever way they come, as one async iterator. Closing it (a writer stopping at the
    row cap) closes the source too, so that a PostHog paging behind it closes its connection at once."""
    if hasattr(rows, "__aiter__"):
        try:
            async for row in rows:  # type: ignore[union-attr]
                yield row
        finally:
            close = getattr(rows, "aclose", None)
            if close is not None:
                await close()
    else:
        for row in rows:  # type: ignore[union-attr]
            yield row


# --- dates -------------------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")
# PostHog's axis labels: "8-Mar-2022" for days, weeks and months, "8-Mar-2022 14:00" for hours.
_LABEL_FORMATS = ("%d-%b-%Y", "%d-%b-%Y %H:%M")
_COUNT_LABEL = re.compile(r"(\d+) ([A-Za-z]+?)s?")  # stickiness: "1 day", "8 days"


def parse_iso(value: Any) -> Any:
    """An ISO date or date-time string as `date` / `datetime` (time-zone aware when it says its zone); any other
    value unchanged. Strict on purpose: text that merely starts like a date stays text."""
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return value
    try:
        if len(value) == 10:
            return date.fromisoformat(value) if _ISO_DATE.fullmatch(value) else value
        if _ISO_DATETIME.fullmatch(value):
            return datetime.fromisoformat(value)
    except ValueError:  # 2024-02-30 and the like: not a date after all
        pass
    return value


async def with_dates(rows: Rows, columns: Iterable[int] | None = None) -> AsyncIterator[list[Any]]:
    """Rows with the ISO date strings of `columns` (every column when None) turned into dates, for data read
    from PostHog's query API, which sends date-times as text."""
    wanted = None if columns is None else sorted(set(columns))
    async with contextlib.aclosing(iterate(rows)) as source:  # closed with this one: see `iterate`
        async for row in source:
            if wanted is None:
                yield [parse_iso(v) for v in row]
            else:
                row = list(row)
                for i in wanted:
                    if i < len(row):
                        row[i] = parse_iso(row[i])
                yield row


def _x_values(labels: Sequence[str]) -> tuple[str, list[Any]]:
    """The first column of a trends-like table: its header and values, as dates when every label is one."""
    if not labels:
        return "Label", []
    for fmt in _LABEL_FORMATS:
        try:
            parsed = [datetime.strptime(label, fmt) for label in labels]
        except ValueError:
            continue
        return "Date", [p.date() for p in parsed] if fmt == "%d-%b-%Y" else parsed
    iso = [parse_iso(label) for label in labels]
    if all(isinstance(v, date) for v in iso):
        return "Date", iso
    counts = [_COUNT_LABEL.fullmatch(label) for label in labels]
    if all(counts):
        unit = counts[0].group(2)  # type: ignore[union-attr]
        if all(m.group(2) == unit for m in counts):  # type: ignore[union-attr]
            return f"{unit.capitalize()}s", [int(m.group(1)) for m in counts]  # type: ignore[union-attr]
    return "Label", list(labels)


# --- insights ------------------------------------------------------------------------------------------------


def _number(value: float | None) -> int | float | None:
    """The content model keeps every value as a float; 22870.0 is written 22870."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate.casefold() in seen:
            candidate, n = f"{name} ({n})", n + 1
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


def _series_name(series: Series) -> str:
    name = series.label
    if series.breakdown_value not in (None, "") and series.breakdown_value not in name:
        name = f"{name} - {series.breakdown_value}"
    if series.compare_label == "previous":
        name = f"{name} (previous)"
    return name


def _over_time(insight: Insight) -> Table:
    series = insight.series
    width = max([len(insight.x_labels)] + [len(s.values) for s in series])
    labels = list(insight.x_labels) + [str(i + 1) for i in range(len(insight.x_labels), width)]
    header, xs = _x_values(labels)
    columns = _unique([header] + [_series_name(s) for s in series])
    rows = [[x] + [_number(s.values[i]) if i < len(s.values) else None for s in series] for i, x in enumerate(xs)]
    return Table(insight.name, columns, rows)


def _aggregated_value(series: Series) -> int | float:
    value = series.aggregated_value if series.aggregated_value is not None else sum(series.values)
    return _number(value)  # type: ignore[return-value]


def _single_values(insight: Insight) -> Table:
    if insight.kind is ChartKind.WORLD_MAP:
        rows = [[s.breakdown_value or s.label, _aggregated_value(s)] for s in insight.series]
        return Table(insight.name, ["Country", "Value"], rows)
    breakdown = any(s.breakdown_value not in (None, "") for s in insight.series)
    previous = insight.kind is ChartKind.NUMBER and insight.previous_value is not None
    columns = ["Series"] + (["Breakdown"] if breakdown else []) + ["Value"] + (["Previous period"] if previous else [])
    rows = []
    for s in insight.series:
        label = s.label + (" (previous)" if s.compare_label == "previous" else "")
        row: list[Any] = [label] + ([s.breakdown_value or ""] if breakdown else []) + [_aggregated_value(s)]
        if previous:
            row.append(_number(insight.previous_value))
        rows.append(row)
    return Table(insight.name, columns, rows)


def _percent(fraction: float) -> float:
    return round(fraction * 100, 2)


def _funnel(insight: Insight) -> Table:
    breakdown = any(group.label is not None for group in insight.funnel)
    columns = (["Breakdown"] if breakdown else []) + [
        "Step", "Name", "Count", "Conversion from first step (%)", "Conversion from previous step (%)",
        "Dropped off", "Median time to convert (s)", "Average time to convert (s)",
    ]
    rows = []
    for group in insight.funnel:
        for i, step in enumerate(group.steps):
            dropped = group.steps[i - 1].count - step.count if i else 0
            row: list[Any] = [group.label or ""] if breakdown else []
            row += [
                i + 1,
                step.name + (" (optional)" if step.optional else ""),
                step.count,
                _percent(step.conversion_from_first),
                _percent(step.conversion_from_previous),
                dropped,
                _number(step.median_conversion_seconds),
                _number(step.average_conversion_seconds),
            ]
            rows.append(row)
    return Table(insight.name, columns, rows)


def _retention(insight: Insight) -> Table:
    periods = max((len(r.counts) for r in insight.retention), default=0)
    word = insight.retention_period or "Day"
    columns = ["Cohort", "Date", "Size"] + [f"{word} {i}" for i in range(periods)]
    rows = [
        [r.label, parse_iso(r.date) or None, r.cohort_size] + r.counts + [None] * (periods - len(r.counts))
        for r in insight.retention
    ]
    return Table(insight.name, columns, rows)


def _paths(insight: Insight) -> Table:
    return Table(insight.name, ["Source", "Target", "Value"], [[p.source, p.target, p.value] for p in insight.paths])


def _sql(insight: Insight) -> Table:
    table = insight.table
    if table is None:
        return Table(insight.name, [], [], note="PostHog returned no rows for this query.")
    return Table(insight.name, list(table.columns), [[parse_iso(v) for v in row] for row in table.rows])


_OVER_TIME = {ChartKind.LINE, ChartKind.BAR, ChartKind.AREA, ChartKind.CUMULATIVE, ChartKind.LIFECYCLE,
              ChartKind.STICKINESS, ChartKind.CALENDAR_HEATMAP}
_SINGLE_VALUES = {ChartKind.NUMBER, ChartKind.PIE, ChartKind.VALUE_BARS, ChartKind.TABLE, ChartKind.WORLD_MAP}


def insight_table(insight: Insight) -> Table:
    """The numbers behind one insight, as PostHog computed them. Series hidden on the chart are included: an
    export is for working with the data, and a legend toggle is a way of looking at it."""
    kind = insight.kind
    if insight.table is not None:  # SQL (whatever its chart), events, persons and web tables: the rows themselves
        return _sql(insight)
    if kind in _OVER_TIME:
        return _over_time(insight)
    if kind in _SINGLE_VALUES:
        return _single_values(insight)
    if kind is ChartKind.FUNNEL:
        return _funnel(insight)
    if kind in (ChartKind.RETENTION, ChartKind.RETENTION_GRAPH):
        return _retention(insight)
    if kind is ChartKind.FUNNEL_TIME:
        rows = [[_number(start), people] for start, people in insight.conversion_bins]
        return Table(insight.name, ["Time to convert from (seconds)", "People"], rows)
    if kind is ChartKind.WEB_OVERVIEW:
        rows = [[item.label, _number(item.value), _number(item.previous)] for item in insight.overview]
        return Table(insight.name, ["Metric", "Value", "Previous period"], rows)
    if kind is ChartKind.PATHS:
        return _paths(insight)
    if kind in (ChartKind.SQL_TABLE, ChartKind.SQL_CHART):
        return _sql(insight)
    reason = insight.unsupported_reason or "This kind of insight cannot be exported yet."
    return Table(insight.name, [], [], note=reason)


def dashboard_tables(dashboard: Dashboard) -> list[Table]:
    """One table per insight tile, in layout order, titled as the tile; text cards have no data to export."""
    tables = []
    for tile in dashboard.tiles:
        if tile.insight is None:
            continue
        table = insight_table(tile.insight)
        table.title = tile.title
        tables.append(table)
    return tables

"""SQL (HogQL) insights: rows and columns, drawn as a table or, with a chart display, as a chart."""

from __future__ import annotations

from typing import Any

from ..content import ChartKind, Insight, Series, Table
from .readers import as_list, num
from .spec import Spec
from .trends import AGGREGATED, DISPLAYS


def read_rows(payload: dict[str, Any], result: object) -> Table:
    """Rows of a query result (lists, or objects keyed by column) with the payload's column names."""
    rows_raw = as_list(result, "a list of rows")
    columns_raw = payload.get("columns")
    columns = [str(c) for c in columns_raw] if isinstance(columns_raw, list) else []
    rows: list[list[object]] = []
    for item in rows_raw:
        if isinstance(item, dict):
            if not columns:
                columns = [str(k) for k in item]
            rows.append([item.get(c) for c in columns])
        else:
            rows.append(list(as_list(item, "each row to be a list")))
    width = max((len(r) for r in rows), default=len(columns))
    columns += [f"Column {i + 1}" for i in range(len(columns), width)]
    return Table(columns=columns, rows=rows, kinds=_kinds(payload, columns), has_more=payload.get("hasMore") is True)


def _kinds(payload: dict[str, Any], columns: list[str]) -> list[str]:
    """"time" for the DateTime columns PostHog's `types` name ([column, ClickHouse type] pairs), else ""."""
    types = {
        pair[0]: pair[1]
        for pair in payload.get("types") or []
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
    }
    return ["time" if "DateTime" in types.get(column, "") else "" for column in columns]


def read(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    insight.table = read_rows(payload, result)
    insight.kind = ChartKind.SQL_TABLE
    if not spec.sql_chart:
        return
    # The chart PostHog draws for the display chosen (line, bars, area, pie, number...), through the same
    # builders as a trends insight; a display we do not know is drawn as bars, PostHog's SQL default.
    kind = DISPLAYS.get(spec.display or "", ChartKind.SQL_CHART)
    insight.kind = ChartKind.SQL_TABLE if kind is ChartKind.TABLE else kind
    insight.formatting = spec.formatting
    if insight.kind is not ChartKind.SQL_TABLE:
        _series(insight, spec)
        if insight.kind in AGGREGATED:
            _aggregate(insight)


def _aggregate(insight: Insight) -> None:
    """Pie, value bars, world map: one slice per row (x column as label); big number: the first value."""
    if insight.kind is ChartKind.NUMBER:
        first = insight.series[0] if insight.series else None
        insight.series = (
            [Series(label=first.label, aggregated_value=first.values[0] if first.values else None)] if first else []
        )
        return
    column = insight.series[0] if insight.series else None
    if column is None:
        return
    insight.series = [
        Series(label=label, aggregated_value=value, breakdown_value=label, color=None)
        for label, value in zip(insight.x_labels, column.values, strict=False)
    ]
    insight.x_labels = []


def _series(insight: Insight, spec: Spec) -> None:
    """Chart axes for a SQL chart: the chosen columns, else the first column against the numeric ones."""
    table = insight.table
    assert table is not None
    cols = table.columns
    x = cols.index(spec.sql_x) if spec.sql_x in cols else 0
    if spec.sql_y:
        ys = [cols.index(c) for c in spec.sql_y if c in cols]
    else:
        ys = [
            i
            for i in range(len(cols))
            if i != x
            and table.rows
            and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in table.rows if i < len(r))
        ]
    insight.x_labels = [str(r[x]) if x < len(r) else "" for r in table.rows]
    for i in ys:
        # A null is a gap in PostHog's SQL charts, not a zero.
        values = [num(r[i]) if i < len(r) and isinstance(r[i], int | float) else None for r in table.rows]
        insight.series.append(Series(label=cols[i], values=values, color=spec.colors_by_key.get(cols[i])))

"""SQL insights drawn as a chart: the x column against the numeric ones."""

from __future__ import annotations

from posthog_api.content import Insight

from .. import formatting as fmt
from ..theme import color_at
from . import charts, tables
from .model import ChartView, InsightView, LegendItem

MAX_SQL_CHART_ROWS = 200


def sql_chart(insight: Insight, view: InsightView, chart_width: int) -> None:
    """The first column along x, each numeric column as a series; a table when nothing is numeric."""
    table = insight.table
    if table is None or not table.rows:
        charts.empty(view, "This query returned no rows.")
        return
    rows = table.rows[:MAX_SQL_CHART_ROWS]
    y_columns = [
        i
        for i in range(1, len(table.columns))
        if all(charts.is_number(r[i]) or r[i] is None for r in rows if i < len(r))
        and any(charts.is_number(r[i]) for r in rows if i < len(r))
    ]
    if not y_columns:
        tables.sql_table(insight, view, chart_width)
        return
    labels = [fmt.cell(r[0] if r else None, 40) for r in rows]
    traces, legend = [], []
    for n, i in enumerate(y_columns):
        color = color_at(n)
        traces.append(
            {
                "type": "bar",
                "x": list(range(len(rows))),
                "y": [r[i] if i < len(r) else None for r in rows],
                "name": fmt.plotly_text(table.columns[i]),
                "marker": {"color": color},
            }
        )
        legend.append(LegendItem(table.columns[i], color))
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width), barmode="group", bargap=0.2)
    view.chart = ChartView(traces, layout, charts.chart_height(chart_width))
    view.legend = legend if len(legend) > 1 else []
    if len(table.rows) > MAX_SQL_CHART_ROWS:
        view.summary = f"First {MAX_SQL_CHART_ROWS} of {fmt.number(len(table.rows))} rows"

"""Retention: the cohort table, shaded by the share of each cohort still active, and PostHog's graph of it (alone,
or above the table as PostHog shows an insight)."""

from __future__ import annotations

from posthog_api.content import AxisFormat, Formatting, Insight

from .. import formatting as fmt
from ..theme import READABLE_MAX_WIDTH, color_at
from . import charts
from .model import ChartView, InsightView, LegendItem, RetentionCell, RetentionRowView, RetentionView


def retention(insight: Insight, view: InsightView, chart_width: int) -> None:
    if not insight.retention:
        charts.empty(view)
        return
    view.body = "retention"
    _table(insight, view)


def _table(insight: Insight, view: InsightView) -> None:
    """The cohort table into `view.retention`, and the width it needs to stay readable."""
    rows = insight.retention
    periods = max(len(r.counts) for r in rows)
    columns = [f"{insight.retention_period} {i}" for i in range(periods)]
    out = []
    for row in rows:
        cells: list[RetentionCell | None] = []
        for i in range(periods):
            if i >= len(row.counts):
                cells.append(None)
                continue
            ratio = row.counts[i] / row.cohort_size if row.cohort_size else 0.0
            # Shade like PostHog: the darker, the more of the cohort is still active.
            alpha = 0.08 + 0.92 * ratio if row.cohort_size else 0.0
            cells.append(
                RetentionCell(
                    text=fmt.percent(round(ratio, 3)) if row.cohort_size else "–",
                    background=f"rgba(29, 74, 255, {alpha:.3f})",
                    color="#ffffff" if alpha > 0.5 else "var(--text)",  # the theme's text on a pale cell
                )
            )
        out.append(RetentionRowView(row.label, row.date[:10], fmt.number(row.cohort_size), cells))
    view.retention = RetentionView(columns, out)
    view.min_width = min(READABLE_MAX_WIDTH, 260 + 72 * periods)


def graph(insight: Insight, view: InsightView, chart_width: int) -> None:
    """Retention as PostHog's line (or bar) graph: one trace per cohort, the share still active each period; with
    `retention_table` the cohort table below it. A cohort of nobody has no share to draw: the table says it."""
    rows = [r for r in insight.retention if r.counts and r.cohort_size]
    if not rows:
        if insight.retention_table:
            retention(insight, view, chart_width)
        else:
            charts.empty(view)
        return
    periods = max(len(r.counts) for r in rows)
    labels = [f"{insight.retention_period} {i}" for i in range(periods)]
    bars = insight.display == "ActionsBar"
    percent = Formatting(axis_format=AxisFormat.PERCENTAGE)
    traces, legend, values = [], [], []
    for index, row in enumerate(rows):
        color = color_at(index)
        shares = [round(100 * c / row.cohort_size, 1) for c in row.counts]
        values += shares
        trace = {"x": list(range(len(shares))), "y": shares, "name": fmt.plotly_text(row.label)}
        if bars:
            trace |= {"type": "bar", "marker": {"color": color}}
        else:
            trace |= {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"color": color, "width": 2},
                "marker": {"color": color, "size": 5},
            }
        traces.append(trace)
        legend.append(LegendItem(f"{row.label} {row.date}".strip(), color, fmt.number(row.cohort_size)))
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width), yaxis=charts.y_axis(percent, values))
    if bars:
        layout |= {"barmode": "group", "bargap": 0.2}
    view.chart = ChartView(traces, layout, charts.chart_height(chart_width))
    view.legend = legend
    if insight.retention_table:
        _table(insight, view)

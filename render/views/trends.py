"""Trends-like kinds: line, bar, area and cumulative graphs, pie, big number, value bars, lifecycle."""

from __future__ import annotations

from typing import Any

from posthog_api.content import ChartKind, Insight, Series

from .. import formatting as fmt
from ..theme import GRID_COLOR, LIFECYCLE_COLORS, LIFECYCLE_ORDER, TEXT_COLOR, color_at
from . import charts
from .model import ChartView, InsightView, LegendItem, NumberView


def graph(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = [s for s in charts.visible(insight.series) if s.values]
    if not series:
        _aggregated_fallback(insight, view, chart_width)
        return
    kind = insight.kind
    colors = charts.colors(series)
    x_count = max(len(s.values) for s in series)
    labels = list(insight.x_labels) + [""] * (x_count - len(insight.x_labels))
    xs = list(range(x_count))
    has_breakdown = any(s.breakdown_value not in (None, "") for s in series)
    all_positive = all(v >= 0 for s in series for v in s.values if v is not None)
    traces = []
    for s, color in zip(series, colors, strict=True):
        dashed = s.compare_label == "previous"
        if kind == ChartKind.BAR:
            trace: dict[str, Any] = {
                "type": "bar",
                "marker": {"color": color, "opacity": 0.55 if dashed else 1},
            }
        else:
            trace = {
                "type": "scatter",
                "mode": "lines+markers" if x_count <= 31 else "lines",
                "line": {"color": color, "width": 2.5, "dash": "dash" if dashed else "solid"},
                "marker": {"color": color, "size": 6},
            }
            if kind == ChartKind.AREA:
                if len(series) > 1 and all_positive and not dashed:
                    trace["stackgroup"] = "area"
                else:
                    trace["fill"] = "tozeroy"
                trace["fillcolor"] = color + "33"
        trace |= {"x": xs, "y": s.values, "name": fmt.plotly_text(charts.series_name(s))}
        traces.append(trace)
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width))
    if kind == ChartKind.BAR:
        layout["barmode"] = "stack" if has_breakdown and all_positive else "group"
        layout["bargap"] = 0.25
    view.chart = ChartView(traces, layout, charts.chart_height(chart_width))
    view.legend = [
        LegendItem(charts.series_name(s), c, dashed=s.compare_label == "previous")
        for s, c in zip(series, colors, strict=True)
    ]


def _aggregated_fallback(insight: Insight, view: InsightView, chart_width: int) -> None:
    """A time-series kind whose payload only carries totals: drawn as value bars instead of an empty axis."""
    if any(s.aggregated_value is not None for s in charts.visible(insight.series)):
        value_bars(insight, view, chart_width)
    else:
        charts.empty(view)


def pie(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = charts.visible(insight.series)
    values = [charts.aggregated(s) for s in series]
    if not series or not any(values):
        charts.empty(view)
        return
    colors = charts.colors(series)
    total = sum(values)
    height = charts.chart_height(chart_width)
    trace = {
        "type": "pie",
        "labels": [fmt.plotly_text(charts.series_name(s)) for s in series],
        "values": values,
        "marker": {"colors": colors, "line": {"color": "#ffffff", "width": 2}},
        "hole": 0.55,
        "sort": False,
        "direction": "clockwise",
        "textinfo": "percent",
        "textposition": "inside",
        "insidetextfont": {"color": "#ffffff"},
        "insidetextorientation": "horizontal",
    }
    layout = charts.layout(
        annotations=[
            {
                "text": f"<b>{fmt.number(total)}</b><br><span style='font-size:12px'>total</span>",
                "showarrow": False,
                "font": {"size": 22, "color": TEXT_COLOR},
                "x": 0.5,
                "y": 0.5,
            }
        ],
        margin={"t": 8, "b": 8},
    )
    view.chart = ChartView([trace], layout, height)
    view.legend = [
        LegendItem(charts.series_name(s), c, fmt.number(v)) for s, c, v in zip(series, colors, values, strict=True)
    ]


def number(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = charts.visible(insight.series)
    current = next((s for s in series if s.compare_label != "previous"), series[0] if series else None)
    if current is None:
        charts.empty(view)
        return
    value = charts.aggregated(current)
    text = fmt.number(value)
    # Bold digits of the UI font are about 0.62em wide; keep a margin on both sides.
    font_size = int(max(20, min(72, chart_width * 0.9 / (0.62 * len(text) + 0.3))))
    number = NumberView(value=text, label=charts.series_name(current), font_size=font_size)
    previous = insight.previous_value
    if previous is None:
        prior = next((s for s in series if s.compare_label == "previous"), None)
        previous = charts.aggregated(prior) if prior else None
    if previous is not None:
        number.previous = fmt.number(previous)
        if previous == value:
            number.change, number.direction = "no change", "flat"
        elif previous:
            ratio = (value - previous) / abs(previous)
            number.direction = "up" if ratio > 0 else "down"
            number.change = ("▲ " if ratio > 0 else "▼ ") + fmt.percent(abs(ratio))
        else:
            number.direction = "up" if value > previous else "down"
            number.change = "▲ new" if value > previous else "▼"
    view.body = "number"
    view.number = number


def value_bars(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = charts.visible(insight.series)
    if not series:
        charts.empty(view)
        return
    colors = charts.colors(series)
    rows = sorted(zip(series, colors, strict=True), key=lambda pair: charts.aggregated(pair[0]), reverse=True)
    values = [charts.aggregated(s) for s, _ in rows]
    labels = [fmt.plotly_text(charts.series_name(s), 40) for s, _ in rows]
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": list(range(len(rows))),
        "x": values,
        "marker": {"color": [c for _, c in rows]},
        "text": [fmt.number(v) for v in values],
        "textposition": "outside",
        "cliponaxis": False,
    }
    layout = charts.layout(
        xaxis={"rangemode": "tozero", "showgrid": True, "gridcolor": GRID_COLOR},
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(len(rows))),
            "ticktext": labels,
            "autorange": "reversed",
            "showgrid": False,
            "rangemode": "normal",
            "tickfont": {"color": TEXT_COLOR},
        },
        margin={"r": 64},
        bargap=0.4,
    )
    view.chart = ChartView([trace], layout, max(120, 56 + 44 * len(rows)))


def lifecycle(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = [s for s in charts.visible(insight.series) if s.values]
    if not series:
        charts.empty(view)
        return

    def order(s: Series) -> int:
        status = (s.status or "").lower()
        return LIFECYCLE_ORDER.index(status) if status in LIFECYCLE_ORDER else len(LIFECYCLE_ORDER)

    series = sorted(series, key=order)
    x_count = max(len(s.values) for s in series)
    labels = list(insight.x_labels) + [""] * (x_count - len(insight.x_labels))
    traces, legend = [], []
    for index, s in enumerate(series):
        status = (s.status or "").lower()
        color = LIFECYCLE_COLORS.get(status, color_at(index))
        values = [-abs(v) if status == "dormant" and v is not None else v for v in s.values]
        name = status.capitalize() if status else s.label
        traces.append(
            {
                "type": "bar",
                "x": list(range(len(values))),
                "y": values,
                "name": fmt.plotly_text(name),
                "marker": {"color": color},
            }
        )
        legend.append(LegendItem(name, color))
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width), barmode="relative", bargap=0.25)
    layout["yaxis"]["rangemode"] = "normal"
    view.chart = ChartView(traces, layout, charts.chart_height(chart_width))
    view.legend = legend

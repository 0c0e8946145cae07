"""Trends-like kinds: line, bar, area and cumulative graphs, pie, big number, value bars, lifecycle."""

from __future__ import annotations

from typing import Any

from posthog_api.content import ChartKind, Formatting, Insight, Series

from .. import formatting as fmt
from ..theme import GRID_COLOR, LIFECYCLE_COLORS, LIFECYCLE_ORDER, TEXT_COLOR, color_at
from . import charts
from .model import ChartView, InsightView, LegendItem, NumberView


def graph(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = [s for s in charts.visible(insight.series) if s.values]
    if not series:
        _aggregated_fallback(insight, view, chart_width)
        return
    kind, f = insight.kind, insight.formatting
    colors = charts.colors(series)
    x_count = max(len(s.values) for s in series)
    labels = list(insight.x_labels) + [""] * (x_count - len(insight.x_labels))
    xs = list(range(x_count))
    has_breakdown = any(s.breakdown_value not in (None, "") for s in series)
    all_positive = all(v >= 0 for s in series for v in s.values if v is not None)
    stacked = (f.stacked if f.stacked is not None else has_breakdown) or f.percent_stack
    # showMultipleYAxes: one axis per series; a previous period shares the axis of its current period.
    axis_of: dict[tuple[str, str | None], int] = {}
    for s in series:
        axis_of.setdefault((s.label, s.breakdown_value), len(axis_of))
    many_axes = f.multiple_y_axes and len(axis_of) > 1
    traces = []
    for index, (s, color) in enumerate(zip(series, colors, strict=True)):
        dashed = s.compare_label == "previous"  # compare to previous: the earlier period drawn dashed / faded
        if kind == ChartKind.BAR:
            trace: dict[str, Any] = {
                "type": "bar",
                "marker": {"color": color, "opacity": 0.55 if dashed else 1},
            }
            if f.show_values:
                trace |= {"textposition": "inside" if stacked else "outside", "cliponaxis": False}
        else:
            mode = "lines+markers" if x_count <= 31 else "lines"
            trace = {
                "type": "scatter",
                "mode": mode + ("+text" if f.show_values else ""),
                "line": {"color": color, "width": 2.5, "dash": "dash" if dashed else "solid"},
                "marker": {"color": color, "size": 6},
            }
            if f.show_values:
                trace |= {"textposition": "top center", "textfont": {"size": 11}, "cliponaxis": False}
            if kind == ChartKind.AREA:
                if (len(series) > 1 and all_positive and not dashed) or f.percent_stack:
                    trace["stackgroup"] = "area"
                    if f.percent_stack and index == 0:
                        trace["groupnorm"] = "percent"
                else:
                    trace["fill"] = "tozeroy"
                trace["fillcolor"] = color + "33"
        if f.show_values:
            trace["text"] = [fmt.value(v, f) for v in s.values]
        axis = axis_of[(s.label, s.breakdown_value)]
        if many_axes and axis:
            trace["yaxis"] = f"y{axis + 1}"
        trace |= {"x": xs, "y": s.values, "name": fmt.plotly_text(charts.series_name(s))}
        traces.append(trace)
    on_first = [s for s in series if not many_axes or not axis_of[(s.label, s.breakdown_value)]]
    values = [v for s in on_first for v in s.values if v is not None]
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width), yaxis=charts.y_axis(f, values))
    if f.log_scale:
        layout["yaxis"].pop("rangemode", None)
    if many_axes:
        _extra_axes(layout, series, colors, f, axis_of)
    shapes, notes = charts.goal_lines(f)
    if shapes:
        layout["shapes"], layout["annotations"] = shapes, notes
    if kind == ChartKind.BAR:
        layout["barmode"] = "stack" if stacked and (all_positive or f.percent_stack) else "group"
        layout["bargap"] = 0.25
        if f.percent_stack:
            layout["barnorm"] = "percent"
    view.chart = ChartView(traces, layout, charts.chart_height(chart_width))
    if f.show_legend is not False:
        view.legend = [
            LegendItem(charts.series_name(s), c, dashed=s.compare_label == "previous")
            for s, c in zip(series, colors, strict=True)
        ]


def _extra_axes(
    layout: dict[str, Any],
    series: list[Series],
    colors: list[str],
    f: Formatting,
    axis_of: dict[tuple[str, str | None], int],
) -> None:
    """Each series on its own scale: the second axis on the right, the others drawn to scale but unlabelled."""
    for key, index in axis_of.items():
        if not index:
            continue
        members = [i for i, s in enumerate(series) if (s.label, s.breakdown_value) == key]
        values = [v for i in members for v in series[i].values if v is not None]
        axis = charts.y_axis(f, values) | {
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "zeroline": False,
            "rangemode": "tozero",
            "fixedrange": True,
            "automargin": True,
            "visible": index == 1,
            "tickfont": {"color": colors[members[0]]},
        }
        layout[f"yaxis{index + 1}"] = axis


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
    f = insight.formatting
    # A slice under 5% has no room for its label inside: it goes outside, in the text colour, so that a
    # 1.27% slice still reads.
    small = [total > 0 and abs(v) / total < 0.05 for v in values]
    trace = {
        "type": "pie",
        "labels": [fmt.plotly_text(charts.series_name(s)) for s in series],
        "values": values,
        "marker": {"colors": colors, "line": {"color": "#ffffff", "width": 2}},
        "hole": 0.55,
        "sort": False,
        "direction": "clockwise",
        "textinfo": "percent",
        "texttemplate": "%{percent:.1%}",
        "textposition": ["outside" if tiny else "inside" for tiny in small],
        "insidetextfont": {"color": "white", "size": 13},  # on the slice colour, in every theme
        "outsidetextfont": {"color": TEXT_COLOR, "size": 13},
        "insidetextorientation": "horizontal",
        "automargin": True,
    }
    layout = charts.layout(
        annotations=[
            {
                "text": f"<b>{fmt.value(total, f)}</b><br><span style='font-size:12px'>total</span>",
                "showarrow": False,
                "font": {"size": 22, "color": TEXT_COLOR},
                "x": 0.5,
                "y": 0.5,
            }
        ],
        margin={"t": 24, "b": 24},
    )
    view.chart = ChartView([trace], layout, height)
    view.legend = [
        LegendItem(charts.series_name(s), c, f"{fmt.value(v, f)} ({fmt.percent(v / total) if total else '–'})")
        for s, c, v in zip(series, colors, values, strict=True)
    ]


def number(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = charts.visible(insight.series)
    current = next((s for s in series if s.compare_label != "previous"), series[0] if series else None)
    if current is None:
        charts.empty(view)
        return
    f = insight.formatting
    value = charts.aggregated(current)
    text = fmt.value(value, f)
    # Bold digits of the UI font are about 0.62em wide; keep a margin on both sides.
    font_size = int(max(20, min(72, chart_width * 0.9 / (0.62 * len(text) + 0.3))))
    number = NumberView(value=text, label=charts.series_name(current), font_size=font_size)
    previous = insight.previous_value
    if previous is None and not insight.compared:
        prior = next((s for s in series if s.compare_label == "previous"), None)
        previous = charts.aggregated(prior) if prior else None
    if previous is None and insight.compared:
        # PostHog had no value for the previous period: say so rather than compare with zero.
        number.change, number.direction = "No data for comparison", "flat"
    elif previous is not None:
        number.previous = fmt.value(previous, f)
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
        "text": [fmt.value(v, insight.formatting) for v in values],
        "textposition": "outside",
        "cliponaxis": False,
    }
    layout = charts.layout(
        xaxis={"rangemode": "tozero", "showgrid": True, "gridcolor": GRID_COLOR}
        | charts.y_axis(insight.formatting, values),  # the value axis reads in the insight's format
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
    f = insight.formatting
    traces, legend = [], []
    for index, s in enumerate(series):
        status = (s.status or "").lower()
        color = LIFECYCLE_COLORS.get(status, color_at(index))
        values = [-abs(v) if status == "dormant" and v is not None else v for v in s.values]
        name = status.capitalize() if status else s.label
        trace: dict[str, Any] = {
            "type": "bar",
            "x": list(range(len(values))),
            "y": values,
            "name": fmt.plotly_text(name),
            "marker": {"color": color},
        }
        if f.show_values:
            # showValuesOnSeries: each bar's count on it, as PostHog labels them (none on an empty bar).
            trace |= {
                "text": [fmt.value(v, f) if v else "" for v in values],
                "textposition": "inside",
                "insidetextanchor": "middle",
                "textfont": {"color": "white", "size": 11},  # on the bar colour, in every theme
            }
        traces.append(trace)
        legend.append(LegendItem(name, color))
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width), barmode="relative", bargap=0.25)
    layout["yaxis"]["rangemode"] = "normal"
    view.chart = ChartView(traces, layout, charts.chart_height(chart_width))
    view.legend = legend if f.show_legend is not False else []

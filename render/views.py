"""Turn an `Insight` into what its exporter page draws: a plotly spec and/or plain HTML parts.

Pure Python: no templates and no browser here, so every kind can be checked quickly. Plotly specs never carry
a width or height; the page's CSS sizes each chart box and plotly fills it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from posthog_api.content import ChartKind, FunnelBreakdown, Insight, Series

from . import formatting as fmt
from .theme import (
    FONT_STACK,
    GRID_COLOR,
    LIFECYCLE_COLORS,
    LIFECYCLE_ORDER,
    MUTED_COLOR,
    TEXT_COLOR,
    color_at,
)

MAX_TABLE_ROWS = 50  # an image is not a spreadsheet; the rest is summarised in a footer line
MAX_LEGEND_ITEMS = 60
MAX_SQL_CHART_ROWS = 200


@dataclass(slots=True)
class LegendItem:
    label: str
    color: str
    value: str = ""
    dashed: bool = False


@dataclass(slots=True)
class ChartView:
    data: list[dict[str, Any]]
    layout: dict[str, Any]
    height: int  # CSS px of the chart box on an insight page (dashboard tiles size it by the grid)


@dataclass(slots=True)
class NumberView:
    value: str
    label: str
    font_size: int  # CSS px: as large as fits the width, so long numbers are never cut off
    change: str = ""  # "▲ 12.5%"
    direction: str = ""  # up / down / flat
    previous: str = ""


@dataclass(slots=True)
class TableView:
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-align numeric columns
    more_rows: int = 0
    bars: list[float] | None = None  # world map: a share bar per row (0..1)


@dataclass(slots=True)
class RetentionCell:
    text: str
    background: str
    color: str


@dataclass(slots=True)
class RetentionRowView:
    label: str
    date: str
    size: str
    cells: list[RetentionCell | None]


@dataclass(slots=True)
class RetentionView:
    columns: list[str]
    rows: list[RetentionRowView]


@dataclass(slots=True)
class FunnelBar:
    label: str
    color: str
    width: float  # percent of the full bar
    count: str
    conversion: str
    from_previous: str


@dataclass(slots=True)
class FunnelStepView:
    number: int
    name: str
    optional: bool
    bars: list[FunnelBar]
    median_time: str = ""


@dataclass(slots=True)
class InsightView:
    title: str
    description: str
    meta: list[str]
    body: str  # chart | number | table | retention | funnel_rows | unsupported | empty
    chart: ChartView | None = None
    legend: list[LegendItem] = field(default_factory=list)
    legend_more: int = 0
    number: NumberView | None = None
    table: TableView | None = None
    retention: RetentionView | None = None
    funnel_steps: list[FunnelStepView] = field(default_factory=list)
    summary: str = ""  # one line under the title of funnels: total conversion
    message: str = ""  # unsupported / empty explanation
    url: str = ""
    min_width: int = 0  # content CSS px this insight needs to stay readable (pages grow to fit)


def build_view(insight: Insight, chart_width: int) -> InsightView:
    """The view of `insight` drawn `chart_width` CSS px wide."""
    view = InsightView(
        title=insight.name or "Untitled insight",
        description=insight.description,
        meta=_meta(insight),
        body="chart",
        url=insight.url,
    )
    builder = _BUILDERS.get(insight.kind, _unsupported)
    builder(insight, view, chart_width)
    if len(view.legend) > MAX_LEGEND_ITEMS:
        view.legend_more = len(view.legend) - MAX_LEGEND_ITEMS
        view.legend = view.legend[:MAX_LEGEND_ITEMS]
    return view


def _meta(insight: Insight) -> list[str]:
    meta = []
    if insight.date_range:
        meta.append(insight.date_range)
    if insight.interval and insight.kind not in (ChartKind.RETENTION, ChartKind.PATHS, ChartKind.FUNNEL):
        meta.append(f"by {insight.interval}")
    refreshed = fmt.refreshed_at(insight.last_refresh)
    if refreshed:
        meta.append(f"computed {refreshed}")
    return meta


# --- plotly building blocks -------------------------------------------------------------------------


def _layout(**overrides: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": {"family": FONT_STACK, "size": 13, "color": TEXT_COLOR},
        "margin": {"l": 8, "r": 16, "t": 12, "b": 8, "pad": 4},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "showlegend": False,
        "hovermode": False,
        "separators": ".,",
        "xaxis": {
            "showgrid": False,
            "linecolor": GRID_COLOR,
            "tickfont": {"color": MUTED_COLOR},
            "automargin": True,
            "fixedrange": True,
        },
        "yaxis": {
            "gridcolor": GRID_COLOR,
            "zerolinecolor": "#c3c5cc",
            "tickfont": {"color": MUTED_COLOR},
            "automargin": True,
            "rangemode": "tozero",
            "fixedrange": True,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _x_axis(labels: list[str], chart_width: int) -> dict[str, Any]:
    """Index positions with readable tick labels: duplicates stay apart and crowded labels are thinned."""
    count = len(labels)
    fit = max(2, chart_width // 90)
    step = max(1, math.ceil(count / fit))
    ticks = list(range(0, count, step))
    return {
        "zeroline": False,
        "tickmode": "array",
        "tickvals": ticks,
        "ticktext": [fmt.plotly_text(labels[i], 24) for i in ticks],
        "range": [-0.5, count - 0.5] if count else None,
    }


def _chart_height(chart_width: int) -> int:
    return max(300, min(560, round(chart_width * 0.45)))


def _visible(series: list[Series]) -> list[Series]:
    return [s for s in series if not s.hidden]


def _series_name(series: Series) -> str:
    name = series.label
    if series.breakdown_value not in (None, "") and series.breakdown_value not in name:
        name = f"{name} · {series.breakdown_value}"
    if series.compare_label == "previous":
        name = f"{name} (previous)"
    return name


def _colors(series: list[Series]) -> list[str]:
    """Current and previous period of one series share a colour, as in PostHog."""
    colors: list[str] = []
    assigned: dict[tuple[str, str | None], str] = {}
    for s in series:
        key = (s.label, s.breakdown_value)
        if s.compare_label and key in assigned:
            colors.append(assigned[key])
            continue
        color = color_at(len(assigned))
        assigned[key] = color
        colors.append(color)
    return colors


def _empty(view: InsightView, message: str = "There is no data for this period.") -> None:
    view.body = "empty"
    view.message = message


# --- trends-like kinds ------------------------------------------------------------------------------


def _trends(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = [s for s in _visible(insight.series) if s.values]
    if not series:
        _aggregated_fallback(insight, view, chart_width)
        return
    kind = insight.kind
    colors = _colors(series)
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
        trace |= {"x": xs, "y": s.values, "name": fmt.plotly_text(_series_name(s))}
        traces.append(trace)
    layout = _layout(xaxis=_x_axis(labels, chart_width))
    if kind == ChartKind.BAR:
        layout["barmode"] = "stack" if has_breakdown and all_positive else "group"
        layout["bargap"] = 0.25
    view.chart = ChartView(traces, layout, _chart_height(chart_width))
    view.legend = [
        LegendItem(_series_name(s), c, dashed=s.compare_label == "previous")
        for s, c in zip(series, colors, strict=True)
    ]


def _aggregated(series: Series) -> float:
    if series.aggregated_value is not None:
        return series.aggregated_value
    return float(sum(v for v in series.values if v is not None))


def _aggregated_fallback(insight: Insight, view: InsightView, chart_width: int) -> None:
    """A time-series kind whose payload only carries totals: drawn as value bars instead of an empty axis."""
    if any(s.aggregated_value is not None for s in _visible(insight.series)):
        _value_bars(insight, view, chart_width)
    else:
        _empty(view)


def _pie(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = _visible(insight.series)
    values = [_aggregated(s) for s in series]
    if not series or not any(values):
        _empty(view)
        return
    colors = _colors(series)
    total = sum(values)
    height = _chart_height(chart_width)
    trace = {
        "type": "pie",
        "labels": [fmt.plotly_text(_series_name(s)) for s in series],
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
    layout = _layout(
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
        LegendItem(_series_name(s), c, fmt.number(v)) for s, c, v in zip(series, colors, values, strict=True)
    ]


def _number(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = _visible(insight.series)
    current = next((s for s in series if s.compare_label != "previous"), series[0] if series else None)
    if current is None:
        _empty(view)
        return
    value = _aggregated(current)
    text = fmt.number(value)
    # Bold digits of the UI font are about 0.62em wide; keep a margin on both sides.
    font_size = int(max(20, min(72, chart_width * 0.9 / (0.62 * len(text) + 0.3))))
    number = NumberView(value=text, label=_series_name(current), font_size=font_size)
    previous = insight.previous_value
    if previous is None:
        prior = next((s for s in series if s.compare_label == "previous"), None)
        previous = _aggregated(prior) if prior else None
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


def _value_bars(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = _visible(insight.series)
    if not series:
        _empty(view)
        return
    colors = _colors(series)
    rows = sorted(zip(series, colors, strict=True), key=lambda pair: _aggregated(pair[0]), reverse=True)
    values = [_aggregated(s) for s, _ in rows]
    labels = [fmt.plotly_text(_series_name(s), 40) for s, _ in rows]
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
    layout = _layout(
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


def _trends_table(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = _visible(insight.series)
    if not series:
        _empty(view)
        return
    has_breakdown = any(s.breakdown_value not in (None, "") for s in series)
    columns = ["Series"] + (["Breakdown"] if has_breakdown else []) + ["Value"]
    rows = []
    for s in series:
        label = s.label + (" (previous)" if s.compare_label == "previous" else "")
        row = [fmt.cell(label)] + ([fmt.cell(s.breakdown_value or "")] if has_breakdown else [])
        rows.append(row + [fmt.number(_aggregated(s))])
    numeric = [False] * (len(columns) - 1) + [True]
    _set_table(view, columns, rows, numeric)


def _world_map(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = sorted(_visible(insight.series), key=_aggregated, reverse=True)
    if not series:
        _empty(view)
        return
    top = _aggregated(series[0]) or 1
    rows = [[fmt.cell(s.breakdown_value or s.label), fmt.number(_aggregated(s))] for s in series]
    _set_table(view, ["Country", "Value"], rows, [False, True])
    assert view.table is not None
    view.table.bars = [max(0.0, _aggregated(s) / top) for s in series[: len(view.table.rows)]]


def _set_table(view: InsightView, columns: list[str], rows: list[list[str]], numeric: list[bool]) -> None:
    view.body = "table"
    view.table = TableView(
        columns=columns,
        rows=rows[:MAX_TABLE_ROWS],
        numeric=numeric,
        more_rows=max(0, len(rows) - MAX_TABLE_ROWS),
    )
    view.min_width = min(2400, 150 * len(columns))


# --- lifecycle ------------------------------------------------------------------------------------


def _lifecycle(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = [s for s in _visible(insight.series) if s.values]
    if not series:
        _empty(view)
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
    layout = _layout(xaxis=_x_axis(labels, chart_width), barmode="relative", bargap=0.25)
    layout["yaxis"]["rangemode"] = "normal"
    view.chart = ChartView(traces, layout, _chart_height(chart_width))
    view.legend = legend


# --- funnels --------------------------------------------------------------------------------------


def _funnel(insight: Insight, view: InsightView, chart_width: int) -> None:
    groups = [g for g in insight.funnel if g.steps]
    if not groups:
        _empty(view, "No one entered this funnel in this period.")
        return
    view.summary = _funnel_summary(groups)
    if insight.funnel_layout == "horizontal":
        _funnel_rows(groups, view)
    else:
        _funnel_columns(groups, view, chart_width)


def _funnel_summary(groups: list[FunnelBreakdown]) -> str:
    entered = sum(g.steps[0].count for g in groups)
    finished = sum(g.steps[-1].count for g in groups)
    if not entered:
        return ""
    return f"Total conversion {fmt.percent(finished / entered)} · {fmt.number(entered)} entered"


def _step_name(groups: list[FunnelBreakdown], index: int) -> tuple[str, bool]:
    step = groups[0].steps[index]
    return step.name, step.optional


def _wrap(text: str, width: int = 18) -> str:
    """Break a step name into short lines for an axis label (plotly has no automatic wrapping)."""
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(fmt.plotly_text(part, 40) for part in lines[:3])


def _funnel_columns(groups: list[FunnelBreakdown], view: InsightView, chart_width: int) -> None:
    """PostHog's "left to right": one column per step; wide funnels widen the page instead of shrinking."""
    step_count = max(len(g.steps) for g in groups)
    per_step = max(150, 56 * len(groups) + 48)
    view.min_width = min(3000, per_step * step_count + 80)
    traces = []
    for index, group in enumerate(groups):
        color = color_at(index)
        texts = [f"<b>{fmt.percent(s.conversion_from_first)}</b><br>{fmt.number(s.count)}" for s in group.steps]
        traces.append(
            {
                "type": "bar",
                "x": list(range(len(group.steps))),
                "y": [s.conversion_from_first * 100 for s in group.steps],
                "text": texts,
                "textposition": "outside",
                "cliponaxis": False,
                "marker": {"color": color},
                "name": fmt.plotly_text(group.label or "All"),
            }
        )
    ticktext = []
    for index in range(step_count):
        name, optional = _step_name(groups, index) if index < len(groups[0].steps) else ("", False)
        label = f"<b>{index + 1}.</b> {_wrap(name)}"
        if optional:
            label += "<br><i>optional</i>"
        ticktext.append(label)
    layout = _layout(
        xaxis={"tickmode": "array", "tickvals": list(range(step_count)), "ticktext": ticktext},
        yaxis={"range": [0, 118], "tickvals": [0, 25, 50, 75, 100], "ticktext": ["0%", "25%", "50%", "75%", "100%"]},
        barmode="group",
        bargap=0.35,
        bargroupgap=0.08,
        margin={"t": 24},
    )
    view.chart = ChartView(traces, layout, _chart_height(max(chart_width, view.min_width)))
    if len(groups) > 1 or groups[0].label:
        view.legend = [
            LegendItem(g.label or "All", color_at(i), fmt.number(g.steps[0].count)) for i, g in enumerate(groups)
        ]


def _funnel_rows(groups: list[FunnelBreakdown], view: InsightView) -> None:
    """PostHog's "top to bottom": one row per step with a bar per breakdown."""
    view.body = "funnel_rows"
    step_count = max(len(g.steps) for g in groups)
    show_labels = len(groups) > 1 or bool(groups[0].label)
    for index in range(step_count):
        name, optional = _step_name(groups, index) if index < len(groups[0].steps) else ("", False)
        bars = []
        medians = []
        for group_index, group in enumerate(groups):
            if index >= len(group.steps):
                continue
            step = group.steps[index]
            bars.append(
                FunnelBar(
                    label=(group.label or "All") if show_labels else "",
                    color=color_at(group_index),
                    width=max(0.0, min(100.0, step.conversion_from_first * 100)),
                    count=fmt.number(step.count),
                    conversion=fmt.percent(step.conversion_from_first),
                    from_previous=fmt.percent(step.conversion_from_previous) if index else "",
                )
            )
            if step.median_conversion_seconds is not None and index:
                medians.append(step.median_conversion_seconds)
        median = fmt.duration(sorted(medians)[len(medians) // 2]) if medians else ""
        view.funnel_steps.append(FunnelStepView(index + 1, name, optional, bars, median))


# --- retention, paths -----------------------------------------------------------------------------


def _retention(insight: Insight, view: InsightView, chart_width: int) -> None:
    rows = insight.retention
    if not rows:
        _empty(view)
        return
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
                    color="#ffffff" if alpha > 0.5 else TEXT_COLOR,
                )
            )
        out.append(RetentionRowView(row.label, row.date[:10], fmt.number(row.cohort_size), cells))
    view.body = "retention"
    view.retention = RetentionView(columns, out)
    view.min_width = min(3000, 260 + 72 * periods)


_STEP_PREFIX = re.compile(r"^\d+_(https?://)?")


def _paths(insight: Insight, view: InsightView, chart_width: int) -> None:
    links = [link for link in insight.paths if link.value > 0]
    if not links:
        _empty(view)
        return
    nodes: dict[str, int] = {}
    for link in links:
        for name in (link.source, link.target):
            nodes.setdefault(name, len(nodes))

    def step_of(name: str) -> int:
        match = re.match(r"^(\d+)_", name)
        return int(match.group(1)) if match else 0

    steps: dict[int, int] = {}
    for name in nodes:
        steps[step_of(name)] = steps.get(step_of(name), 0) + 1
    node_colors = [color_at(step_of(name) - 1) for name in nodes]
    trace = {
        "type": "sankey",
        "arrangement": "snap",
        "valueformat": ",d",
        "node": {
            "label": [fmt.plotly_text(_STEP_PREFIX.sub("", name), 40) for name in nodes],
            "color": node_colors,
            "pad": 18,
            "thickness": 14,
            "line": {"width": 0},
        },
        "link": {
            "source": [nodes[link.source] for link in links],
            "target": [nodes[link.target] for link in links],
            "value": [link.value for link in links],
            "color": [node_colors[nodes[link.source]] + "40" for link in links],
        },
        "textfont": {"family": FONT_STACK, "size": 12, "color": TEXT_COLOR},
    }
    height = max(460, 46 * max(steps.values()) + 80)
    view.min_width = min(3000, 320 * len(steps))  # room for node labels between columns
    view.chart = ChartView([trace], _layout(margin={"l": 8, "r": 8, "t": 8, "b": 8}), height)


# --- SQL ------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sql_table(insight: Insight, view: InsightView, chart_width: int) -> None:
    table = insight.table
    if table is None or not table.rows:
        _empty(view, "This query returned no rows.")
        return
    numeric = [
        all(_is_number(row[i]) or row[i] is None for row in table.rows if i < len(row))
        and any(_is_number(row[i]) for row in table.rows if i < len(row))
        for i in range(len(table.columns))
    ]
    rows = [[fmt.cell(row[i] if i < len(row) else None) for i in range(len(table.columns))] for row in table.rows]
    _set_table(view, [fmt.shorten(c, 60) for c in table.columns], rows, numeric)


def _sql_chart(insight: Insight, view: InsightView, chart_width: int) -> None:
    """The first column along x, each numeric column as a series; a table when nothing is numeric."""
    table = insight.table
    if table is None or not table.rows:
        _empty(view, "This query returned no rows.")
        return
    rows = table.rows[:MAX_SQL_CHART_ROWS]
    y_columns = [
        i
        for i in range(1, len(table.columns))
        if all(_is_number(r[i]) or r[i] is None for r in rows if i < len(r))
        and any(_is_number(r[i]) for r in rows if i < len(r))
    ]
    if not y_columns:
        _sql_table(insight, view, chart_width)
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
    layout = _layout(xaxis=_x_axis(labels, chart_width), barmode="group", bargap=0.2)
    view.chart = ChartView(traces, layout, _chart_height(chart_width))
    view.legend = legend if len(legend) > 1 else []
    if len(table.rows) > MAX_SQL_CHART_ROWS:
        view.summary = f"First {MAX_SQL_CHART_ROWS} of {fmt.number(len(table.rows))} rows"


def _unsupported(insight: Insight, view: InsightView, chart_width: int) -> None:
    view.body = "unsupported"
    view.message = insight.unsupported_reason or "This kind of insight can't be exported as an image yet."


_BUILDERS = {
    ChartKind.LINE: _trends,
    ChartKind.BAR: _trends,
    ChartKind.AREA: _trends,
    ChartKind.CUMULATIVE: _trends,
    ChartKind.STICKINESS: _trends,
    ChartKind.PIE: _pie,
    ChartKind.NUMBER: _number,
    ChartKind.VALUE_BARS: _value_bars,
    ChartKind.TABLE: _trends_table,
    ChartKind.WORLD_MAP: _world_map,
    ChartKind.FUNNEL: _funnel,
    ChartKind.RETENTION: _retention,
    ChartKind.LIFECYCLE: _lifecycle,
    ChartKind.PATHS: _paths,
    ChartKind.SQL_TABLE: _sql_table,
    ChartKind.SQL_CHART: _sql_chart,
    ChartKind.UNSUPPORTED: _unsupported,
}

"""Plotly building blocks shared by every family: the base layout, x axes, colours, empty states.

Plotly specs never carry a width or height; the page's CSS sizes each chart box and plotly fills it."""

from __future__ import annotations

import math
from typing import Any

from posthog_api.content import AxisFormat, Formatting, Series

from .. import formatting as fmt
from ..theme import FONT_STACK, GRID_COLOR, MUTED_COLOR, TEXT_COLOR, color_at
from .model import InsightView


def layout(**overrides: Any) -> dict[str, Any]:
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


def x_axis(labels: list[str], chart_width: int) -> dict[str, Any]:
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


def chart_height(chart_width: int) -> int:
    return max(300, min(560, round(chart_width * 0.45)))


def visible(series: list[Series]) -> list[Series]:
    return [s for s in series if not s.hidden]


def series_name(series: Series) -> str:
    name = series.label
    if series.breakdown_value not in (None, "") and series.breakdown_value not in name:
        name = f"{name} · {series.breakdown_value}"
    if series.compare_label == "previous":
        name = f"{name} (previous)"
    return name


def colors(series: list[Series]) -> list[str]:
    """Current and previous period of one series share a colour, as in PostHog; a colour the user chose wins."""
    colors: list[str] = []
    assigned: dict[tuple[str, str | None], str] = {}
    for s in series:
        key = (s.label, s.breakdown_value)
        if s.compare_label and key in assigned:
            colors.append(assigned[key])
            continue
        color = s.color or color_at(len(assigned))
        assigned[key] = color
        colors.append(color)
    return colors


def empty(view: InsightView, message: str = "There is no data for this period.") -> None:
    view.body = "empty"
    view.message = message


def aggregated(series: Series) -> float:
    if series.aggregated_value is not None:
        return series.aggregated_value
    return float(sum(v for v in series.values if v is not None))


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


GOAL_COLOR = "#f14f58"
_DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                   172800, 604800, 1209600, 2592000]  # fmt: skip


def is_default(formatting: Formatting) -> bool:
    """Plain numbers: plotly's own ticks read well; anything else gets ticks we write ourselves."""
    f = formatting
    return f.axis_format is AxisFormat.NUMERIC and not (f.prefix or f.postfix or f.decimal_places is not None)


def nice_ticks(low: float, high: float, formatting: Formatting, count: int = 5) -> list[float]:
    """About `count` round tick values covering low..high (durations step in seconds, minutes, hours, days)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    if formatting.axis_format in (AxisFormat.DURATION, AxisFormat.DURATION_MS):
        unit = 1000 if formatting.axis_format is AxisFormat.DURATION_MS else 1
        step = next((s * unit for s in _DURATION_STEPS if s * unit >= raw), raw)
    else:
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def y_axis(formatting: Formatting, values: list[float]) -> dict[str, Any]:
    """The y axis as the insight's options say: log scale, percent stacking, or ticks in its format."""
    f = formatting
    goals = [g.value for g in f.goal_lines]
    if f.log_scale:
        positives = [v for v in values + goals if v > 0]
        axis: dict[str, Any] = {"type": "log", "rangemode": "normal"}
        if positives:
            low, high = math.floor(math.log10(min(positives))), math.ceil(math.log10(max(positives)))
            ticks = [10.0**k for k in range(low, max(high, low + 1) + 1)]
            axis |= {"tickmode": "array", "tickvals": ticks, "ticktext": [fmt.value(t, f) for t in ticks]}
        return axis
    if f.percent_stack:
        return {"ticksuffix": "%", "range": [0, 100]}
    if is_default(f) and not goals:
        return {}
    low = min([0.0, *values, *goals])
    high = max([0.0, *values, *goals])
    ticks = nice_ticks(low, high, f)
    return {
        "tickmode": "array",
        "tickvals": ticks,
        "ticktext": [fmt.value(t, f) for t in ticks],
        "range": [ticks[0], ticks[-1]],
    }


def goal_lines(formatting: Formatting) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Goal lines as plotly shapes (dashed, across the plot) and their labels."""
    shapes, annotations = [], []
    for goal in formatting.goal_lines:
        shapes.append(
            {
                "type": "line",
                "name": "goal-line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": goal.value,
                "y1": goal.value,
                "line": {"color": GOAL_COLOR, "width": 2, "dash": "dash"},
            }
        )
        label = goal.label or "Goal"
        annotations.append(
            {
                "text": fmt.plotly_text(f"{label}: {fmt.value(goal.value, formatting)}", 60),
                "xref": "paper",
                "x": 0,
                "xanchor": "left",  # at the start of the line, where it rarely meets the latest values
                "yref": "y",
                "y": goal.value,
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"color": GOAL_COLOR, "size": 12},
            }
        )
    return shapes, annotations


def graph_fallback(insight: object, view: InsightView, chart_width: int) -> None:
    """A kind that cannot be drawn from these results draws as PostHog's default line graph instead."""
    from .trends import graph  # late: trends builds on this module

    graph(insight, view, chart_width)  # type: ignore[arg-type]

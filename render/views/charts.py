"""Plotly building blocks shared by every family: the base layout, x axes, colours, empty states.

Plotly specs never carry a width or height; the page's CSS sizes each chart box and plotly fills it."""

from __future__ import annotations

import math
from typing import Any

from posthog_api.content import Series

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


def empty(view: InsightView, message: str = "There is no data for this period.") -> None:
    view.body = "empty"
    view.message = message


def aggregated(series: Series) -> float:
    if series.aggregated_value is not None:
        return series.aggregated_value
    return float(sum(v for v in series.values if v is not None))


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

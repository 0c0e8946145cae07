"""Display options a PostHog user sets on an insight (axis format, decimals, goal lines, colours...) -> `Formatting`.

The same options have three spellings: the query's `trendsFilter`/`stickinessFilter` (camelCase), legacy
`filters` (snake_case), and a SQL insight's `chartSettings`.
"""

from __future__ import annotations

import re
from typing import Any

from ..content import AxisFormat, Formatting, GoalLine
from .readers import as_dict, dicts, text

# PostHog's data colour presets ("preset-1".."preset-15"), in the order of its default palette.
PRESET_COLORS = [
    "#1d4aff", "#621da6", "#42827e", "#ce0e74", "#f14f58", "#7c440e", "#529a0a", "#0476fb",
    "#fe729e", "#35416b", "#41cbc4", "#b64b02", "#e4a604", "#a56eff", "#30d5c8",
]  # fmt: skip
_HEX = re.compile(r"^#[0-9a-fA-F]{3,8}$")


def color(value: object) -> str | None:
    """A colour a user chose in PostHog: a preset token ("preset-3") or a CSS hex colour."""
    name = text(value)
    if name is None:
        return None
    if m := re.match(r"^preset-(\d{1,2})$", name):
        return PRESET_COLORS[(int(m[1]) - 1) % len(PRESET_COLORS)]
    return name if _HEX.match(name) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _places(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10 else None


def _axis_format(value: object) -> AxisFormat:
    try:
        return AxisFormat(value) if isinstance(value, str) else AxisFormat.NUMERIC
    except ValueError:
        return AxisFormat.NUMERIC


def goal_lines(raw: object) -> list[GoalLine]:
    lines = []
    for item in dicts(raw):
        value = _number(item.get("value"))
        if value is not None:
            lines.append(GoalLine(label=text(item.get("label")) or "", value=value))
    return lines


def from_trends_filter(f: dict[str, Any]) -> Formatting:
    """`trendsFilter` / `stickinessFilter` of a query."""
    return Formatting(
        axis_format=_axis_format(f.get("aggregationAxisFormat")),
        prefix=text(f.get("aggregationAxisPrefix")) or "",
        postfix=text(f.get("aggregationAxisPostfix")) or "",
        decimal_places=_places(f.get("decimalPlaces")),
        show_values=f.get("showValuesOnSeries") is True,
        percent_stack=f.get("showPercentStackView") is True,
        show_legend=f.get("showLegend") if isinstance(f.get("showLegend"), bool) else None,
        log_scale=f.get("yAxisScaleType") == "log10",
        goal_lines=goal_lines(f.get("goalLines")),
        multiple_y_axes=f.get("showMultipleYAxes") is True,
    )


def from_filters(f: dict[str, Any]) -> Formatting:
    """Legacy `filters`, snake_case."""
    return Formatting(
        axis_format=_axis_format(f.get("aggregation_axis_format")),
        prefix=text(f.get("aggregation_axis_prefix")) or "",
        postfix=text(f.get("aggregation_axis_postfix")) or "",
        decimal_places=_places(f.get("decimal_places")),
        show_values=f.get("show_values_on_series") is True,
        percent_stack=f.get("show_percent_stack_view") is True,
        show_legend=f.get("show_legend") if isinstance(f.get("show_legend"), bool) else None,
        log_scale=f.get("y_axis_scale_type") == "log10",
        goal_lines=goal_lines(f.get("goal_lines")),
        multiple_y_axes=f.get("show_multiple_y_axes") is True,
    )


def from_chart_settings(settings: dict[str, Any]) -> Formatting:
    """A SQL insight's `chartSettings`: the first y column's formatting stands for the axis."""
    first = as_dict(as_dict(as_dict((dicts(settings.get("yAxis")) or [{}])[0]).get("settings")).get("formatting"))
    style = first.get("style")
    left = as_dict(settings.get("leftYAxisSettings"))
    return Formatting(
        axis_format=AxisFormat.PERCENTAGE if style == "percent" else AxisFormat.NUMERIC,
        prefix=text(first.get("prefix")) or "",
        postfix=text(first.get("suffix")) or "",
        decimal_places=_places(first.get("decimalPlaces")),
        percent_stack=settings.get("stackBars100") is True,
        show_legend=settings.get("showLegend") if isinstance(settings.get("showLegend"), bool) else None,
        log_scale=left.get("scale") == "logarithmic",
        goal_lines=goal_lines(settings.get("goalLines")),
    )

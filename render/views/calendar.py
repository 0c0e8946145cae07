"""CalendarHeatmap: a value per day (weeks as columns, weekdays as rows), or per hour of each weekday when the
insight counts by hour, shaded like PostHog's heatmap."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from posthog_api.content import Insight

from .. import formatting as fmt
from . import charts
from .model import ChartView, InsightView

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_SCALE = [[0.0, "#f2f4ff"], [1.0, "#1d4aff"]]


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def heatmap(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = [s for s in charts.visible(insight.series) if s.values]
    moments = [_moment(d) for d in insight.x_dates]
    if not series or not moments or any(m is None for m in moments):
        charts.graph_fallback(insight, view, chart_width)
        return
    totals = [sum(s.values[i] for s in series if i < len(s.values)) for i in range(len(moments))]
    hourly = insight.interval == "hour"
    if hourly:  # weekday x hour of day
        columns = [f"{h:02d}:00" for h in range(24)]
        z: list[list[float | None]] = [[None] * 24 for _ in WEEKDAYS]
        for moment, total in zip(moments, totals, strict=True):
            assert moment is not None
            cell = z[moment.weekday()][moment.hour]
            z[moment.weekday()][moment.hour] = (cell or 0) + total
    else:  # weekday x week
        first = min(m.date() for m in moments if m)
        start = first - timedelta(days=first.weekday())
        weeks = (max(m.date() for m in moments if m) - start).days // 7 + 1
        columns = [(start + timedelta(weeks=w)).strftime("%d %b") for w in range(weeks)]
        z = [[None] * weeks for _ in WEEKDAYS]
        for moment, total in zip(moments, totals, strict=True):
            assert moment is not None
            day: date = moment.date()
            week = (day - start).days // 7
            z[day.weekday()][week] = (z[day.weekday()][week] or 0) + total
    f = insight.formatting
    trace = {
        "type": "heatmap",
        "z": z,
        "x": list(range(len(columns))),
        "y": list(range(7)),
        "colorscale": _SCALE,
        "showscale": False,
        "xgap": 3,
        "ygap": 3,
        "text": [[fmt.value(v, f) if v is not None else "" for v in row] for row in z],
        "texttemplate": "%{text}" if len(columns) <= 16 else "",
        "hoverinfo": "skip",
    }
    layout = charts.layout(
        xaxis=charts.x_axis(columns, chart_width) | {"side": "top", "showline": False},
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(7)),
            "ticktext": WEEKDAYS,
            "autorange": "reversed",
            "showgrid": False,
            "zeroline": False,
            "rangemode": "normal",
        },  # fmt: skip
    )
    view.chart = ChartView([trace], layout, max(240, 46 * 7 + 60))

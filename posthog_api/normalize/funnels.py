"""Funnel results: steps (optionally one list per breakdown value), or conversion over time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..content import AxisFormat, ChartKind, Formatting, FunnelBreakdown, FunnelStep, Insight
from . import trends
from .labels import breakdown_label, event_label
from .readers import Shape, as_dict, as_list, integer, num, obj, optional_num, text
from .spec import Spec


def _steps(group: list[Any], spec: Spec) -> FunnelBreakdown:
    steps_raw = [obj(s, "each funnel step to be an object") for s in group]
    steps_raw.sort(key=lambda s: s.get("order") if isinstance(s.get("order"), int) else 0)
    label = (
        breakdown_label(steps_raw[0]["breakdown_value"]) if steps_raw and ("breakdown_value" in steps_raw[0]) else None
    )
    counts = [integer(s.get("count")) for s in steps_raw]
    steps: list[FunnelStep] = []
    for j, (raw, count) in enumerate(zip(steps_raw, counts, strict=True)):
        name = text(raw.get("custom_name")) or event_label(text(raw.get("name")) or f"Step {j + 1}")
        first, previous = counts[0], counts[j - 1] if j else counts[0]
        median, average = raw.get("median_conversion_time"), raw.get("average_conversion_time")
        steps.append(
            FunnelStep(
                name=name,
                count=count,
                conversion_from_first=count / first if first else 0.0,
                conversion_from_previous=count / previous if previous else 0.0,
                median_conversion_seconds=None if median is None else num(median),
                average_conversion_seconds=None if average is None else num(average),
                optional=j in spec.optional_steps,
            )
        )
    return FunnelBreakdown(label=label, steps=steps)


def read(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    insight.funnel_layout = "horizontal" if spec.funnel_layout == "horizontal" else "vertical"
    if spec.funnel_viz_type == "trends":
        _historical_trends(insight, result, spec)
        return
    if spec.funnel_viz_type == "time_to_convert":
        _time_to_convert(insight, result)
        return
    insight.kind = ChartKind.FUNNEL
    rows = as_list(result, "a list of funnel steps")
    # With a breakdown, PostHog returns one list of steps per breakdown value.
    groups = rows if rows and all(isinstance(r, list) for r in rows) else [rows]
    insight.funnel = [_steps(group, spec) for group in groups]


def _historical_trends(insight: Insight, result: object, spec: Spec) -> None:
    """Conversion rate over time: a line per breakdown, in percent, as PostHog's historical trends draw it."""
    insight.kind = ChartKind.LINE
    trends.read_series(insight, result, replace(spec, series_names={}))  # its lines are rates, not the steps
    insight.formatting = Formatting(axis_format=AxisFormat.PERCENTAGE, decimal_places=None)
    rows = as_list(result, "a list of series")
    for index, series in enumerate(insight.series):
        raw = as_dict(rows[index])
        # PostHog's rows carry no label: the line is the conversion rate (per breakdown value when broken down).
        if not text(raw.get("label")) and not text(as_dict(raw.get("action")).get("custom_name")):
            series.label = "Conversion rate"


def _time_to_convert(insight: Insight, result: object) -> None:
    """Time to convert: PostHog's histogram bins of (seconds from, people), with the average time."""
    insight.kind = ChartKind.FUNNEL_TIME
    data = obj(result, "time-to-convert results to be an object")
    for item in as_list(data.get("bins", []), "a list of time bins"):
        pair = as_list(item, "each time bin to be [seconds, people]")
        if len(pair) != 2:
            raise Shape("expected each time bin to be [seconds, people]")
        insight.conversion_bins.append((num(pair[0]), integer(pair[1])))
    insight.average_conversion_seconds = optional_num(data.get("average_conversion_time"))

"""Funnel results: steps (optionally one list per breakdown value), or conversion over time."""

from __future__ import annotations

from typing import Any

from ..content import ChartKind, FunnelBreakdown, FunnelStep, Insight
from . import trends
from .labels import breakdown_label, event_label
from .readers import as_list, integer, num, obj, text
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
        # Conversion rate over time: a line per breakdown, same shape as a trends result.
        insight.kind = ChartKind.LINE
        trends.read_series(insight, result, spec)
        return
    if spec.funnel_viz_type != "steps":
        insight.kind = ChartKind.UNSUPPORTED
        insight.unsupported_reason = "Time-to-convert funnels are not supported yet; steps funnels are."
        return
    insight.kind = ChartKind.FUNNEL
    rows = as_list(result, "a list of funnel steps")
    # With a breakdown, PostHog returns one list of steps per breakdown value.
    groups = rows if rows and all(isinstance(r, list) for r in rows) else [rows]
    insight.funnel = [_steps(group, spec) for group in groups]

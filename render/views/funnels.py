"""Funnels: steps left to right (plotly bars) or top to bottom (HTML rows), optionally per breakdown."""

from __future__ import annotations

from posthog_api.content import FunnelBreakdown, Insight

from .. import formatting as fmt
from ..theme import READABLE_MAX_WIDTH, color_at
from . import charts
from .model import ChartView, FunnelBar, FunnelStepView, InsightView, LegendItem

NO_ONE_ENTERED = "No one entered this funnel in this period."


def funnel(insight: Insight, view: InsightView, chart_width: int) -> None:
    groups = [g for g in insight.funnel if g.steps]
    if not groups:
        charts.empty(view, NO_ONE_ENTERED)
        return
    view.summary = _funnel_summary(groups) or NO_ONE_ENTERED  # all zero: said in words, no bars that look like data
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


def _wrap(text: str, width: int = 16) -> str:
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
    # Many steps widen the image only up to a width that stays readable once Slack or a mail client scales it
    # down; past that, steps share the width and their names wrap shorter.
    view.min_width = min(READABLE_MAX_WIDTH, per_step * step_count + 80)
    wrap_at = max(8, min(16, (view.min_width - 80) // max(1, step_count) // 8))
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
        label = f"<b>{index + 1}.</b> {_wrap(name, wrap_at)}"
        if optional:
            label += "<br><i>optional</i>"
        ticktext.append(label)
    layout = charts.layout(
        xaxis={"tickmode": "array", "tickvals": list(range(step_count)), "ticktext": ticktext},
        yaxis={"range": [0, 118], "tickvals": [0, 25, 50, 75, 100], "ticktext": ["0%", "25%", "50%", "75%", "100%"]},
        barmode="group",
        bargap=0.35,
        bargroupgap=0.08,
        margin={"t": 24},
    )
    view.chart = ChartView(traces, layout, charts.chart_height(max(chart_width, view.min_width)))
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
                    width=max(0.0, min(100.0, step.conversion_from_first * 100)) if step.count else 0.0,
                    count=fmt.number(step.count),
                    conversion=fmt.percent(step.conversion_from_first),
                    from_previous=fmt.percent(step.conversion_from_previous) if index else "",
                )
            )
            if step.median_conversion_seconds is not None and index:
                medians.append(step.median_conversion_seconds)
        median = fmt.duration(sorted(medians)[len(medians) // 2]) if medians else ""
        view.funnel_steps.append(FunnelStepView(index + 1, name, optional, bars, median))


def time_to_convert(insight: Insight, view: InsightView, chart_width: int) -> None:
    """PostHog's time-to-convert histogram: people per conversion-time bin, with the average time."""
    bins = [(start, people) for start, people in insight.conversion_bins]
    if not bins or not any(people for _, people in bins):
        charts.empty(view, "No one converted in this period.")
        return
    total = sum(people for _, people in bins)
    labels = [fmt.duration(start) or "0s" for start, _ in bins]
    trace = {
        "type": "bar",
        "x": list(range(len(bins))),
        "y": [people for _, people in bins],
        "text": [fmt.percent(round(people / total, 3)) if people else "" for _, people in bins],
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": color_at(0)},
        "name": "People",
    }
    layout = charts.layout(xaxis=charts.x_axis(labels, chart_width), bargap=0.08, margin={"t": 24})
    view.chart = ChartView([trace], layout, charts.chart_height(chart_width))
    if insight.average_conversion_seconds is not None:
        view.summary = f"Average time to convert {fmt.duration(insight.average_conversion_seconds)}"
    view.summary = " · ".join(filter(None, [view.summary, f"{fmt.number(total)} converted"]))

"""Trends, lifecycle and stickiness results: a list of series, one per event/breakdown/period."""

from __future__ import annotations

import json
from typing import Any

from ..content import ChartKind, Insight, Series
from .labels import breakdown_label, event_label
from .readers import as_dict, as_list, num, obj, text
from .spec import Spec

DISPLAYS: dict[str, ChartKind] = {
    "ActionsLineGraph": ChartKind.LINE,
    "ActionsLineGraphCumulative": ChartKind.CUMULATIVE,
    "ActionsBar": ChartKind.BAR,
    "ActionsStackedBar": ChartKind.BAR,
    "ActionsUnstackedBar": ChartKind.BAR,
    "ActionsAreaGraph": ChartKind.AREA,
    "ActionsPie": ChartKind.PIE,
    "BoldNumber": ChartKind.NUMBER,
    "ActionsBarValue": ChartKind.VALUE_BARS,
    "ActionsTable": ChartKind.TABLE,
    "WorldMap": ChartKind.WORLD_MAP,
    "CalendarHeatmap": ChartKind.CALENDAR_HEATMAP,
}
AGGREGATED = {ChartKind.PIE, ChartKind.NUMBER, ChartKind.VALUE_BARS, ChartKind.TABLE, ChartKind.WORLD_MAP}


def series_key(raw: dict[str, Any], index: int) -> str:
    """PostHog's resultCustomizations key for a series customized "by value" (frontend getTrendDatasetKey)."""
    order = as_dict(raw.get("action")).get("order")
    payload: dict[str, Any] = {
        "series": order if isinstance(order, int) else ("formula" if index == 0 else f"formula{index + 1}")
    }
    if "breakdown_value" in raw:
        value = raw["breakdown_value"]
        payload["breakdown_value"] = value if isinstance(value, list) else [value]
    if "compare_label" in raw:
        payload["compare_label"] = raw["compare_label"]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _kind(spec: Spec) -> ChartKind | None:
    if spec.insight_type == "LIFECYCLE":
        return ChartKind.LIFECYCLE
    if spec.insight_type == "STICKINESS":
        return ChartKind.STICKINESS
    if spec.display is None:
        return ChartKind.LINE  # PostHog's default display
    return DISPLAYS.get(spec.display)


def read(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    kind = _kind(spec)
    if kind is None:
        insight.kind = ChartKind.UNSUPPORTED
        insight.unsupported_reason = f"The {spec.display} display of trends insights is not supported yet."
        return
    insight.kind = kind
    read_series(insight, result, spec)


def _defined(spec: Spec, action: dict[str, Any], index: int, count: int) -> tuple[str | None, str | None]:
    """The (custom_name, name) the insight defines for this result's series: by the result's `order`, or by
    position when every series has exactly one result (old payloads whose results carry no action). PostHog
    shows a series by its custom name wherever it was saved."""
    order = action.get("order")
    if isinstance(order, int) and not isinstance(order, bool) and order in spec.series_names:
        return spec.series_names[order]
    if not action and count == len(spec.series_names):
        return spec.series_names[sorted(spec.series_names)[index]]
    return None, None


def read_series(insight: Insight, result: object, spec: Spec) -> None:
    """The series of a trends-shaped result into `insight.series` (drawn as `insight.kind`)."""
    rows = as_list(result, "a list of series")
    aggregated = insight.kind in AGGREGATED
    insight.formatting = spec.formatting
    stated: list[bool] = []  # per series: PostHog gave an aggregated value (null = not computed)
    for index, item in enumerate(rows):
        raw = obj(item, "each series to be an object")
        action = as_dict(raw.get("action"))
        defined_custom, defined_name = _defined(spec, action, index, len(rows))
        custom = text(action.get("custom_name")) or defined_custom
        label = custom or text(raw.get("label")) or text(action.get("name")) or defined_name or f"Series {index + 1}"
        label = label if custom else event_label(label)
        breakdown = breakdown_label(raw["breakdown_value"]) if raw.get("breakdown_value") is not None else None
        if custom and breakdown is not None:
            label = f"{custom} - {breakdown}"
        status = text(raw.get("status"))
        if insight.kind is ChartKind.LIFECYCLE and status:
            label = status.capitalize()
        values = [num(v) for v in as_list(raw.get("data", []), "a list of data points")]
        value: float | None = None
        if aggregated:
            agg = raw.get("aggregated_value")
            value = num(agg if agg is not None else raw.get("count", sum(values)))
        by_value = spec.customization_by != "position"
        key = series_key(raw, index)
        hidden = index in spec.hidden_indexes or (by_value and key in spec.hidden_value_keys)
        color = spec.colors_by_position.get(index) or (spec.colors_by_key.get(key) if by_value else None)
        stated.append(raw.get("aggregated_value") is not None)
        if spec.toggled_lifecycles is not None and status and status not in spec.toggled_lifecycles:
            hidden = True
        compare_label = text(raw.get("compare_label"))
        insight.series.append(
            Series(
                label=label,
                values=values,
                aggregated_value=value,
                breakdown_value=breakdown,
                compare_label=compare_label,
                status=status,
                hidden=hidden,
                color=color,
            )
        )
        if not insight.x_labels and not aggregated:
            labels = raw.get("labels") or raw.get("days") or []
            insight.x_labels = [str(x) for x in as_list(labels, "a list of x labels")]
            days = raw.get("days")
            if isinstance(days, list) and all(isinstance(d, str) for d in days):
                insight.x_dates = list(days)

    if insight.kind is ChartKind.NUMBER:
        _compare_number(insight, spec, stated)


def _compare_number(insight: Insight, spec: Spec, stated: list[bool]) -> None:
    """One big number: the current period is drawn, the previous one is its comparison. PostHog labels the
    periods (compare_label) or, in some versions, returns the previous period second; a previous period
    PostHog did not compute (null) is "no data for comparison", never a zero."""
    labelled = [i for i, s in enumerate(insight.series) if s.compare_label == "previous"]
    if labelled:
        index = labelled[0]
    elif spec.compare and len(insight.series) == 2:
        index = 1
    else:
        return
    insight.compared = True
    insight.previous_value = insight.series[index].aggregated_value if stated[index] else None
    insight.series = [s for i, s in enumerate(insight.series) if i != index and s.compare_label != "previous"]

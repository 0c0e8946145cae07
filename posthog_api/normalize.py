"""PostHog insight and dashboard payloads -> the content model in `content.py`.

Two rules shape this module:
- A payload that is not an insight (not an object, no id) raises `PostHogPayloadError`: the caller asked for
  something and got something else.
- An insight we cannot draw (no results yet, a kind we do not support, results in an unexpected shape) becomes
  `ChartKind.UNSUPPORTED` with a reason, so that one odd tile never breaks a whole dashboard delivery.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .content import (
    ChartKind,
    Dashboard,
    FunnelBreakdown,
    FunnelStep,
    Insight,
    PathLink,
    RetentionRow,
    Series,
    Table,
    Tile,
)
from .daterange import describe_date_range
from .errors import PostHogPayloadError

UNTITLED = "Untitled insight"

_TRENDS_DISPLAYS: dict[str, ChartKind] = {
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
}
_AGGREGATED = {ChartKind.PIE, ChartKind.NUMBER, ChartKind.VALUE_BARS, ChartKind.TABLE, ChartKind.WORLD_MAP}

_QUERY_KINDS = {
    "TrendsQuery": "TRENDS",
    "FunnelsQuery": "FUNNELS",
    "RetentionQuery": "RETENTION",
    "LifecycleQuery": "LIFECYCLE",
    "StickinessQuery": "STICKINESS",
    "PathsQuery": "PATHS",
}
_TYPE_WORDS = {
    "TRENDS": "trends",
    "FUNNELS": "funnel",
    "RETENTION": "retention",
    "LIFECYCLE": "lifecycle",
    "STICKINESS": "stickiness",
    "PATHS": "paths",
    "SQL": "SQL",
}

# Breakdown values PostHog uses for "no value" and "everything else", shown as these words in its UI.
_BREAKDOWN_WORDS = {
    "$$_posthog_breakdown_other_$$": "Other",
    "$$_posthog_breakdown_null_$$": "None",
    "": "None",
}


class _Shape(Exception):
    """Results that do not have the shape their insight type promises; becomes UNSUPPORTED."""


@dataclass(slots=True)
class _Spec:
    """What the chart definition (query or legacy filters) says, independent of its format."""

    insight_type: str = "TRENDS"
    display: str | None = None
    interval: str | None = None
    date_from: object = None
    date_to: object = None
    compare: bool = False
    hidden_indexes: set[int] = field(default_factory=set)
    customization_by: str | None = None  # resultCustomizationBy: "value" (default) or "position"
    hidden_value_keys: set[str] = field(default_factory=set)
    funnel_viz_type: str = "steps"
    funnel_layout: str = "vertical"
    optional_steps: set[int] = field(default_factory=set)
    retention_period: str = "Day"
    toggled_lifecycles: list[str] | None = None
    sql_chart: bool = False
    sql_x: str | None = None
    sql_y: list[str] = field(default_factory=list)
    unsupported: str = ""


# ---------------------------------------------------------------- small readers


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _num(value: object) -> float:
    """A chart value. null (no data for that point) counts as 0; anything non-numeric is a shape error."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Shape(f"expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise _Shape("expected a finite number")
    return number


def _int(value: object) -> int:
    number = _num(value)
    return int(number)


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Shape(f"expected {what}")
    return value


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Shape(f"expected {what}")
    return value


def _truthy_flag(value: object) -> bool:
    # PostHog stores some flags as strings ("optionalInFunnel": "true").
    return value is True or (isinstance(value, str) and value.lower() == "true")


def breakdown_label(value: object) -> str:
    """A breakdown value as PostHog shows it: lists joined, its null/other markers in words."""
    if isinstance(value, list):
        return ", ".join(breakdown_label(v) for v in value) or "None"
    if value is None:
        return "None"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return _BREAKDOWN_WORDS.get(text, text)


def _int_set(values: object) -> set[int]:
    out: set[int] = set()
    for v in values if isinstance(values, list) else []:
        if isinstance(v, int) and not isinstance(v, bool):
            out.add(v)
    return out


# ---------------------------------------------------------------- chart definitions


def _spec_from_query(query: dict[str, Any]) -> _Spec:
    spec = _Spec()
    kind = query.get("kind")
    if kind in ("DataTableNode", "DataVisualizationNode"):
        source = _dict(query.get("source"))
        if source.get("kind") != "HogQLQuery":
            source_kind = source.get("kind")
            what = source_kind if isinstance(source_kind, str) and source_kind else "this kind"
            spec.unsupported = f"Tables of {what} are not supported yet; only SQL tables are."
            return spec
        spec.insight_type = "SQL"
        # PostHog draws a DataVisualizationNode as a table unless a chart display was chosen.
        display = query.get("display")
        spec.sql_chart = kind == "DataVisualizationNode" and display not in (None, "ActionsTable")
        settings = _dict(query.get("chartSettings"))
        spec.sql_x = _text(_dict(settings.get("xAxis")).get("column"))
        y_axes = settings.get("yAxis")
        for y in y_axes if isinstance(y_axes, list) else []:
            if column := _text(_dict(y).get("column")):
                spec.sql_y.append(column)
        return spec
    source = _dict(query.get("source")) if kind == "InsightVizNode" else query
    source_kind = source.get("kind")
    if not isinstance(source_kind, str) or source_kind not in _QUERY_KINDS:
        what = source_kind if isinstance(source_kind, str) else kind if isinstance(kind, str) else None
        spec.unsupported = (
            f"PostHog {what} insights are not supported yet."
            if what
            else "This insight's query has no kind we recognise, so we cannot tell how to draw it."
        )
        return spec
    spec.insight_type = _QUERY_KINDS[source_kind]
    date_range = _dict(source.get("dateRange"))
    spec.date_from, spec.date_to = date_range.get("date_from"), date_range.get("date_to")
    spec.interval = _text(source.get("interval"))

    trends = _dict(source.get("trendsFilter"))
    stickiness = _dict(source.get("stickinessFilter"))
    spec.display = _text(trends.get("display")) or _text(stickiness.get("display"))
    spec.compare = bool(_dict(source.get("compareFilter")).get("compare") is True or trends.get("compare") is True)
    for f in (trends, stickiness):
        spec.hidden_indexes |= _int_set(f.get("hiddenLegendIndexes") or f.get("hidden_legend_indexes"))
    spec.customization_by = _text(trends.get("resultCustomizationBy"))
    for key, custom in _dict(trends.get("resultCustomizations")).items():
        if isinstance(key, str) and _dict(custom).get("hidden") is True:
            if key.isascii() and key.isdigit() and spec.customization_by == "position":
                spec.hidden_indexes.add(int(key))
            else:
                spec.hidden_value_keys.add(key)

    funnels = _dict(source.get("funnelsFilter"))
    spec.funnel_viz_type = _text(funnels.get("funnelVizType")) or "steps"
    spec.funnel_layout = _text(funnels.get("layout")) or "vertical"
    series = source.get("series")
    for i, node in enumerate(series if isinstance(series, list) else []):
        if _truthy_flag(_dict(node).get("optionalInFunnel")):
            spec.optional_steps.add(i)

    spec.retention_period = _text(_dict(source.get("retentionFilter")).get("period")) or "Day"
    toggled = _dict(source.get("lifecycleFilter")).get("toggledLifecycles")
    if isinstance(toggled, list):
        spec.toggled_lifecycles = [t for t in toggled if isinstance(t, str)]
    return spec


def _spec_from_filters(filters: dict[str, Any]) -> _Spec:
    spec = _Spec()
    insight = filters.get("insight")
    if insight is None:
        insight = "TRENDS"  # PostHog's default insight type
    spec.insight_type = insight.upper() if isinstance(insight, str) else ""
    if spec.insight_type not in _TYPE_WORDS or spec.insight_type == "SQL":
        spec.unsupported = (
            f"PostHog {insight} insights are not supported yet."
            if isinstance(insight, str) and insight
            else "This kind of PostHog insight is not supported yet."
        )
        return spec
    spec.display = _text(filters.get("display"))
    spec.interval = _text(filters.get("interval"))
    spec.date_from, spec.date_to = filters.get("date_from"), filters.get("date_to")
    spec.compare = filters.get("compare") is True
    for key, hidden in _dict(filters.get("hidden_legend_keys")).items():
        if hidden is True and isinstance(key, str) and key.isascii() and key.isdigit():
            spec.hidden_indexes.add(int(key))
    spec.hidden_indexes |= _int_set(filters.get("hidden_legend_indexes"))
    spec.funnel_viz_type = _text(filters.get("funnel_viz_type")) or "steps"
    spec.funnel_layout = _text(filters.get("layout")) or "vertical"
    entities = [e for key in ("events", "actions") for e in _list_or_empty(filters.get(key))]
    entities.sort(key=lambda e: e.get("order") if isinstance(e.get("order"), int) else 0)
    for i, entity in enumerate(entities):
        if _truthy_flag(entity.get("optionalInFunnel")):
            spec.optional_steps.add(i)
    spec.retention_period = _text(filters.get("period")) or "Day"
    toggled = filters.get("toggledLifecycles")
    if isinstance(toggled, list):
        spec.toggled_lifecycles = [t for t in toggled if isinstance(t, str)]
    return spec


def _list_or_empty(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# ---------------------------------------------------------------- results, per insight type


def _series_key(raw: dict[str, Any], index: int) -> str:
    """PostHog's resultCustomizations key for a series customized "by value" (frontend getTrendDatasetKey)."""
    order = _dict(raw.get("action")).get("order")
    payload: dict[str, Any] = {
        "series": order if isinstance(order, int) else ("formula" if index == 0 else f"formula{index + 1}")
    }
    if "breakdown_value" in raw:
        value = raw["breakdown_value"]
        payload["breakdown_value"] = value if isinstance(value, list) else [value]
    if "compare_label" in raw:
        payload["compare_label"] = raw["compare_label"]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _trends(insight: Insight, result: object, spec: _Spec) -> None:
    if spec.insight_type == "LIFECYCLE":
        insight.kind = ChartKind.LIFECYCLE
    elif spec.insight_type == "STICKINESS":
        insight.kind = ChartKind.STICKINESS
    elif spec.display is None:
        insight.kind = ChartKind.LINE  # PostHog's default display
    elif spec.display in _TRENDS_DISPLAYS:
        insight.kind = _TRENDS_DISPLAYS[spec.display]
    else:
        insight.kind = ChartKind.UNSUPPORTED
        insight.unsupported_reason = f"The {spec.display} display of trends insights is not supported yet."
        return

    rows = _list(result, "a list of series")
    aggregated = insight.kind in _AGGREGATED
    for index, item in enumerate(rows):
        raw = _obj(item, "each series to be an object")
        action = _dict(raw.get("action"))
        custom = _text(action.get("custom_name"))
        label = custom or _text(raw.get("label")) or _text(action.get("name")) or f"Series {index + 1}"
        breakdown = breakdown_label(raw["breakdown_value"]) if raw.get("breakdown_value") is not None else None
        if custom and breakdown is not None:
            label = f"{custom} - {breakdown}"
        status = _text(raw.get("status"))
        if insight.kind is ChartKind.LIFECYCLE and status:
            label = status.capitalize()
        values = [_num(v) for v in _list(raw.get("data", []), "a list of data points")]
        value: float | None = None
        if aggregated:
            agg = raw.get("aggregated_value")
            value = _num(agg if agg is not None else raw.get("count", sum(values)))
        hidden = index in spec.hidden_indexes or (
            spec.customization_by != "position" and _series_key(raw, index) in spec.hidden_value_keys
        )
        if spec.toggled_lifecycles is not None and status and status not in spec.toggled_lifecycles:
            hidden = True
        compare_label = _text(raw.get("compare_label"))
        insight.series.append(
            Series(
                label=label,
                values=values,
                aggregated_value=value,
                breakdown_value=breakdown,
                compare_label=compare_label,
                status=status,
                hidden=hidden,
            )
        )
        if not insight.x_labels and not aggregated:
            labels = raw.get("labels") or raw.get("days") or []
            insight.x_labels = [str(x) for x in _list(labels, "a list of x labels")]

    if insight.kind is ChartKind.NUMBER:
        # One big number: the current period is drawn, the previous one is its comparison.
        previous = [s for s in insight.series if s.compare_label == "previous"]
        if previous:
            insight.previous_value = previous[0].aggregated_value
            insight.series = [s for s in insight.series if s.compare_label != "previous"]


def _funnel_steps(group: list[Any], spec: _Spec) -> FunnelBreakdown:
    steps_raw = [_obj(s, "each funnel step to be an object") for s in group]
    steps_raw.sort(key=lambda s: s.get("order") if isinstance(s.get("order"), int) else 0)
    label = (
        breakdown_label(steps_raw[0]["breakdown_value"]) if steps_raw and ("breakdown_value" in steps_raw[0]) else None
    )
    counts = [_int(s.get("count")) for s in steps_raw]
    steps: list[FunnelStep] = []
    for j, (raw, count) in enumerate(zip(steps_raw, counts, strict=True)):
        name = _text(raw.get("custom_name")) or _text(raw.get("name")) or f"Step {j + 1}"
        first, previous = counts[0], counts[j - 1] if j else counts[0]
        median, average = raw.get("median_conversion_time"), raw.get("average_conversion_time")
        steps.append(
            FunnelStep(
                name=name,
                count=count,
                conversion_from_first=count / first if first else 0.0,
                conversion_from_previous=count / previous if previous else 0.0,
                median_conversion_seconds=None if median is None else _num(median),
                average_conversion_seconds=None if average is None else _num(average),
                optional=j in spec.optional_steps,
            )
        )
    return FunnelBreakdown(label=label, steps=steps)


def _funnel(insight: Insight, result: object, spec: _Spec) -> None:
    insight.funnel_layout = "horizontal" if spec.funnel_layout == "horizontal" else "vertical"
    if spec.funnel_viz_type == "trends":
        # Conversion rate over time: a line per breakdown, same shape as a trends result.
        spec.display = "ActionsLineGraph"
        _trends(insight, result, spec)
        return
    if spec.funnel_viz_type != "steps":
        insight.kind = ChartKind.UNSUPPORTED
        insight.unsupported_reason = "Time-to-convert funnels are not supported yet; steps funnels are."
        return
    insight.kind = ChartKind.FUNNEL
    rows = _list(result, "a list of funnel steps")
    # With a breakdown, PostHog returns one list of steps per breakdown value.
    groups = rows if rows and all(isinstance(r, list) for r in rows) else [rows]
    insight.funnel = [_funnel_steps(group, spec) for group in groups]


def _retention(insight: Insight, result: object, spec: _Spec) -> None:
    insight.kind = ChartKind.RETENTION
    insight.retention_period = spec.retention_period
    for index, item in enumerate(_list(result, "a list of cohorts")):
        raw = _obj(item, "each cohort to be an object")
        cells = _list(raw.get("values", []), "a list of retention values")
        counts = [_int(c.get("count") if isinstance(c, dict) else c) for c in cells]
        date = raw.get("date")
        insight.retention.append(
            RetentionRow(
                label=_text(raw.get("label")) or f"{spec.retention_period} {index}",
                date=date[:10] if isinstance(date, str) else "",
                cohort_size=counts[0] if counts else 0,
                counts=counts,
            )
        )


def _paths(insight: Insight, result: object) -> None:
    insight.kind = ChartKind.PATHS
    for item in _list(result, "a list of path links"):
        raw = _obj(item, "each path link to be an object")
        source, target = raw.get("source"), raw.get("target")
        if not isinstance(source, str) or not isinstance(target, str):
            raise _Shape("expected path links with a source and a target")
        insight.paths.append(PathLink(source=source, target=target, value=_int(raw.get("value"))))


def _sql(insight: Insight, payload: dict[str, Any], result: object, spec: _Spec) -> None:
    insight.kind = ChartKind.SQL_CHART if spec.sql_chart else ChartKind.SQL_TABLE
    rows_raw = _list(result, "a list of rows")
    columns_raw = payload.get("columns")
    columns = [str(c) for c in columns_raw] if isinstance(columns_raw, list) else []
    rows: list[list[object]] = []
    for item in rows_raw:
        if isinstance(item, dict):
            if not columns:
                columns = [str(k) for k in item]
            rows.append([item.get(c) for c in columns])
        else:
            rows.append(list(_list(item, "each row to be a list")))
    width = max((len(r) for r in rows), default=len(columns))
    columns += [f"Column {i + 1}" for i in range(len(columns), width)]
    insight.table = Table(columns=columns, rows=rows)
    if spec.sql_chart:
        _sql_series(insight, spec)


def _sql_series(insight: Insight, spec: _Spec) -> None:
    """Chart axes for a SQL chart: the chosen columns, else the first column against the numeric ones."""
    table = insight.table
    assert table is not None
    cols = table.columns
    x = cols.index(spec.sql_x) if spec.sql_x in cols else 0
    if spec.sql_y:
        ys = [cols.index(c) for c in spec.sql_y if c in cols]
    else:
        ys = [
            i
            for i in range(len(cols))
            if i != x
            and table.rows
            and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in table.rows if i < len(r))
        ]
    insight.x_labels = [str(r[x]) if x < len(r) else "" for r in table.rows]
    for i in ys:
        values = [_num(r[i]) if i < len(r) and isinstance(r[i], int | float) else 0.0 for r in table.rows]
        insight.series.append(Series(label=cols[i], values=values))


# ---------------------------------------------------------------- public entry points


def _identity(payload: object, what: str) -> tuple[dict[str, Any], int]:
    if not isinstance(payload, dict):
        raise PostHogPayloadError(f"PostHog returned {type(payload).__name__} where {what} object was expected.")
    raw_id = payload.get("id")
    if isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdigit():
        raw_id = int(raw_id)
    if not isinstance(raw_id, int) or isinstance(raw_id, bool):
        raise PostHogPayloadError(f"PostHog returned an object without a numeric id where {what} was expected.")
    return payload, raw_id


def _link(base_url: str, project_id: int | None, path: str) -> str:
    if not base_url:
        return ""
    base = base_url.rstrip("/")
    # Without a project PostHog's /insights/<short_id> and /dashboard/<id> redirect to the current project.
    return f"{base}/project/{project_id}/{path}" if project_id is not None else f"{base}/{path}"


def normalize_insight(
    payload: object,
    *,
    base_url: str = "",
    project_id: int | None = None,
    date_override: tuple[object, object] | None = None,
) -> Insight:
    """One insight payload (GET /api/projects/{pid}/insights/{id}/) -> `Insight`. `date_override`: the
    (date_from, date_to) it was asked for with (`filters_override`), which its date range then says."""
    return _normalize_insight(payload, base_url=base_url, project_id=project_id, date_override=date_override)


def _normalize_insight(
    payload: object, *, base_url: str, project_id: int | None, date_override: tuple[object, object] | None
) -> Insight:
    data, insight_id = _identity(payload, "an insight")
    short_id = data.get("short_id") if isinstance(data.get("short_id"), str) else ""
    name = _text(data.get("name")) or _text(data.get("derived_name")) or UNTITLED
    insight = Insight(
        id=insight_id,
        short_id=short_id,
        name=name.strip(),
        kind=ChartKind.UNSUPPORTED,
        description=data.get("description") if isinstance(data.get("description"), str) else "",
        last_refresh=_text(data.get("last_refresh")),
        url=_link(base_url, project_id, f"insights/{short_id}") if short_id else "",
    )

    query, filters = data.get("query"), data.get("filters")
    if isinstance(query, dict) and query.get("kind"):
        spec = _spec_from_query(query)
    elif isinstance(filters, dict) and filters:
        spec = _spec_from_filters(filters)
    else:
        insight.unsupported_reason = "This insight has no chart definition (neither a query nor filters)."
        return insight
    if spec.unsupported:
        insight.unsupported_reason = spec.unsupported
        return insight

    insight.interval = spec.interval
    if spec.insight_type != "SQL":
        date_from, date_to = date_override or (spec.date_from, spec.date_to)
        insight.date_range = describe_date_range(date_from, date_to)

    result = data["result"] if "result" in data else data.get("results")
    if result is None:
        insight.unsupported_reason = (
            "PostHog has not calculated this insight yet. Open it in PostHog to refresh it, then try again."
        )
        return insight

    try:
        if spec.insight_type in ("TRENDS", "LIFECYCLE", "STICKINESS"):
            _trends(insight, result, spec)
        elif spec.insight_type == "FUNNELS":
            _funnel(insight, result, spec)
        elif spec.insight_type == "RETENTION":
            _retention(insight, result, spec)
        elif spec.insight_type == "PATHS":
            _paths(insight, result)
        else:
            _sql(insight, data, result, spec)
    except _Shape as exc:
        return Insight(
            id=insight.id,
            short_id=insight.short_id,
            name=insight.name,
            kind=ChartKind.UNSUPPORTED,
            description=insight.description,
            date_range=insight.date_range,
            interval=insight.interval,
            last_refresh=insight.last_refresh,
            url=insight.url,
            unsupported_reason=(
                f"PostHog returned results for this {_TYPE_WORDS[spec.insight_type]} insight in a shape we "
                f"cannot read ({exc})."
            ),
        )
    return insight


def _layout(tile: dict[str, Any]) -> dict[str, int] | None:
    layouts = _dict(tile.get("layouts"))
    sm = _dict(layouts.get("sm"))
    values = {k: sm.get(k) for k in ("x", "y", "w", "h")}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
        return values  # type: ignore[return-value]
    return None


def normalize_dashboard(
    payload: object,
    *,
    base_url: str = "",
    project_id: int | None = None,
    date_override: tuple[object, object] | None = None,
) -> Dashboard:
    """One dashboard payload (GET /api/projects/{pid}/dashboards/{id}/) -> `Dashboard`, tiles in grid order.
    `date_override`: the (date_from, date_to) it was asked for with, which replaces the dashboard's own."""
    data, dashboard_id = _identity(payload, "a dashboard")
    dashboard = Dashboard(
        id=dashboard_id,
        name=_text(data.get("name")) or f"Dashboard {dashboard_id}",
        description=data.get("description") if isinstance(data.get("description"), str) else "",
        url=_link(base_url, project_id, f"dashboard/{dashboard_id}"),
    )
    # A date range set on the dashboard overrides its insights' own ranges, as in PostHog.
    filters = _dict(data.get("filters"))
    override = (filters["date_from"], filters.get("date_to")) if _text(filters.get("date_from")) else None
    if date_override is not None and _text(date_override[0]):
        override = date_override
    if override is not None:
        dashboard.date_range = describe_date_range(*override)

    tiles = data.get("tiles")
    if tiles is None and isinstance(data.get("items"), list):
        # Old PostHog versions listed insights as `items`, each with its own `layouts`.
        tiles = [
            {"id": item.get("id"), "insight": item, "layouts": item.get("layouts")}
            for item in data["items"]
            if isinstance(item, dict)
        ]
    if tiles is None:
        tiles = []
    if not isinstance(tiles, list):
        raise PostHogPayloadError(f"Dashboard {dashboard_id} from PostHog has tiles that are not a list.")

    placed: list[Tile] = []
    unplaced: list[Tile] = []
    for index, raw in enumerate(tiles):
        if not isinstance(raw, dict) or raw.get("deleted") is True:
            continue
        insight_payload, text = raw.get("insight"), _dict(raw.get("text"))
        insight = None
        if isinstance(insight_payload, dict):
            if insight_payload.get("deleted") is True:
                continue
            insight = _normalize_insight(
                insight_payload, base_url=base_url, project_id=project_id, date_override=override
            )
        body = text.get("body") if isinstance(text.get("body"), str) else None
        if insight is None and body is None:
            continue  # an empty tile: nothing to show
        tile_id = raw.get("id") if isinstance(raw.get("id"), int) and not isinstance(raw.get("id"), bool) else index
        layout = _layout(raw)
        tile = Tile(id=tile_id, x=0, y=0, w=12, h=5, insight=insight, text=body)
        if layout:
            tile.x, tile.y, tile.w, tile.h = layout["x"], layout["y"], layout["w"], layout["h"]
            placed.append(tile)
        else:
            unplaced.append(tile)
    placed.sort(key=lambda t: (t.y, t.x))  # stable: equal positions keep payload order
    bottom = max((t.y + t.h for t in placed), default=0)
    for tile in unplaced:  # stacked full width below the laid-out tiles
        tile.y, bottom = bottom, bottom + tile.h
    dashboard.tiles = placed + unplaced
    return dashboard

"""What a chart definition says (the current `query` tree or the legacy `filters` dict), in one `Spec`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..content import Formatting
from . import options
from .readers import as_dict, dicts, int_set, text, truthy_flag

# Query kinds of insight visualisations -> the insight type PostHog's legacy filters call them.
QUERY_KINDS = {
    "TrendsQuery": "TRENDS",
    "FunnelsQuery": "FUNNELS",
    "RetentionQuery": "RETENTION",
    "LifecycleQuery": "LIFECYCLE",
    "StickinessQuery": "STICKINESS",
    "PathsQuery": "PATHS",
}
# Sources of DataTableNode / DataVisualizationNode -> the insight type their reader handles.
TABLE_SOURCES = {
    "HogQLQuery": "SQL",
    "EventsQuery": "EVENTS",
    "ActorsQuery": "ACTORS",
    "PersonsQuery": "ACTORS",
    "WebStatsTableQuery": "WEB_STATS",
    "WebGoalsQuery": "WEB_STATS",
    "WebExternalClicksTableQuery": "WEB_STATS",
    "WebOverviewQuery": "WEB_OVERVIEW",
}
# PostHog's date range when a query has none, per insight type (retention counts its intervals instead).
DEFAULT_DATE_FROM = {
    "TRENDS": "-7d",
    "FUNNELS": "-7d",
    "LIFECYCLE": "-7d",
    "STICKINESS": "-7d",
    "PATHS": "-7d",
    "EVENTS": "-24h",  # PostHog's events table shows the last 24 hours unless told otherwise
    "WEB_STATS": "-7d",
    "WEB_OVERVIEW": "-7d",
}
NO_DATE_RANGE = {"SQL", "ACTORS"}  # a SQL query says its own period; a list of persons has none
TYPE_WORDS = {
    "TRENDS": "trends",
    "FUNNELS": "funnel",
    "RETENTION": "retention",
    "LIFECYCLE": "lifecycle",
    "STICKINESS": "stickiness",
    "PATHS": "paths",
    "SQL": "SQL",
    "EVENTS": "events",
    "ACTORS": "persons",
    "WEB_STATS": "web analytics",
    "WEB_OVERVIEW": "web analytics",
}


@dataclass(slots=True)
class Spec:
    """What the chart definition says, independent of its format."""

    insight_type: str = "TRENDS"
    source: dict[str, Any] = field(default_factory=dict)  # the query's source node ({} for legacy filters)
    query: dict[str, Any] = field(default_factory=dict)  # the whole query node ({} for legacy filters)
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
    formatting: Formatting = field(default_factory=Formatting)
    colors_by_key: dict[str, str] = field(default_factory=dict)  # resultCustomizations by value: key -> colour
    colors_by_position: dict[int, str] = field(default_factory=dict)
    total_intervals: int | None = None  # retention: how many periods (cohorts) it shows
    on_dashboard: bool = False  # drawn as a dashboard tile (PostHog's card view), not as the insight itself
    # (custom_name, name) of each series as defined (query `series`, legacy `filters.events`/`actions`) by its
    # order, in order: the names PostHog shows when a result does not carry them itself
    series_names: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    unsupported: str = ""


def from_query(query: dict[str, Any]) -> Spec:
    spec = Spec(query=query)
    kind = query.get("kind")
    if isinstance(kind, str) and kind in TABLE_SOURCES:
        query = {"kind": "DataTableNode", "source": query}  # a bare table query, as web analytics tiles save them
        kind = "DataTableNode"
    if kind in ("DataTableNode", "DataVisualizationNode"):
        source = as_dict(query.get("source"))
        spec.source = source
        source_kind = source.get("kind")
        if not isinstance(source_kind, str) or source_kind not in TABLE_SOURCES:
            what = source_kind if isinstance(source_kind, str) and source_kind else "this kind"
            spec.unsupported = f"Tables of {what} are not supported yet."
            return spec
        spec.insight_type = TABLE_SOURCES[source_kind]
        date_range = as_dict(source.get("dateRange"))
        # EventsQuery says its period with `after`/`before`; web analytics queries with a dateRange.
        spec.date_from = date_range.get("date_from", source.get("after"))
        spec.date_to = date_range.get("date_to", source.get("before"))
        if spec.insight_type == "SQL":
            spec.date_from = spec.date_to = None
            _read_sql_chart(spec, query, kind)
        return spec
    source = as_dict(query.get("source")) if kind == "InsightVizNode" else query
    spec.source = source
    source_kind = source.get("kind")
    if not isinstance(source_kind, str) or source_kind not in QUERY_KINDS:
        what = source_kind if isinstance(source_kind, str) else kind if isinstance(kind, str) else None
        spec.unsupported = (
            f"PostHog {what} insights are not supported yet."
            if what
            else "This insight's query has no kind we recognise, so we cannot tell how to draw it."
        )
        return spec
    spec.insight_type = QUERY_KINDS[source_kind]
    date_range = as_dict(source.get("dateRange"))
    spec.date_from, spec.date_to = date_range.get("date_from"), date_range.get("date_to")
    spec.interval = text(source.get("interval"))

    trends = as_dict(source.get("trendsFilter"))
    stickiness = as_dict(source.get("stickinessFilter"))
    lifecycle = as_dict(source.get("lifecycleFilter"))  # showValuesOnSeries, showLegend as on trends
    spec.display = text(trends.get("display")) or text(stickiness.get("display"))
    spec.compare = bool(as_dict(source.get("compareFilter")).get("compare") is True or trends.get("compare") is True)
    for f in (trends, stickiness):
        spec.hidden_indexes |= int_set(f.get("hiddenLegendIndexes") or f.get("hidden_legend_indexes"))
    spec.customization_by = text(trends.get("resultCustomizationBy"))
    for key, custom in as_dict(trends.get("resultCustomizations")).items():
        if not isinstance(key, str):
            continue
        by_position = key.isascii() and key.isdigit() and spec.customization_by == "position"
        if as_dict(custom).get("hidden") is True:
            if by_position:
                spec.hidden_indexes.add(int(key))
            else:
                spec.hidden_value_keys.add(key)
        if chosen := options.color(as_dict(custom).get("color")):
            if by_position:
                spec.colors_by_position[int(key)] = chosen
            else:
                spec.colors_by_key[key] = chosen
    spec.formatting = options.from_trends_filter(trends or stickiness or lifecycle)
    _read_stacking(spec)

    funnels = as_dict(source.get("funnelsFilter"))
    spec.funnel_viz_type = text(funnels.get("funnelVizType")) or "steps"
    spec.funnel_layout = text(funnels.get("layout")) or "vertical"
    for i, node in enumerate(source.get("series") if isinstance(source.get("series"), list) else []):
        if truthy_flag(as_dict(node).get("optionalInFunnel")):
            spec.optional_steps.add(i)
        node = as_dict(node)
        spec.series_names[i] = (text(node.get("custom_name")), text(node.get("name")) or text(node.get("event")))

    retention = as_dict(source.get("retentionFilter"))
    spec.retention_period = text(retention.get("period")) or "Day"
    if source_kind == "RetentionQuery":
        spec.display = text(retention.get("display"))
        spec.total_intervals = _positive(retention.get("totalIntervals"))
    toggled = as_dict(source.get("lifecycleFilter")).get("toggledLifecycles")
    if isinstance(toggled, list):
        spec.toggled_lifecycles = [t for t in toggled if isinstance(t, str)]
    return spec


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _read_stacking(spec: Spec) -> None:
    if spec.display == "ActionsStackedBar":
        spec.formatting.stacked = True
    elif spec.display == "ActionsUnstackedBar":
        spec.formatting.stacked = False


def _read_sql_chart(spec: Spec, query: dict[str, Any], kind: object) -> None:
    # PostHog draws a DataVisualizationNode as a table unless a chart display was chosen.
    display = query.get("display")
    spec.display = text(display)
    spec.sql_chart = kind == "DataVisualizationNode" and display not in (None, "ActionsTable")
    settings = as_dict(query.get("chartSettings"))
    spec.sql_x = text(as_dict(settings.get("xAxis")).get("column"))
    y_axes = settings.get("yAxis")
    for y in y_axes if isinstance(y_axes, list) else []:
        if column := text(as_dict(y).get("column")):
            spec.sql_y.append(column)
            chosen = options.color(as_dict(as_dict(as_dict(y).get("settings")).get("display")).get("color"))
            if chosen:
                spec.colors_by_key[column] = chosen
    spec.formatting = options.from_chart_settings(settings)
    _read_stacking(spec)


def from_filters(filters: dict[str, Any]) -> Spec:
    spec = Spec()
    insight = filters.get("insight")
    if insight is None:
        insight = "TRENDS"  # PostHog's default insight type
    spec.insight_type = insight.upper() if isinstance(insight, str) else ""
    if spec.insight_type not in TYPE_WORDS or spec.insight_type == "SQL":
        spec.unsupported = (
            f"PostHog {insight} insights are not supported yet."
            if isinstance(insight, str) and insight
            else "This kind of PostHog insight is not supported yet."
        )
        return spec
    spec.display = text(filters.get("display"))
    spec.interval = text(filters.get("interval"))
    spec.date_from, spec.date_to = filters.get("date_from"), filters.get("date_to")
    spec.compare = filters.get("compare") is True
    for key, hidden in as_dict(filters.get("hidden_legend_keys")).items():
        if hidden is True and isinstance(key, str) and key.isascii() and key.isdigit():
            spec.hidden_indexes.add(int(key))
    spec.hidden_indexes |= int_set(filters.get("hidden_legend_indexes"))
    spec.funnel_viz_type = text(filters.get("funnel_viz_type")) or "steps"
    spec.funnel_layout = text(filters.get("layout")) or "vertical"
    entities = [e for key in ("events", "actions") for e in dicts(filters.get(key))]
    entities.sort(key=lambda e: e.get("order") if isinstance(e.get("order"), int) else 0)
    for i, entity in enumerate(entities):
        if truthy_flag(entity.get("optionalInFunnel")):
            spec.optional_steps.add(i)
        order = entity.get("order")
        key = order if isinstance(order, int) and not isinstance(order, bool) and order not in spec.series_names else i
        names = (text(entity.get("custom_name")), text(entity.get("name")) or text(entity.get("id")))
        spec.series_names.setdefault(key, names)
    spec.retention_period = text(filters.get("period")) or "Day"
    spec.total_intervals = _positive(filters.get("total_intervals"))
    spec.formatting = options.from_filters(filters)
    _read_stacking(spec)
    toggled = filters.get("toggledLifecycles")
    if isinstance(toggled, list):
        spec.toggled_lifecycles = [t for t in toggled if isinstance(t, str)]
    return spec

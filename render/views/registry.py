"""One line per kind: which builder draws each `ChartKind`. Adding a kind is a builder module and a line here."""

from __future__ import annotations

from collections.abc import Callable

from posthog_api.content import ChartKind, Insight

from . import calendar, funnels, maps, paths, retention, sql, tables, trends, web
from .model import InsightView
from .unsupported import unsupported

Builder = Callable[[Insight, InsightView, int], None]

BUILDERS: dict[ChartKind, Builder] = {
    ChartKind.LINE: trends.graph,
    ChartKind.BAR: trends.graph,
    ChartKind.AREA: trends.graph,
    ChartKind.CUMULATIVE: trends.graph,
    ChartKind.STICKINESS: trends.graph,
    ChartKind.PIE: trends.pie,
    ChartKind.NUMBER: trends.number,
    ChartKind.VALUE_BARS: trends.value_bars,
    ChartKind.LIFECYCLE: trends.lifecycle,
    ChartKind.TABLE: tables.trends_table,
    ChartKind.SQL_TABLE: tables.sql_table,
    ChartKind.WORLD_MAP: maps.world_map,
    ChartKind.FUNNEL: funnels.funnel,
    ChartKind.RETENTION: retention.retention,
    ChartKind.PATHS: paths.paths,
    ChartKind.SQL_CHART: sql.sql_chart,
    ChartKind.CALENDAR_HEATMAP: calendar.heatmap,
    ChartKind.FUNNEL_TIME: funnels.time_to_convert,
    ChartKind.RETENTION_GRAPH: retention.graph,
    ChartKind.EVENTS_TABLE: tables.events_table,
    ChartKind.WEB_OVERVIEW: web.overview,
    ChartKind.UNSUPPORTED: unsupported,
}

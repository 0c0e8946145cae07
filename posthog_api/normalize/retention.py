"""Retention results: one cohort row per start period, with the count still active each period after."""

from __future__ import annotations

from typing import Any

from ..content import ChartKind, Insight, RetentionRow
from .readers import as_dict, as_list, integer, obj, text
from .spec import Spec

GRAPH_ON_DASHBOARDS = {"graph_only", "all"}  # PostHog's RetentionDashboardDisplayType, but table_only


def shows(spec: Spec) -> tuple[bool, bool]:
    """(graph, table): what PostHog's RetentionContainer shows. The insight itself: its graph above the cohort
    table. A dashboard tile: what its `dashboardDisplay` says, the table (table_only, or unset: dashboards showed
    only the table before the option existed), the graph (graph_only) or both (all). The query's
    `vizSpecificOptions.RETENTION.hideLineGraph` hides the graph everywhere; something is always shown."""
    on_dashboards = text(as_dict(spec.source.get("retentionFilter")).get("dashboardDisplay"))
    if spec.on_dashboard:
        graph, table = on_dashboards in GRAPH_ON_DASHBOARDS, on_dashboards != "graph_only"
    else:
        graph = table = True
    if as_dict(as_dict(spec.query.get("vizSpecificOptions")).get("RETENTION")).get("hideLineGraph") is True:
        graph = False
    return graph, table or not graph


def read(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    graph, table = shows(spec)  # the graph is a line unless the display says bars
    insight.kind = ChartKind.RETENTION_GRAPH if graph else ChartKind.RETENTION
    insight.retention_table = graph and table
    insight.display = spec.display
    insight.retention_period = spec.retention_period
    for index, item in enumerate(as_list(result, "a list of cohorts")):
        raw = obj(item, "each cohort to be an object")
        cells = as_list(raw.get("values", []), "a list of retention values")
        counts = [integer(c.get("count") if isinstance(c, dict) else c) for c in cells]
        date = raw.get("date")
        insight.retention.append(
            RetentionRow(
                label=text(raw.get("label")) or f"{spec.retention_period} {index}",
                date=date[:10] if isinstance(date, str) else "",
                cohort_size=counts[0] if counts else 0,
                counts=counts,
            )
        )

"""Retention results: one cohort row per start period, with the count still active each period after."""

from __future__ import annotations

from typing import Any

from ..content import ChartKind, Insight, RetentionRow
from .readers import as_dict, as_list, integer, obj, text
from .spec import Spec

GRAPH_DISPLAYS = {"ActionsLineGraph", "ActionsBar"}
GRAPH_ON_DASHBOARDS = {"graph_only", "all"}  # PostHog's RetentionDashboardDisplayType, but table_only


def read(insight: Insight, payload: dict[str, Any], result: object, spec: Spec) -> None:
    # PostHog shows retention as the cohort table, or as a graph when its display says so or it is set to show
    # its graph on dashboards (`dashboardDisplay`; the graph is then a line unless the display says bars).
    on_dashboards = text(as_dict(spec.source.get("retentionFilter")).get("dashboardDisplay"))
    graph = spec.display in GRAPH_DISPLAYS or on_dashboards in GRAPH_ON_DASHBOARDS
    insight.kind = ChartKind.RETENTION_GRAPH if graph else ChartKind.RETENTION
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

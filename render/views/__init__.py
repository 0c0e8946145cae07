"""Turn an `Insight` into what its exporter page draws: a plotly spec and/or plain HTML parts.

Pure Python: no templates and no browser here, so every kind can be checked quickly. One module per family
(`trends.py`, `funnels.py`, `retention.py`, `tables.py`, `maps.py`, `paths.py`, `sql.py`), shared plotly
building blocks in `charts.py`, the view dataclasses in `model.py`, and `registry.py` maps each kind to its
builder.
"""

from __future__ import annotations

from posthog_api.content import ChartKind, Insight

from .. import formatting as fmt
from ..theme import READABLE_MAX_WIDTH
from .model import (
    ChartView,
    FunnelBar,
    FunnelStepView,
    InsightView,
    LegendItem,
    NumberView,
    RetentionCell,
    RetentionRowView,
    RetentionView,
    TableView,
)
from .registry import BUILDERS
from .unsupported import unsupported

MAX_LEGEND_ITEMS = 60

__all__ = [
    "BUILDERS",
    "ChartView",
    "FunnelBar",
    "FunnelStepView",
    "InsightView",
    "LegendItem",
    "NumberView",
    "RetentionCell",
    "RetentionRowView",
    "RetentionView",
    "TableView",
    "build_view",
]


def build_view(insight: Insight, chart_width: int, *, time_zone: str | None = None) -> InsightView:
    """The view of `insight` drawn `chart_width` CSS px wide; `time_zone` (the subscription's) for "computed at"."""
    view = InsightView(
        title=insight.name or "Untitled insight",
        description=insight.description,
        meta=_meta(insight, time_zone),
        body="chart",
        url=insight.url,
    )
    builder = BUILDERS.get(insight.kind, unsupported)
    builder(insight, view, chart_width)
    view.min_width = min(view.min_width, READABLE_MAX_WIDTH)
    if len(view.legend) > MAX_LEGEND_ITEMS:
        view.legend_more = len(view.legend) - MAX_LEGEND_ITEMS
        view.legend = view.legend[:MAX_LEGEND_ITEMS]
    return view


_NO_INTERVAL = {  # kinds that show totals or steps, not a value per interval
    ChartKind.PIE,
    ChartKind.NUMBER,
    ChartKind.VALUE_BARS,
    ChartKind.TABLE,
    ChartKind.WORLD_MAP,
    ChartKind.RETENTION,
    ChartKind.RETENTION_GRAPH,
    ChartKind.PATHS,
    ChartKind.FUNNEL,
    ChartKind.FUNNEL_TIME,
    ChartKind.EVENTS_TABLE,
    ChartKind.WEB_OVERVIEW,
}


def _meta(insight: Insight, time_zone: str | None) -> list[str]:
    meta = []
    if insight.date_range:
        meta.append(insight.date_range)
    if insight.interval and insight.kind not in _NO_INTERVAL:
        meta.append(f"by {insight.interval}")
    refreshed = fmt.refreshed_at(insight.last_refresh, time_zone)
    if refreshed:
        meta.append(f"computed {refreshed}")
    return meta

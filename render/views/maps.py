"""World map: one value per country."""

from __future__ import annotations

from posthog_api.content import Insight

from .. import formatting as fmt
from . import charts, tables
from .model import InsightView


def world_map(insight: Insight, view: InsightView, chart_width: int) -> None:
    series = sorted(charts.visible(insight.series), key=charts.aggregated, reverse=True)
    if not series:
        charts.empty(view)
        return
    top = charts.aggregated(series[0]) or 1
    rows = [[fmt.cell(s.breakdown_value or s.label), fmt.number(charts.aggregated(s))] for s in series]
    tables.set_table(view, ["Country", "Value"], rows, [False, True])
    assert view.table is not None
    view.table.bars = [max(0.0, charts.aggregated(s) / top) for s in series[: len(view.table.rows)]]

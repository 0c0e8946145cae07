"""Paths: a Sankey diagram of step-to-step links."""

from __future__ import annotations

import re

from posthog_api.content import Insight

from .. import formatting as fmt
from ..theme import FONT_STACK, TEXT_COLOR, color_at
from . import charts
from .model import ChartView, InsightView

_STEP_PREFIX = re.compile(r"^\d+_(https?://)?")


def paths(insight: Insight, view: InsightView, chart_width: int) -> None:
    links = [link for link in insight.paths if link.value > 0]
    if not links:
        charts.empty(view)
        return
    nodes: dict[str, int] = {}
    for link in links:
        for name in (link.source, link.target):
            nodes.setdefault(name, len(nodes))

    def step_of(name: str) -> int:
        match = re.match(r"^(\d+)_", name)
        return int(match.group(1)) if match else 0

    steps: dict[int, int] = {}
    for name in nodes:
        steps[step_of(name)] = steps.get(step_of(name), 0) + 1
    node_colors = [color_at(step_of(name) - 1) for name in nodes]
    trace = {
        "type": "sankey",
        "arrangement": "snap",
        "valueformat": ",d",
        "node": {
            "label": [fmt.plotly_text(_STEP_PREFIX.sub("", name), 40) for name in nodes],
            "color": node_colors,
            "pad": 18,
            "thickness": 14,
            "line": {"width": 0},
        },
        "link": {
            "source": [nodes[link.source] for link in links],
            "target": [nodes[link.target] for link in links],
            "value": [link.value for link in links],
            "color": [node_colors[nodes[link.source]] + "40" for link in links],
        },
        "textfont": {"family": FONT_STACK, "size": 12, "color": TEXT_COLOR},
    }
    height = max(460, 46 * max(steps.values()) + 80)
    view.min_width = min(3000, 320 * len(steps))  # room for node labels between columns
    view.chart = ChartView([trace], charts.layout(margin={"l": 8, "r": 8, "t": 8, "b": 8}), height)

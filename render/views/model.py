"""What an exporter page draws for one insight: plain dataclasses that the family builders fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class LegendItem:
    label: str
    color: str
    value: str = ""
    dashed: bool = False


@dataclass(slots=True)
class ChartView:
    data: list[dict[str, Any]]
    layout: dict[str, Any]
    height: int  # CSS px of the chart box on an insight page (dashboard tiles size it by the grid)


@dataclass(slots=True)
class NumberView:
    value: str
    label: str
    font_size: int  # CSS px: as large as fits the width, so long numbers are never cut off
    change: str = ""  # "▲ 12.5%"
    direction: str = ""  # up / down / flat
    previous: str = ""


@dataclass(slots=True)
class TableView:
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-align numeric columns
    more_rows: int = 0
    more_in_posthog: bool = False  # PostHog has more rows than it returned
    bars: list[float] | None = None  # a share bar per row (0..1)


@dataclass(slots=True)
class RetentionCell:
    text: str
    background: str
    color: str


@dataclass(slots=True)
class RetentionRowView:
    label: str
    date: str
    size: str
    cells: list[RetentionCell | None]


@dataclass(slots=True)
class RetentionView:
    columns: list[str]
    rows: list[RetentionRowView]


@dataclass(slots=True)
class FunnelBar:
    label: str
    color: str
    width: float  # percent of the full bar
    count: str
    conversion: str
    from_previous: str


@dataclass(slots=True)
class FunnelStepView:
    number: int
    name: str
    optional: bool
    bars: list[FunnelBar]
    median_time: str = ""


@dataclass(slots=True)
class OverviewCard:
    label: str
    value: str
    change: str = ""  # "▲ 12%" / "No data for comparison"
    direction: str = ""  # good / bad / flat


@dataclass(slots=True)
class InsightView:
    title: str
    description: str
    meta: list[str]
    body: str  # chart | number | table | retention | funnel_rows | overview | unsupported | empty
    chart: ChartView | None = None
    legend: list[LegendItem] = field(default_factory=list)
    legend_more: int = 0
    number: NumberView | None = None
    table: TableView | None = None
    retention: RetentionView | None = None
    funnel_steps: list[FunnelStepView] = field(default_factory=list)
    overview: list[OverviewCard] = field(default_factory=list)
    summary: str = ""  # one line under the title of funnels: total conversion
    message: str = ""  # unsupported / empty explanation
    url: str = ""
    min_width: int = 0  # content CSS px this insight needs to stay readable (pages grow to fit)

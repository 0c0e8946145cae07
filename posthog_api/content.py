"""The normalized content model: what `render/`, `mail/` and `bot/` need to know about PostHog content.

PostHog describes an insight in two formats (the legacy `filters` dict and the current `query` tree) and
returns a result whose shape depends on the insight type. `posthog_api.normalize` turns all of them into the
small, plain dataclasses below, so that nothing outside `posthog_api/` ever reads a raw PostHog payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

TILE_TITLE_MAX = 80  # characters of a text card's first line used as its title


class ChartKind(StrEnum):
    """How an insight is drawn. One value per distinct picture, not per PostHog insight type."""

    LINE = "line"  # trends / stickiness line graph
    BAR = "bar"  # trends bar graph over time (stacked when there are breakdowns)
    AREA = "area"  # trends area graph
    CUMULATIVE = "cumulative"  # trends line graph, cumulative
    PIE = "pie"  # one aggregated value per series
    NUMBER = "number"  # one big number, optionally compared to the previous period
    VALUE_BARS = "value_bars"  # horizontal bars, one aggregated value per series
    TABLE = "table"  # trends table: one row per series
    WORLD_MAP = "world_map"  # drawn as a table of countries for now
    FUNNEL = "funnel"  # funnel steps, optionally per breakdown
    RETENTION = "retention"  # cohort table
    LIFECYCLE = "lifecycle"  # stacked bars of new/returning/resurrecting/dormant
    STICKINESS = "stickiness"  # line graph over "N days"
    PATHS = "paths"  # Sankey of step-to-step links
    SQL_TABLE = "sql_table"  # HogQL / SQL rows
    SQL_CHART = "sql_chart"  # HogQL / SQL rows drawn as a chart
    UNSUPPORTED = "unsupported"  # a kind we do not draw yet: rendered as an explicit card


@dataclass(slots=True)
class Series:
    """One line, bar group, pie slice or table row of a trends-like insight."""

    label: str
    values: list[float] = field(default_factory=list)  # one per x label; empty for aggregated displays
    aggregated_value: float | None = None  # the single value of pie / number / value bars / table
    breakdown_value: str | None = None
    compare_label: str | None = None  # "current" / "previous" when the insight compares periods
    status: str | None = None  # lifecycle status: new, returning, resurrecting, dormant
    hidden: bool = False  # hidden in PostHog by the user (resultCustomizations / hidden_legend_keys)


@dataclass(slots=True)
class FunnelStep:
    name: str
    count: int
    conversion_from_first: float  # 0..1
    conversion_from_previous: float  # 0..1
    median_conversion_seconds: float | None = None
    average_conversion_seconds: float | None = None
    optional: bool = False


@dataclass(slots=True)
class FunnelBreakdown:
    """The steps of a funnel for one breakdown value (`label` is None when there is no breakdown)."""

    label: str | None
    steps: list[FunnelStep]


@dataclass(slots=True)
class RetentionRow:
    label: str  # "Day 0", "Week 3"
    date: str  # ISO date of the cohort start
    cohort_size: int
    counts: list[int]  # counts[i] = people still active i periods later (counts[0] == cohort_size)


@dataclass(slots=True)
class PathLink:
    source: str
    target: str
    value: int


@dataclass(slots=True)
class Table:
    columns: list[str]
    rows: list[list[object]]


@dataclass(slots=True)
class Insight:
    """One PostHog insight with its results, ready to draw."""

    id: int
    short_id: str
    name: str  # the saved name, or PostHog's derived name when unnamed
    kind: ChartKind
    description: str = ""
    date_range: str = ""  # human words, e.g. "Last 7 days"
    interval: str | None = None  # hour / day / week / month
    x_labels: list[str] = field(default_factory=list)  # shared x axis of trends-like series
    series: list[Series] = field(default_factory=list)
    funnel: list[FunnelBreakdown] = field(default_factory=list)
    funnel_layout: str = "vertical"  # PostHog's "vertical" = bars left to right; "horizontal" = top to bottom
    retention: list[RetentionRow] = field(default_factory=list)
    retention_period: str = "Day"
    paths: list[PathLink] = field(default_factory=list)
    table: Table | None = None
    previous_value: float | None = None  # big number: the previous period's value, when compared
    unsupported_reason: str = ""  # why the kind is UNSUPPORTED, in words a user understands
    last_refresh: str | None = None  # ISO timestamp of PostHog's computation
    url: str = ""  # link back to the insight in PostHog


@dataclass(slots=True)
class Tile:
    """A dashboard tile: an insight, or a Markdown text card. Layout units are PostHog's 12-column grid."""

    id: int
    x: int
    y: int
    w: int
    h: int
    insight: Insight | None = None
    text: str | None = None  # Markdown body of a text tile

    @property
    def title(self) -> str:
        """The insight's name, or a text card's first line (without Markdown heading marks)."""
        if self.insight is not None:
            return self.insight.name
        first_line = (self.text or "").strip().splitlines()[:1]
        return first_line[0].lstrip("# ").strip()[:TILE_TITLE_MAX] if first_line else "Text"


@dataclass(slots=True)
class Dashboard:
    id: int
    name: str
    description: str = ""
    tiles: list[Tile] = field(default_factory=list)  # in layout order: by y, then x
    url: str = ""
    date_range: str = ""  # human words for a range set on the whole dashboard (which its tiles show), or ""

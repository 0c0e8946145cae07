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
    WORLD_MAP = "world_map"  # a choropleth of one value per country
    CALENDAR_HEATMAP = "calendar_heatmap"  # a value per day, weeks as columns and weekdays as rows
    FUNNEL = "funnel"  # funnel steps, optionally per breakdown
    FUNNEL_TIME = "funnel_time"  # time to convert: a histogram of conversion times
    RETENTION = "retention"  # cohort table
    RETENTION_GRAPH = "retention_graph"  # retention as a line or bar per cohort (% still active per period), and
    # the cohort table below it when `Insight.retention_table` says so
    LIFECYCLE = "lifecycle"  # stacked bars of new/returning/resurrecting/dormant
    STICKINESS = "stickiness"  # line graph over "N days"
    PATHS = "paths"  # Sankey of step-to-step links
    SQL_TABLE = "sql_table"  # HogQL / SQL rows
    SQL_CHART = "sql_chart"  # HogQL / SQL rows drawn as a chart
    EVENTS_TABLE = "events_table"  # EventsQuery / ActorsQuery / web stats rows, cells rendered as PostHog does
    WEB_OVERVIEW = "web_overview"  # web analytics overview: a row of numbers with their change
    UNSUPPORTED = "unsupported"  # a kind we do not draw yet: rendered as an explicit card


class AxisFormat(StrEnum):
    """PostHog's `aggregationAxisFormat`: how values and the y axis read."""

    NUMERIC = "numeric"
    DURATION = "duration"  # seconds
    DURATION_MS = "duration_ms"
    PERCENTAGE = "percentage"  # 45 -> 45%
    PERCENTAGE_SCALED = "percentage_scaled"  # 0.45 -> 45%
    CURRENCY = "currency"


@dataclass(slots=True)
class GoalLine:
    label: str
    value: float


@dataclass(slots=True)
class Formatting:
    """Display options a PostHog user set on the insight, honoured wherever they apply."""

    axis_format: AxisFormat = AxisFormat.NUMERIC
    prefix: str = ""
    postfix: str = ""
    decimal_places: int | None = None
    currency: str = "USD"  # the project's base currency, for AxisFormat.CURRENCY
    show_values: bool = False  # showValuesOnSeries
    percent_stack: bool = False  # showPercentStackView
    show_legend: bool | None = None  # None: the exporter's default (a legend when it helps)
    log_scale: bool = False  # yAxisScaleType log10
    goal_lines: list[GoalLine] = field(default_factory=list)
    multiple_y_axes: bool = False
    stacked: bool | None = None  # bars: None = PostHog's default for the display


@dataclass(slots=True)
class Series:
    """One line, bar group, pie slice or table row of a trends-like insight."""

    label: str
    values: list[float | None] = field(default_factory=list)  # one per x label (None: no value, a gap in a SQL
    # chart); empty for aggregated displays
    aggregated_value: float | None = None  # the single value of pie / number / value bars / table
    breakdown_value: str | None = None
    compare_label: str | None = None  # "current" / "previous" when the insight compares periods
    status: str | None = None  # lifecycle status: new, returning, resurrecting, dormant
    hidden: bool = False  # hidden in PostHog by the user (resultCustomizations / hidden_legend_keys)
    color: str | None = None  # a colour the user chose (resultCustomizations), as a CSS colour


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
    kinds: list[str] = field(default_factory=list)  # per column: "" or how PostHog renders it (event, person, time)
    has_more: bool = False  # PostHog has more rows than it returned (hasMore)


@dataclass(slots=True)
class OverviewItem:
    """One number of a web analytics overview."""

    label: str
    value: float | None
    previous: float | None = None
    kind: str = "unit"  # unit | duration_s | percentage | currency
    increase_is_bad: bool = False


@dataclass(slots=True)
class Insight:
    """One PostHog insight with its results, ready to draw."""

    id: int
    short_id: str
    name: str  # the saved name, or PostHog's derived name when unnamed
    kind: ChartKind
    description: str = ""
    display: str | None = None  # PostHog's display setting (e.g. "ActionsBar"), when it shapes the picture
    date_range: str = ""  # human words, e.g. "Last 7 days"
    interval: str | None = None  # hour / day / week / month
    x_labels: list[str] = field(default_factory=list)  # shared x axis of trends-like series
    x_dates: list[str] = field(default_factory=list)  # the ISO dates (or times) of x_labels, when PostHog gave them
    series: list[Series] = field(default_factory=list)
    funnel: list[FunnelBreakdown] = field(default_factory=list)
    funnel_layout: str = "vertical"  # PostHog's "vertical" = bars left to right; "horizontal" = top to bottom
    retention: list[RetentionRow] = field(default_factory=list)
    retention_period: str = "Day"
    retention_table: bool = False  # a RETENTION_GRAPH with the cohort table below it (PostHog's insight view, or a
    # dashboard tile set to show both)
    conversion_bins: list[tuple[float, int]] = field(default_factory=list)  # time to convert: (seconds, people)
    average_conversion_seconds: float | None = None
    overview: list[OverviewItem] = field(default_factory=list)
    paths: list[PathLink] = field(default_factory=list)
    table: Table | None = None
    previous_value: float | None = None  # big number: the previous period's value, when compared
    compared: bool = False  # big number: compared to the previous period (previous_value None = no data for it)
    formatting: Formatting = field(default_factory=Formatting)
    time_zone: str | None = None  # the project's IANA zone, in which PostHog shows timestamps
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

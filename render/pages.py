"""Exporter pages: an insight or a dashboard as an HTML fragment plus the plotly specs to draw into it.

The same `ExporterPage` is served two ways: as a whole HTML document (for people, embeds and cold browsers),
and as JSON that a warm browser page, which already has plotly loaded, swaps in (the fast path).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import jinja2

from posthog_api.content import Dashboard, Insight, Tile

from .text_tiles import markdown_to_html
from .theme import (
    DASHBOARD_COLUMNS,
    DASHBOARD_GAP,
    DASHBOARD_ROW_HEIGHT,
    FONT_STACK,
    MAX_PAGE_WIDTH,
    PAGE_PADDING,
    THEMES,
    css_variables,
    recolor,
    theme_name,
)
from .views import InsightView, build_view

TILE_PADDING = 16
NARROW_DASHBOARD = 640  # below this, tiles stack in one column as PostHog does on small screens


@dataclass(frozen=True, slots=True)
class PageOptions:
    """How a subscription or a share link wants its images: a theme, and the time zone its times are read in."""

    theme: str = "light"  # light | dark
    time_zone: str | None = None  # IANA zone of "computed at"; None: UTC


DEFAULT_OPTIONS = PageOptions()


@dataclass(slots=True)
class ExporterPage:
    title: str
    html: str  # the body fragment, escaped by the templates
    charts: list[dict[str, Any]]  # {"id", "tile", "data", "layout"}: drawn by plotly into the fragment
    width: int  # CSS px of the viewport the page is laid out for
    tiles: dict[str, str] = field(default_factory=dict)  # tile key -> human name, in page order
    never_ready: bool = False  # debug hook: the page never reports ready (exercises time-outs)
    theme: str = "light"
    unsupported: dict[str, str] = field(default_factory=dict)  # tile key -> why it drew an "unsupported" card

    def spec(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "html": self.html,
            "charts": self.charts,
            "width": self.width,
            "neverReady": self.never_ready,
            "theme": self.theme,
            "background": THEMES[self.theme]["bg"],
        }

    def with_never_ready(self) -> ExporterPage:
        return replace(self, never_ready=True)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["font_stack"] = FONT_STACK
    return env


def template(name: str) -> jinja2.Template:
    return _environment().get_template(name)


def insight_key(insight: Insight) -> str:
    return f"insight {insight.short_id or insight.id}"


def insight_page(insight: Insight, width: int, options: PageOptions = DEFAULT_OPTIONS) -> ExporterPage:
    content_width = width - 2 * PAGE_PADDING
    zone = options.time_zone
    view = build_view(insight, content_width, time_zone=zone)
    # A wide funnel, retention table or path diagram widens the page (up to a readable width) rather than
    # squeezing its labels.
    page_width = min(MAX_PAGE_WIDTH, max(width, view.min_width + 2 * PAGE_PADDING))
    if page_width != width:
        view = build_view(insight, page_width - 2 * PAGE_PADDING, time_zone=zone)
    key = insight_key(insight)
    theme = theme_name(options.theme)
    charts = _charts(view, key, "chart-0", theme)
    html = template("insight.html").render(
        view=view, key=key, chart_id="chart-0", width=page_width, theme=theme, theme_css=css_variables(theme)
    )
    unsupported = {key: view.message} if view.body == "unsupported" else {}
    return ExporterPage(
        insight.name, html, charts, page_width, tiles={key: insight.name or key}, theme=theme, unsupported=unsupported
    )


def tile_key(tile: Tile) -> str:
    return f"tile {tile.id}"


@dataclass(slots=True)
class _PlacedTile:
    tile: Tile
    key: str
    name: str
    column: int  # 1-based CSS grid column / row
    row: int
    span_columns: int
    span_rows: int
    view: InsightView | None
    chart_id: str
    text_html: str


def dashboard_page(
    dashboard: Dashboard, width: int, *, stacked: bool = False, options: PageOptions = DEFAULT_OPTIONS
) -> ExporterPage:
    """The dashboard on PostHog's grid; `stacked` puts every tile full width in one column, so that each tile's
    image has the same width and text size (what a Slack thread or an email shows one after another)."""
    theme = theme_name(options.theme)
    placed = _place(dashboard.tiles, width, stacked=stacked, time_zone=options.time_zone)
    charts: list[dict[str, Any]] = []
    for item in placed:
        if item.view is not None:
            charts.extend(_charts(item.view, item.key, item.chart_id, theme))
    html = template("dashboard.html").render(
        dashboard=dashboard,
        tiles=placed,
        width=width,
        columns=DASHBOARD_COLUMNS,
        row_height=DASHBOARD_ROW_HEIGHT,
        gap=DASHBOARD_GAP,
        theme=theme,
        theme_css=css_variables(theme),
    )
    unsupported = {t.key: t.view.message for t in placed if t.view is not None and t.view.body == "unsupported"}
    return ExporterPage(
        dashboard.name,
        html,
        charts,
        width,
        tiles={t.key: t.name for t in placed},
        theme=theme,
        unsupported=unsupported,
    )


def _charts(view: InsightView, key: str, chart_id: str, theme: str = "light") -> list[dict[str, Any]]:
    if view.body != "chart" or view.chart is None:
        return []
    data, layout = recolor(view.chart.data, theme), recolor(view.chart.layout, theme)
    return [{"id": chart_id, "tile": key, "data": data, "layout": layout}]


def _place(tiles: list[Tile], width: int, *, stacked: bool = False, time_zone: str | None = None) -> list[_PlacedTile]:
    """Tiles on the 12-column grid, compacted upwards as PostHog's grid does, in layout order."""
    narrow = stacked or width < NARROW_DASHBOARD
    column_px = (width - 2 * PAGE_PADDING - (DASHBOARD_COLUMNS - 1) * DASHBOARD_GAP) / DASHBOARD_COLUMNS
    heights = [0] * DASHBOARD_COLUMNS  # first free row per column
    placed = []
    for index, tile in enumerate(sorted(tiles, key=lambda t: (t.y, t.x))):
        span = DASHBOARD_COLUMNS if narrow else max(1, min(DASHBOARD_COLUMNS, tile.w or 6))
        x = 0 if narrow else max(0, min(DASHBOARD_COLUMNS - span, tile.x))
        rows = max(1, tile.h or 5)
        y = max(heights[x : x + span])
        for column in range(x, x + span):
            heights[column] = y + rows
        inner_width = round(column_px * span + DASHBOARD_GAP * (span - 1)) - 2 * TILE_PADDING
        view = build_view(tile.insight, inner_width, time_zone=time_zone) if tile.insight is not None else None
        name = tile.title or tile_key(tile)
        placed.append(
            _PlacedTile(
                tile=tile,
                key=tile_key(tile),
                name=name,
                column=x + 1,
                row=y + 1,
                span_columns=span,
                span_rows=rows,
                view=view,
                chart_id=f"chart-{index}",
                text_html=markdown_to_html(tile.text or "") if tile.insight is None else "",
            )
        )
    return placed

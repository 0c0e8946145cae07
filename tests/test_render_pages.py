"""Exporter pages without a browser: what each chart kind draws, escaping, layout, and the HTTP routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from posthog_api.content import (
    ChartKind,
    Dashboard,
    FunnelBreakdown,
    FunnelStep,
    Insight,
    PathLink,
    RetentionRow,
    Series,
    Table,
    Tile,
)
from posthog_api.normalize import normalize_insight
from render import add_routes
from render.pages import dashboard_page, insight_page
from render.routes import SHELL_PATH, STATIC_PREFIX, page_url, spec_url
from render.text_tiles import markdown_to_html
from render.theme import FONT_STACK
from render.views import build_view

FIXTURES = Path(__file__).parent / "fixtures" / "posthog" / "insights"
# What the exporter page draws instead of a chart (render/templates/_insight.html). Every fixture has a chart
# kind the exporter supports and data, so none of them may show one.
PLACEHOLDER_CARDS = ("notice-unsupported", "not supported in exports yet", "notice-empty")


def trends(kind: ChartKind, **overrides: object) -> Insight:
    fields: dict[str, object] = {
        "id": 1,
        "short_id": "abc",
        "name": "Signups",
        "kind": kind,
        "date_range": "Last 7 days",
        "interval": "day",
        "x_labels": [f"{day}-Mar" for day in range(1, 8)],
        "series": [
            Series(label="signed_up", values=[1, 4, 2, 8, 5, 7, 3], aggregated_value=30, breakdown_value="Chrome"),
            Series(label="signed_up", values=[2, 3, 1, 5, 4, 2, 1], aggregated_value=18, breakdown_value="Safari"),
        ],
    }
    fields.update(overrides)
    return Insight(**fields)  # type: ignore[arg-type]


def funnel(layout: str, steps: int = 3, breakdowns: int = 1) -> Insight:
    groups = []
    for group in range(breakdowns):
        counts = [round(1000 * 0.8**i) - 10 * group for i in range(steps)]
        groups.append(
            FunnelBreakdown(
                label=f"v{group}" if breakdowns > 1 else None,
                steps=[
                    FunnelStep(
                        name=f"Step {i}",
                        count=count,
                        conversion_from_first=count / counts[0],
                        conversion_from_previous=count / counts[max(0, i - 1)],
                        median_conversion_seconds=90.0 if i else None,
                    )
                    for i, count in enumerate(counts)
                ],
            )
        )
    return Insight(id=2, short_id="fun", name="Funnel", kind=ChartKind.FUNNEL, funnel=groups, funnel_layout=layout)


def test_bar_with_breakdowns_is_stacked_and_line_is_not() -> None:
    bar = build_view(trends(ChartKind.BAR), 900)
    assert bar.chart is not None and bar.chart.layout["barmode"] == "stack"
    assert [t["type"] for t in bar.chart.data] == ["bar", "bar"]
    line = build_view(trends(ChartKind.LINE), 900)
    assert line.chart is not None and "barmode" not in line.chart.layout
    assert [item.label for item in line.legend] == ["signed_up · Chrome", "signed_up · Safari"]


def test_hidden_series_are_not_drawn() -> None:
    insight = trends(ChartKind.LINE)
    insight.series[1].hidden = True
    view = build_view(insight, 900)
    assert view.chart is not None and len(view.chart.data) == 1


def test_charts_name_the_font_stack_so_cjk_and_emoji_draw() -> None:
    view = build_view(trends(ChartKind.AREA), 900)
    assert view.chart is not None
    assert view.chart.layout["font"]["family"] == FONT_STACK
    assert '"Noto Sans CJK SC"' in FONT_STACK and '"Noto Color Emoji"' in FONT_STACK


def test_user_labels_reach_plotly_escaped() -> None:
    insight = trends(ChartKind.LINE, x_labels=["<b>x</b>"] * 7)
    insight.series[0].label = "<a href='javascript:alert(1)'>evil</a>"
    view = build_view(insight, 900)
    assert view.chart is not None
    assert "<a" not in view.chart.data[0]["name"] and "&lt;a" in view.chart.data[0]["name"]
    assert all("<b>" not in text for text in view.chart.layout["xaxis"]["ticktext"])


def test_many_x_labels_are_thinned_to_fit() -> None:
    labels = [f"day {i}" for i in range(90)]
    insight = trends(ChartKind.LINE, x_labels=labels, series=[Series(label="s", values=[1.0] * 90)])
    view = build_view(insight, 900)
    assert view.chart is not None
    assert 2 <= len(view.chart.layout["xaxis"]["ticktext"]) <= 12


def test_big_number_compares_with_the_previous_period() -> None:
    insight = trends(ChartKind.NUMBER, series=[Series(label="signups", aggregated_value=150)], previous_value=120)
    view = build_view(insight, 900)
    assert view.body == "number" and view.number is not None
    assert view.number.value == "150"
    assert view.number.direction == "up" and view.number.change == "▲ 25%"
    assert view.number.previous == "120"


def test_big_number_font_shrinks_in_a_narrow_tile() -> None:
    insight = trends(ChartKind.NUMBER, series=[Series(label="s", aggregated_value=3141592)])
    assert build_view(insight, 240).number.font_size < build_view(insight, 900).number.font_size  # type: ignore[union-attr]


def test_pie_value_bars_and_tables_use_aggregated_values() -> None:
    pie = build_view(trends(ChartKind.PIE), 900)
    assert pie.chart is not None and pie.chart.data[0]["values"] == [30, 18]
    assert [item.value for item in pie.legend] == ["30 (62.5%)", "18 (37.5%)"]
    bars = build_view(trends(ChartKind.VALUE_BARS), 900)
    assert bars.chart is not None and bars.chart.data[0]["x"] == [30, 18]
    table = build_view(trends(ChartKind.TABLE), 900)
    assert table.body == "table" and table.table is not None
    assert table.table.rows == [["signed_up", "Chrome", "30"], ["signed_up", "Safari", "18"]]
    world = build_view(
        trends(ChartKind.WORLD_MAP, series=[Series(label="x", aggregated_value=5, breakdown_value="AU")]), 900
    )
    assert world.chart is not None and world.chart.data[0]["type"] == "choropleth"
    assert world.chart.data[0]["locations"] == ["AUS"]  # alpha-2 from PostHog, alpha-3 for plotly


def test_lifecycle_draws_dormant_below_zero() -> None:
    series = [
        Series(label="new", values=[5, 6], status="new"),
        Series(label="dormant", values=[3, 4], status="dormant"),
    ]
    view = build_view(Insight(id=3, short_id="l", name="L", kind=ChartKind.LIFECYCLE, series=series), 900)
    assert view.chart is not None and view.chart.layout["barmode"] == "relative"
    dormant = next(t for t in view.chart.data if t["name"] == "Dormant")
    assert dormant["y"] == [-3, -4]


def test_funnel_left_to_right_shows_counts_and_rates_per_breakdown() -> None:
    view = build_view(funnel("vertical", breakdowns=2), 900)
    assert view.chart is not None and len(view.chart.data) == 2
    assert "100%" in view.chart.data[0]["text"][0] and "1,000" in view.chart.data[0]["text"][0]
    assert [item.label for item in view.legend] == ["v0", "v1"]


def test_wide_funnel_widens_the_page_instead_of_shrinking() -> None:
    narrow = insight_page(funnel("vertical", steps=3), 1000)
    wide = insight_page(funnel("vertical", steps=12, breakdowns=3), 1000)
    assert narrow.width == 1000
    assert wide.width > 1000


def test_funnel_top_to_bottom_is_one_row_per_step() -> None:
    view = build_view(funnel("horizontal", breakdowns=3), 900)
    assert view.body == "funnel_rows"
    assert len(view.funnel_steps) == 3 and len(view.funnel_steps[1].bars) == 3
    assert view.funnel_steps[1].median_time == "1m 30s"
    assert view.summary.startswith("Total conversion")


def test_retention_cells_are_shaded_by_share() -> None:
    rows = [RetentionRow(label="Day 0", date="2024-01-01T00:00:00Z", cohort_size=10, counts=[10, 5, 1])]
    insight = Insight(id=4, short_id="r", name="R", kind=ChartKind.RETENTION, retention=rows)
    view = build_view(insight, 900)
    assert view.retention is not None
    cells = view.retention.rows[0].cells
    assert [c.text for c in cells if c] == ["100%", "50%", "10%"]
    assert cells[0] is not None and cells[2] is not None and cells[0].background != cells[2].background


def test_paths_are_a_sankey_with_readable_node_names() -> None:
    links = [PathLink("1_https://a.com/", "2_https://a.com/cart", 10), PathLink("1_https://a.com/", "2_/x", 3)]
    view = build_view(Insight(id=5, short_id="p", name="P", kind=ChartKind.PATHS, paths=links), 900)
    assert view.chart is not None and view.chart.data[0]["type"] == "sankey"
    assert view.chart.data[0]["node"]["label"] == ["a.com/", "a.com/cart", "/x"]


def test_sql_chart_uses_numeric_columns_and_falls_back_to_a_table() -> None:
    table = Table(columns=["day", "users", "name"], rows=[["mon", 3, "a"], ["tue", 5, "b"]])
    chart = build_view(Insight(id=6, short_id="s", name="S", kind=ChartKind.SQL_CHART, table=table), 900)
    assert chart.chart is not None and chart.chart.data[0]["y"] == [3, 5]
    text_only = Table(columns=["a", "b"], rows=[["x", "y"]])
    fallback = build_view(Insight(id=7, short_id="t", name="T", kind=ChartKind.SQL_CHART, table=text_only), 900)
    assert fallback.body == "table"


def test_long_sql_tables_are_cut_with_a_count_of_the_rest() -> None:
    table = Table(columns=["n"], rows=[[i] for i in range(120)])
    view = build_view(Insight(id=8, short_id="q", name="Q", kind=ChartKind.SQL_TABLE, table=table), 900)
    assert view.table is not None and len(view.table.rows) == 50 and view.table.more_rows == 70


def test_unsupported_and_empty_insights_draw_an_explicit_card() -> None:
    unsupported = Insight(id=9, short_id="u", name="U", kind=ChartKind.UNSUPPORTED, unsupported_reason="Experiments")
    page = insight_page(unsupported, 1000)
    assert "not supported in exports yet" in page.html and "Experiments" in page.html
    assert page.charts == []
    empty = insight_page(trends(ChartKind.LINE, series=[]), 1000)
    assert "No data" in empty.html


def test_every_chart_kind_builds_a_page() -> None:
    for kind in ChartKind:
        page = insight_page(trends(kind), 1000)
        assert page.html and page.width >= 1000
        # A kind without a builder would fall back to the "not supported" card.
        assert ("notice-unsupported" in page.html) == (kind is ChartKind.UNSUPPORTED), kind


def test_pages_escape_user_text() -> None:
    insight = trends(ChartKind.LINE, name="<script>alert(1)</script>", description="a & b")
    page = insight_page(insight, 1000)
    assert "<script>" not in page.html
    assert "&lt;script&gt;" in page.html and "a &amp; b" in page.html


def test_markdown_text_tiles_show_raw_html_as_text_and_fetch_nothing() -> None:
    html = markdown_to_html(
        "**bold** <img src=x onerror=alert(1)> ![logo](https://example.com/a.png) [x](javascript:y)"
    )
    assert "<strong>bold</strong>" in html
    assert "<img" not in html and "&lt;img" in html
    assert "javascript:" not in html


def test_dashboard_tiles_follow_the_grid_in_layout_order() -> None:
    tiles = [
        Tile(id=3, x=6, y=5, w=6, h=5, insight=trends(ChartKind.PIE)),
        Tile(id=1, x=0, y=0, w=12, h=2, text="# Hello"),
        Tile(id=2, x=0, y=5, w=6, h=5, insight=trends(ChartKind.LINE)),
    ]
    page = dashboard_page(Dashboard(id=42, name="Board", tiles=tiles), 1200)
    assert list(page.tiles) == ["tile 1", "tile 2", "tile 3"]
    assert "grid-column: 1 / span 12; grid-row: 1 / span 2" in page.html
    # Compacted upwards as PostHog's grid does: no empty rows between the text and the charts.
    assert "grid-column: 7 / span 6; grid-row: 3 / span 5" in page.html
    assert "<h1>Hello</h1>" in page.html
    assert [chart["tile"] for chart in page.charts] == ["tile 2", "tile 3"]


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_builds_a_page(path: Path) -> None:
    insight = normalize_insight(json.loads(path.read_text(encoding="utf-8")))
    page = insight_page(insight, 1000)
    view = build_view(insight, 1000)
    assert view.body not in ("unsupported", "empty"), f"{path.stem} ({insight.kind}) draws a card: {view.message}"
    assert [card for card in PLACEHOLDER_CARDS if card in page.html] == []
    assert page.html and (page.charts or "<table" in page.html or "big-number" in page.html or "funnel" in page.html)
    spec = page.spec()
    assert spec["neverReady"] is False  # the page will report ready once drawn
    json.dumps(spec)  # what the browser fetches must be plain JSON


async def test_routes_serve_plotly_pages_and_specs() -> None:
    app = web.Application()
    store = add_routes(app)
    async with TestClient(TestServer(app)) as client:
        plotly = await client.get(f"{STATIC_PREFIX}/plotly.min.js")
        assert plotly.status == 200
        assert "immutable" in plotly.headers["Cache-Control"]
        assert len(await plotly.read()) > 1_000_000
        shell = await client.get(SHELL_PATH)
        assert "plotly.min.js" in await shell.text()

        token = store.put(insight_page(trends(ChartKind.LINE, name="<b>Signups</b>"), 1000))
        page = await client.get(page_url(token))
        text = await page.text()
        assert page.status == 200 and "<b>Signups</b>" not in text
        spec = await (await client.get(spec_url(token))).json()
        assert spec["width"] == 1000 and spec["charts"][0]["tile"] == "insight abc"

        store.discard(token)
        assert (await client.get(spec_url(token))).status == 404
        assert (await client.get(page_url("not-a-token"))).status == 404
        assert (await client.get(f"{STATIC_PREFIX}/secrets.txt")).status == 404


def test_values_read_as_the_insight_formats_them() -> None:
    from posthog_api.content import AxisFormat, Formatting
    from render import formatting as fmt

    def as_(axis: AxisFormat, value: float, **options: object) -> str:
        return fmt.value(value, Formatting(axis_format=axis, **options))  # type: ignore[arg-type]

    assert as_(AxisFormat.NUMERIC, 38579.14) == "38,579.14"  # no blanket rounding of big numbers
    assert as_(AxisFormat.NUMERIC, 1234.5, decimal_places=2) == "1,234.50"
    assert as_(AxisFormat.NUMERIC, 12, prefix="~", postfix=" users") == "~12 users"
    assert as_(AxisFormat.PERCENTAGE, 45.5) == "45.5%"
    assert as_(AxisFormat.PERCENTAGE_SCALED, 0.4567, decimal_places=1) == "45.7%"
    assert as_(AxisFormat.DURATION, 3725) == "1h 2m"
    assert as_(AxisFormat.DURATION_MS, 450) == "450ms" and as_(AxisFormat.DURATION_MS, 90_000) == "1m 30s"
    assert as_(AxisFormat.CURRENCY, 1234.5) == "$1,234.50"
    assert as_(AxisFormat.CURRENCY, 10, currency="EUR") == "€10.00"

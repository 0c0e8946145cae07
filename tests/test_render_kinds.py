"""Every display, viz type and table source PostHog users put on dashboards, drawn from PostHog-shaped payloads
(tests/fixtures/posthog/kinds) in real Chromium, and the defects people met with them, each shown fixed.

Browser start-up and page loads are the cost here, so the payloads are drawn together: one dashboard page holds
every fixture as a full-width tile (one image per tile, as deliveries send them), and the DOM facts every test
needs are read once from that page.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from core.settings import Settings
from posthog_api import normalize_dashboard, normalize_insight
from posthog_api.content import ChartKind, Dashboard, Insight, Tile
from render import Renderer
from render.pages import dashboard_page, insight_page
from render.theme import READABLE_MAX_WIDTH
from render.views import build_view

KINDS = Path(__file__).parent / "fixtures" / "posthog" / "kinds"
in_module_loop = pytest.mark.asyncio(loop_scope="module")

EXPECTED = {
    "dataTableActors": ChartKind.EVENTS_TABLE,
    "dataTableEvents": ChartKind.EVENTS_TABLE,
    "funnelAllZero": ChartKind.FUNNEL,
    "funnelHistoricalTrends": ChartKind.LINE,
    "funnelTimeToConvert": ChartKind.FUNNEL_TIME,
    "funnelTwelveSteps": ChartKind.FUNNEL,
    "lifecycleValuesOnSeries": ChartKind.LIFECYCLE,
    "retentionWeeklyGraph": ChartKind.RETENTION_GRAPH,
    "retentionWeeklyTable": ChartKind.RETENTION_GRAPH,  # an insight: its graph above its cohort table
    "sqlLineChart": ChartKind.LINE,
    "sqlTableAmounts": ChartKind.SQL_TABLE,
    "trendsCalendarHeatmap": ChartKind.CALENDAR_HEATMAP,
    "trendsCompareTwoAxes": ChartKind.LINE,
    "trendsCurrencyLog": ChartKind.LINE,
    "trendsLineFormatted": ChartKind.LINE,
    "trendsLineManySeries": ChartKind.LINE,
    "trendsLineWithDisplayOptions": ChartKind.LINE,
    "trendsNumberCompareNullPrevious": ChartKind.NUMBER,
    "trendsPieSmallSlice": ChartKind.PIE,
    "trendsSingleDay": ChartKind.NUMBER,
    "trendsStackedPercent": ChartKind.BAR,
    "trendsWorldMap": ChartKind.WORLD_MAP,
    "webGoals": ChartKind.EVENTS_TABLE,
    "webOverview": ChartKind.WEB_OVERVIEW,
    "webStatsPaths": ChartKind.EVENTS_TABLE,
}


def payload(name: str) -> dict[str, Any]:
    return json.loads((KINDS / f"{name}.json").read_text(encoding="utf-8"))


def load(name: str) -> Insight:
    return normalize_insight(payload(name))


def drawn_share(png: bytes) -> float:
    image = Image.open(io.BytesIO(png)).convert("L")
    return 1 - image.histogram()[255] / (image.width * image.height)


# ---------------------------------------------------------------- without a browser


def test_every_kind_fixture_is_covered_and_normalizes_to_its_kind() -> None:
    assert {p.stem for p in KINDS.glob("*.json")} == set(EXPECTED)
    for name, kind in EXPECTED.items():
        insight = load(name)
        assert insight.kind is kind, (name, insight.unsupported_reason)
        assert build_view(insight, 950).body not in ("unsupported", "empty"), name


def test_captions_state_the_range_the_query_used() -> None:
    assert load("retentionWeeklyGraph").date_range == "Last 12 weeks"  # not PostHog's trends default of 7 days
    assert load("trendsSingleDay").date_range == "Today"  # not "From 0 days ago to 0 days ago"
    assert load("dataTableEvents").date_range == "Last 24 hours"
    override = normalize_insight(payload("retentionWeeklyGraph"), date_override=("-30d", None))
    assert override.date_range == "Last 30 days"  # the subscription's own range wins
    view = build_view(load("trendsLineFormatted"), 950, time_zone="America/New_York")
    assert "computed 2024-03-15 05:30 EDT" in view.meta  # the subscription's zone, not UTC


def test_legacy_filters_options_are_read_like_the_query_ones() -> None:
    options = load("trendsLineWithDisplayOptions").formatting
    assert options.log_scale and options.show_values  # y_axis_scale_type, show_values_on_series
    # The series' custom name from `filters.events`, as PostHog shows it, though this result's action lacks it.
    assert load("trendsLineWithDisplayOptions").series[0].label == "Pageviews"


def test_names_as_posthog_shows_them() -> None:
    stacked = load("trendsStackedPercent")
    assert [s.breakdown_value for s in stacked.series] == ["Chrome", "Safari", "Other"]
    assert all("$$_posthog" not in s.label for s in stacked.series)
    names = [s.name for s in load("funnelTwelveSteps").funnel[0].steps]
    assert names[0] == "Pageview"


def test_retention_as_a_bar_graph_draws_grouped_bars_of_percentages() -> None:
    data = payload("retentionWeeklyGraph")
    data["query"]["source"]["retentionFilter"]["display"] = "ActionsBar"
    chart = build_view(normalize_insight(data), 950).chart
    assert chart is not None and {t["type"] for t in chart.data} == {"bar"}
    assert chart.layout["barmode"] == "group" and chart.data[0]["y"][0] == 100.0


def test_a_retention_graph_draws_no_line_for_a_cohort_of_nobody() -> None:
    data = payload("retentionWeeklyTable")
    for cohort in data["result"][:3]:
        for value in cohort["values"]:
            value["count"] = 0
    view = build_view(normalize_insight(data), 950)
    assert view.chart is not None and len(view.chart.data) == 9  # not three flat lines at 0%
    assert view.retention is not None and len(view.retention.rows) == 12  # the table still lists them
    for cohort in data["result"]:
        for value in cohort["values"]:
            value["count"] = 0
    nobody = build_view(normalize_insight(data), 950)
    assert nobody.body == "retention" and nobody.chart is None and nobody.retention is not None


def test_currency_values_are_in_the_projects_base_currency() -> None:
    euros = build_view(normalize_insight(payload("trendsCurrencyLog"), base_currency="eur"), 950).chart
    dollars = build_view(load("trendsCurrencyLog"), 950).chart  # a project that did not say: PostHog's USD
    assert euros is not None and dollars is not None
    assert euros.layout["yaxis"]["ticktext"][-1] == "€100,000.00"
    assert dollars.layout["yaxis"]["ticktext"][-1] == "$100,000.00"
    data = payload("webOverview")
    data["result"].append({"key": "revenue", "kind": "currency", "value": 1234.5, "previous": 1000})
    cards = build_view(normalize_insight(data, base_currency="GBP"), 950).overview
    assert cards[-1].value == "£1,234.50"


def test_lifecycle_values_on_series_label_each_bar() -> None:
    chart = build_view(load("lifecycleValuesOnSeries"), 950).chart
    assert chart is not None
    by_name = {t["name"]: t.get("text") for t in chart.data}
    assert by_name["New"][:2] == ["10,220", "6,578"] and by_name["New"][4] == ""  # an empty bar has no label
    assert by_name["Dormant"][0].startswith("-")  # dormant users below the axis, as PostHog draws them
    plain = build_view(_shared("lifecycle"), 950).chart
    assert plain is not None and all("text" not in t for t in plain.data)


def test_numbers_keep_the_precision_posthog_shows() -> None:
    table = build_view(load("sqlTableAmounts"), 950).table
    assert table is not None and table.rows[0][1] == "38,579.14"
    assert table.more_rows == 50  # an insight image lists 50 rows and says how many more


def test_sql_datetime_columns_read_in_the_project_time_zone() -> None:
    data = payload("sqlTableAmounts")
    data.update(
        timezone="America/New_York",
        columns=["at", "revenue"],
        types=[["at", "DateTime('UTC')"], ["revenue", "Float64"]],
    )
    data["result"] = [["2024-03-15T09:30:00Z", 12.5]]
    table = build_view(normalize_insight(data), 950).table
    assert table is not None and table.rows == [["2024-03-15 05:30", "12.5"]]


def test_a_null_previous_period_is_no_data_for_comparison() -> None:
    number = build_view(load("trendsNumberCompareNullPrevious"), 950).number
    assert number is not None and number.change == "No data for comparison" and number.previous == ""


# ---------------------------------------------------------------- in the browser, one page for every kind


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def renderer() -> AsyncIterator[Renderer]:
    async with Renderer(Settings(), pool_size=1) as shared:
        yield shared


PROBE = r"""
const out = {};
document.querySelectorAll("#export-root [data-tile]").forEach(tile => {
  const plot = tile.querySelector(".js-plotly-plot");
  const texts = sel => Array.from(tile.querySelectorAll(sel)).map(el => el.textContent.trim());
  out[tile.dataset.tileName] = {
    traces: plot ? plot.data.map(t => t.type) : [],
    shapes: plot ? (plot.layout.shapes || []).map(s => s.name || "") : [],
    yaxisType: plot ? (plot._fullLayout.yaxis || {}).type : null,
    barnorm: plot ? plot._fullLayout.barnorm : null,
    yticks: texts(".ytick text"),
    y2ticks: texts(".yaxislayer-above .y2tick text, .y2tick text"),
    valueLabels: texts(".textpoint text, .bartext, .slicetext"),
    dashes: plot ? plot.data.map(t => (t.line || {}).dash || "") : [],
    axes: plot ? plot.data.map(t => t.yaxis || "y") : [],
    colors: plot ? plot.data.map(t => (t.marker || {}).color) : [],
    legend: texts(".legend li[data-fit-item]:not([hidden]) .legend-label"),
    notes: texts("[data-fit-note]:not([hidden])"),
    cells: Array.from(tile.querySelectorAll("tbody tr:not([hidden])")).map(
      tr => Array.from(tr.cells).filter(td => !td.hidden).map(td => td.textContent.trim())),
    headers: texts("thead th:not([hidden])"),
    text: tile.textContent.replace(/\s+/g, " "),
    unsupported: !!tile.querySelector(".notice-unsupported, .chart-error"),
    fills: Array.from(tile.querySelectorAll(".funnel-fill")).map(el => el.getBoundingClientRect().width),
  };
});
return [window.__exportReady, out];
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def drawn(renderer: Renderer) -> dict[str, Any]:
    """Every kind fixture drawn once as a full-width tile of one page: the DOM facts and each tile's image."""
    tiles = [Tile(id=i, x=0, y=i * 8, w=12, h=8, insight=load(name)) for i, name in enumerate(sorted(EXPECTED))]
    page = dashboard_page(Dashboard(id=1, name="Every kind", tiles=tiles), 1000, stacked=True)
    capture = await renderer.render_page(page, scale=1, with_tiles=True)
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    ready, facts = await asyncio.to_thread(session.driver.execute_script, PROBE)
    names = {load(name).name: name for name in EXPECTED}
    return {
        "ready": ready,
        "facts": {names[title]: value for title, value in facts.items()},
        "images": {sorted(EXPECTED)[int(key.split()[-1])]: png for key, png in capture.tiles.items()},
    }


@in_module_loop
async def test_every_kind_draws_ready_not_blank_and_without_an_unsupported_card(drawn: dict[str, Any]) -> None:
    assert drawn["ready"] is True
    assert set(drawn["images"]) == set(EXPECTED)
    for name, png in drawn["images"].items():
        assert drawn_share(png) > 0.01, f"{name} is (nearly) blank"
        assert not drawn["facts"][name]["unsupported"], name


@in_module_loop
async def test_formatting_options_reach_the_chart(drawn: dict[str, Any]) -> None:
    facts = drawn["facts"]
    line = facts["trendsLineFormatted"]
    assert "goal-line" in line["shapes"] and "Target: 40.00%" in line["text"]
    assert line["yticks"] and all(t.endswith("%") for t in line["yticks"])  # not a bare 0-45 axis
    assert "45.50%" in line["valueLabels"]  # showValuesOnSeries with decimalPlaces 2
    stacked = facts["trendsStackedPercent"]
    assert stacked["barnorm"] == "percent" and all(t.endswith("%") for t in stacked["yticks"])
    assert stacked["colors"][1] == "#f14f58"  # preset-5 chosen for the second series
    assert "Other" in " ".join(stacked["legend"])
    money = facts["trendsCurrencyLog"]
    assert money["yaxisType"] == "log" and any(t.startswith("$") for t in money["yticks"])
    assert money["legend"] == []  # showLegend: false
    compare = facts["trendsCompareTwoAxes"]
    assert "dash" in compare["dashes"]  # the previous period, dashed
    assert compare["y2ticks"]  # a second y axis
    lifecycle = facts["lifecycleValuesOnSeries"]
    assert "10,220" in lifecycle["valueLabels"]  # showValuesOnSeries on a lifecycle


@in_module_loop
async def test_each_display_draws_its_own_picture(drawn: dict[str, Any]) -> None:
    facts = drawn["facts"]
    assert facts["trendsWorldMap"]["traces"] == ["choropleth"]
    assert facts["trendsCalendarHeatmap"]["traces"] == ["heatmap"]
    assert facts["funnelTimeToConvert"]["traces"] == ["bar"]
    assert "Average time to convert 17m 41s" in facts["funnelTimeToConvert"]["text"]
    assert set(facts["retentionWeeklyGraph"]["traces"]) == {"scatter"}
    assert facts["retentionWeeklyGraph"]["yticks"][-1].endswith("%")
    assert set(facts["sqlLineChart"]["traces"]) == {"scatter"}  # display ActionsLineGraph, not grouped bars
    assert facts["trendsCompareTwoAxes"]["axes"] == ["y", "y", "y2"]  # the previous period on its current's axis
    historical = facts["funnelHistoricalTrends"]
    assert all(t.endswith("%") for t in historical["yticks"]) and historical["legend"] == ["Conversion rate"]
    assert "Visitors" in facts["webOverview"]["text"] and "No data for comparison" in facts["webOverview"]["text"]
    assert "No data for comparison" in facts["trendsNumberCompareNullPrevious"]["text"]
    assert "no change" not in facts["trendsNumberCompareNullPrevious"]["text"]


@in_module_loop
async def test_tables_render_columns_as_posthog_does(drawn: dict[str, Any]) -> None:
    events = drawn["facts"]["dataTableEvents"]
    assert events["headers"] == ["Event", "Event", "Person", "Url / Screen", "Library", "Time"]
    first = events["cells"][0]
    assert first[0] == "Pageview" and first[2] == "ada@example.com"
    assert first[5] == "2024-03-15 10:10"  # 09:10 UTC in the project's zone (Europe/Berlin)
    assert events["cells"][2][2] == "user-2"  # no email or name: the distinct id
    assert "more rows in PostHog" in " ".join(events["notes"])
    persons = drawn["facts"]["dataTableActors"]
    assert [row[0] for row in persons["cells"]] == ["ada@example.com", "Bob Stone", "anon-3"]
    assert "$delete" not in " ".join(persons["headers"])
    paths = drawn["facts"]["webStatsPaths"]
    assert paths["headers"][:2] == ["Page", "Visitors"] and paths["cells"][0][3] == "41%"
    goals = drawn["facts"]["webGoals"]
    assert goals["headers"] == ["Action", "Converting users", "Total conversions", "Conversion rate"]
    assert goals["cells"][0] == ["Signed up", "412", "431", "12.4%"]


@in_module_loop
async def test_defects_met_with_posthog_payloads_are_fixed(drawn: dict[str, Any]) -> None:
    facts = drawn["facts"]
    pie = facts["trendsPieSmallSlice"]
    assert "1.3%" in pie["valueLabels"]  # the small slice has a readable label (outside the ring)
    zero = facts["funnelAllZero"]
    assert "No one entered this funnel" in zero["text"]
    assert zero["fills"] and all(width == 0 for width in zero["fills"])  # no slivers that look like data
    assert ["customer-000", "38,579.14"] == facts["sqlTableAmounts"]["cells"][0]  # cents kept, not "38,579.1"
    assert "$pageview" not in facts["funnelTwelveSteps"]["text"]
    image = Image.open(io.BytesIO(drawn["images"]["funnelTwelveSteps"]))
    assert image.width <= 1000  # a 12-step funnel tile stays at the tile width
    assert insight_page(load("funnelTwelveSteps"), 1000).width <= READABLE_MAX_WIDTH + 48  # not 3,856 px


@in_module_loop
async def test_the_world_map_draws_with_the_network_unreachable(renderer: Renderer) -> None:
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    driver = session.driver
    # Everything but our own loopback server is unreachable for this render.
    await asyncio.to_thread(driver.execute_cdp_cmd, "Network.enable", {})
    blocked = {"urls": ["https://*", "http://*.com*", "http://*.org*", "http://*.net*", "http://*.ly*"]}
    await asyncio.to_thread(driver.execute_cdp_cmd, "Network.setBlockedURLs", blocked)
    try:
        tiles = [Tile(id=1, x=0, y=0, w=12, h=8, insight=load("trendsWorldMap"))]
        capture = await renderer.render_page(
            dashboard_page(Dashboard(id=2, name="Map", tiles=tiles), 1000, stacked=True), scale=1, with_tiles=True
        )
        ready, urls, countries = await asyncio.to_thread(
            driver.execute_script,
            """const plot = document.querySelector(".js-plotly-plot");
            return [window.__exportReady, performance.getEntriesByType("resource").map(e => e.name),
                    plot.querySelectorAll(".choroplethlocation").length];""",
        )
    finally:
        await asyncio.to_thread(driver.execute_cdp_cmd, "Network.setBlockedURLs", {"urls": []})
    assert ready is True
    assert any(u.endswith("/topojson/world_110m.json") for u in urls), urls
    assert all(u.startswith(renderer.base_url) for u in urls), [u for u in urls if not u.startswith(renderer.base_url)]
    assert countries == 2  # Australia and Iceland are on the map
    assert drawn_share(capture.tiles["tile 1"]) > 0.05


FIT_PROBE = r"""
const out = {};
document.querySelectorAll("#export-root .tile").forEach(tile => {
  const body = tile.querySelector(".insight-body") || tile;
  const wrap = tile.querySelector(".table-wrap");
  const visible = sel => tile.querySelectorAll(sel).length;
  out[tile.dataset.tileName] = {
    notes: Array.from(tile.querySelectorAll("[data-fit-note]:not([hidden])")).map(el => el.textContent.trim()),
    legend: visible(".legend [data-fit-item]:not([hidden])"),
    rows: visible("tbody [data-fit-item]:not([hidden])"),
    steps: visible(".funnel-step:not([hidden])"),
    paragraphs: visible(".markdown [data-fit-item]:not([hidden])"),
    metrics: visible(".overview-card:not([hidden])"),
    columns: visible("thead th:not([hidden])"),
    cutDown: body.scrollHeight > body.clientHeight + 1 || (!!wrap && wrap.scrollHeight > wrap.clientHeight + 1),
    cutRight: !!wrap && wrap.scrollWidth > wrap.clientWidth + 1,
    legendCut: !!tile.querySelector(".legend") &&
      tile.querySelector(".legend").scrollHeight > tile.querySelector(".legend").clientHeight + 1,
  };
});
return out;
"""


def _more(notes: list[str], word: str) -> int:
    """N of "+N more <word>" in a tile's notes (0 when nothing of that kind was left out)."""
    for note in notes:
        for part in note.split(" · "):
            if part.startswith("+") and part.endswith(f"more {word}"):
                return int(part[1:].split()[0].replace(",", ""))
    return 0


@in_module_loop
async def test_dashboard_tiles_show_all_their_data_or_say_what_they_left_out(renderer: Renderer) -> None:
    funnel_rows = payload("funnelTwelveSteps")
    funnel_rows["name"] = "Twelve steps, top to bottom"
    funnel_rows["query"]["source"]["funnelsFilter"]["layout"] = "horizontal"
    tiles = [
        Tile(id=1, x=0, y=0, w=6, h=5, insight=load("trendsLineManySeries")),
        Tile(id=2, x=6, y=0, w=3, h=5, insight=load("retentionWeeklyTable")),
        Tile(id=3, x=9, y=0, w=3, h=5, insight=normalize_insight(funnel_rows)),
        Tile(id=4, x=0, y=5, w=6, h=5, insight=load("sqlTableAmounts")),
        Tile(id=5, x=6, y=5, w=6, h=5, insight=load("dataTableEvents")),
        Tile(id=6, x=0, y=10, w=4, h=3, text="# Notes\n\n" + "\n\n".join(f"Paragraph {i}." for i in range(1, 30))),
        Tile(id=7, x=4, y=10, w=3, h=3, insight=load("webOverview")),
    ]
    await renderer.render_page(dashboard_page(Dashboard(id=3, name="Small tiles", tiles=tiles), 1200), scale=1)
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    facts = await asyncio.to_thread(session.driver.execute_script, FIT_PROBE)
    for name, tile in facts.items():
        assert not (tile["cutDown"] or tile["cutRight"] or tile["legendCut"]), (name, tile)  # nothing cut mid-way
    legend = facts["Pageviews by path"]
    assert legend["legend"] + _more(legend["notes"], "series") == 25 and legend["legend"] < 25
    retention = facts["Weekly retention (table)"]
    assert retention["rows"] + _more(retention["notes"], "cohorts") == 12
    assert retention["columns"] - 2 + _more(retention["notes"], "periods") == 12  # cohort and size columns
    funnel = facts["Twelve steps, top to bottom"]
    assert funnel["steps"] + _more(funnel["notes"], "steps") == 12 and funnel["steps"] < 12
    sql = facts["Revenue by customer"]
    assert sql["rows"] + _more(sql["notes"], "rows") == 100 and sql["rows"] < 50
    notes = facts["Notes"]
    assert notes["paragraphs"] + _more(notes["notes"], "paragraphs") == 30 and notes["paragraphs"] < 30
    overview = facts["Web overview"]
    assert overview["metrics"] + _more(overview["notes"], "metrics") == 5
    events = facts[load("dataTableEvents").name]
    assert "more rows in PostHog" in " ".join(events["notes"])


RETENTION_PROBE = r"""
const out = {};
document.querySelectorAll("#export-root [data-tile]").forEach(tile => {
  const plot = tile.querySelector(".js-plotly-plot");
  const table = tile.querySelector("table.retention");
  const box = el => el ? el.getBoundingClientRect() : null;
  const [p, t] = [box(plot), box(table && table.closest(".table-wrap"))];
  out[tile.dataset.tileName] = {
    graph: !!plot, traces: plot ? plot.data.length : 0, graphHeight: p ? p.height : 0,
    table: !!table, rows: tile.querySelectorAll("table.retention tbody tr:not([hidden])").length,
    tableHeight: t ? t.height : 0, graphAbove: !!(p && t) && p.bottom <= t.top + 1,
    notes: Array.from(tile.querySelectorAll("[data-fit-note]:not([hidden])")).map(el => el.textContent.trim()),
    cut: tile.scrollHeight > tile.clientHeight + 1,
  };
});
return [window.__exportReady, out];
"""


def _retention_shown(facts: dict[str, Any]) -> str:
    return {(True, True): "both", (True, False): "graph", (False, True): "table"}[(facts["graph"], facts["table"])]


@in_module_loop
async def test_a_retention_insight_shows_its_graph_above_its_cohort_table(renderer: Renderer) -> None:
    for name in ("retentionWeeklyTable", "retentionWeeklyGraph"):
        await renderer.render_page(insight_page(load(name), 1000), scale=1)
        assert renderer.pool is not None
        (session,) = renderer.pool.sessions
        ready, facts = await asyncio.to_thread(session.driver.execute_script, RETENTION_PROBE)
        (picture,) = facts.values()
        assert ready is True
        assert _retention_shown(picture) == "both" and picture["graphAbove"], (name, picture)
        assert picture["traces"] == 12 and picture["rows"] == 12 and picture["graphHeight"] > 200


@in_module_loop
async def test_a_retention_tile_shows_what_its_dashboard_display_says(renderer: Renderer) -> None:
    displays = {"unset": None, "table_only": "table_only", "graph_only": "graph_only", "all": "all"}
    tiles = []
    for i, (title, display) in enumerate(displays.items()):
        data = payload("retentionWeeklyTable")
        data["id"], data["name"] = 700 + i, title
        if display:
            data["query"]["source"]["retentionFilter"]["dashboardDisplay"] = display
        tiles.append({"id": i, "insight": data, "layouts": {"sm": {"x": 6 * (i % 2), "y": 6 * (i // 2), "w": 6,
                                                                     "h": 6}}})
    dashboard = normalize_dashboard({"id": 5, "name": "Retention tiles", "tiles": tiles})
    await renderer.render_page(dashboard_page(dashboard, 1200), scale=1)
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    ready, facts = await asyncio.to_thread(session.driver.execute_script, RETENTION_PROBE)
    assert ready is True
    assert {name: _retention_shown(f) for name, f in facts.items()} == {
        "unset": "table", "table_only": "table", "graph_only": "graph", "all": "both"}
    both = facts["all"]
    assert both["graphAbove"] and both["graphHeight"] > 100 and both["rows"] >= 1, both
    assert both["rows"] + _more(both["notes"], "cohorts") == 12  # what does not fit is said, not cut
    assert not any(f["cut"] for f in facts.values()), facts


def test_cli_exits_3_naming_what_it_drew_as_an_unsupported_card(tmp_path: Path) -> None:
    odd = payload("trendsLineFormatted")
    odd["query"]["source"]["trendsFilter"]["display"] = "ActionsBoxPlot"  # a display we do not draw
    source = tmp_path / "odd.json"
    source.write_text(json.dumps(odd), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "render.cli",
            "--from-file",
            str(source),
            "-o",
            str(tmp_path / "odd.png"),
            "--scale",
            "1",
        ],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert 'insight fmtLine1 "Activation rate"' in done.stderr and "ActionsBoxPlot" in done.stderr
    assert (tmp_path / "odd.png").read_bytes().startswith(b"\x89PNG")  # the image is still written


@in_module_loop
async def test_dark_theme_draws_page_and_charts_from_the_dark_tokens(renderer: Renderer) -> None:
    from render.pages import PageOptions, insight_page
    from render.theme import THEMES

    dark = THEMES["dark"]
    page = insight_page(load("trendsLineFormatted"), 1000, PageOptions(theme="dark"))
    capture = await renderer.render_page(page, scale=1)
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    paper, text = await asyncio.to_thread(
        session.driver.execute_script,
        """const plot = document.querySelector(".js-plotly-plot");
        return [plot._fullLayout.paper_bgcolor, getComputedStyle(document.querySelector(".insight-title")).color];""",
    )
    assert paper == dark["bg"]
    assert text == "rgb(238, 240, 244)"  # the dark theme's text token
    histogram = Image.open(io.BytesIO(capture.full)).convert("L").histogram()
    assert sum(level * count for level, count in enumerate(histogram)) / sum(histogram) < 80  # dark, not white


SHARED = Path(__file__).parent / "fixtures" / "posthog" / "insights"
# Per shared fixture (and two displays made from them): what its picture is made of in the page's DOM.
SHARED_PICTURES = {
    "trendsLine": ("scatter", "lines"),
    "trendsLineBreakdown": ("scatter", "lines"),
    "trendsLineMulti": ("scatter", "lines"),
    "trendsBar": ("bar", "v"),
    "trendsBarBreakdown": ("bar", "stack"),
    "trendsUnstackedBar": ("bar", "group"),
    "trendsCumulative": ("scatter", "lines"),
    "trendsArea": ("scatter", "fill"),
    "trendsPie": ("pie", ""),
    "trendsValue": ("bar", "h"),
    "trendsNumber": ("number", ""),
    "trendsTable": ("table", ""),
    "lifecycle": ("bar", "relative"),
    "stickiness": ("scatter", "lines"),
    "userPaths": ("sankey", ""),
    "funnelLeftToRight": ("bar", "v"),
    "funnelTopToBottom": ("funnel_rows", ""),
    "funnelTopToBottomBreakdown": ("funnel_rows", ""),
    "retention": ("scatter", "lines"),  # normalized as an insight: its graph (above its cohort table)
    "dataTableHogQL": ("table", ""),
    "dataVisualizationHogQL": ("table", ""),
}

SHARED_PROBE = r"""
const out = {};
document.querySelectorAll("#export-root [data-tile]").forEach(tile => {
  const plot = tile.querySelector(".js-plotly-plot");
  const body = tile.querySelector(".insight-body");
  const first = plot ? plot.data[0] : null;
  let detail = "";
  if (first && first.type === "bar") {
    detail = first.orientation === "h" ? "h" : (plot._fullLayout.barmode === "relative" ? "relative"
      : plot.data.length > 1 ? plot._fullLayout.barmode : "v");
  } else if (first && first.type === "scatter") {
    detail = first.fill === "tozeroy" || first.stackgroup ? "fill" : "lines";
  }
  out[tile.dataset.tile] = [first ? first.type : body.className.replace("insight-body insight-body-", ""), detail,
                            !!tile.querySelector(".notice-unsupported, .notice-empty, .chart-error")];
});
return out;
"""


def _shared(name: str) -> Insight:
    made = {"trendsUnstackedBar": ("trendsBarBreakdown", "ActionsUnstackedBar"),
            "trendsCumulative": ("trendsLineMulti", None)}  # fmt: skip
    if name not in made:
        return normalize_insight(json.loads((SHARED / f"{name}.json").read_text(encoding="utf-8")))
    source, display = made[name]
    data = json.loads((SHARED / f"{source}.json").read_text(encoding="utf-8"))
    if display:
        data["query"]["source"]["trendsFilter"]["display"] = display
    else:
        data["filters"]["display"] = "ActionsLineGraphCumulative"
    return normalize_insight(data)


@in_module_loop
async def test_every_shared_fixture_and_display_draws_its_picture(renderer: Renderer) -> None:
    names = sorted(SHARED_PICTURES)
    tiles = [Tile(id=i, x=0, y=i * 8, w=12, h=8, insight=_shared(name)) for i, name in enumerate(names)]
    await renderer.render_page(dashboard_page(Dashboard(id=4, name="Shared", tiles=tiles), 1000, stacked=True))
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    facts = await asyncio.to_thread(session.driver.execute_script, SHARED_PROBE)
    drawn = {names[int(key.split()[-1])]: tuple(value) for key, value in facts.items()}
    assert drawn == {name: (*picture, False) for name, picture in SHARED_PICTURES.items()}

"""Normalizing real PostHog payloads (tests/fixtures/posthog) and hand-made edge cases."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_api import (
    ChartKind,
    Insight,
    PostHogPayloadError,
    describe_date_range,
    normalize_dashboard,
    normalize_insight,
)
from tests.standins.fixtures import FIXTURES, load_fixture

EXPECTED_KINDS = {
    "trendsLine": ChartKind.LINE,
    "trendsLineMulti": ChartKind.LINE,
    "trendsLineBreakdown": ChartKind.LINE,
    "trendsBar": ChartKind.BAR,
    "trendsBarBreakdown": ChartKind.BAR,
    "trendsArea": ChartKind.AREA,
    "trendsNumber": ChartKind.NUMBER,
    "trendsPie": ChartKind.PIE,
    "trendsTable": ChartKind.TABLE,
    "trendsValue": ChartKind.VALUE_BARS,
    "funnelLeftToRight": ChartKind.FUNNEL,
    "funnelTopToBottom": ChartKind.FUNNEL,
    "funnelTopToBottomBreakdown": ChartKind.FUNNEL,
    "retention": ChartKind.RETENTION_GRAPH,  # an insight shows its graph above the cohort table
    "lifecycle": ChartKind.LIFECYCLE,
    "stickiness": ChartKind.STICKINESS,
    "userPaths": ChartKind.PATHS,
    "dataTableHogQL": ChartKind.SQL_TABLE,
    "dataVisualizationHogQL": ChartKind.SQL_TABLE,  # no chart display chosen: PostHog shows a table
}


def test_every_fixture_is_covered() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(EXPECTED_KINDS)


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_fixture_normalizes_to_its_kind(name: str) -> None:
    insight = normalize_insight(load_fixture(name), base_url="https://us.posthog.com", project_id=2)
    assert insight.kind is EXPECTED_KINDS[name]
    assert insight.unsupported_reason == ""
    assert insight.name
    assert insight.url == f"https://us.posthog.com/project/2/insights/{insight.short_id}"


# ---------------------------------------------------------------- spot checks on real results


def test_trends_number_is_the_aggregated_value() -> None:
    insight = normalize_insight(load_fixture("trendsNumber"))
    assert insight.name == "Signups!"  # the saved name wins over derived_name
    assert [s.aggregated_value for s in insight.series] == [3141592]
    assert insight.previous_value is None
    assert insight.date_range == "Last 7 days"
    assert insight.last_refresh == "2022-08-09T15:15:30.352651Z"


def test_trends_line_has_x_labels_and_values() -> None:
    insight = normalize_insight(load_fixture("trendsLine"))
    assert insight.name == "Pageview count"  # unnamed: derived_name
    assert insight.interval == "day"
    assert insight.x_labels[0] == "4-Mar-2022" and len(insight.x_labels) == 8
    assert insight.series[0].values == [0, 0, 0, 15625, 22870, 15044, 6675, 796]
    assert insight.series[0].aggregated_value is None


def test_trends_multi_series_and_explicit_dates() -> None:
    insight = normalize_insight(load_fixture("trendsLineMulti"))
    assert [s.label for s in insight.series] == ["Pageview", "Rageclick", "All events"]  # PostHog names its own events
    assert insight.date_range == "From 2023-07-03 to 2023-07-10"


def test_line_breakdown_hides_position_2() -> None:
    insight = normalize_insight(load_fixture("trendsLineBreakdown"))
    assert [(s.breakdown_value, s.hidden) for s in insight.series] == [
        ("1.10.5", False),
        ("1.13.9", False),
        ("1.17.9", True),
    ]


def test_area_keeps_negative_values() -> None:
    insight = normalize_insight(load_fixture("trendsArea"))
    assert -282.0 in insight.series[0].values


def test_pie_uses_result_labels_and_aggregates() -> None:
    insight = normalize_insight(load_fixture("trendsPie"))
    assert [(s.label, s.aggregated_value) for s in insight.series] == [("Pageview", 47258), ("$pagechew", 3258)]
    assert insight.name == "Pageview count"  # name is null


def test_funnel_counts_and_conversion() -> None:
    insight = normalize_insight(load_fixture("funnelLeftToRight"))
    (only,) = insight.funnel
    assert only.label is None
    assert [s.count for s in only.steps] == [20166, 8438, 2864]
    assert only.steps[0].conversion_from_first == 1.0
    assert only.steps[1].conversion_from_first == pytest.approx(8438 / 20166)
    assert only.steps[2].conversion_from_previous == pytest.approx(2864 / 8438)
    assert only.steps[2].conversion_from_first == pytest.approx(2864 / 20166)
    assert [s.optional for s in only.steps] == [False, True, False]  # "optionalInFunnel": "true"
    assert only.steps[1].average_conversion_seconds == pytest.approx(370.48673834484913)
    assert insight.funnel_layout == "vertical"


def test_funnel_layout_horizontal() -> None:
    assert normalize_insight(load_fixture("funnelTopToBottom")).funnel_layout == "horizontal"


def test_funnel_breakdown_is_one_group_per_value_with_zero_guard() -> None:
    insight = normalize_insight(load_fixture("funnelTopToBottomBreakdown"))
    assert [g.label for g in insight.funnel] == ["92", "100", "98"]
    assert [[s.count for s in g.steps] for g in insight.funnel] == [[597, 1, 0], [19568, 8436, 2863], [1, 1, 1]]
    last = insight.funnel[0].steps[2]
    assert last.conversion_from_previous == 0.0 and last.conversion_from_first == 0.0


def test_retention_rows_are_triangular() -> None:
    insight = normalize_insight(load_fixture("retention"))
    assert len(insight.retention) == 11
    assert insight.retention_period == "Day"
    assert [len(r.counts) for r in insight.retention] == list(range(11, 0, -1))
    row = insight.retention[4]
    assert (row.label, row.date, row.cohort_size) == ("Day 4", "2022-03-08", 10222)
    assert row.counts[:3] == [10222, 5001, 11]
    assert insight.retention[10].counts == [10]


def test_lifecycle_series_carry_status() -> None:
    insight = normalize_insight(load_fixture("lifecycle"))
    assert [s.status for s in insight.series] == ["new", "dormant", "resurrecting", "returning"]
    assert [s.label for s in insight.series] == ["New", "Dormant", "Resurrecting", "Returning"]
    assert insight.series[1].values[0] == -6752


def test_stickiness_x_labels_are_days() -> None:
    insight = normalize_insight(load_fixture("stickiness"))
    assert insight.x_labels[:2] == ["1 day", "2 days"]


def test_paths_have_49_links() -> None:
    insight = normalize_insight(load_fixture("userPaths"))
    assert len(insight.paths) == 49
    first = insight.paths[0]
    assert (first.source, first.target, first.value) == (
        "1_http://amazingstore.com",
        "2_http://amazingstore.com/product",
        3705,
    )


@pytest.mark.parametrize("name", ["dataTableHogQL", "dataVisualizationHogQL"])
def test_hogql_table_has_100_rows_4_columns(name: str) -> None:
    insight = normalize_insight(load_fixture(name))
    assert insight.table is not None
    assert insight.table.columns == ["event", "person.properties.email", "properties.$browser", "count()"]
    assert len(insight.table.rows) == 100
    assert all(len(row) == 4 for row in insight.table.rows)
    assert insight.table.rows[0] == ["$autocapture", "test@posthog.com", "Chrome", 324]
    assert insight.date_range == ""  # the SQL says its own range


def test_data_visualization_with_a_chart_display_is_a_sql_chart() -> None:
    payload = load_fixture("dataVisualizationHogQL")
    payload["query"]["display"] = "ActionsBar"
    payload["query"]["chartSettings"] = {"xAxis": {"column": "event"}, "yAxis": [{"column": "count()"}]}
    insight = normalize_insight(payload)
    assert insight.kind is ChartKind.BAR  # drawn as PostHog draws the display chosen
    assert insight.x_labels[0] == "$autocapture"
    assert [s.label for s in insight.series] == ["count()"]
    assert insight.series[0].values[0] == 324
    assert insight.table is not None and len(insight.table.rows) == 100


# ---------------------------------------------------------------- legacy `filters` and current `query` formats


def _legacy(display: str | None = None, insight: str = "TRENDS", result: Any = None, **filters: Any) -> dict:
    base: dict[str, Any] = {"insight": insight, **filters}
    if display:
        base["display"] = display
    series = [{"label": "$pageview", "count": 10, "data": [4, 6], "labels": ["a", "b"], "aggregated_value": 10}]
    return {
        "id": 7,
        "short_id": "abcdEFGH",
        "name": "x",
        "filters": base,
        "result": series if result is None else result,
    }


def _query(display: str | None = None, result: Any = None, **source: Any) -> dict:
    trends_filter = {"display": display} if display else {}
    query = {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "trendsFilter": trends_filter, **source}}
    series = [{"label": "$pageview", "count": 10, "data": [4, 6], "labels": ["a", "b"], "aggregated_value": 10}]
    return {
        "id": 7,
        "short_id": "abcdEFGH",
        "filters": {},
        "query": query,
        "result": series if result is None else result,
    }


DISPLAYS = {
    "ActionsLineGraph": ChartKind.LINE,
    "ActionsLineGraphCumulative": ChartKind.CUMULATIVE,
    "ActionsBar": ChartKind.BAR,
    "ActionsStackedBar": ChartKind.BAR,
    "ActionsAreaGraph": ChartKind.AREA,
    "ActionsPie": ChartKind.PIE,
    "BoldNumber": ChartKind.NUMBER,
    "ActionsBarValue": ChartKind.VALUE_BARS,
    "ActionsTable": ChartKind.TABLE,
    "WorldMap": ChartKind.WORLD_MAP,
}


@pytest.mark.parametrize("display", sorted(DISPLAYS))
def test_display_maps_to_kind_in_both_formats(display: str) -> None:
    assert normalize_insight(_legacy(display)).kind is DISPLAYS[display]
    assert normalize_insight(_query(display)).kind is DISPLAYS[display]


def test_no_display_is_a_line_graph() -> None:
    assert normalize_insight(_legacy()).kind is ChartKind.LINE
    assert normalize_insight(_query()).kind is ChartKind.LINE


@pytest.mark.parametrize(
    ("insight_type", "kind"),
    [("LIFECYCLE", ChartKind.LIFECYCLE), ("STICKINESS", ChartKind.STICKINESS)],
)
def test_legacy_insight_types(insight_type: str, kind: ChartKind) -> None:
    assert normalize_insight(_legacy("ActionsLineGraph", insight=insight_type)).kind is kind


def test_aggregated_display_falls_back_to_count() -> None:
    payload = _legacy("ActionsPie", result=[{"label": "a", "count": 12, "data": []}])
    assert normalize_insight(payload).series[0].aggregated_value == 12


def _compared() -> list[dict]:
    return [
        {"label": "signups", "aggregated_value": 120, "compare": True, "compare_label": "current", "data": []},
        {"label": "signups", "aggregated_value": 100, "compare": True, "compare_label": "previous", "data": []},
    ]


def test_bold_number_compared_to_previous_period_legacy() -> None:
    insight = normalize_insight(_legacy("BoldNumber", result=_compared(), compare=True))
    assert [s.aggregated_value for s in insight.series] == [120]
    assert insight.previous_value == 100


def test_bold_number_compared_to_previous_period_query() -> None:
    insight = normalize_insight(_query("BoldNumber", result=_compared(), compareFilter={"compare": True}))
    assert insight.series[0].compare_label == "current"
    assert insight.previous_value == 100


def test_compared_line_keeps_both_periods_labelled() -> None:
    result = [dict(s, data=[1, 2], labels=["a", "b"]) for s in _compared()]
    insight = normalize_insight(_query("ActionsLineGraph", result=result))
    assert [s.compare_label for s in insight.series] == ["current", "previous"]


def test_legacy_hidden_legend_keys() -> None:
    result = [{"label": n, "data": [1]} for n in ("a", "b", "c")]
    insight = normalize_insight(_legacy("ActionsLineGraph", result=result, hidden_legend_keys={"1": True, "2": False}))
    assert [s.hidden for s in insight.series] == [False, True, False]


def test_result_customizations_by_value_hide_the_matching_series() -> None:
    result = [
        {"label": "$pageview - a", "action": {"order": 0}, "breakdown_value": "a", "data": [1]},
        {"label": "$pageview - b", "action": {"order": 0}, "breakdown_value": "b", "data": [2]},
    ]
    customizations = {'{"series":0,"breakdown_value":["b"]}': {"assignmentBy": "value", "hidden": True}}
    trends_filter = {"resultCustomizationBy": "value", "resultCustomizations": customizations}
    payload = _query(result=result)
    payload["query"]["source"]["trendsFilter"] = trends_filter
    assert [s.hidden for s in normalize_insight(payload).series] == [False, True]


def test_lifecycle_toggles_hide_statuses() -> None:
    result = [{"label": f"$pageview - {s}", "status": s, "data": [1]} for s in ("new", "dormant")]
    payload = _query(result=result)
    payload["query"]["source"] = {"kind": "LifecycleQuery", "lifecycleFilter": {"toggledLifecycles": ["new"]}}
    insight = normalize_insight(payload)
    assert insight.kind is ChartKind.LIFECYCLE
    assert [s.hidden for s in insight.series] == [False, True]


def test_custom_series_name_wins() -> None:
    result = [{"label": "$pageview - 1.0", "action": {"custom_name": "Views"}, "breakdown_value": "1.0", "data": [1]}]
    assert normalize_insight(_query(result=result)).series[0].label == "Views - 1.0"


def test_breakdown_markers_in_words() -> None:
    result = [
        {"label": "x", "breakdown_value": "$$_posthog_breakdown_other_$$", "data": [1]},
        {"label": "y", "breakdown_value": None, "data": [1]},
        {"label": "z", "breakdown_value": ["Chrome", 120], "data": [1]},
    ]
    series = normalize_insight(_query(result=result)).series
    assert [s.breakdown_value for s in series] == ["Other", None, "Chrome, 120"]


def test_legacy_funnel_layout_and_steps() -> None:
    steps = [{"name": "a", "order": 0, "count": 10}, {"name": "b", "order": 1, "count": 4}]
    insight = normalize_insight(_legacy(insight="FUNNELS", result=steps, layout="horizontal"))
    assert insight.kind is ChartKind.FUNNEL
    assert insight.funnel_layout == "horizontal"
    assert [s.conversion_from_previous for s in insight.funnel[0].steps] == [1.0, 0.4]


def test_funnel_with_an_empty_first_step_does_not_divide_by_zero() -> None:
    steps = [{"name": "a", "count": 0}, {"name": "b", "count": 0}]
    insight = normalize_insight(_legacy(insight="FUNNELS", result=steps))
    assert [(s.conversion_from_first, s.conversion_from_previous) for s in insight.funnel[0].steps] == [
        (0.0, 0.0),
        (0.0, 0.0),
    ]


def test_funnel_trends_is_a_percent_line_and_time_to_convert_a_histogram() -> None:
    trend = [{"data": [10.0, 20.5], "days": ["2024-01-01", "2024-01-02"]}]
    insight = normalize_insight(_legacy(insight="FUNNELS", result=trend, funnel_viz_type="trends"))
    assert insight.kind is ChartKind.LINE and insight.series[0].values == [10.0, 20.5]
    assert insight.series[0].label == "Conversion rate"  # not "Series 1"
    assert insight.formatting.axis_format == "percentage"
    bins = {"bins": [[60, 3], [120, 1]], "average_conversion_time": 75}
    insight = normalize_insight(_legacy(insight="FUNNELS", result=bins, funnel_viz_type="time_to_convert"))
    assert insight.kind is ChartKind.FUNNEL_TIME
    assert insight.conversion_bins == [(60, 3), (120, 1)] and insight.average_conversion_seconds == 75


def test_query_retention_period() -> None:
    payload = _query(result=[{"label": "Week 0", "date": "2024-01-01T00:00:00Z", "values": [{"count": 5}]}])
    payload["query"]["source"] = {"kind": "RetentionQuery", "retentionFilter": {"period": "Week"}}
    insight = normalize_insight(payload)
    assert insight.retention_period == "Week"
    assert insight.retention[0].cohort_size == 5


# ---------------------------------------------------------------- unsupported, never an exception


def test_result_not_computed_is_unsupported_with_reason() -> None:
    for payload in (_query(), _legacy()):
        payload["result"] = None
        insight = normalize_insight(payload)
        assert insight.kind is ChartKind.UNSUPPORTED
        assert "not calculated" in insight.unsupported_reason
    payload = _query()
    del payload["result"]
    assert normalize_insight(payload).kind is ChartKind.UNSUPPORTED


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda p: p["query"]["source"].update(kind="WebOverviewQuery"), "WebOverviewQuery"),
        (lambda p: p["query"].update(kind="SavedInsightNode"), "SavedInsightNode"),
        (lambda p: p["query"]["source"]["trendsFilter"].update(display="ActionsBoxPlot"), "ActionsBoxPlot"),
        (lambda p: p["query"].update(kind="DataTableNode", source={"kind": "SessionsQuery"}), "SessionsQuery"),
        (lambda p: p.update(query=None, filters={}), "no chart definition"),
    ],
)
def test_unknown_kinds_are_unsupported(mutate: Any, words: str) -> None:
    payload = _query()
    mutate(payload)
    insight = normalize_insight(payload)
    assert insight.kind is ChartKind.UNSUPPORTED
    assert words in insight.unsupported_reason


def test_legacy_unknown_insight_type_is_unsupported() -> None:
    insight = normalize_insight(_legacy(insight="SESSIONS"))
    assert insight.kind is ChartKind.UNSUPPORTED and "SESSIONS" in insight.unsupported_reason


@pytest.mark.parametrize(
    "result",
    ["oops", {"a": 1}, [1, 2], [{"data": "nope"}], [{"data": ["x"]}], [{"labels": 5, "data": [1]}]],
)
def test_results_in_a_strange_shape_are_unsupported(result: object) -> None:
    insight = normalize_insight(_query(result=result))
    assert insight.kind is ChartKind.UNSUPPORTED
    assert "shape" in insight.unsupported_reason
    assert insight.name == "Untitled insight"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (None, "NoneType"),
        ([], "list"),
        ("insight", "str"),
        ({}, "without a numeric id"),
        ({"id": "abc"}, "without a numeric id"),
        ({"id": True}, "without a numeric id"),
        ({"id": 1.5}, "without a numeric id"),
    ],
)
def test_not_an_insight_raises_payload_error(payload: object, words: str) -> None:
    with pytest.raises(PostHogPayloadError, match=words):
        normalize_insight(payload)  # type: ignore[arg-type]


def test_url_without_project_or_base() -> None:
    assert normalize_insight(load_fixture("trendsLine")).url == ""
    assert normalize_insight(load_fixture("trendsLine"), base_url="https://eu.posthog.com/").url == (
        "https://eu.posthog.com/insights/jEAIVJnN"
    )


# ---------------------------------------------------------------- date ranges


@pytest.mark.parametrize(
    ("date_from", "date_to", "words"),
    [
        (None, None, "Last 7 days"),
        ("-7d", None, "Last 7 days"),
        ("-30d", None, "Last 30 days"),
        ("-24h", None, "Last 24 hours"),
        ("-1w", None, "Last 1 week"),
        ("-3m", None, "Last 3 months"),
        ("-1dStart", "-1dEnd", "Yesterday"),
        ("dStart", None, "Today"),
        ("mStart", None, "Month to date"),
        ("-1mStart", "-1mEnd", "Previous month"),
        ("yStart", None, "Year to date"),
        ("all", None, "All time"),
        ("2022-03-08", "2022-03-15", "From 2022-03-08 to 2022-03-15"),
        ("2022-03-08T00:00:00Z", "2022-03-15T21:44:11.626841+00:00", "From 2022-03-08 to 2022-03-15 21:44"),
        ("2022-03-08", None, "Since 2022-03-08"),
        ("-14d", "-7d", "From 14 days ago to 7 days ago"),
    ],
)
def test_date_range_words(date_from: str | None, date_to: str | None, words: str) -> None:
    assert describe_date_range(date_from, date_to) == words


def test_query_date_range_is_read() -> None:
    payload = _query(dateRange={"date_from": "-30d"})
    assert normalize_insight(payload).date_range == "Last 30 days"


# ---------------------------------------------------------------- dashboards


def _tile(tile_id: int, layout: dict | None, *, insight: dict | None = None, text: str | None = None, **kw: Any):
    tile: dict[str, Any] = {"id": tile_id, "insight": insight, "text": {"body": text} if text else None, **kw}
    if layout is not None:
        tile["layouts"] = {"sm": layout, "xs": {"x": 0, "y": 0, "w": 1, "h": 1}}
    return tile


def _dashboard(tiles: list[dict], **extra: Any) -> dict:
    return {"id": 42, "name": "Overview", "description": "d", "tiles": tiles, **extra}


def test_dashboard_tiles_in_grid_order_unplaced_last_deleted_skipped() -> None:
    line, number = load_fixture("trendsLine"), load_fixture("trendsNumber")
    tiles = [
        _tile(1, {"x": 6, "y": 5, "w": 6, "h": 5}, insight=line),
        _tile(2, None, text="no layout, first"),
        _tile(3, {"x": 0, "y": 5, "w": 6, "h": 5}, insight=number),
        _tile(4, {"x": 0, "y": 0, "w": 12, "h": 2}, text="# Hello"),
        _tile(5, {"x": 0, "y": 1, "w": 12, "h": 2}, text="deleted", deleted=True),
        _tile(6, None, text="no layout, second"),
        _tile(7, {"x": 0, "y": 20, "w": 6, "h": 5}, insight=dict(copy.deepcopy(line), deleted=True)),
        _tile(8, {"x": 0, "y": 30, "w": 6, "h": 5}),  # neither insight nor text
    ]
    dashboard = normalize_dashboard(_dashboard(tiles), base_url="https://us.posthog.com", project_id=2)
    assert [t.id for t in dashboard.tiles] == [4, 3, 1, 2, 6]
    assert dashboard.url == "https://us.posthog.com/project/2/dashboard/42"
    assert dashboard.tiles[0].text == "# Hello" and dashboard.tiles[0].insight is None
    assert dashboard.tiles[1].insight is not None and dashboard.tiles[1].insight.kind is ChartKind.NUMBER
    assert dashboard.tiles[1].insight.url == "https://us.posthog.com/project/2/insights/sJslPafh"
    # Unplaced tiles stack full width under the grid, in payload order.
    assert [(t.x, t.y, t.w) for t in dashboard.tiles[3:]] == [(0, 10, 12), (0, 15, 12)]


def test_dashboard_date_filter_overrides_insight_ranges() -> None:
    tiles = [_tile(1, {"x": 0, "y": 0, "w": 6, "h": 5}, insight=load_fixture("trendsLineMulti"))]
    dashboard = normalize_dashboard(_dashboard(tiles, filters={"date_from": "-30d", "date_to": None}))
    assert dashboard.tiles[0].insight is not None
    assert dashboard.tiles[0].insight.date_range == "Last 30 days"


def test_dashboard_with_an_uncomputed_insight_still_normalizes() -> None:
    pending = dict(load_fixture("trendsBar"), result=None)
    dashboard = normalize_dashboard(_dashboard([_tile(1, {"x": 0, "y": 0, "w": 6, "h": 5}, insight=pending)]))
    assert dashboard.tiles[0].insight is not None
    assert dashboard.tiles[0].insight.kind is ChartKind.UNSUPPORTED


def test_legacy_dashboard_items() -> None:
    item = dict(load_fixture("trendsBar"), layouts={"sm": {"x": 0, "y": 3, "w": 6, "h": 5}})
    dashboard = normalize_dashboard({"id": 3, "name": "Old", "items": [item]})
    assert dashboard.tiles[0].insight is not None and dashboard.tiles[0].y == 3


@pytest.mark.parametrize("payload", [None, [], {"name": "no id"}, {"id": 1, "tiles": "nope"}])
def test_not_a_dashboard_raises_payload_error(payload: object) -> None:
    with pytest.raises(PostHogPayloadError):
        normalize_dashboard(payload)  # type: ignore[arg-type]


# ---------------------------------------------------------------- fuzzing: Insight or PostHogPayloadError


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_numbers = st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.none()
_maybe_num = _numbers | _json


def _mostly(good: st.SearchStrategy, bad: st.SearchStrategy = _json) -> st.SearchStrategy:
    """Valid-looking values three times in four, junk otherwise, so that the fuzzing reaches deep code."""
    return st.tuples(st.integers(0, 3), good, bad).map(lambda t: t[2] if t[0] == 0 else t[1])


_series_item = st.fixed_dictionaries(
    {},
    optional={
        "label": _mostly(st.text(max_size=10)),
        "data": _mostly(st.lists(_maybe_num, max_size=5)),
        "labels": _mostly(st.lists(st.text(max_size=5), max_size=5)),
        "days": _mostly(st.lists(st.text(max_size=5), max_size=5)),
        "aggregated_value": _maybe_num,
        "count": _maybe_num,
        "breakdown_value": _json,
        "compare_label": _mostly(st.sampled_from(["current", "previous"])),
        "status": _mostly(st.sampled_from(["new", "returning", "resurrecting", "dormant"])),
        "action": _mostly(st.fixed_dictionaries({}, optional={"order": _json, "custom_name": _json})),
    },
)
_step = st.fixed_dictionaries(
    {},
    optional={
        "name": _json,
        "custom_name": _json,
        "order": _mostly(st.integers(0, 5)),
        "count": _maybe_num,
        "median_conversion_time": _maybe_num,
        "average_conversion_time": _maybe_num,
        "breakdown_value": _json,
    },
)
_cohort = st.fixed_dictionaries(
    {},
    optional={
        "label": _json,
        "date": _json,
        "values": _mostly(st.lists(_mostly(st.fixed_dictionaries({"count": _maybe_num})), max_size=4)),
    },
)
_link = st.fixed_dictionaries(
    {}, optional={"source": _mostly(st.text(max_size=6)), "target": _mostly(st.text(max_size=6)), "value": _maybe_num}
)
_result = st.one_of(
    st.lists(_series_item, max_size=4),
    st.lists(_step, max_size=4),
    st.lists(st.lists(_step, max_size=3), max_size=3),
    st.lists(_cohort, max_size=4),
    st.lists(_link, max_size=4),
    st.lists(st.lists(_json, max_size=4), max_size=4),
    _json,
)
_display = _mostly(st.sampled_from([*DISPLAYS, "CalendarHeatmap"]))
_date = _mostly(st.sampled_from(["-7d", "-24h", "dStart", "-1dStart", "2022-03-08", "all", "-3mStart"]))
_source = st.fixed_dictionaries(
    {
        "kind": _mostly(
            st.sampled_from(
                [
                    "TrendsQuery",
                    "FunnelsQuery",
                    "RetentionQuery",
                    "LifecycleQuery",
                    "StickinessQuery",
                    "PathsQuery",
                    "HogQLQuery",
                    "EventsQuery",
                ]
            )
        )
    },
    optional={
        "trendsFilter": _mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "display": _display,
                    "resultCustomizationBy": _mostly(st.sampled_from(["value", "position"])),
                    "resultCustomizations": _json,
                    "hiddenLegendIndexes": _json,
                },
            )
        ),
        "funnelsFilter": _mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "funnelVizType": _mostly(st.sampled_from(["steps", "trends", "time_to_convert"])),
                    "layout": _json,
                },
            )
        ),
        "dateRange": _mostly(st.fixed_dictionaries({}, optional={"date_from": _date, "date_to": _date})),
        "compareFilter": _json,
        "series": _json,
        "lifecycleFilter": _json,
        "retentionFilter": _json,
        "interval": _json,
    },
)
_query_node = st.fixed_dictionaries(
    {
        "kind": _mostly(st.sampled_from(["InsightVizNode", "DataTableNode", "DataVisualizationNode"])),
        "source": _mostly(_source),
    },
    optional={"display": _display, "chartSettings": _json},
)
_filters = st.fixed_dictionaries(
    {},
    optional={
        "insight": _mostly(st.sampled_from(["TRENDS", "FUNNELS", "RETENTION", "LIFECYCLE", "STICKINESS", "PATHS"])),
        "display": _display,
        "date_from": _date,
        "date_to": _date,
        "compare": _json,
        "hidden_legend_keys": _json,
        "funnel_viz_type": _json,
        "layout": _json,
        "events": _json,
        "period": _json,
    },
)
_insightish = st.fixed_dictionaries(
    {
        "id": _mostly(st.integers(0, 10**9)),
        "filters": _mostly(_filters),
        "query": _mostly(_query_node | st.none()),
        "result": _result,
    },
    optional={
        "short_id": _json,
        "name": _json,
        "derived_name": _json,
        "description": _json,
        "columns": _json,
        "last_refresh": _json,
    },
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_insightish | _json)
def test_fuzzed_payloads_give_an_insight_or_a_payload_error(payload: object) -> None:
    try:
        insight = normalize_insight(payload)  # type: ignore[arg-type]
    except PostHogPayloadError as exc:
        assert str(exc)
        return
    assert isinstance(insight, Insight)
    assert insight.kind is not ChartKind.UNSUPPORTED or insight.unsupported_reason


@settings(max_examples=100, deadline=None)
@given(
    tiles=st.lists(
        st.fixed_dictionaries(
            {},
            optional={"id": _json, "insight": _insightish | _json, "text": _json, "layouts": _json, "deleted": _json},
        )
    )
)
def test_fuzzed_dashboards_give_a_dashboard_or_a_payload_error(tiles: list) -> None:
    try:
        dashboard = normalize_dashboard({"id": 1, "tiles": tiles})
    except PostHogPayloadError:
        return
    assert all(t.insight is not None or t.text is not None for t in dashboard.tiles)


def _json_paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document (lists: their first three items), to swap for junk."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            found += _json_paths(item, (*prefix, index))
    return found


_FIXTURE_PATHS = {name: _json_paths(load_fixture(name)) for name in EXPECTED_KINDS}


@settings(max_examples=600, deadline=None)
@given(name=st.sampled_from(sorted(EXPECTED_KINDS)), data=st.data())
def test_real_payloads_with_one_value_swapped_for_junk(name: str, data: st.DataObject) -> None:
    payload: Any = load_fixture(name)
    path = data.draw(st.sampled_from(_FIXTURE_PATHS[name]), label="path")
    junk = data.draw(_json, label="junk")
    if not path:
        payload = junk
    else:
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = junk
    try:
        insight = normalize_insight(payload)
    except PostHogPayloadError:
        assert path in ((), ("id",))  # only a missing or broken id makes it "not an insight"
        return
    assert isinstance(insight, Insight)


# --- legacy names, lifecycle options, the project's currency ------------------------------------------------


def _legacy_trends(results: list[dict[str, Any]]) -> dict[str, Any]:
    """An old insight saved with `filters` only (no `query`), as PostHog's API still returns some."""
    payload = copy.deepcopy(load_fixture("trendsLineMulti"))
    payload.pop("query", None)
    payload["filters"]["events"] = [
        {"id": "$pageview", "name": "$pageview", "type": "events", "order": 0, "custom_name": "Visits"},
        {"id": "signed_up", "name": "signed_up", "type": "events", "order": 4},  # orders need not be 0, 1, 2
    ]
    payload["filters"]["actions"] = [{"id": 7, "name": "Paid", "type": "actions", "order": 1}]
    payload["result"] = results
    return payload


def test_legacy_series_are_named_from_filters_events_as_posthog_shows_them() -> None:
    data = [1, 2, 3]
    # Results that carry no action: each series by its position among the events and actions, by order.
    bare = normalize_insight(_legacy_trends([{"label": "$pageview", "data": data}, {"label": "Paid", "data": data},
                                             {"label": "", "data": data}]))
    assert [s.label for s in bare.series] == ["Visits", "Paid", "signed_up"]
    # Results whose action lacks the custom name: found by the action's order, breakdowns kept.
    broken_down = normalize_insight(_legacy_trends([
        {"label": "$pageview - Chrome", "data": data, "breakdown_value": "Chrome",
         "action": {"id": "$pageview", "name": "$pageview", "order": 0, "custom_name": None}},
        {"label": "signed_up - Chrome", "data": data, "breakdown_value": "Chrome",
         "action": {"id": "signed_up", "name": "signed_up", "order": 4}},
        {"label": "$pageview", "data": data, "action": {"id": "$pageview", "order": 5}},  # an order not defined
    ]))
    assert [s.label for s in broken_down.series] == ["Visits - Chrome", "signed_up - Chrome", "Pageview"]


def test_lifecycle_display_options_are_read_from_its_filter() -> None:
    payload = copy.deepcopy(load_fixture("lifecycle"))
    filters = payload.pop("filters")
    payload["query"] = {"kind": "InsightVizNode", "source": {
        "kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "$pageview"}],
        "lifecycleFilter": {"showValuesOnSeries": True, "showLegend": False}}}
    options = normalize_insight(payload).formatting
    assert options.show_values and options.show_legend is False
    legacy = normalize_insight({**payload, "query": None, "filters": {**filters, "show_values_on_series": True}})
    assert legacy.formatting.show_values and legacy.kind is ChartKind.LIFECYCLE


@pytest.mark.parametrize(("given", "code"), [("EUR", "EUR"), ("gbp", "GBP"), (None, "USD"), ("", "USD"),
                                              ("euros", "USD"), (978, "USD")])
def test_the_projects_base_currency_is_used_when_it_is_a_currency_code(given: object, code: str) -> None:
    assert normalize_insight(load_fixture("trendsLine"), base_currency=given).formatting.currency == code
    tile = {"id": 1, "insight": load_fixture("trendsLine"), "layouts": {}}
    dashboard = normalize_dashboard({"id": 42, "name": "D", "tiles": [tile]}, base_currency=given)
    assert dashboard.tiles[0].insight.formatting.currency == code


def _retention(retention_filter: dict, **query: object) -> dict:
    payload = copy.deepcopy(load_fixture("retention"))
    payload["query"] = {"kind": "InsightVizNode", **query,
                        "source": {"kind": "RetentionQuery", "retentionFilter": retention_filter}}
    return payload


def _shown(insight) -> str:
    graph = insight.kind is ChartKind.RETENTION_GRAPH
    return "both" if graph and insight.retention_table else "graph" if graph else "table"


# PostHog's RetentionContainer: the insight shows its graph above the table whatever `dashboardDisplay` says; a
# dashboard tile shows what `dashboardDisplay` says, the table when it says nothing (as before the option).
@pytest.mark.parametrize(("retention_filter", "on_insight", "on_tile"), [
    ({"period": "Week"}, "both", "table"),
    ({"period": "Week", "display": "ActionsLineGraph"}, "both", "table"),
    ({"period": "Week", "display": "ActionsBar"}, "both", "table"),
    ({"period": "Week", "dashboardDisplay": "table_only"}, "both", "table"),
    ({"period": "Week", "dashboardDisplay": "graph_only"}, "both", "graph"),  # a line by default
    ({"period": "Week", "dashboardDisplay": "all"}, "both", "both"),
    ({"period": "Week", "dashboardDisplay": ["all"]}, "both", "table"),  # not PostHog's: its default
])
def test_retention_shows_what_posthog_shows_on_the_insight_and_on_a_dashboard(retention_filter, on_insight,
                                                                             on_tile) -> None:
    payload = _retention(retention_filter)
    assert _shown(normalize_insight(payload)) == on_insight
    dashboard = normalize_dashboard({"id": 1, "name": "D", "tiles": [{"id": 1, "insight": payload, "layouts": {}}]})
    assert _shown(dashboard.tiles[0].insight) == on_tile


def test_retention_with_its_graph_hidden_shows_the_table_everywhere() -> None:
    hidden = {"vizSpecificOptions": {"RETENTION": {"hideLineGraph": True}}}
    payload = _retention({"period": "Week", "dashboardDisplay": "graph_only"}, **hidden)
    assert _shown(normalize_insight(payload)) == "table"
    assert _shown(normalize_insight(payload, on_dashboard=True)) == "table"  # never nothing at all

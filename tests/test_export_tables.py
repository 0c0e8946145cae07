"""PostHog content as tables: every insight kind of the real fixtures, the demo dashboard, dates and streams."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from exports import Table, dashboard_tables, insight_table, iterate, parse_iso, with_dates
from posthog_api import (
    ChartKind,
    DemoProject,
    FunnelBreakdown,
    FunnelStep,
    Insight,
    Series,
    normalize_insight,
)
from posthog_api import Table as ContentTable
from tests.standins.fixtures import FIXTURES, load_fixture

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "posthog-fixtures" / "insights"


def fixture_files() -> list[Path]:
    files = sorted(FIXTURES.glob("*.json"))
    if SHARED_FIXTURES.is_dir():
        files += sorted(SHARED_FIXTURES.glob("*.json"))
    return files


def table_of(name: str) -> tuple[Table, list[list[Any]]]:
    table = insight_table(normalize_insight(load_fixture(name)))
    return table, list(table.rows)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.parent.parent.name}/{p.stem}")
def test_every_fixture_is_a_rectangular_table_of_plain_values(path: Path) -> None:
    insight = normalize_insight(json.loads(path.read_text(encoding="utf-8")))
    assert insight.kind is not ChartKind.UNSUPPORTED
    table = insight_table(insight)
    rows = list(table.rows)  # type: ignore[arg-type]
    assert table.title == insight.name and table.columns and rows and not table.note
    assert len(set(c.casefold() for c in table.columns)) == len(table.columns)
    for row in rows:
        assert len(row) == len(table.columns)
        for value in row:
            assert value is None or isinstance(value, str | int | float | date), value


def test_trends_line_is_a_row_per_day_with_real_dates_and_integer_counts() -> None:
    table, rows = table_of("trendsLine")
    assert table.columns == ["Date", "Pageview"]
    assert rows[0] == [date(2022, 3, 4), 0]
    assert rows[3] == [date(2022, 3, 7), 15625] and type(rows[3][1]) is int
    assert len(rows) == 8


def test_trends_several_series_and_breakdowns_are_columns() -> None:
    table, rows = table_of("trendsLineMulti")
    assert table.columns == ["Date", "Pageview", "Rageclick", "All events"]
    assert rows[0] == [date(2023, 7, 3), 85, 0, 192]
    table, rows = table_of("trendsBarBreakdown")
    assert table.columns == ["Date", "Pageview - 1.10.5", "Pageview - 1.13.9", "Pageview - 1.17.9"]
    assert rows[0] == [date(2022, 3, 8), 22750, 0, 120]


def test_breakdown_values_are_added_when_the_label_lacks_them_and_names_stay_unique() -> None:
    insight = Insight(
        id=1, short_id="a", name="Compare", kind=ChartKind.LINE, x_labels=["8-Mar-2022 14:00", "8-Mar-2022 15:00"],
        series=[
            Series(label="$pageview", values=[1.0, 2.5], breakdown_value="Chrome"),
            Series(label="$pageview", values=[3.0, 4.0], breakdown_value="Chrome", compare_label="previous"),
            Series(label="$pageview - Chrome", values=[5.0]),
        ],
    )
    table = insight_table(insight)
    assert table.columns == ["Date", "$pageview - Chrome", "$pageview - Chrome (previous)", "$pageview - Chrome (2)"]
    assert list(table.rows) == [  # type: ignore[arg-type]
        [datetime(2022, 3, 8, 14, 0), 1, 3, 5],
        [datetime(2022, 3, 8, 15, 0), 2.5, 4, None],
    ]


def test_negative_values_stay_negative_numbers() -> None:
    _, rows = table_of("trendsArea")
    assert [r[1] for r in rows[2:4]] == [-282, -262]
    _, rows = table_of("lifecycle")
    assert all(isinstance(r[2], int) and r[2] <= 0 for r in rows)  # dormant


def test_single_value_kinds_are_a_row_per_series() -> None:
    assert table_of("trendsNumber")[1] == [["signed_up", 3141592]]
    table, rows = table_of("trendsPie")
    assert table.columns == ["Series", "Value"] and rows == [["Pageview", 47258], ["$pagechew", 3258]]
    assert table_of("trendsTable")[1] == [["Pageview", 47258]]
    assert table_of("trendsValue")[1] == [["Pageview", 47258]]


def test_a_number_compared_to_the_previous_period_has_both_values() -> None:
    insight = Insight(id=1, short_id="a", name="Signups", kind=ChartKind.NUMBER, previous_value=80.0,
                      series=[Series(label="signed_up", aggregated_value=100.0, compare_label="current")])
    table = insight_table(insight)
    assert table.columns == ["Series", "Value", "Previous period"]
    assert list(table.rows) == [["signed_up", 100, 80]]  # type: ignore[arg-type]


def test_world_map_is_a_row_per_country() -> None:
    insight = Insight(id=1, short_id="a", name="Where", kind=ChartKind.WORLD_MAP, series=[
        Series(label="$pageview - FR", aggregated_value=12.0, breakdown_value="FR"),
        Series(label="$pageview - DE", aggregated_value=7.0, breakdown_value="DE"),
    ])
    table = insight_table(insight)
    assert table.columns == ["Country", "Value"] and list(table.rows) == [["FR", 12], ["DE", 7]]  # type: ignore


def test_funnel_steps_have_conversion_and_drop_off() -> None:
    table, rows = table_of("funnelLeftToRight")
    assert table.columns == [
        "Step", "Name", "Count", "Conversion from first step (%)", "Conversion from previous step (%)",
        "Dropped off", "Median time to convert (s)", "Average time to convert (s)",
    ]
    assert rows[0][:6] == [1, "Pageview", 20166, 100.0, 100.0, 0]
    assert rows[1][:6] == [2, "Pageview (optional)", 8438, 41.84, 41.84, 20166 - 8438]
    third = rows[2]
    assert third[2] == 2864 and third[3] == round(2864 / 20166 * 100, 2) and third[4] == round(2864 / 8438 * 100, 2)
    assert third[5] == 8438 - 2864


def test_funnel_breakdowns_are_a_column_and_rows() -> None:
    table, rows = table_of("funnelTopToBottomBreakdown")
    assert table.columns[0] == "Breakdown" and len(rows) == 9
    assert [r[0] for r in rows] == ["92"] * 3 + ["100"] * 3 + ["98"] * 3
    assert [r[1] for r in rows[:3]] == [1, 2, 3]


def test_funnel_without_conversions_divides_nothing_by_zero() -> None:
    insight = Insight(id=1, short_id="a", name="Empty", kind=ChartKind.FUNNEL, funnel=[FunnelBreakdown(None, [
        FunnelStep("a", 0, 0.0, 0.0), FunnelStep("b", 0, 0.0, 0.0)])])
    assert [r[2:6] for r in insight_table(insight).rows] == [[0, 0.0, 0.0, 0], [0, 0.0, 0.0, 0]]  # type: ignore


def test_retention_is_the_cohort_matrix() -> None:
    table, rows = table_of("retention")
    assert table.columns == ["Cohort", "Date", "Size"] + [f"Day {i}" for i in range(11)]
    assert len(rows) == 11
    assert rows[3][:5] == ["Day 3", date(2022, 3, 7), 6783, 6783, 31]
    assert rows[-1][3:] == [rows[-1][2]] + [None] * 10  # the triangle's last cohort: day 0 only


def test_lifecycle_is_a_column_per_status() -> None:
    table, rows = table_of("lifecycle")
    assert table.columns == ["Date", "New", "Dormant", "Resurrecting", "Returning"]
    assert rows[0] == [date(2022, 3, 8), 10220, -6752, 2, 31]


def test_stickiness_counts_days_as_numbers() -> None:
    table, rows = table_of("stickiness")
    assert table.columns == ["Days", "Pageview"]
    assert [r[0] for r in rows] == list(range(1, 9)) and rows[0] == [1, 20109]


def test_paths_are_links() -> None:
    table, rows = table_of("userPaths")
    assert table.columns == ["Source", "Target", "Value"] and len(rows) == 49
    assert rows[0] == ["1_http://amazingstore.com", "2_http://amazingstore.com/product", 3705]


def test_sql_tables_are_as_posthog_returns_them_with_dates_as_dates() -> None:
    table, rows = table_of("dataTableHogQL")
    payload = load_fixture("dataTableHogQL")
    assert table.columns == payload["columns"] and rows == payload["result"]
    insight = Insight(id=1, short_id="a", name="SQL", kind=ChartKind.SQL_CHART, table=ContentTable(
        columns=["day", "at", "text", "n"],
        rows=[["2024-01-02", "2024-01-02T03:04:05.123Z", "2024-13-01", 1],
              ["2024-01-03", "2024-01-02 03:04:05", "2024-01-02 is a Tuesday", None]],
    ))
    rows = list(insight_table(insight).rows)  # type: ignore[arg-type]
    assert rows[0] == [date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC), "2024-13-01", 1]
    assert rows[1] == [date(2024, 1, 3), datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 is a Tuesday", None]


def test_an_unsupported_insight_is_an_empty_table_that_says_why() -> None:
    insight = Insight(id=1, short_id="a", name="Odd", kind=ChartKind.UNSUPPORTED, unsupported_reason="Not yet.")
    table = insight_table(insight)
    assert (table.columns, list(table.rows), table.note) == ([], [], "Not yet.")  # type: ignore[arg-type]


async def test_demo_dashboard_is_one_table_per_insight_tile_in_layout_order() -> None:
    dashboard = await DemoProject().get_dashboard(42)
    tables = dashboard_tables(dashboard)
    insight_tiles = [t for t in dashboard.tiles if t.insight is not None]
    assert len(insight_tiles) < len(dashboard.tiles)  # the text card is skipped
    assert [t.title for t in tables] == [t.title for t in insight_tiles]
    assert [t.title for t in tables][:3] == ["Signups this week", "Daily pageviews", "Pageviews by SDK version"]


def test_parse_iso_is_strict() -> None:
    assert parse_iso("2024-02-29") == date(2024, 2, 29)
    assert parse_iso("2024-02-29T10:00:00+02:00") == datetime(2024, 2, 29, 8, tzinfo=UTC)
    assert parse_iso("2024-02-29T10:00:00.123456789Z").microsecond == 123456
    for text in ("2023-02-29", "2024-02-29x", "20240229", "2024-02-29T25:00", "1_2024-02-29", ""):
        assert parse_iso(text) == text
    assert parse_iso(20240229) == 20240229


async def test_rows_may_be_a_list_a_generator_or_an_async_iterator() -> None:
    async def agen():
        yield ["2024-01-01", "x"]
        yield ["2024-01-02T00:00:00Z", "2024-01-03"]

    assert [r async for r in iterate([[1], [2]])] == [[1], [2]]
    assert [r async for r in iterate(iter([[1]]))] == [[1]]
    assert [r async for r in iterate(agen())] == [["2024-01-01", "x"], ["2024-01-02T00:00:00Z", "2024-01-03"]]
    converted = [r async for r in with_dates(agen(), [0])]
    assert converted == [[date(2024, 1, 1), "x"], [datetime(2024, 1, 2, tzinfo=UTC), "2024-01-03"]]
    assert [r async for r in with_dates([["2024-01-01", "2024-01-03"]])] == [[date(2024, 1, 1), date(2024, 1, 3)]]

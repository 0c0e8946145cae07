"""A subscription's date range end to end: stored on the subscription, asked of PostHog as `filters_override`
(the stand-in PostHog server records it), honoured by the demo project, and printed on the exporter page, the
Slack message and the email."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.blocks import delivered_message
from core.date_ranges import DateRange, parse_date_range
from core.models import PostHogConnection, Subscription
from core.schedule_phrases import parse_schedule
from core.settings import Settings
from core.subscriptions import create_subscription, date_range_of, demo_connection, edit
from mail.compose import compose_reports
from posthog_api import ContentRef, Dashboard, Insight, fetch
from posthog_api.demo import DemoProject
from render.pages import dashboard_page, insight_page
from scheduler.pipeline import content_ref
from tests.standins import fixtures as standin_fixtures
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn
from tests.test_mail_support import dashboard_report, html_of, mail_settings, text_of

posthog_server = standin_fixtures.posthog_server  # the stand-in server fixture, used by name below

LAST_7_DAYS = parse_date_range("last 7 days")


def _standin_connection(server: PostHogStandIn) -> PostHogConnection:
    return PostHogConnection(name="Acme", host=server.url, project_id=server.project_id, api_key=server.api_key)


def _settings() -> Settings:
    return Settings(posthog_timeout_seconds=5.0, posthog_max_retries=0, posthog_allow_private_hosts=True)


def _standin_dashboard(server: PostHogStandIn) -> None:
    server.add_dashboard(
        {
            "id": 42,
            "name": "Overview",
            "filters": {"date_from": "-30d"},
            "tiles": [
                {"id": 1, "insight": load_fixture("trendsLine"), "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 5}}},
                {"id": 2, "text": {"body": "# Notes"}, "insight": None,
                 "layouts": {"sm": {"x": 6, "y": 0, "w": 6, "h": 5}}},
            ],
        }
    )


# --- the lifecycle -------------------------------------------------------------------------------------------


async def test_a_subscription_stores_its_range_and_an_edit_changes_or_clears_it(db) -> None:
    async with db.transaction() as session:
        connection = await demo_connection(session)
        subscription = await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref="42",
            schedule=parse_schedule("weekly", "UTC"), target_type="email", email_recipients=["ada@example.com"],
            date_range=LAST_7_DAYS,
        )
        plain = await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref="42",
            schedule=parse_schedule("weekly", "UTC"), target_type="email", email_recipients=["bob@example.com"],
        )
        ids = subscription.id, plain.id
    async with db.session() as session:
        stored, plain = [await session.get(Subscription, i) for i in ids]
        assert (stored.date_from, stored.date_to) == ("-7d", None)
        assert date_range_of(stored) == LAST_7_DAYS and date_range_of(stored).label == "Last 7 days"
        assert date_range_of(plain) is None

    async with db.transaction() as session:
        stored = await session.get(Subscription, ids[0])
        edit(stored, date_range=parse_date_range("last month"))
    async with db.session() as session:
        stored = await session.get(Subscription, ids[0])
        assert (stored.date_from, stored.date_to) == ("-1mStart", "-1mEnd")
        assert date_range_of(stored).label == "Previous month"
        edit(stored, title="Renamed")  # what is not given stays
        assert date_range_of(stored).label == "Previous month"
        with pytest.raises(ValueError, match="not both"):
            edit(stored, date_range=LAST_7_DAYS, clear_date_range=True)
        assert date_range_of(stored).label == "Previous month"
        edit(stored, clear_date_range=True)
        assert (stored.date_from, stored.date_to) == (None, None) and date_range_of(stored) is None


async def test_the_pipeline_fetches_each_range_of_a_content_once(db) -> None:
    async with db.transaction() as session:
        connection = await demo_connection(session)
        made = [
            await create_subscription(
                session, connection=connection, content_type="dashboard", content_ref="42",
                schedule=parse_schedule("daily", "UTC"), target_type="slack", slack_channel_id=f"C{i}",
                date_range=date_range,
            )
            for i, date_range in enumerate([LAST_7_DAYS, parse_date_range("the last 7 days"), None, None,
                                            parse_date_range("yesterday")])
        ]
        ids = [s.id for s in made]
    async with db.session() as session:
        subscriptions = (await session.scalars(select(Subscription).where(Subscription.id.in_(ids)))).all()
        refs = {s.id: content_ref(s) for s in subscriptions}
    week, same_week, plain, other_plain, yesterday = (refs[i] for i in ids)
    assert week == same_week and plain == other_plain and len({week, plain, yesterday}) == 3
    assert (week.date_from, week.date_to) == ("-7d", None) and week.date_range == LAST_7_DAYS
    assert (yesterday.date_from, yesterday.date_to) == ("-1dStart", "-1dEnd")
    assert (plain.date_from, plain.date_to, plain.date_range) == (None, None, None)


# --- asking PostHog ------------------------------------------------------------------------------------------


async def test_an_insight_is_fetched_with_the_range_as_filters_override(posthog_server: PostHogStandIn) -> None:
    posthog_server.add_insight(load_fixture("trendsLine"))
    posthog_server.add_insight(load_fixture("trendsNumber"))
    connection = _standin_connection(posthog_server)
    ref = ContentRef(1, "insight", "51", date_from="-7d")

    insight = await fetch(connection, ref.kind, ref.ref, _settings(), date_range=ref.date_range)
    by_short_id = await fetch(connection, "insight", "sJslPafh", _settings(), date_range=parse_date_range("yesterday"))

    assert isinstance(insight, Insight) and insight.date_range == "Last 7 days"
    assert by_short_id.date_range == "Yesterday"
    first, second = posthog_server.requests
    assert first.path == posthog_server.insight_path(51)
    assert first.query["refresh"] == "blocking"
    assert json.loads(first.query["filters_override"]) == {"date_from": "-7d", "date_to": None}
    assert second.path == posthog_server.insight_path()
    assert second.query["short_id"] == "sJslPafh"
    assert json.loads(second.query["filters_override"]) == {"date_from": "-1dStart", "date_to": "-1dEnd"}


async def test_a_dashboard_is_fetched_with_the_range_and_says_it_on_every_insight(
    posthog_server: PostHogStandIn,
) -> None:
    _standin_dashboard(posthog_server)
    connection = _standin_connection(posthog_server)

    dashboard = await fetch(connection, "dashboard", "42", _settings(), date_range=LAST_7_DAYS)

    assert isinstance(dashboard, Dashboard) and dashboard.date_range == "Last 7 days"
    assert [t.insight.date_range for t in dashboard.tiles if t.insight] == ["Last 7 days"]
    (request,) = posthog_server.requests_to(posthog_server.dashboard_path(42))
    assert json.loads(request.query["filters_override"]) == {"date_from": "-7d", "date_to": None}


async def test_without_a_range_nothing_is_overridden(posthog_server: PostHogStandIn) -> None:
    _standin_dashboard(posthog_server)
    dashboard = await fetch(_standin_connection(posthog_server), "dashboard", "42", _settings())
    assert [r.query for r in posthog_server.requests] == [{"refresh": "blocking"}]
    assert dashboard.date_range == "Last 30 days"  # the dashboard's own range still shows


async def test_the_demo_project_cuts_daily_series_to_the_range() -> None:
    demo = DemoProject()
    whole = await demo.get_insight(1001)
    three_days = await demo.get_insight(1001, filters_override={"date_from": "-3d", "date_to": None})
    yesterday = await demo.get_insight("dm-pgvw", filters_override=parse_date_range("yesterday").filters_override())
    assert len(whole.x_labels) == 8
    assert three_days.date_range == "Last 3 days" and three_days.x_labels == whole.x_labels[-4:]
    assert three_days.series[0].values == whole.series[0].values[-4:]
    assert yesterday.date_range == "Yesterday" and yesterday.series[0].values == whole.series[0].values[-2:-1]

    pie = await demo.get_insight(1004)
    half = await demo.get_insight(1004, filters_override={"date_from": "-3d", "date_to": None})
    assert half.series[0].aggregated_value == round(pie.series[0].aggregated_value * 4 / 8)

    # A range the eight demo days do not reach keeps them, and still says the range.
    last_month = await demo.get_insight(1001, filters_override=parse_date_range("last month").filters_override())
    assert last_month.series[0].values == whole.series[0].values and last_month.date_range == "Previous month"

    dashboard = await demo.get_dashboard(42, filters_override=LAST_7_DAYS.filters_override())
    assert dashboard.date_range == "Last 7 days"
    assert {t.insight.date_range for t in dashboard.tiles if t.insight} == {"Last 7 days"}
    assert (await demo.get_dashboard(42)).date_range == ""
    payload = await demo.get_insight_payload(1003, filters_override={"date_from": "-3d", "date_to": None})
    assert payload["query"]["source"]["dateRange"] == {"date_from": "-3d", "date_to": None}


# --- printed -------------------------------------------------------------------------------------------------


async def test_the_exporter_page_prints_the_range_on_the_header_and_each_insight() -> None:
    demo = DemoProject()
    dashboard = await demo.get_dashboard(42, filters_override=parse_date_range("yesterday").filters_override())
    page = dashboard_page(dashboard, 1200, stacked=True)
    header = page.html.split("</header>")[0]
    assert "Yesterday" in header and "dashboard-date-range" in header
    tiles = page.html.split('data-tile="tile ')[1:]
    insight_tiles = [t for t in tiles if "insight-meta" in t]
    assert insight_tiles and all("Yesterday" in t.split("insight-meta")[1][:200] for t in insight_tiles)

    insight = await demo.get_insight(1001, filters_override=parse_date_range("this week").filters_override())
    assert "Week to date" in insight_page(insight, 800).html

    assert "dashboard-date-range" not in dashboard_page(await demo.get_dashboard(42), 1200).html


def test_the_slack_message_says_the_range() -> None:
    subscription = Subscription(
        id=7, content_type="dashboard", content_ref="42", title="Overview", target_type="slack",
        slack_channel_id="C1", timezone="UTC", date_from="-7d", date_to=None,
    )
    text, blocks = delivered_message(
        subscription, title="Overview", posthog_url="", schedule_summary="every week", next_delivery=None
    )
    assert "Last 7 days" in text
    contexts = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert any("Date range: *Last 7 days*" in c for c in contexts)

    subscription.date_from = None
    text, blocks = delivered_message(
        subscription, title="Overview", posthog_url="", schedule_summary="every week", next_delivery=None
    )
    assert "Date range" not in json.dumps(blocks) and "Last 7 days" not in text


async def test_the_email_says_the_range_under_the_title() -> None:
    report = dashboard_report(tiles=2)
    report.content.date_range = DateRange("-30d").label
    composed = await compose_reports([report], mail_settings())
    html, text = html_of(composed.message), text_of(composed.message)
    assert "Date range: <strong>Last 30 days</strong>" in html
    assert html.index("Product health") < html.index("Last 30 days")
    assert "Date range: Last 30 days" in text

    plain = await compose_reports([dashboard_report(tiles=2)], mail_settings())
    assert "Date range" not in html_of(plain.message) and "Date range" not in text_of(plain.message)

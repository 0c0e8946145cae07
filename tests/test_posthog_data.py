"""Raw data out of PostHog page by page: the HogQL of each kind, paging through the stand-in PostHog's query API
over real HTTP (retries, errors, resuming), and the demo project's generated events, persons, cohorts and groups."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from core.models import PostHogConnection
from core.settings import Settings
from posthog_api import (
    DataQuery,
    DemoProject,
    InvalidDataQuery,
    PostHogAuthError,
    PostHogClient,
    PostHogError,
    PostHogNotFound,
    PostHogPermissionError,
    PostHogUnavailable,
    RowPage,
    data_pages,
    data_pages_for,
    hogql,
)
from posthog_api import demo_events as demo_data
from posthog_api.data import DEFAULT_COLUMNS, check_where, time_bounds
from tests.standins import fixtures as standin_fixtures
from tests.standins.posthog_server import PostHogStandIn

posthog_server = standin_fixtures.posthog_server  # the stand-in server fixture, used by name below

NOW = datetime(2024, 5, 8, 12, 30, tzinfo=UTC)
TODAY = date(2024, 6, 15)  # the demo's today in most demo tests: fixed, so that every run sees the same data


def _client(server: PostHogStandIn, **kwargs: object) -> PostHogClient:
    options: dict = {"backoff_base": 0.01, "timeout": 5.0, **kwargs}
    api_key = options.pop("api_key", server.api_key)
    return PostHogClient(server.url, server.project_id, api_key, allow_private_hosts=True, **options)  # type: ignore[arg-type]


async def _all(pages) -> list[RowPage]:
    return [page async for page in pages]


def _rows(pages: list[RowPage]) -> list[list]:
    return [row for page in pages for row in page.rows]


# --- HogQL ---------------------------------------------------------------------------------------------------


def test_events_hogql_has_the_default_columns_the_range_a_stable_order_and_the_page() -> None:
    text = hogql(DataQuery("events"), limit=10_000, offset=20_000, now=NOW)
    assert text == (
        "SELECT timestamp, event, distinct_id, person_id, properties.$current_url, properties.$browser, "
        "properties.$os, uuid FROM events "
        "WHERE timestamp >= toDateTime('2024-05-01T00:00:00.000000Z') "
        "AND timestamp < toDateTime('2024-05-08T12:30:00.000000Z') "
        "ORDER BY timestamp ASC, uuid ASC LIMIT 10000 OFFSET 20000"
    )


def test_events_hogql_filters_event_names_quoted_and_adds_the_where_in_brackets() -> None:
    query = DataQuery(
        "events", date_from="2024-04-01", date_to="2024-04-30", events=("$pageview", "it's \\ odd"),
        columns=("event", "properties.plan"), where="properties.$browser = 'Chrome' OR event = 'x'",
    )
    text = hogql(query, limit=11, offset=0, now=NOW)
    assert text.startswith("SELECT event, properties.plan FROM events WHERE ")
    assert "timestamp >= toDateTime('2024-04-01T00:00:00.000000Z')" in text
    assert "timestamp < toDateTime('2024-05-01T00:00:00.000000Z')" in text  # the end day is included whole
    assert "event IN ('$pageview', 'it\\'s \\\\ odd')" in text
    assert "AND (properties.$browser = 'Chrome' OR event = 'x') ORDER BY" in text
    assert text.endswith("ORDER BY timestamp ASC, uuid ASC LIMIT 11 OFFSET 0")


def test_persons_hogql_joins_every_distinct_id_and_orders_by_creation_then_id() -> None:
    text = hogql(DataQuery("persons", date_from=None), limit=100, offset=300, now=NOW)
    assert text == (
        "SELECT id, created_at, pdis.distinct_ids AS distinct_ids, properties FROM persons "
        "LEFT JOIN (SELECT person_id, groupArray(distinct_id) AS distinct_ids FROM person_distinct_ids "
        "GROUP BY person_id) AS pdis ON pdis.person_id = persons.id "
        "ORDER BY persons.created_at ASC, persons.id ASC LIMIT 100 OFFSET 300"
    )
    chosen = hogql(DataQuery("persons", columns=("id", "properties.email")), limit=5, offset=0, now=NOW)
    assert "JOIN" not in chosen and chosen.startswith("SELECT id, properties.email FROM persons WHERE ")
    assert "persons.created_at >= toDateTime('2024-05-01T00:00:00.000000Z')" in chosen  # -7d on created_at


def test_cohort_hogql_asks_for_the_members_of_the_cohort() -> None:
    text = hogql(DataQuery("cohort", date_from=None, cohort_id=5, columns=("id", "properties.email")),
                 limit=50, offset=50, now=NOW)
    assert text == (
        "SELECT id, properties.email FROM persons WHERE persons.id IN COHORT 5 "
        "ORDER BY persons.created_at ASC, persons.id ASC LIMIT 50 OFFSET 50"
    )


def test_groups_hogql_reads_one_group_type_by_creation_then_key() -> None:
    text = hogql(DataQuery("groups", date_from="-1mStart", date_to="-1mEnd", group_type_index=2),
                 limit=10, offset=0, now=NOW)
    assert text == (
        "SELECT key, created_at, properties FROM groups WHERE index = 2 "
        "AND created_at >= toDateTime('2024-04-01T00:00:00.000000Z') "
        "AND created_at < toDateTime('2024-05-01T00:00:00.000000Z') "
        "ORDER BY created_at ASC, key ASC LIMIT 10 OFFSET 0"
    )


def test_relative_dates_resolve_in_utc_at_the_pinned_moment() -> None:
    assert time_bounds(DataQuery("events", date_from="-24h"), NOW) == (NOW - timedelta(hours=24), NOW)
    assert time_bounds(DataQuery("events", date_from="mStart"), NOW)[0] == datetime(2024, 5, 1, tzinfo=UTC)
    assert time_bounds(DataQuery("events", date_from="-1dStart", date_to="-1dEnd"), NOW) == (
        datetime(2024, 5, 7, tzinfo=UTC), datetime(2024, 5, 8, tzinfo=UTC)
    )
    assert time_bounds(DataQuery("events", date_from="2024-05-02T10:00:00Z"), NOW)[0] == datetime(
        2024, 5, 2, 10, tzinfo=UTC
    )
    assert time_bounds(DataQuery("persons", date_from=None), NOW) == (None, None)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (DataQuery("sessions"), "events, persons, cohort or groups"),  # type: ignore[arg-type]
        (DataQuery("cohort"), "Which cohort"),
        (DataQuery("groups", group_type_index=7), "0 to 4"),
        (DataQuery("persons", cohort_id=3), "cohort's members"),
        (DataQuery("persons", events=("$pageview",)), "Event names filter events"),
        (DataQuery("events", columns=("event", "count(*)")), "not a column name"),
        (DataQuery("events", date_from="last tuesday"), "not a PostHog date"),
        (DataQuery("events", columns=tuple(f"c{i}" for i in range(101))), "At most 100 columns"),
    ],
)
def test_a_query_that_cannot_be_asked_is_refused_with_what_to_change(query: DataQuery, words: str) -> None:
    with pytest.raises(InvalidDataQuery) as caught:
        query.validate()
    assert words in str(caught.value)
    assert isinstance(caught.value, PostHogError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "where",
    [
        "event = '$pageview'; DROP TABLE events",
        "1) OR (1",
        "event = 'x' UNION SELECT 1",
        "event = 'x' ORDER BY 1",
        "event = 'x' -- and the rest",
        "event = 'x' /* hidden */",
        "DROP TABLE events",
        "event = 'unclosed",
        "event = 'x' SETTINGS max_threads = 1",
        "(event = 'x'",
    ],
)
def test_an_unsafe_or_broken_where_is_refused(where: str) -> None:
    with pytest.raises(InvalidDataQuery):
        check_where(where)
    with pytest.raises(InvalidDataQuery):
        hogql(DataQuery("events", where=where), limit=1, offset=0, now=NOW)


@pytest.mark.parametrize(
    "where",
    [
        "event = 'a;b -- c /* d'",  # what is inside a string is the string's
        "properties.set = 'x' AND properties.$set_once != 'y'",
        "person_id IN (SELECT person_id FROM cohort_people WHERE cohort_id = 3)",  # a subquery is an expression
        "toYear(timestamp) = 2024 AND properties['my key'] = 'it''s'",
        "extract(year FROM timestamp) > 2020",
    ],
)
def test_a_where_that_is_one_expression_passes(where: str) -> None:
    assert check_where(where) == where


def test_a_blank_where_is_no_filter() -> None:
    assert "WHERE" not in hogql(DataQuery("persons", date_from=None, where="  "), limit=1, offset=0, now=NOW)


# --- paging through the stand-in PostHog, over HTTP --------------------------------------------------------------


async def test_pages_bring_every_row_once_in_order(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 25
    async with _client(posthog_server) as client:
        pages = await _all(data_pages(client, DataQuery("events"), page_size=10, now=NOW))
    assert [len(p.rows) for p in pages] == [10, 10, 5]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [p.offset for p in pages] == [0, 10, 20]
    assert pages[0].columns == list(DEFAULT_COLUMNS["events"])
    uuid_at = pages[0].columns.index("uuid")
    assert [row[uuid_at] for row in _rows(pages)] == [
        PostHogStandIn.event_row_value(i, "uuid") for i in range(25)
    ]
    assert _rows(pages)[7][1] == PostHogStandIn.event_row_value(7, "event")
    # One row more than a page is asked for, so that the end is known without an empty request.
    assert posthog_server.query_offsets() == [0, 10, 20]
    assert all(" LIMIT 11 OFFSET " in q for q in posthog_server.queries)
    (request,) = posthog_server.requests_to(posthog_server.query_path())[:1]
    assert request.method == "POST" and request.authorization == f"Bearer {posthog_server.api_key}"


async def test_an_exact_multiple_of_the_page_size_needs_no_empty_request(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 20
    async with _client(posthog_server) as client:
        pages = await _all(data_pages(client, DataQuery("events"), page_size=10, now=NOW))
    assert [len(p.rows) for p in pages] == [10, 10] and not pages[-1].has_more
    assert posthog_server.query_offsets() == [0, 10]


async def test_a_503_on_one_page_is_retried_without_starting_over(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 45
    posthog_server.fail_query_at(20, status=503)
    async with _client(posthog_server) as client:
        pages = await _all(data_pages(client, DataQuery("events", columns=("uuid",)), page_size=10, now=NOW))
    uuids = [row[0] for row in _rows(pages)]
    assert uuids == [PostHogStandIn.event_row_value(i, "uuid") for i in range(45)]  # once each, in order
    assert posthog_server.query_offsets() == [0, 10, 20, 20, 30, 40]
    assert len(set(posthog_server.queries)) == 5  # the retry asked the very same page


async def test_a_time_out_and_a_429_are_retried_on_their_own_page(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 25
    posthog_server.fail(posthog_server.query_path(), delay=1.0, then_serve=True)  # the first page is slow once
    posthog_server.fail_query_at(10, status=429, headers={"Retry-After": "0"})
    async with _client(posthog_server, timeout=0.3) as client:
        pages = await _all(data_pages(client, DataQuery("events", columns=("uuid",)), page_size=10, now=NOW))
    assert [row[0] for row in _rows(pages)] == [PostHogStandIn.event_row_value(i, "uuid") for i in range(25)]
    assert len(posthog_server.requests_to(posthog_server.query_path())) == 5
    assert posthog_server.query_offsets().count(10) == 2 and posthog_server.query_offsets().count(20) == 1


async def test_a_rejected_key_is_the_auth_error_without_the_key(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 5
    secret = "phx_wrong_key_that_must_not_leak_42"
    async with _client(posthog_server, api_key=secret) as client:
        with pytest.raises(PostHogAuthError) as caught:
            await _all(data_pages(client, DataQuery("events"), page_size=10, now=NOW))
    assert "401" in str(caught.value) and "personal API key" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value.args)
    assert len(posthog_server.requests) == 1  # not retried


async def test_start_at_resumes_where_an_interrupted_export_stopped(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 30
    posthog_server.fail_query_at(20, status=503, times=10)  # keeps failing past the client's retries
    query = DataQuery("events", columns=("uuid", "timestamp"))
    read: list[list] = []
    async with _client(posthog_server, max_retries=2) as client:
        with pytest.raises(PostHogUnavailable) as caught:
            async for page in data_pages(client, query, page_size=10, now=NOW):
                read.extend(page.rows)
        assert "503" in str(caught.value) and "3 attempts" in str(caught.value)
        assert len(read) == 20
        posthog_server._page_faults.clear()  # PostHog is back
        posthog_server.queries.clear()
        async for page in data_pages(client, query, page_size=10, start_at=len(read), now=NOW):
            read.extend(page.rows)
    assert [row[0] for row in read] == [PostHogStandIn.event_row_value(i, "uuid") for i in range(30)]
    assert posthog_server.query_offsets() == [20]


async def test_the_servers_refusal_of_a_query_is_shown_with_its_detail(posthog_server: PostHogStandIn) -> None:
    posthog_server.event_rows = 5
    detail = json.dumps({"type": "validation_error", "detail": "Unable to resolve field: nope"}).encode()
    posthog_server.fail(posthog_server.query_path(), status=400, body=detail)
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogError) as caught:
            await _all(data_pages(client, DataQuery("events", columns=("nope",)), page_size=10, now=NOW))
    assert "HTTP 400" in str(caught.value) and "Unable to resolve field: nope" in str(caught.value)
    assert "events, rows 1 to 10" in str(caught.value)


async def test_another_project_is_refused_naming_the_query_scope(posthog_server: PostHogStandIn) -> None:
    async with PostHogClient(posthog_server.url, 99, posthog_server.api_key, backoff_base=0.01,
                             allow_private_hosts=True) as client:
        with pytest.raises(PostHogPermissionError) as caught:
            await client.query("SELECT 1 FROM events LIMIT 1")
    assert "query:read" in str(caught.value) and posthog_server.api_key not in str(caught.value)


async def test_data_pages_for_a_stored_connection_uses_the_page_size_of_the_settings(
    posthog_server: PostHogStandIn,
) -> None:
    posthog_server.event_rows = 17
    connection = PostHogConnection(
        name="Acme", host=posthog_server.url, project_id=posthog_server.project_id, api_key=posthog_server.api_key
    )
    settings = Settings(export_page_size=7, posthog_allow_private_hosts=True)
    pages = await _all(data_pages_for(connection, DataQuery("events", columns=("uuid",)), settings, start_at=3))
    assert [len(p.rows) for p in pages] == [7, 7]
    assert posthog_server.query_offsets() == [3, 10]


async def test_an_invalid_query_is_refused_before_anything_is_asked(posthog_server: PostHogStandIn) -> None:
    async with _client(posthog_server) as client:
        with pytest.raises(InvalidDataQuery):
            await _all(data_pages(client, DataQuery("events", where="1; SELECT 2"), page_size=10))
    assert posthog_server.requests == []


# --- the demo project ----------------------------------------------------------------------------------------


async def test_the_demo_has_over_100000_events_in_30_days_read_in_order_quickly() -> None:
    demo = DemoProject(today=TODAY)
    started = time.monotonic()
    query = DataQuery("events", date_from="-30d", columns=("timestamp", "uuid", "event"))
    pages = await _all(data_pages(demo, query, page_size=10_000))
    elapsed = time.monotonic() - started
    rows = _rows(pages)
    assert len(rows) >= 100_000 and len(rows) == demo_data.total_events(TODAY)
    assert all(len(p.rows) == 10_000 for p in pages[:-1]) and not pages[-1].has_more
    stamps = [row[0] for row in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # a total order, no row twice
    assert len({row[1] for row in rows}) == len(rows)
    assert stamps[0] >= "2024-05-16T00:00:00" and stamps[-1] < "2024-06-15T00:00:00"
    assert {"$pageview", "$autocapture", "$pageleave", "signed_up", "purchase"} <= {row[2] for row in rows}
    assert elapsed < 20, f"paging through the demo's events took {elapsed:.1f} s"


async def test_the_demo_reaches_a_late_offset_without_generating_the_days_before() -> None:
    demo_data.reset_caches()
    total = demo_data.total_events(TODAY)
    page = await DemoProject(today=TODAY).data_page(DataQuery("events", date_from="-30d"), 10, total - 4)
    assert len(page.rows) == 4 and not page.has_more
    assert demo_data.day_events.cache_info().currsize == 1  # only the last day was generated


async def test_the_demo_data_is_the_same_when_generated_again_and_differs_another_day() -> None:
    query = DataQuery("events", date_from="-30d")
    persons = DataQuery("persons", date_from=None)
    demo_data.reset_caches()
    first = await DemoProject(today=TODAY).data_page(query, 50, 60_000)
    first_persons = await DemoProject(today=TODAY).data_page(persons, 20, 4_000)
    demo_data.reset_caches()
    again = await DemoProject(today=TODAY).data_page(query, 50, 60_000)
    again_persons = await DemoProject(today=TODAY).data_page(persons, 20, 4_000)
    assert first.rows == again.rows and first_persons.rows == again_persons.rows
    other = await DemoProject(today=TODAY + timedelta(days=1)).data_page(query, 50, 60_000)
    assert other.rows != first.rows


async def test_demo_events_filtered_by_event_name_and_date_range() -> None:
    demo = DemoProject(today=TODAY)
    purchases = _rows(await _all(data_pages(demo, DataQuery("events", date_from="-30d", events=("purchase",),
                                                             columns=("event", "properties")), page_size=500)))
    assert 500 < len(purchases) < 5_000
    assert {row[0] for row in purchases} == {"purchase"}
    assert all(json.loads(row[1])["revenue"] > 0 for row in purchases)

    week = _rows(await _all(data_pages(demo, DataQuery("events", columns=("timestamp",)), page_size=10_000)))
    assert all("2024-06-08T00:00:00" <= row[0] < "2024-06-15T00:00:00" for row in week)  # -7d
    assert 15_000 < len(week) < 35_000

    yesterday = DataQuery("events", date_from="-1dStart", date_to="-1dEnd", columns=("timestamp",))
    rows = _rows(await _all(data_pages(demo, yesterday, page_size=1_000)))
    assert len(rows) == demo_data.day_size(TODAY, TODAY - timedelta(days=1))
    assert all(row[0].startswith("2024-06-14T") for row in rows)
    assert await demo.data_page(DataQuery("events", date_from="2023-01-01", date_to="2023-01-31"), 10, 0) == \
        RowPage(list(DEFAULT_COLUMNS["events"]), [], False, 0)


async def test_everyone_created_in_the_window_signed_up_in_it() -> None:
    demo = DemoProject(today=TODAY)
    signups = _rows(await _all(data_pages(demo, DataQuery("events", date_from="-30d", events=("signed_up",),
                                                           columns=("distinct_id",)), page_size=10_000)))
    new_people = _rows(await _all(data_pages(demo, DataQuery("persons", date_from="-30d",
                                                              columns=("properties.email",)), page_size=10_000)))
    assert sorted(signups) == sorted(new_people)
    assert 400 < len(new_people) < 900  # about 12% of 5,000


async def test_demo_persons_have_realistic_properties_in_creation_order() -> None:
    pages = await _all(data_pages(DemoProject(today=TODAY), DataQuery("persons", date_from=None), page_size=2_000))
    rows = _rows(pages)
    assert len(rows) == 5_000 and [len(p.rows) for p in pages] == [2_000, 2_000, 1_000]
    assert pages[0].columns == ["id", "created_at", "distinct_ids", "properties"]
    assert len({row[0] for row in rows}) == 5_000
    assert [row[1] for row in rows] == sorted(row[1] for row in rows)
    properties = [json.loads(row[3]) for row in rows]
    assert all(p["email"].split("@")[1] in ("example.com", "example.org", "example.net") for p in properties)
    assert len({p["email"] for p in properties}) == 5_000
    assert {p["plan"] for p in properties} == {"free", "starter", "pro", "enterprise"}
    assert all(p["name"] and p["country"] and p["company"] for p in properties)
    assert all(row[2][0] == json.loads(row[3])["email"] and len(row[2]) == 2 for row in rows)


async def test_demo_cohorts_paying_customers_and_churn_risk() -> None:
    demo = DemoProject(today=TODAY)
    paying = _rows(await _all(data_pages(demo, DataQuery("cohort", date_from=None, cohort_id=1,
                                                          columns=("id", "properties.plan")), page_size=1_000)))
    assert 1_000 < len(paying) < 2_500 and all(row[1] != "free" for row in paying)
    churn = _rows(await _all(data_pages(demo, DataQuery("cohort", date_from=None, cohort_id=2,
                                                         columns=("properties.email", "properties.plan")),
                                        page_size=1_000)))
    assert 100 < len(churn) < 600 and all(row[1] != "free" for row in churn)
    for email, _ in churn[:4]:  # quiet for the last 14 days, active before
        recent = DataQuery("events", date_from="-14d", where=f"distinct_id = '{email}'", columns=("event",))
        assert (await demo.data_page(recent, 10, 0)).rows == []
    earlier = [DataQuery("events", date_from="-30d", date_to="-15d", where=f"distinct_id = '{email}'")
               for email, _ in churn[:10]]
    assert any([(await demo.data_page(q, 1, 0)).rows for q in earlier])
    with pytest.raises(PostHogNotFound) as caught:
        await demo.data_page(DataQuery("cohort", cohort_id=9), 10, 0)
    assert "1 (Paying customers), 2 (Churn risk)" in str(caught.value)


async def test_demo_groups_of_the_organization_type() -> None:
    demo = DemoProject(today=TODAY)
    rows = _rows(await _all(data_pages(demo, DataQuery("groups", date_from=None, group_type_index=0),
                                       page_size=150)))
    assert len(rows) == 200 and len({row[0] for row in rows}) == 200
    assert [row[1] for row in rows] == sorted(row[1] for row in rows)
    assert all({"name", "industry", "employees", "plan"} <= json.loads(row[2]).keys() for row in rows)
    assert demo.list_group_types() == [(0, "organization")]
    with pytest.raises(PostHogNotFound, match="0 \\(organization\\)"):
        await demo.data_page(DataQuery("groups", group_type_index=1), 10, 0)


async def test_demo_where_understands_its_small_subset() -> None:
    demo = DemoProject(today=TODAY)
    query = DataQuery("events", date_from="-30d", columns=("event", "properties.$browser", "properties.$os"),
                      where="event = '$pageview' AND properties.$browser = 'Safari' AND properties.$os != 'iOS'")
    rows = _rows(await _all(data_pages(demo, query, page_size=5_000)))
    assert rows and all(row == ["$pageview", "Safari", "Mac OS X"] for row in rows)
    enterprise = _rows(await _all(data_pages(demo, DataQuery("persons", date_from=None,
                                                              where="properties.plan = 'enterprise'",
                                                              columns=("properties.plan",)), page_size=5_000)))
    assert 100 < len(enterprise) < 500 and {row[0] for row in enterprise} == {"enterprise"}


@pytest.mark.parametrize("where", ["timestamp > now() - INTERVAL 1 DAY", "event = 'a' OR event = 'b'",
                                   "lower(event) = 'x'"])
async def test_demo_refuses_a_where_beyond_its_subset_saying_what_it_understands(where: str) -> None:
    with pytest.raises(InvalidDataQuery) as caught:
        await DemoProject(today=TODAY).data_page(DataQuery("events", where=where), 10, 0)
    assert "demo project understands only simple filters" in str(caught.value)
    assert "event = '...'" in str(caught.value)


async def test_demo_refuses_an_unknown_column_like_posthog() -> None:
    with pytest.raises(PostHogError) as caught:
        await DemoProject(today=TODAY).data_page(DataQuery("persons", columns=("id", "shoe_size")), 10, 0)
    assert caught.value.status == 400 and "shoe_size" in str(caught.value)


async def test_demo_pages_resume_from_start_at() -> None:
    demo = DemoProject(today=TODAY)
    query = DataQuery("persons", date_from=None, columns=("id",))
    everyone = _rows(await _all(data_pages(demo, query, page_size=1_000)))
    resumed = await _all(data_pages(demo, query, page_size=1_000, start_at=2_345))
    assert _rows(resumed) == everyone[2_345:] and resumed[0].offset == 2_345


async def test_data_pages_for_the_demo_connection() -> None:
    connection = PostHogConnection(name="Demo project", host="demo", project_id=1, api_key=None)
    pages = await _all(data_pages_for(connection, DataQuery("groups", date_from=None, group_type_index=0),
                                      Settings(export_page_size=64)))
    assert [len(p.rows) for p in pages] == [64, 64, 64, 8]


async def test_the_demo_dates_its_data_from_the_current_day_by_default() -> None:
    before = datetime.now(UTC).date()
    demo = DemoProject()
    assert demo.today in (before, datetime.now(UTC).date())
    page = await demo.data_page(DataQuery("events", date_from="-1d", columns=("timestamp",)), 1, 0)
    assert page.rows and page.rows[0][0].startswith((demo.today - timedelta(days=1)).isoformat())

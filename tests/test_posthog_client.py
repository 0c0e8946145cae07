"""The real PostHogClient against the stand-in PostHog server on loopback."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest

from core.models import PostHogConnection
from core.settings import Settings
from posthog_api import (
    ChartKind,
    DemoProject,
    Insight,
    PostHogAuthError,
    PostHogClient,
    PostHogError,
    PostHogNotFound,
    PostHogPayloadError,
    PostHogPermissionError,
    PostHogUnavailable,
    fetch,
)
from posthog_api.client import MAX_RETRY_AFTER, normalize_host, parse_retry_after
from posthog_api.content import AxisFormat
from render.views import build_view
from tests.standins import fixtures as standin_fixtures
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn

posthog_server = standin_fixtures.posthog_server  # the stand-in server fixture, used by name below


def _client(server: PostHogStandIn, **kwargs: object) -> PostHogClient:
    options: dict = {"backoff_base": 0.01, "timeout": 5.0, **kwargs}
    api_key = options.pop("api_key", server.api_key)
    project_id = options.pop("project_id", server.project_id)
    return PostHogClient(server.url, project_id, api_key, allow_private_hosts=True, **options)  # type: ignore[arg-type]


def _line(server: PostHogStandIn) -> dict:
    payload = load_fixture("trendsLine")
    server.add_insight(payload)
    return payload


def _assert_key_hidden(server: PostHogStandIn, error: PostHogError) -> None:
    assert server.api_key not in str(error)
    assert server.api_key not in repr(error.args)


async def test_get_insight_by_numeric_id_asks_for_fresh_results(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    async with _client(posthog_server) as client:
        insight = await client.get_insight(payload["id"])
    assert insight.kind is ChartKind.LINE
    assert insight.url == f"{posthog_server.url}/project/2/insights/jEAIVJnN"
    (request,) = posthog_server.requests
    assert request.path == "/api/projects/2/insights/51/"
    assert request.query == {"refresh": "blocking"}
    assert request.authorization == f"Bearer {posthog_server.api_key}"


async def test_numeric_string_is_an_id_and_refresh_can_be_off(posthog_server: PostHogStandIn) -> None:
    _line(posthog_server)
    async with _client(posthog_server) as client:
        payload = await client.get_insight_payload("51", refresh=False)
    assert payload["short_id"] == "jEAIVJnN"
    assert posthog_server.requests[0].query == {}


async def test_get_insight_by_short_id(posthog_server: PostHogStandIn) -> None:
    _line(posthog_server)
    posthog_server.add_insight(load_fixture("trendsNumber"))
    async with _client(posthog_server) as client:
        insight = await client.get_insight("sJslPafh")
    assert insight.kind is ChartKind.NUMBER and insight.id == 14
    (request,) = posthog_server.requests
    assert request.path == "/api/projects/2/insights/"
    assert request.query == {"short_id": "sJslPafh", "refresh": "blocking"}


async def test_unknown_short_id_is_not_found(posthog_server: PostHogStandIn) -> None:
    _line(posthog_server)
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogNotFound) as caught:
            await client.get_insight("zzzzzzzz")
    assert str(caught.value) == f"Insight zzzzzzzz was not found in project 2 on {posthog_server.url}."


async def test_get_dashboard(posthog_server: PostHogStandIn) -> None:
    posthog_server.add_dashboard(
        {
            "id": 42,
            "name": "Overview",
            "tiles": [
                {
                    "id": 2,
                    "insight": load_fixture("funnelTopToBottom"),
                    "layouts": {"sm": {"x": 0, "y": 2, "w": 6, "h": 5}},
                },
                {
                    "id": 1,
                    "text": {"body": "Hi"},
                    "insight": None,
                    "layouts": {"sm": {"x": 0, "y": 0, "w": 12, "h": 2}},
                },
            ],
        }
    )
    async with _client(posthog_server) as client:
        dashboard = await client.get_dashboard(42)
        raw = await client.get_dashboard_payload(42, refresh=False)
    assert [t.id for t in dashboard.tiles] == [1, 2]
    assert dashboard.tiles[1].insight is not None and dashboard.tiles[1].insight.kind is ChartKind.FUNNEL
    assert dashboard.url == f"{posthog_server.url}/project/2/dashboard/42"
    assert raw["name"] == "Overview"
    assert [r.query for r in posthog_server.requests] == [{"refresh": "blocking"}, {}]


async def test_check_access_returns_the_project_name(posthog_server: PostHogStandIn) -> None:
    async with _client(posthog_server) as client:
        assert await client.check_access() == "Acme"


async def test_wrong_key_is_an_auth_error_without_the_key(posthog_server: PostHogStandIn) -> None:
    wrong = "phx_wrong_key_0123456789"
    async with _client(posthog_server, api_key=wrong) as client:
        with pytest.raises(PostHogAuthError) as caught:
            await client.check_access()
    assert caught.value.status == 401
    assert str(caught.value).startswith("The PostHog API key was rejected")
    assert wrong not in str(caught.value)
    assert len(posthog_server.requests) == 1  # never retried


async def test_other_project_is_a_permission_error(posthog_server: PostHogStandIn) -> None:
    async with _client(posthog_server, project_id=99) as client:
        with pytest.raises(PostHogPermissionError) as caught:
            await client.get_dashboard(42)
    assert "may not read dashboard 42 in project 99" in str(caught.value)
    _assert_key_hidden(posthog_server, caught.value)
    assert len(posthog_server.requests) == 1


async def test_missing_insight_and_dashboard_are_not_found(posthog_server: PostHogStandIn) -> None:
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogNotFound) as insight_error:
            await client.get_insight(123)
        with pytest.raises(PostHogNotFound) as dashboard_error:
            await client.get_dashboard(7)
    assert str(insight_error.value) == f"Insight 123 was not found in project 2 on {posthog_server.url}."
    assert str(dashboard_error.value) == f"Dashboard 7 was not found in project 2 on {posthog_server.url}."
    assert len(posthog_server.requests) == 2


async def test_429_waits_for_retry_after_then_succeeds(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    posthog_server.fail(path, status=429, headers={"Retry-After": "1"})
    async with _client(posthog_server) as client:
        insight = await client.get_insight(payload["id"])
    assert insight.kind is ChartKind.LINE
    first, second = posthog_server.requests_to(path)
    assert second.at - first.at >= 1.0


async def test_retry_after_as_an_http_date(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    posthog_server.fail(path, status=503, headers={"Retry-After": when})
    async with _client(posthog_server) as client:
        await client.get_insight(payload["id"])
    first, second = posthog_server.requests_to(path)
    assert second.at - first.at >= 0.9  # the date has one-second resolution


async def test_500_then_success(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    posthog_server.fail(path, status=500, times=2)
    async with _client(posthog_server) as client:
        insight = await client.get_insight(payload["id"])
    assert insight.id == 51
    assert len(posthog_server.requests_to(path)) == 3


async def test_persistent_503_is_unavailable_after_max_retries(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    posthog_server.fail(path, status=503, times=100)
    async with _client(posthog_server, max_retries=3) as client:
        with pytest.raises(PostHogUnavailable) as caught:
            await client.get_insight(payload["id"])
    assert len(posthog_server.requests_to(path)) == 4  # the first try and 3 retries
    assert caught.value.status == 503
    assert "HTTP 503" in str(caught.value) and "4 attempts" in str(caught.value)
    _assert_key_hidden(posthog_server, caught.value)


async def test_persistent_429_says_rate_limited(posthog_server: PostHogStandIn) -> None:
    posthog_server.fail("/api/projects/2/", status=429, times=100, headers={"Retry-After": "0"})
    async with _client(posthog_server, max_retries=1) as client:
        with pytest.raises(PostHogUnavailable, match="rate limiting"):
            await client.check_access()


async def test_other_4xx_carries_posthog_detail(posthog_server: PostHogStandIn) -> None:
    body = b'{"type": "validation_error", "detail": "Invalid refresh mode."}'
    posthog_server.fail("/api/projects/2/insights/5/", status=400, body=body)
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogError) as caught:
            await client.get_insight(5)
    assert type(caught.value) is PostHogError
    assert "HTTP 400" in str(caught.value) and "Invalid refresh mode." in str(caught.value)


async def test_malformed_json_is_a_payload_error(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    posthog_server.fail(path, status=200, body=b'{"id": 51, "result": [')
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogPayloadError, match="not valid JSON for insight 51"):
            await client.get_insight(payload["id"])
    assert len(posthog_server.requests_to(path)) == 1


async def test_json_that_is_not_an_insight_is_a_payload_error(posthog_server: PostHogStandIn) -> None:
    posthog_server.fail(posthog_server.insight_path(51), status=200, body=b"[1, 2, 3]")
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogPayloadError):
            await client.get_insight(51)


async def test_time_out_is_unavailable(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    posthog_server.fail(path, times=2, delay=1.0, then_serve=True)
    async with _client(posthog_server, timeout=0.2, max_retries=1) as client:
        with pytest.raises(PostHogUnavailable) as caught:
            await client.get_insight(payload["id"])
    assert "no answer within 0.2 s" in str(caught.value)
    assert len(posthog_server.requests_to(path)) == 2
    _assert_key_hidden(posthog_server, caught.value)


async def test_time_out_then_success(posthog_server: PostHogStandIn) -> None:
    payload = _line(posthog_server)
    path = posthog_server.insight_path(payload["id"])
    posthog_server.fail(path, times=1, delay=1.0, then_serve=True)
    async with _client(posthog_server, timeout=0.3) as client:
        assert (await client.get_insight(payload["id"])).id == 51


async def test_connection_refused_is_unavailable() -> None:
    server = PostHogStandIn()
    url = await server.start()
    await server.stop()  # nothing listens on that port any more
    client = PostHogClient(url, 2, "phx_secret_never_shown", max_retries=1, backoff_base=0.01,
                            allow_private_hosts=True)
    try:
        with pytest.raises(PostHogUnavailable) as caught:
            await client.check_access()
    finally:
        await client.close()
    assert "connection failed" in str(caught.value)
    assert "phx_secret_never_shown" not in str(caught.value)
    assert "phx_secret_never_shown" not in repr(client)


async def test_server_echoing_the_key_is_redacted(posthog_server: PostHogStandIn) -> None:
    body = f'{{"detail": "Bad key {posthog_server.api_key}"}}'.encode()
    posthog_server.fail("/api/projects/2/", status=400, body=body)
    async with _client(posthog_server) as client:
        with pytest.raises(PostHogError) as caught:
            await client.check_access()
    assert "***" in str(caught.value)
    _assert_key_hidden(posthog_server, caught.value)


async def test_a_given_session_is_not_closed(posthog_server: PostHogStandIn) -> None:
    _line(posthog_server)
    async with aiohttp.ClientSession() as session:
        async with _client(posthog_server, session=session) as client:
            await client.get_insight(51)
        assert not session.closed


async def test_concurrent_requests_share_the_client(posthog_server: PostHogStandIn) -> None:
    _line(posthog_server)
    retention = load_fixture("retention")
    retention["id"] = 52  # upstream fixtures share id 51
    posthog_server.add_insight(retention)
    async with _client(posthog_server) as client:
        insights = await asyncio.gather(client.get_insight(51), client.get_insight(52))
    assert [i.kind for i in insights] == [ChartKind.LINE, ChartKind.RETENTION_GRAPH]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("100000", MAX_RETRY_AFTER), ("soon", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("us.posthog.com", "https://us.posthog.com"),
        ("https://eu.posthog.com/", "https://eu.posthog.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("localhost:8000", "https://localhost:8000"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


# --- the project's base currency -----------------------------------------------------------------------------

KINDS = Path(__file__).parent / "fixtures" / "posthog" / "kinds"


def _revenue(server: PostHogStandIn, insight_id: int = 903) -> dict:
    """PostHog's trends line of revenue with aggregationAxisFormat currency (tests/fixtures/posthog/kinds)."""
    payload = json.loads((KINDS / "trendsCurrencyLog.json").read_text(encoding="utf-8"))
    payload["id"] = insight_id
    server.add_insight(payload)
    return payload


async def test_currency_values_are_labelled_in_the_projects_base_currency(posthog_server: PostHogStandIn) -> None:
    _revenue(posthog_server)
    posthog_server.project_fields["base_currency"] = "EUR"
    async with _client(posthog_server) as client:
        insight = await client.get_insight(903)
    assert insight.formatting.axis_format is AxisFormat.CURRENCY and insight.formatting.currency == "EUR"
    chart = build_view(insight, 950).chart
    assert chart is not None and chart.layout["yaxis"]["ticktext"][-1] == "€100,000.00"
    paths = [r.path for r in posthog_server.requests]
    assert paths == [posthog_server.insight_path(903), posthog_server.project_path()]


async def test_the_project_is_asked_once_per_client_and_only_for_content_that_shows_money(
    posthog_server: PostHogStandIn,
) -> None:
    _revenue(posthog_server, 903)
    _revenue(posthog_server, 904)
    _line(posthog_server)
    posthog_server.project_fields["base_currency"] = "gbp"
    tiles = [{"id": i, "insight": posthog_server.insights[i], "layouts": {}} for i in (903, 904, 51)]
    posthog_server.add_dashboard({"id": 42, "name": "Revenue", "tiles": tiles})
    async with _client(posthog_server) as client:
        line = await client.get_insight(51)
        assert posthog_server.requests_to(posthog_server.project_path()) == []  # no money shown: not asked
        dashboard = await client.get_dashboard(42)
        again = await client.get_insight(904)
    assert [t.insight.formatting.currency for t in dashboard.tiles if t.insight] == ["GBP"] * 3
    assert again.formatting.currency == "GBP" and line.kind is ChartKind.LINE
    assert len(posthog_server.requests_to(posthog_server.project_path())) == 1  # not a request per tile


async def test_a_fetch_labels_currency_in_the_projects_base_currency(posthog_server: PostHogStandIn) -> None:
    _revenue(posthog_server)
    posthog_server.project_fields["base_currency"] = "JPY"
    connection = PostHogConnection(name="Acme", host=posthog_server.url, project_id=posthog_server.project_id,
                                   api_key=posthog_server.api_key)
    settings = Settings(posthog_timeout_seconds=5.0, posthog_max_retries=0, posthog_allow_private_hosts=True)
    insight = await fetch(connection, "insight", "903", settings)
    assert isinstance(insight, Insight) and insight.formatting.currency == "JPY"


@pytest.mark.parametrize("project", [
    {"base_currency": None}, {"base_currency": "euros"}, {"base_currency": 978}, {"base_currency": ["EUR"]}, {},
])
async def test_a_project_without_a_currency_code_shows_usd(posthog_server: PostHogStandIn, project: dict) -> None:
    _revenue(posthog_server)
    posthog_server.project_fields = project
    async with _client(posthog_server) as client:
        insight = await client.get_insight(903)
    assert insight.formatting.currency == "USD"


@pytest.mark.parametrize("fault", [
    {"status": 403}, {"status": 404}, {"status": 200, "body": b"not json"}, {"status": 200, "body": b"[1, 2]"},
    {"status": 503, "times": 5},
])
async def test_a_project_that_cannot_be_read_still_delivers_in_usd(posthog_server: PostHogStandIn, fault: dict) -> None:
    _revenue(posthog_server)
    posthog_server.project_fields["base_currency"] = "EUR"
    posthog_server.fail(posthog_server.project_path(), **fault)
    async with _client(posthog_server, max_retries=1) as client:
        insight = await client.get_insight(903)
    assert insight.kind is ChartKind.LINE and insight.formatting.currency == "USD"


async def test_the_demo_project_serves_its_base_currency() -> None:
    assert (await DemoProject().get_project_payload())["base_currency"] == "USD"
    assert await DemoProject(base_currency="chf").base_currency() == "CHF"
    assert await DemoProject(base_currency="Swiss francs").base_currency() == "USD"

"""Requests to a PostHog host that a workspace member typed stay on the public internet: the address is checked
as each connection opens (after DNS, so a name that later resolves to an internal address is refused), redirects
are not followed, and answers are capped in size. A delivery that meets such a host fetches nothing and pauses
its subscription with the reason."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from bot.installation_store import find_workspace
from core.models import PostHogConnection, Subscription
from core.outbound import refusal
from core.schedule_phrases import parse_schedule
from core.settings import Settings
from core.subscriptions import create_subscription, request_delivery_now
from posthog_api import PostHogClient, check_connection
from posthog_api.errors import PostHogAddressNotAllowed, PostHogResponseTooLarge
from posthog_api.sources import may_use_private_address
from scheduler.assembly import scheduler_service
from tests.standins import fixtures as standin_fixtures
from tests.standins.content import FixedImages
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn
from tests.standins.slack_api import start_bot

CREATOR = "UCREATOR"
posthog_server = standin_fixtures.posthog_server  # the stand-in server fixture, used by name below


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.251", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1%eth0", "fc00::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "ff02::1",
])
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(address) is None


def test_private_addresses_are_for_the_operators_own_posthog() -> None:
    operator = Settings(posthog_host="http://posthog.internal:8000", posthog_project_id=1, posthog_api_key="phx_o")
    assert may_use_private_address("http://posthog.internal:8000/", operator)
    assert not may_use_private_address("http://127.0.0.1:8000", operator)
    assert not may_use_private_address("http://127.0.0.1:8000", Settings())
    assert may_use_private_address("http://127.0.0.1:8000", Settings(posthog_allow_private_hosts=True))


async def test_a_name_resolving_to_loopback_is_refused_before_anything_is_sent(posthog_server) -> None:
    port = posthog_server.url.rsplit(":", 1)[1]
    client = PostHogClient(f"http://localhost:{port}", posthog_server.project_id, posthog_server.api_key,
                           max_retries=2, backoff_base=0.01)
    async with client:
        with pytest.raises(PostHogAddressNotAllowed, match="is on a private network"):
            await client.check_access()
    assert posthog_server.requests == []  # refused before connecting: nothing reached the server


async def test_an_answer_past_the_size_cap_is_refused(posthog_server) -> None:
    insight = load_fixture("trendsLine")
    posthog_server.add_insight(insight)
    size = len(json.dumps(insight))
    client = PostHogClient(posthog_server.url, posthog_server.project_id, posthog_server.api_key,
                           allow_private_hosts=True, max_response_bytes=size // 2)
    async with client:
        with pytest.raises(PostHogResponseTooLarge, match="POSTHOG_MAX_RESPONSE_BYTES"):
            await client.get_insight(insight["id"])
        client.max_response_bytes = size * 4
        assert (await client.get_insight(insight["id"])).name


# --- deliveries ---------------------------------------------------------------------------------------------


async def redirector(location: str) -> tuple[web.AppRunner, str]:
    """A server that answers every request with a redirect to `location` (a PostHog that points elsewhere)."""

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(location + request.path_qs)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


async def deliver_once(db, host: str, posthog: PostHogStandIn, **settings) -> tuple[Subscription, object]:
    """A Slack subscription to an insight of a workspace's connection to `host` (stored as `/posthog connect`
    stores it once its check passed), sent now; returns the subscription afterwards and the Slack stand-in."""
    insight = load_fixture("trendsNumber")
    posthog.add_insight(insight)
    env = await start_bot(db, **{"posthog_allow_private_hosts": False, **settings})
    try:
        await env.install("T1")
        async with db.transaction() as session:
            workspace_id = (await find_workspace(session, "T1")).id
            connection = PostHogConnection(workspace_id=workspace_id, host=host, project_id=posthog.project_id,
                                           api_key=posthog.api_key, name="Acme", created_by="U1")
            session.add(connection)
            await session.flush()
            subscription = await create_subscription(
                session, connection=connection, content_type="insight", content_ref=str(insight["id"]),
                schedule=parse_schedule("weekly", "UTC"), target_type="slack", slack_channel_id="C1",
                created_by_slack_user=CREATOR, workspace_id=workspace_id,
            )
            await request_delivery_now(session, subscription)
        async with scheduler_service(env.settings, db, load_content=FixedImages(env.settings),
                                     worker_id="t") as service:
            assert len(await service.tick()) == 1
            await service.drain()
        async with db.session() as session:
            return await session.get(Subscription, subscription.id), env.slack
    finally:
        await env.close()


async def test_a_delivery_to_a_host_that_now_resolves_to_loopback_fetches_nothing_and_pauses(
    db, posthog_server
) -> None:
    port = posthog_server.url.rsplit(":", 1)[1]
    # "localhost" stands for a public name whose DNS was changed to 127.0.0.1 after the connect check.
    subscription, slack = await deliver_once(db, f"http://localhost:{port}", posthog_server)

    assert posthog_server.requests == []
    assert not subscription.enabled
    assert "is on a private network" in subscription.paused_reason
    assert "public address" in subscription.paused_reason
    assert slack.calls_to("files.completeUploadExternal") == []
    told = [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == CREATOR]
    assert told and "private network" in json.dumps(told[0].params)


async def test_a_delivery_from_a_host_that_redirects_to_loopback_does_not_follow_it_and_pauses(
    db, posthog_server
) -> None:
    runner, host = await redirector(posthog_server.url)
    try:
        # Private hosts allowed, as a test can only serve loopback ones: a redirect is refused all the same.
        subscription, _slack = await deliver_once(db, host, posthog_server, posthog_allow_private_hosts=True)
    finally:
        await runner.cleanup()

    assert posthog_server.requests == []  # the redirect's target was never asked
    assert not subscription.enabled
    assert f"redirected the request for insight {load_fixture('trendsNumber')['id']} to {posthog_server.url}" in (
        subscription.paused_reason)


async def test_the_connect_check_refuses_a_redirect_with_a_field_error(posthog_server) -> None:
    runner, host = await redirector(posthog_server.url)
    try:
        errors = await check_connection(host, str(posthog_server.project_id), posthog_server.api_key,
                                        Settings(posthog_allow_private_hosts=True))
    finally:
        await runner.cleanup()
    assert isinstance(errors, dict) and "redirected" in errors["host"]
    assert posthog_server.requests == []

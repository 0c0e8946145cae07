"""No secret reaches a log line. An OAuth install, a PostHog connect and a delivery run with every logger at DEBUG
(ours and the libraries': slack_sdk, aiohttp, the database driver) through the service's own log handler, and the
output is searched for every secret they used."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import select

from core.logs import CHATTY, make_handler
from core.models import Subscription
from scheduler.assembly import scheduler_service
from tests.standins.content import FixedImages
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn
from tests.standins.slack_api import SIGNING_SECRET, start_bot
from tests.test_bot_oauth import get, start_install

CLIENT_SECRET = "5f0c2e9a7b1d4c3e8f6a0b2c4d6e8f1a"
BOT_TOKEN = "xoxb-9901-7788-QwErTyUiOpAsDfGh"
REFRESH_TOKEN = "xoxe-1-My0xLTk5MDEtcmVmcmVzaA"
POSTHOG_KEY = "phx_K3y0fThePostHogUserThatMustStayHidden"
SMTP_PASSWORD = "smtp-pass-that-stays-hidden"


@pytest.fixture
def debug_output():
    """Every logger at DEBUG into a string, through `make_handler` once `attach(settings)` is called."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in CHATTY}
    handlers: list[logging.Handler] = []

    def attach(settings) -> io.StringIO:
        handler = make_handler(settings, stream)
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
        handlers.append(handler)
        return stream

    root.setLevel(logging.DEBUG)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield attach
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


async def test_an_install_a_connect_and_a_delivery_at_debug_log_none_of_their_secrets(db, debug_output) -> None:
    env = await start_bot(db, slack_client_id="111.222", slack_client_secret=CLIENT_SECRET,
                          public_url="https://exports.example", smtp_password=SMTP_PASSWORD)
    posthog = PostHogStandIn(api_key=POSTHOG_KEY, project_id=2, project_name="Acme")
    insight = load_fixture("trendsNumber")
    posthog.add_insight(insight)
    await posthog.start()
    output = debug_output(env.settings)
    try:
        env.slack.add_token(BOT_TOKEN, team_id="T9", bot_user_id="UBOT9", bot_id="B9")
        env.slack.oauth_codes["install-code"] = {
            "ok": True, "app_id": "A0APP", "team": {"id": "T9", "name": "Nine"}, "enterprise": None,
            "authed_user": {"id": "U9"}, "access_token": BOT_TOKEN, "token_type": "bot",
            "scope": "commands,chat:write,files:write,users:read", "bot_user_id": "UBOT9",
            "refresh_token": REFRESH_TOKEN, "expires_in": 43200,
        }
        state, cookie = await start_install(env)
        status, page, _ = await get(env, f"/slack/oauth_redirect?code=install-code&state={state}", cookie)
        assert status == 200, page

        await env.driver.command("connect", team_id="T9", user_id="U9")
        values = {
            "host": {"value": {"type": "plain_text_input", "value": posthog.url}},
            "project_id": {"value": {"type": "plain_text_input", "value": "2"}},
            "api_key": {"value": {"type": "plain_text_input", "value": POSTHOG_KEY}},
        }
        connected = await env.driver.submit_view("posthog_connect", values, team_id="T9", user_id="U9")
        assert connected.status == 200 and connected.body == "", connected.body

        subscribed = await env.driver.command(f"subscribe insight {insight['id']} weekly", team_id="T9",
                                              user_id="U9", channel_id="C9")
        assert subscribed.status == 200, subscribed.body
        assert "Next deliveries" in json.dumps(await subscribed.wait_later())  # after the PostHog lookup
        async with db.session() as session:
            [subscription] = (await session.scalars(select(Subscription))).all()
        async with scheduler_service(env.settings, db, load_content=FixedImages(env.settings),
                                     worker_id="t") as service:
            await env.driver.command(f"send {subscription.id}", team_id="T9", user_id="U9", channel_id="C9")
            assert len(await service.tick()) == 1
            await service.drain()
    finally:
        await posthog.stop()
        await env.close()

    # The secrets were used: the delivery reached Slack with the installed token and PostHog with the key.
    posts = [c for c in env.slack.calls_to("chat.postMessage") if c.params.get("channel") == "C9"]
    assert posts and all(c.token == BOT_TOKEN for c in posts)
    assert any(r.authorization == f"Bearer {POSTHOG_KEY}" for r in posthog.requests)

    logged = output.getvalue()
    assert logged.count("\n") > 50, "too little was logged for this test to mean anything"
    for secret in (CLIENT_SECRET, BOT_TOKEN, REFRESH_TOKEN, POSTHOG_KEY, SMTP_PASSWORD, SIGNING_SECRET,
                   env.settings.secret_key):
        assert secret not in logged, f"{secret[:6]}... was logged"
        assert json.dumps(secret)[1:-1] not in logged

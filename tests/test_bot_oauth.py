"""OAuth install round trip against the stand-in's oauth.v2.access; tokens land encrypted."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sqlalchemy import func, select, text

from core.models import SlackInstallation, SlackOAuthState, SlackWorkspace
from tests.standins.slack_api import start_bot


@pytest.fixture
async def env(db):
    env = await start_bot(db, slack_client_id="111.222", slack_client_secret="client-secret",
                          public_url="https://exports.example")
    env.slack.add_token("xoxb-nine-plain-token", team_id="T9", bot_user_id="UBOT9", bot_id="B9")
    env.slack.oauth_codes["good-code"] = {
        "ok": True, "app_id": "A0APP", "team": {"id": "T9", "name": "Nine"}, "enterprise": None,
        "authed_user": {"id": "U9"}, "access_token": "xoxb-nine-plain-token", "token_type": "bot",
        "scope": "commands,chat:write,files:write", "bot_user_id": "UBOT9",
        "refresh_token": "xoxe-1-nine-refresh", "expires_in": 43200,
    }
    yield env
    await env.close()


async def get(env, path: str, cookie: str | None = None) -> tuple[int, str, dict]:
    headers = {"Cookie": cookie} if cookie else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(env.driver.base_url + path, headers=headers, allow_redirects=False) as resp:
            return resp.status, await resp.text(), dict(resp.headers)


async def start_install(env) -> tuple[str, str]:
    status, page, headers = await get(env, "/slack/install")
    assert status == 200
    url = re.search(r'href="(https://slack.com/oauth/v2/authorize[^"]+)"', page).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == ["111.222"]
    assert set(query["scope"][0].split(",")) >= {"commands", "chat:write", "files:write", "users:read"}
    assert query["redirect_uri"] == ["https://exports.example/slack/oauth_redirect"]
    cookie = headers["Set-Cookie"].split(";")[0]
    return query["state"][0], cookie


async def test_install_round_trip_stores_an_encrypted_token(env, db):
    state, cookie = await start_install(env)
    status, page, _ = await get(env, f"/slack/oauth_redirect?code=good-code&state={state}", cookie)
    assert status == 200, page

    [access] = env.slack.calls_to("oauth.v2.access")
    assert access.params["code"] == "good-code"
    async with db.session() as session:
        workspace = await session.scalar(select(SlackWorkspace).where(SlackWorkspace.team_id == "T9"))
        row = await session.scalar(select(SlackInstallation))
        raw_token, raw_refresh = (
            await session.execute(text("SELECT bot_token, bot_refresh_token FROM slack_installations"))
        ).one()
        states = await session.scalar(select(func.count()).select_from(SlackOAuthState))
    assert workspace.name == "Nine" and workspace.active
    assert row.bot_token == "xoxb-nine-plain-token" and row.bot_refresh_token == "xoxe-1-nine-refresh"
    assert row.bot_token_expires_at is not None and row.user_id == "U9" and row.bot_id == "B9"
    assert "xoxb-nine-plain-token" not in raw_token and "nine-refresh" not in raw_refresh
    assert states == 0  # the state was consumed

    # The same state cannot be used twice.
    status, _, _ = await get(env, f"/slack/oauth_redirect?code=good-code&state={state}", cookie)
    assert status >= 400

    # The installed workspace can now use the app.
    answer = await env.driver.command("connect demo", team_id="T9", user_id="U9")
    assert "Connected the demo project" in answer.text


async def test_forged_state_installs_nothing(env, db):
    _state, cookie = await start_install(env)
    status, _, _ = await get(env, "/slack/oauth_redirect?code=good-code&state=forged", "slack-app-oauth-state=forged")
    assert status >= 400
    status, _, _ = await get(env, "/slack/oauth_redirect?code=bad-code&state=nope", cookie)
    assert status >= 400
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(SlackInstallation)) == 0
    assert env.slack.calls_to("oauth.v2.access") == []


async def test_without_client_id_there_is_no_install_page(db):
    env = await start_bot(db)
    try:
        status, body, _ = await get(env, "/slack/install")
        assert status == 404 and "SLACK_CLIENT_ID" in body
    finally:
        await env.close()


async def test_without_signing_secret_nothing_is_accepted(db):
    env = await start_bot(db, slack_signing_secret="")
    try:
        answer = await env.driver.command("connect demo")
        assert answer.status == 503
    finally:
        await env.close()

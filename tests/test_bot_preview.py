"""`/posthog preview`: rendered by the real renderer (Chromium) and uploaded to the user's DM."""

from __future__ import annotations

import pytest

from core.settings import Settings
from render import Renderer
from tests.standins.slack_api import start_bot


@pytest.fixture
async def env(db):
    env = await start_bot(db, renderer_factory=lambda: Renderer(Settings(), pool_size=1))
    await env.install("T1")
    await env.driver.command("connect demo")
    yield env
    await env.close()


@pytest.mark.browser
async def test_preview_of_an_insight_is_uploaded_to_the_users_dm(env):
    answer = await env.driver.command("preview insight dm-pgvw", user_id="U1")
    assert "Rendering insight dm-pgvw" in answer.text
    reply = await answer.wait_later(timeout=90)
    assert "direct messages" in reply["text"]
    [opened] = env.slack.calls_to("conversations.open")
    assert opened.params["users"] == "U1"
    [upload] = env.slack.calls_to("upload")
    assert upload.body[:8] == b"\x89PNG\r\n\x1a\n"
    [completed] = env.slack.calls_to("files.completeUploadExternal")
    assert completed.params["channel_id"].startswith("D")


async def test_preview_without_renderer_says_so(db):
    env = await start_bot(db)
    try:
        await env.install("T1")
        await env.driver.command("connect demo")
        answer = await env.driver.command("preview dashboard 42")
        assert "renderer" in answer.text
        assert env.slack.calls_to("files.getUploadURLExternal") == []
    finally:
        await env.close()

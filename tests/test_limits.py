"""Fair limits: a person, and a workspace, may only ask for so many previews, sends, exports and connection checks
in a window; past it they are told when to try again, and nothing is started. Another workspace is not held up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from core.limits import RateLimited, RateLimiter
from core.models import Delivery, ExportedAsset, Subscription
from core.settings import Settings
from render import Renderer
from tests.standins.clock import FakeClock
from tests.standins.slack_api import start_bot


def limiter(clock: FakeClock, **budgets) -> RateLimiter:
    return RateLimiter(budgets.get("user", {}), budgets.get("workspace", {}), 60.0, clock=clock)


def test_one_person_gets_their_budget_then_is_told_when_to_try_again() -> None:
    clock = FakeClock()
    limits = limiter(clock, user={"preview": 3})
    for _ in range(3):
        limits.take("preview", workspace=1, user="U1")
        clock.now += 10
    with pytest.raises(RateLimited) as refused:
        limits.take("preview", workspace=1, user="U1")
    assert refused.value.retry_after == 30  # the first of the three leaves the window at 60 s
    assert str(refused.value) == (
        "That is more previews than one person may ask for: 3 every minute. Try again in 30 seconds.")
    limits.take("preview", workspace=1, user="U2")  # someone else in the workspace still can
    limits.take("send", workspace=1, user="U1")  # and so can U1 for another action
    clock.now += 30
    limits.take("preview", workspace=1, user="U1")  # one slot left the window


def test_a_workspace_budget_spans_its_people_and_no_other_workspace() -> None:
    clock = FakeClock()
    limits = limiter(clock, user={"export": 5}, workspace={"export": 4})
    for user in ("U1", "U2", "U3", "U4"):
        limits.take("export", workspace=1, user=user)
    with pytest.raises(RateLimited, match="than one workspace may ask for: 4 every minute") as refused:
        limits.take("export", workspace=1, user="U5")
    assert refused.value.scope == "workspace"
    limits.take("export", workspace=2, user="U1")


def test_a_refused_request_uses_up_nothing() -> None:
    clock = FakeClock()
    limits = limiter(clock, user={"connect": 1}, workspace={"connect": 2})
    limits.take("connect", workspace=1, user="U1")
    for _ in range(5):
        with pytest.raises(RateLimited):
            limits.take("connect", workspace=1, user="U1")
    limits.take("connect", workspace=1, user="U2")  # U1's refusals did not spend the workspace's budget


def test_budgets_are_settings_checked_when_read() -> None:
    settings = Settings(rate_limits_per_user={"preview": 10}, rate_limit_window_seconds=3600)
    assert settings.rate_limits_per_user == {"preview": 10, "send": 5, "export": 10, "connect": 5}
    for wrong in ({"previews": 3}, {"preview": 0}):
        with pytest.raises(ValidationError):
            Settings(rate_limits_per_user=wrong)
    limits = RateLimiter.from_settings(settings)
    for _ in range(10):
        limits.take("preview", workspace=1, user="U1")
    with pytest.raises(RateLimited, match="10 every hour"):
        limits.take("preview", workspace=1, user="U1")


# --- through Slack ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_renderer():
    """One renderer for the module; each preview borrows it as `serve` lends its own."""
    holder: dict[str, Renderer] = {}

    @asynccontextmanager
    async def borrow() -> AsyncIterator[Renderer]:
        yield holder["renderer"]

    return holder, borrow


@pytest.mark.browser
async def test_twenty_previews_in_a_burst_render_five_and_another_workspaces_send_goes_through(db, shared_renderer):
    holder, borrow = shared_renderer
    async with Renderer(Settings(render_scale=1.0), pool_size=1) as renderer:
        holder["renderer"] = renderer
        env = await start_bot(db, renderer_factory=borrow)
        try:
            for team in ("T1", "T2"):
                await env.install(team)
                await env.driver.command("connect demo", team_id=team)
            subscribed = await env.driver.command("subscribe dashboard 44 weekly", team_id="T2", channel_id="C2")
            assert "Next deliveries" in json.dumps(await subscribed.wait_later())
            async with db.session() as session:
                other = await session.scalar(select(Subscription))

            answers = await asyncio.gather(
                *(env.driver.command("preview insight 1003", team_id="T1", user_id="U1") for _ in range(20)),
                env.driver.command(f"send {other.id}", team_id="T2", channel_id="C2"),
            )
            previews, sent = answers[:20], answers[20]

            started = [a for a in previews if a.text.startswith("Rendering")]
            refused = [a for a in previews if "Try again in" in a.text]
            assert (len(started), len(refused)) == (5, 15)
            assert all("than one person may ask for: 5 every minute" in a.text for a in refused)
            assert sent.text.startswith("Sending"), sent.text
            for answer in started:
                assert "direct messages" in (await answer.wait_later(timeout=90))["text"]
        finally:
            await env.close()

    assert len(env.slack.calls_to("files.completeUploadExternal")) == 5  # only the five that were let through
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 1  # T2's send, queued


async def test_exports_past_the_budget_are_refused_and_recorded_nowhere(db):
    env = await start_bot(db, rate_limits_per_user={"export": 2})
    try:
        await env.install("T1")
        await env.driver.command("connect demo")
        answers = [await env.driver.command("export events last 7 days as csv") for _ in range(3)]
    finally:
        await env.close()
    assert [a.text.split()[0] for a in answers[:2]] == ["Exporting", "Exporting"]
    assert "Try again in" in answers[2].text and "exports" in answers[2].text
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ExportedAsset)) == 2


async def test_connection_checks_past_the_budget_get_a_field_error_and_reach_no_host(db):
    env = await start_bot(db, rate_limits_per_user={"connect": 1})
    try:
        await env.install("T1")
        values = {
            "host": {"value": {"type": "plain_text_input", "value": "http://127.0.0.1:9"}},
            "project_id": {"value": {"type": "plain_text_input", "value": "2"}},
            "api_key": {"value": {"type": "plain_text_input", "value": "phx_whatever"}},
        }
        first = await env.driver.submit_view("posthog_connect", values)
        second = await env.driver.submit_view("posthog_connect", values)
    finally:
        await env.close()
    assert "Try again in" not in first.json["errors"]["host"]  # checked, and port 9 answered nothing
    assert "Try again in" in second.json["errors"]["host"]

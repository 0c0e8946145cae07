"""Two workspaces: nothing one of them sends can read, change or trigger anything of the other."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import func, select

from core.models import Delivery, SlackInstallation, SlackWorkspace, Subscription
from tests.standins.slack_api import _all_text, start_bot


@pytest.fixture
async def env(db):
    env = await start_bot(db)
    await env.install("TA", name="Alpha")
    await env.install("TB", name="Beta")
    for team in ("TA", "TB"):
        await env.driver.command("connect demo", team_id=team, user_id=f"U{team}")
    yield env
    await env.close()


async def subscribe(env, team: str, text: str = "subscribe dashboard 42 weekly") -> int:
    answer = await env.driver.command(text, team_id=team, user_id=f"U{team}", channel_id=f"C{team}")
    reply = await answer.wait_later()
    assert "Subscribed" in reply["text"], reply
    async with env.database.session() as session:
        return await session.scalar(select(func.max(Subscription.id)))


async def snapshot(db) -> list[tuple]:
    async with db.session() as session:
        rows = (await session.scalars(select(Subscription).order_by(Subscription.id))).all()
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
    return [(s.id, s.enabled, s.deleted_at, s.paused_reason, s.next_delivery_at, s.content_ref, s.slack_channel_id,
             s.hour) for s in rows] + [("deliveries", deliveries)]


async def test_commands_from_another_workspace_are_answered_like_unknown_ids(env, db):
    beta = await subscribe(env, "TB")
    alpha = await subscribe(env, "TA")
    before = await snapshot(db)

    answer = await env.driver.command("list all", team_id="TA", user_id="UTA")
    listed = _all_text(await answer.wait_later())  # acknowledged at once, the list comes at the response_url
    assert f"#{alpha}" in listed and f"#{beta}" not in listed
    for verb in ("unsubscribe", "pause", "resume", "send"):
        foreign = await env.driver.command(f"{verb} {beta}", team_id="TA", user_id="UTA")
        unknown = await env.driver.command(f"{verb} 987654", team_id="TA", user_id="UTA")
        assert foreign.text == unknown.text.replace("987654", str(beta))
        assert "was not found in this workspace" in foreign.text
    assert await snapshot(db) == before


async def test_buttons_from_another_workspace_are_refused(env, db):
    beta = await subscribe(env, "TB")
    before = await snapshot(db)
    for action in ("subscription_send_now", "subscription_pause", "subscription_resume",
                   "subscription_unsubscribe", "subscription_edit"):
        answer = await env.driver.button(action, str(beta), team_id="TA", user_id="UTA", channel_id="CTA")
        assert answer.status == 200
        reply = await answer.wait_later()
        assert "was not found in this workspace" in reply["text"]
    assert env.slack.calls_to("views.open") == []
    assert await snapshot(db) == before


async def test_edit_submission_for_another_workspace_is_refused(env, db):
    beta = await subscribe(env, "TB")
    before = await snapshot(db)
    values = edit_values(target="42", channel="CTA", hour="07:00")
    answer = await env.driver.submit_view("subscription_edit", values, team_id="TA", user_id="UTA",
                                          private_metadata=json.dumps({"subscription_id": beta}))
    assert answer.json["response_action"] == "errors"
    assert "not found" in answer.json["errors"]["target"]
    assert await snapshot(db) == before


async def test_uninstall_of_one_workspace_leaves_the_other_alone(env, db):
    alpha = await subscribe(env, "TA")
    beta = await subscribe(env, "TB")
    status, _ = await env.driver.event({"type": "app_uninstalled"}, team_id="TA")
    assert status == 200

    async def state():
        async with db.session() as session:
            subs = {s.id: s for s in (await session.scalars(select(Subscription))).all()}
            workspaces = {w.team_id: w for w in (await session.scalars(select(SlackWorkspace))).all()}
            tokens = {(i.team_id, i.bot_token) for i in (await session.scalars(select(SlackInstallation))).all()}
        return subs, workspaces, tokens

    # Events are acknowledged at once and handled right after.
    deadline = time.monotonic() + 5
    while True:
        subs, workspaces, tokens = await state()
        if not subs[alpha].enabled:
            break
        assert time.monotonic() < deadline, "app_uninstalled was not handled within 5s: alpha's subscription is on"
        await asyncio.sleep(0.02)
    assert subs[alpha].enabled is False and "removed" in subs[alpha].paused_reason
    assert subs[beta].enabled is True
    assert workspaces["TA"].active is False and workspaces["TA"].uninstalled_at is not None
    assert workspaces["TB"].active is True
    assert {team for team, _ in tokens} == {"TB"}

    # The uninstalled workspace's commands no longer reach anything.
    answer = await env.driver.command(f"send {alpha}", team_id="TA", user_id="UTA")
    assert answer.status == 200
    reply = await answer.wait_later()
    assert "reinstall" in reply["text"].lower()
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


def edit_values(*, target: str, channel: str, hour: str, frequency: str = "weekly", interval: str = "1",
                days: list[str] | None = None, timezone: str = "Europe/London") -> dict:
    return {
        "target": {"value": {"type": "plain_text_input", "value": target}},
        "channel": {"value": {"type": "conversations_select", "selected_conversation": channel}},
        "frequency": {"value": {"type": "static_select", "selected_option": {"value": frequency}}},
        "interval": {"value": {"type": "plain_text_input", "value": interval}},
        "days": {"value": {"type": "multi_static_select",
                           "selected_options": [{"value": d} for d in (days or [])]}},
        "time": {"value": {"type": "timepicker", "selected_time": hour}},
        "timezone": {"value": {"type": "plain_text_input", "value": timezone}},
    }

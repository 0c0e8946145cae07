"""/posthog commands over real HTTP, signed as Slack signs them, against the Slack stand-in."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.models import Delivery, PostHogConnection, Subscription
from tests.standins.slack_api import _all_text, start_bot

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
async def env(db):
    env = await start_bot(db)
    env.slack.users["U1"] = {"tz": "America/Los_Angeles", "name": "ana"}
    env.slack.users["U2"] = {"tz": "Europe/Berlin", "name": "ben"}
    await env.install("T1")
    yield env
    await env.close()


async def listed(env, text: str = "list", **kwargs) -> str:
    """What `/posthog list` shows: acknowledged at once, the list comes through the response_url."""
    answer = await env.driver.command(text, **kwargs)
    assert answer.status == 200 and "Looking up the subscriptions" in answer.text
    return _all_text(await answer.wait_later())


async def count(db, model) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def subscriptions(db) -> list[Subscription]:
    async with db.session() as session:
        return list((await session.scalars(select(Subscription).order_by(Subscription.id))).all())


# --- signatures ---------------------------------------------------------------------------------------------


async def test_forged_signature_is_refused_and_changes_nothing(env, db):
    answer = await env.driver.command("connect demo", signature="v0=" + "0" * 64)
    assert answer.status == 401
    body = env.driver.command_body("connect demo", team_id="T1", user_id="U1", channel_id="C1",
                                   channel_name="general", key="x")
    status, _ = await env.driver.post(body, signature="v0=deadbeef")
    assert status == 401
    assert await count(db, PostHogConnection) == 0


async def test_request_older_than_five_minutes_is_refused(env, db):
    answer = await env.driver.command("connect demo", timestamp=int(time.time()) - 6 * 60)
    assert answer.status == 401
    assert await count(db, PostHogConnection) == 0
    # A fresh one with the same content is accepted.
    answer = await env.driver.command("connect demo")
    assert answer.status == 200
    assert await count(db, PostHogConnection) == 1


async def test_signed_with_another_secret_is_refused(env, db):
    from tests.standins.slack_api import sign

    body = env.driver.command_body("connect demo", team_id="T1", user_id="U1", channel_id="C1",
                                   channel_name="general", key="x")
    ts = int(time.time())
    status, _ = await env.driver.post(body, timestamp=ts, signature=sign("another-secret", body, ts))
    assert status == 401
    assert await count(db, PostHogConnection) == 0


# --- subscribe ----------------------------------------------------------------------------------------------


async def test_subscribe_weekly_uses_the_users_time_zone(env, db):
    connect = await env.driver.command("connect demo")
    assert "Connected the demo project" in connect.text

    answer = await env.driver.command("subscribe dashboard 42 weekly", channel_id="C1", channel_name="general")
    assert answer.status == 200
    assert "Looking up dashboard 42" in answer.text
    reply = await answer.wait_later()

    [subscription] = await subscriptions(db)
    assert subscription.content_type == "dashboard" and subscription.content_ref == "42"
    assert subscription.title == "Product overview"
    assert subscription.slack_channel_id == "C1"
    assert subscription.created_by_slack_user == "U1"
    assert (subscription.frequency, subscription.byweekday) == ("weekly", ["monday"])
    assert (subscription.hour, subscription.minute, subscription.timezone) == (9, 0, "America/Los_Angeles")
    local = subscription.next_delivery_at.astimezone(LA)
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)

    text = reply["text"] + "\n" + "\n".join(b.get("text", {}).get("text", "") for b in reply["blocks"])
    assert "every Monday at 09:00 (America/Los_Angeles)" in text
    # The next three Mondays, in Los Angeles time.
    expected = [local]
    for _ in range(2):
        nxt = datetime.fromtimestamp(expected[-1].timestamp() + 7 * 86400, LA).replace(hour=9)
        expected.append(nxt)
    for when in expected:
        assert when.strftime("%a %d %b %Y, 09:00") in text
    buttons = [e["action_id"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[:2] == ["subscription_send_now", "subscription_edit"]
    assert "subscription_unsubscribe" in buttons
    assert env.slack.calls_to("users.info")[0].params["user"] == "U1"


async def test_subscribe_with_channel_link_time_and_url(env, db):
    await env.driver.command("connect demo")
    answer = await env.driver.command(
        "subscribe <https://demo.posthog.example/project/1/insights/dm-pgvw> weekdays at 17:30 in <#C0METRICS|metrics>",
        user_id="U2",
    )
    reply = await answer.wait_later()
    assert "every weekday at 17:30 (Europe/Berlin)" in reply["text"]
    [subscription] = await subscriptions(db)
    assert (subscription.content_type, subscription.content_ref) == ("insight", "dm-pgvw")
    assert subscription.slack_channel_id == "C0METRICS"
    assert subscription.title == "Daily pageviews"


async def test_subscribe_to_missing_dashboard_says_so_and_creates_nothing(env, db):
    await env.driver.command("connect demo")
    answer = await env.driver.command("subscribe dashboard 999 daily")
    reply = await answer.wait_later()
    assert "Dashboard 999 was not found" in reply["text"]
    assert await subscriptions(db) == []


async def test_subscribe_to_archived_channel_is_refused(env, db):
    await env.driver.command("connect demo")
    env.slack.channels["C0OLD"] = {"name": "old", "is_archived": True}
    answer = await env.driver.command("subscribe dashboard 42 daily in <#C0OLD|old>")
    reply = await answer.wait_later()
    assert "archived" in reply["text"]
    assert await subscriptions(db) == []


async def test_user_without_time_zone_gets_utc(env, db):
    await env.driver.command("connect demo")
    answer = await env.driver.command("subscribe dashboard 42 daily at 8am", user_id="U9")
    reply = await answer.wait_later()
    assert "every day at 08:00 (UTC)" in reply["text"]


# --- malformed commands -------------------------------------------------------------------------------------

MALFORMED = [
    ("frobnicate", "don't know the command"),
    ("subscrbe dashboard 42 weekly", "Did you mean `/posthog subscribe`"),
    ("subscribe weekly", "expected `dashboard` or `insight`"),
    ("subscribe dashboard", "Which dashboard"),
    ("subscribe insight", "Which insight"),
    ("subscribe dashboard 42", "How often"),
    ("subscribe 42 weekly", "Is 42 a dashboard or an insight"),
    ("subscribe chart 42 weekly", "expected `dashboard` or `insight`"),
    ("subscribe dashboard abc123XY weekly", "Dashboards have numeric ids"),
    ("subscribe dashboard https://us.posthog.com/project/1/insights/abc123XY weekly", "link is to an insight"),
    ("subscribe insight https://us.posthog.com/project/1/dashboard/42 weekly", "link is to a dashboard"),
    ("subscribe insight https://us.posthog.com/shared/xyz weekly", "shared link"),
    ("subscribe dashboard 42 fortnightly", "fortnightly"),
    ("subscribe dashboard 42 at 25:00", "25"),
    ("subscribe dashboard 42 every 0 weeks", "0"),
    ("subscribe dashboard 42 weekly in #general", "couldn't tell which channel"),
    ("subscribe dashboard 42 weekly to <@U2|ben>", "channels, not to people"),
    ("subscribe dashboard 42 weekly in <#C1|a> and <#C2|b>", "one channel"),
    ("subscribe dashboard 42 weekly in project 999", "No connected PostHog project"),
    ("subscribe dashboard 123456789012345678901234 weekly", "too long"),
    ("list everything", "list all"),
    ("unsubscribe", "Which subscription"),
    ("unsubscribe twelve", "not a subscription number"),
    ("pause 1 2", "takes one subscription number"),
    ("resume 0", "There is no subscription 0"),
    ("send #abc", "not a subscription number"),
    ("send 424242", "was not found in this workspace"),
    ("connect my-key-phx_123", "opens a form"),
    ("preview dashboard", "Which dashboard"),
    ("projects please", "takes nothing after it"),
    ("subscribe dashboard 42 " + "weekly " * 200, "characters"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED, ids=[t[:40] for t, _ in MALFORMED])
async def test_malformed_command_gets_a_specific_answer(env, db, text, expected):
    await env.driver.command("connect demo")
    answer = await env.driver.command(text)
    assert answer.status == 200
    shown = answer.text
    if shown.startswith("Looking up") or shown.startswith("Rendering"):
        shown = (await answer.wait_later())["text"]
    assert expected.lower() in shown.lower(), shown
    assert await subscriptions(db) == []
    assert await count(db, Delivery) == 0


async def test_there_are_thirty_distinct_malformed_cases():
    assert len({text for text, _ in MALFORMED}) >= 30


async def test_help_and_empty_command(env):
    for text in ("", "help"):
        answer = await env.driver.command(text)
        assert "/posthog subscribe dashboard 42 weekly" in answer.text
    # Every way to subscribe is described: channels, email, a period of its own, the form, the buttons.
    for described in ("email ada@acme.com", "email me", "over the last 7 days", "opens a form",
                      "New subscription", "Edit", "with csv", "/posthog export", "/posthog share"):
        assert described in answer.text, described


async def test_subscribe_before_connecting_explains_how(env, db):
    answer = await env.driver.command("subscribe dashboard 42 weekly")
    assert "/posthog connect demo" in answer.text
    assert await subscriptions(db) == []


async def test_subscribe_from_a_direct_message_asks_for_a_channel(env, db):
    await env.driver.command("connect demo")
    answer = await env.driver.command("subscribe dashboard 42 weekly", channel_id="D0DM", channel_name="directmessage")
    assert "direct messages" in answer.text
    assert await subscriptions(db) == []


# --- list / pause / resume / send / unsubscribe -------------------------------------------------------------


async def _subscribe(env, text="subscribe dashboard 42 weekly", **kwargs) -> int:
    answer = await env.driver.command(text, **kwargs)
    await answer.wait_later()
    subs = await subscriptions(env.database)
    return subs[-1].id


async def test_list_pause_resume_send_unsubscribe(env, db):
    await env.driver.command("connect demo")
    first = await _subscribe(env)
    second = await _subscribe(env, "subscribe insight 1001 daily in <#C2|random>")

    here = await listed(env)
    assert f"#{first}" in here and f"#{second}" not in here
    everywhere = await listed(env, "list all")
    assert f"#{first}" in everywhere and f"#{second}" in everywhere

    paused = await env.driver.command(f"pause {first}")
    assert "Paused" in paused.text
    again = await env.driver.command(f"pause {first}")
    assert "already paused" in again.text
    [sub, _] = await subscriptions(db)
    assert sub.enabled is False and "U1" in sub.paused_reason

    resumed = await env.driver.command(f"resume {first}")
    assert "Resumed" in resumed.text
    [sub, _] = await subscriptions(db)
    assert sub.enabled is True and sub.paused_reason is None and sub.next_delivery_at is not None

    sent = await env.driver.command(f"send {first}")
    assert "Sending" in sent.text
    twice = await env.driver.command(f"send {first}")
    assert "already on its way" in twice.text
    async with db.session() as session:
        [delivery] = (await session.scalars(select(Delivery))).all()
    assert (delivery.subscription_id, delivery.trigger, delivery.status) == (first, "manual", "pending")
    assert abs((delivery.scheduled_for - delivery.created_at).total_seconds()) < 5

    gone = await env.driver.command(f"unsubscribe {first}")
    assert "Unsubscribed" in gone.text
    after = await listed(env, "list all")
    assert f"#{first}" not in after
    again = await env.driver.command(f"resume {first}")
    assert "was not found" in again.text


async def test_several_projects_need_a_choice(env, db):
    await env.driver.command("connect demo")
    workspace_id = (await subscriptions_workspace(db))
    async with db.transaction() as session:
        session.add(PostHogConnection(workspace_id=workspace_id, name="Acme", host="https://ph.example",
                                      project_id=7, api_key="phx_secret"))
    answer = await env.driver.command("subscribe dashboard 42 weekly")
    assert "2 PostHog projects" in answer.text and "in project" in answer.text
    chosen = await env.driver.command("subscribe dashboard 42 weekly in project 1")
    reply = await chosen.wait_later()
    assert "Subscribed" in reply["text"]
    projects = await env.driver.command("projects")
    assert "Acme" in projects.text and "phx_secret" not in projects.text


async def subscriptions_workspace(db) -> int:
    async with db.session() as session:
        return (await session.scalars(select(PostHogConnection.workspace_id))).first()


async def test_subscribe_still_answers_when_slack_answers_a_non_json_server_error(env, db):
    from tests.standins.slack_api import Reply

    await env.driver.command("connect demo")
    env.slack.script("conversations.info", Reply(502, body="<html>502 Bad Gateway</html>"))
    answer = await env.driver.command("subscribe dashboard 42 weekly")
    reply = await answer.wait_later()
    assert "Subscribed" in reply["text"]  # the channel could not be checked; that is not a reason to refuse
    assert len(await subscriptions(db)) == 1


async def test_the_subscribed_reply_escapes_the_title(env, db, monkeypatch):
    import bot.commands

    async def title(*_args):
        return "<!channel> Revenue & costs"

    monkeypatch.setattr(bot.commands, "fetch_title", title)
    await env.driver.command("connect demo")
    reply = await (await env.driver.command("subscribe dashboard 42 weekly")).wait_later()
    assert reply["text"].startswith("Subscribed to &lt;!channel&gt; Revenue &amp; costs:")
    assert "<!channel>" not in str(reply)


async def test_paused_by_shows_a_mention_and_other_reasons_stay_escaped(env, db):
    await env.driver.command("connect demo")
    first = await _subscribe(env)
    await env.driver.command(f"pause {first}")
    shown = await listed(env)
    assert "paused by <@U1>" in shown and "&lt;@U1&gt;" not in shown

    async with db.transaction() as session:
        (await session.get(Subscription, first)).paused_reason = "paused by <@U1> <!channel>"
    shown = await listed(env)
    assert "paused by &lt;@U1&gt; &lt;!channel&gt;" in shown


async def test_two_send_now_clicks_at_once_make_one_delivery(env, db, monkeypatch):
    import asyncio

    from bot import commands
    from bot.installation_store import find_workspace
    from core import subscriptions as lifecycle
    from core.limits import RateLimiter

    await env.driver.command("connect demo")
    first = await _subscribe(env)
    original = lifecycle.pending_manual_delivery

    async def slow_check(session, subscription):
        found = await original(session, subscription)
        await asyncio.sleep(0.3)  # widen the gap between the check and the insert
        return found

    monkeypatch.setattr(lifecycle, "pending_manual_delivery", slow_check)
    async with db.session() as session:
        workspace = await find_workspace(session, "T1")

    class Services:
        database = db
        limits = RateLimiter({}, {}, 60.0)

    replies = await asyncio.gather(*(commands.manage("send", first, "U1", workspace, Services) for _ in range(2)))
    assert sorted(reply.split()[0] for reply in replies) == [f"#{first}", "Sending"]  # "#1 ... already on its way"
    assert await count(db, Delivery) == 1

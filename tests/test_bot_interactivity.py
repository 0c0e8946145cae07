"""Buttons, the App Home, the edit and connect modals, over signed HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select, text

from core.models import Delivery, DeliveryTarget, PostHogConnection, Subscription, utcnow
from tests.standins.posthog_server import PostHogStandIn
from tests.standins.slack_api import start_bot
from tests.test_bot_isolation import edit_values


@pytest.fixture
async def env(db):
    env = await start_bot(db)
    env.slack.users["U1"] = {"tz": "Europe/London"}
    await env.install("T1")
    await env.driver.command("connect demo")
    yield env
    await env.close()


async def subscribe(env, text="subscribe dashboard 42 weekly") -> Subscription:
    await (await env.driver.command(text)).wait_later()
    async with env.database.session() as session:
        return (await session.scalars(select(Subscription).order_by(Subscription.id.desc()))).first()


async def load(db, subscription_id) -> Subscription:
    async with db.session() as session:
        return await session.get(Subscription, subscription_id)


async def test_message_buttons_pause_resume_send_unsubscribe(env, db):
    sub = await subscribe(env)
    answer = await env.driver.button("subscription_pause", str(sub.id))
    assert "Paused" in (await answer.wait_later())["text"]
    assert (await load(db, sub.id)).enabled is False

    answer = await env.driver.button("subscription_resume", str(sub.id))
    assert "Resumed" in (await answer.wait_later())["text"]

    answer = await env.driver.button("subscription_send_now", str(sub.id))
    assert "Sending" in (await answer.wait_later())["text"]
    async with db.session() as session:
        [delivery] = (await session.scalars(select(Delivery))).all()
    assert (delivery.trigger, delivery.status) == ("manual", "pending")

    answer = await env.driver.button("subscription_open_in_posthog", str(sub.id))
    assert answer.status == 200

    answer = await env.driver.button("subscription_unsubscribe", str(sub.id))
    assert "Unsubscribed" in (await answer.wait_later())["text"]
    assert (await load(db, sub.id)).deleted_at is not None


async def test_app_home_lists_subscriptions_with_last_delivery(env, db):
    sub = await subscribe(env)
    async with db.transaction() as session:
        delivery = Delivery(subscription_id=sub.id, scheduled_for=utcnow(), status="failed",
                            error="channel archived", finished_at=utcnow())
        session.add(delivery)
        await session.flush()
        session.add(DeliveryTarget(delivery_id=delivery.id, kind="slack", address="C1", status="failed",
                                   error="is_archived"))
    status, _ = await env.driver.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert status == 200
    [publish] = await env.slack.wait_for(lambda: env.slack.calls_to("views.publish"))
    view = publish.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    shown = json.dumps(view)
    assert publish.params["user_id"] == "U1"
    assert f"#{sub.id} Product overview" in shown and "failed" in shown and "channel archived" in shown
    assert "subscription_send_now" in shown and "subscription_edit" in shown

    # A button on the Home tab refreshes the Home tab.
    answer = await env.driver.button("subscription_pause", str(sub.id), from_home=True)
    assert answer.status == 200
    await env.slack.wait_for(lambda: len(env.slack.calls_to("views.publish")) == 2)
    assert (await load(db, sub.id)).enabled is False


async def test_edit_opens_a_modal_and_saves_a_valid_schedule(env, db):
    sub = await subscribe(env)
    answer = await env.driver.button("subscription_edit", str(sub.id))
    assert answer.status == 200
    [opened] = await env.slack.wait_for(lambda: env.slack.calls_to("views.open"))
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "subscription_edit"

    values = edit_values(target="42", channel="C9", hour="07:30", frequency="weekly", interval="2",
                         days=["tuesday", "thursday"], timezone="Asia/Tokyo")
    answer = await env.driver.submit_view("subscription_edit", values, private_metadata=view["private_metadata"])
    assert answer.status == 200 and answer.body == ""
    saved = await load(db, sub.id)
    assert (saved.frequency, saved.interval, saved.byweekday) == ("weekly", 2, ["tuesday", "thursday"])
    assert (saved.hour, saved.minute, saved.timezone, saved.slack_channel_id) == (7, 30, "Asia/Tokyo", "C9")


async def test_edit_shows_field_errors_and_changes_nothing(env, db):
    sub = await subscribe(env)
    before = await load(db, sub.id)
    metadata = json.dumps({"subscription_id": sub.id})
    values = edit_values(target="abc123XY", channel="C1", hour="07:30", interval="0", timezone="Mars/Olympus")
    answer = await env.driver.submit_view("subscription_edit", values, private_metadata=metadata)
    assert answer.json["response_action"] == "errors"
    assert set(answer.json["errors"]) == {"target", "interval", "timezone"}
    assert "numeric" in answer.json["errors"]["target"]

    values = edit_values(target="4242", channel="C1", hour="07:30")
    answer = await env.driver.submit_view("subscription_edit", values, private_metadata=metadata)
    assert "4242" in answer.json["errors"]["target"]
    after = await load(db, sub.id)
    assert (after.content_ref, after.hour, after.interval, after.timezone) == (
        before.content_ref, before.hour, before.interval, before.timezone)


async def test_connect_modal_checks_the_key_and_stores_it_encrypted(env, db):
    posthog = PostHogStandIn(api_key="phx_right", project_id=2, project_name="Acme")
    await posthog.start()
    try:
        answer = await env.driver.command("connect")
        assert answer.status == 200
        [opened] = await env.slack.wait_for(lambda: env.slack.calls_to("views.open"))
        assert "posthog_connect" in json.dumps(opened.params["view"])

        def values(host, project, key):
            return {
                "host": {"value": {"type": "plain_text_input", "value": host}},
                "project_id": {"value": {"type": "plain_text_input", "value": project}},
                "api_key": {"value": {"type": "plain_text_input", "value": key}},
            }

        bad = await env.driver.submit_view("posthog_connect", values("not a host", "two", ""))
        assert set(bad.json["errors"]) == {"host", "project_id", "api_key"}
        wrong_key = await env.driver.submit_view("posthog_connect", values(posthog.url, "2", "phx_wrong"))
        assert "api_key" in wrong_key.json["errors"]
        assert "phx_wrong" not in wrong_key.body
        async with db.session() as session:
            assert len((await session.scalars(select(PostHogConnection))).all()) == 1  # the demo only

        ok = await env.driver.submit_view("posthog_connect", values(posthog.url, "2", "phx_right"))
        assert ok.status == 200 and ok.body == ""
        async with db.session() as session:
            connection = await session.scalar(select(PostHogConnection).where(PostHogConnection.project_id == 2))
            raw = await session.scalar(text("SELECT api_key FROM posthog_connections WHERE project_id = 2"))
        assert connection.name == "Acme" and connection.api_key == "phx_right"
        assert raw and "phx_right" not in raw
        dm = await env.slack.wait_for(lambda: env.slack.calls_to("chat.postMessage"))
        assert "Acme" in dm[0].params["text"] and "phx_right" not in dm[0].params["text"]
        await asyncio.sleep(0)
    finally:
        await posthog.stop()


async def test_saving_the_edit_modal_unchanged_keeps_the_day_of_the_month(env, db):
    sub = await subscribe(env, "subscribe dashboard 42 monthly on the 15th")
    assert sub.bymonthday == 15
    values = edit_values(target="42", channel=sub.slack_channel_id, hour=f"{sub.hour:02d}:{sub.minute:02d}",
                         frequency="monthly", interval="1", timezone=sub.timezone)
    answer = await env.driver.submit_view("subscription_edit", values,
                                          private_metadata=json.dumps({"subscription_id": sub.id}))
    assert answer.status == 200 and answer.body == ""
    saved = await load(db, sub.id)
    assert saved.bymonthday == 15 and saved.next_delivery_at.day == 15


async def test_an_interval_of_unicode_digits_is_a_field_error(env, db):
    sub = await subscribe(env)
    values = edit_values(target="42", channel="C1", hour="09:00", interval="²")
    answer = await env.driver.submit_view("subscription_edit", values,
                                          private_metadata=json.dumps({"subscription_id": sub.id}))
    assert answer.status == 200
    assert set(answer.json["errors"]) == {"interval"}


async def test_the_connected_message_escapes_the_project_name(env, db):
    posthog = PostHogStandIn(api_key="phx_right", project_id=2, project_name="<!channel> Acme & Co")
    await posthog.start()
    try:
        values = {
            "host": {"value": {"type": "plain_text_input", "value": posthog.url}},
            "project_id": {"value": {"type": "plain_text_input", "value": "2"}},
            "api_key": {"value": {"type": "plain_text_input", "value": "phx_right"}},
        }
        ok = await env.driver.submit_view("posthog_connect", values)
        assert ok.status == 200 and ok.body == ""
        [dm] = await env.slack.wait_for(lambda: env.slack.calls_to("chat.postMessage"))
        assert "“&lt;!channel&gt; Acme &amp; Co”" in dm.params["text"] and "<!channel>" not in dm.params["text"]
    finally:
        await posthog.stop()


async def test_a_best_effort_slack_call_survives_a_non_json_server_error():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from bot.app import _safe

    async def failing():
        response = AsyncSlackResponse(client=None, http_verb="POST", api_url="x", req_args={},
                                      data="<html>502 Bad Gateway</html>", headers={}, status_code=502)
        raise SlackApiError("failed", response)

    await _safe(failing())  # logged, not raised


@pytest.mark.parametrize("host", ["http://127.0.0.1:{port}", "http://localhost:{port}", "http://10.1.2.3",
                                  "http://169.254.169.254", "http://[::1]:{port}", "http://[::ffff:127.0.0.1]",
                                  "http://0.0.0.0:{port}", "https://:443"])
async def test_connect_refuses_internal_hosts_unless_allowed(db, host):
    posthog = PostHogStandIn(api_key="phx_right", project_id=2)
    await posthog.start()
    env = await start_bot(db, posthog_allow_private_hosts=False)
    try:
        await env.install("T1")
        address = host.format(port=posthog.url.rsplit(":", 1)[1])
        values = {
            "host": {"value": {"type": "plain_text_input", "value": address}},
            "project_id": {"value": {"type": "plain_text_input", "value": "2"}},
            "api_key": {"value": {"type": "plain_text_input", "value": "phx_right"}},
        }
        answer = await env.driver.submit_view("posthog_connect", values)
        assert answer.status == 200 and set(answer.json["errors"]) == {"host"}, answer.body
        assert posthog.requests == []  # refused before anything was asked of that address
        async with db.session() as session:
            assert (await session.scalars(select(PostHogConnection))).all() == []
    finally:
        await env.close()
        await posthog.stop()

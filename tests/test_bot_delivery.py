"""SlackSender: a delivery reaches the Slack stand-in as one parent message plus one upload per image."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from bot import SlackSender
from bot.installation_store import find_workspace
from core.delivery import Image as ReportImage
from core.delivery import Outcome, Report
from core.models import Subscription
from core.schedule_phrases import parse_schedule
from core.subscriptions import create_subscription, demo_connection
from posthog_api import DemoProject
from tests.standins.clock import FakeClock
from tests.standins.slack_api import Reply, start_bot


def png(color: tuple[int, int, int], size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def env(db):
    env = await start_bot(db)
    await env.install("T1")
    yield env
    await env.close()


async def make_subscription(db, *, channel="C1", in_thread=True, team_id="T1") -> int:
    async with db.transaction() as session:
        workspace = await find_workspace(session, team_id)
        connection = await demo_connection(session, workspace.id)
        subscription = await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref="42",
            schedule=parse_schedule("weekly", "Europe/London"), title="Product overview", target_type="slack",
            slack_channel_id=channel, created_by_slack_user="UCREATOR", workspace_id=workspace.id,
        )
        subscription.slack_images_in_thread = in_thread
        return subscription.id


async def dashboard_tiles() -> list[tuple[str, bytes]]:
    dashboard = await DemoProject().get_dashboard(42)
    tiles = [t for t in dashboard.tiles if t.insight is not None]
    return [(t.insight.name, png((i * 20 % 255, 80, 160))) for i, t in enumerate(tiles)]


async def report(env, subscription_id, images, *, title="Product overview") -> Report:
    async with env.database.session() as session:
        subscription = await session.get(Subscription, subscription_id)
    return Report(
        subscription=subscription, address=subscription.slack_channel_id, title=title,
        posthog_url="https://demo.posthog.example/project/1/dashboard/42",
        schedule_summary="every Monday at 09:00 (Europe/London)", content=None,
        images=[ReportImage(name, data) for name, data in images],
    )


async def send(env, subscription_id, images, *, resume=None, sender=None, title="Product overview") -> Outcome:
    sender = sender or SlackSender(env.database, env.settings)
    [outcome] = await sender.send([await report(env, subscription_id, images, title=title)], resume)
    return outcome


async def test_dashboard_delivery_posts_parent_then_uploads_every_tile_into_its_thread(env, db):
    subscription_id = await make_subscription(db)
    images = await dashboard_tiles()
    assert len(images) >= 3

    outcome = await send(env, subscription_id, images)

    assert outcome.status == "sent" and outcome.external_id and not outcome.transient
    [parent] = env.slack.calls_to("chat.postMessage")
    assert parent.params["channel"] == "C1"
    assert parent.token == "xoxb-t1-token"
    actions = [e["action_id"] for b in parent.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["subscription_open_in_posthog", "subscription_send_now", "subscription_pause",
                       "subscription_unsubscribe"]

    asked = env.slack.calls_to("files.getUploadURLExternal")
    uploaded = env.slack.calls_to("upload")
    completed = env.slack.calls_to("files.completeUploadExternal")
    assert len(asked) == len(uploaded) == len(images)
    assert [c.body for c in uploaded] == [image for _, image in images]
    completed_ids = [f["id"] for c in completed for f in json.loads(c.params["files"])]
    assert sorted(completed_ids) == sorted(c.params["file_id"] for c in uploaded)
    for call in completed:
        assert call.params["channel_id"] == "C1"
        assert call.params["thread_ts"] == outcome.external_id
    titles = [f["title"] for c in completed for f in json.loads(c.params["files"])]
    assert titles == [name for name, _ in images]
    # Never the legacy upload, never public links.
    methods = {c.method for c in env.slack.calls}
    assert "files.upload" not in methods and "files.sharedPublicURL" not in methods


async def test_images_beside_the_message_when_not_in_thread(env, db):
    subscription_id = await make_subscription(db, in_thread=False)
    outcome = await send(env, subscription_id, [("one", png((1, 2, 3)))])
    assert outcome.status == "sent"
    [completed] = env.slack.calls_to("files.completeUploadExternal")
    assert not completed.params.get("thread_ts")


async def test_rate_limit_is_waited_out(env, db):
    subscription_id = await make_subscription(db)
    env.slack.script("chat.postMessage", Reply(429, headers={"Retry-After": "1"}))
    clock = FakeClock()
    sender = SlackSender(env.database, env.settings, clock=clock, sleep=clock.sleep)
    outcome = await send(env, subscription_id, [("one", png((1, 2, 3)))], sender=sender)
    assert outcome.status == "sent"
    assert clock.slept and clock.slept[0] >= 1.0
    assert len(env.slack.calls_to("chat.postMessage")) == 2


async def test_not_in_channel_joins_and_retries(env, db):
    subscription_id = await make_subscription(db)
    env.slack.script("chat.postMessage", {"ok": False, "error": "not_in_channel"})
    clock = FakeClock()
    outcome = await send(env, subscription_id, [], sender=SlackSender(env.database, env.settings, clock=clock,
                                                                      sleep=clock.sleep))
    assert outcome.status == "sent"
    assert clock.slept == [pytest.approx(1.0)]  # the second post into the channel is paced
    assert [c.params["channel"] for c in env.slack.calls_to("conversations.join")] == ["C1"]
    assert len(env.slack.calls_to("chat.postMessage")) == 2


@pytest.mark.parametrize("error", ["is_archived", "channel_not_found", "token_revoked"])
async def test_configuration_errors_pause_and_tell_the_creator(env, db, error):
    subscription_id = await make_subscription(db)
    env.slack.script("chat.postMessage", {"ok": False, "error": error})
    sender = SlackSender(env.database, env.settings)
    outcome = await send(env, subscription_id, [("one", png((1, 2, 3)))], sender=sender)
    assert (outcome.status, outcome.error, outcome.transient) == ("failed", error, False)
    assert error in outcome.pause_reason
    async with db.session() as session:
        subscription = await session.get(Subscription, subscription_id)
    assert subscription.enabled is True  # the sender only reports; the pipeline pauses (test_scheduler_pipeline)
    await sender.notify_creator(subscription, outcome.pause_reason)
    dm = env.slack.calls_to("chat.postMessage")[-1]
    assert dm.params["channel"] == "UCREATOR"
    assert f"#{subscription_id}" in dm.params["text"] and error in dm.params["text"]
    assert env.slack.calls_to("files.getUploadURLExternal") == []


async def test_server_errors_are_transient_and_do_not_pause(env, db):
    subscription_id = await make_subscription(db)
    env.slack.script("chat.postMessage", Reply(503, body={"ok": False, "error": "service_unavailable"}))
    outcome = await send(env, subscription_id, [])
    assert outcome.status == "failed" and outcome.transient is True and outcome.pause_reason is None
    async with db.session() as session:
        assert (await session.get(Subscription, subscription_id)).enabled is True


async def test_a_retry_after_a_failed_upload_does_not_post_the_parent_twice(env, db):
    subscription_id = await make_subscription(db)
    images = (await dashboard_tiles())[:2]
    env.slack.script("files.getUploadURLExternal", Reply(503, body={"ok": False, "error": "service_unavailable"}))
    first = await send(env, subscription_id, images)
    assert first.status == "failed" and first.transient and first.external_id

    second = await send(env, subscription_id, images, resume=Outcome("failed", external_id=first.external_id))
    assert second.status == "sent" and second.external_id == first.external_id
    assert len(env.slack.calls_to("chat.postMessage")) == 1
    assert len(env.slack.calls_to("files.completeUploadExternal")) >= 1
    assert len(env.slack.calls_to("upload")) == len(images)


async def test_unreachable_slack_is_transient(env, db):
    subscription_id = await make_subscription(db)
    env.settings.slack_api_url = "http://127.0.0.1:9/api/"  # nothing listens on the discard port
    outcome = await send(env, subscription_id, [])
    assert outcome.status == "failed" and outcome.transient is True


async def test_messages_to_one_channel_are_paced(env, db):
    first = await make_subscription(db)
    second = await make_subscription(db, channel="C2")
    third = await make_subscription(db)
    clock = FakeClock()
    sender = SlackSender(env.database, env.settings, clock=clock, sleep=clock.sleep)
    for subscription_id in (first, second, third):
        assert (await send(env, subscription_id, [], sender=sender)).status == "sent"
    # C1's second message waits a second; C2's first does not wait for C1.
    assert clock.slept == [pytest.approx(1.0)]


async def test_rotating_token_is_refreshed_when_near_expiry(db):
    env = await start_bot(db, slack_client_id="111.222", slack_client_secret="shh")
    try:
        from slack_sdk.oauth.installation_store import Installation

        from bot import DatabaseInstallationStore

        env.slack.add_token("xoxe.xoxb-old", team_id="T1")
        await DatabaseInstallationStore(db).async_save(Installation(
            team_id="T1", user_id="UADMIN", bot_token="xoxe.xoxb-old", bot_refresh_token="xoxe-1-refresh",
            bot_token_expires_in=60, bot_id="BT1", bot_user_id="UBOTT1",
        ))
        subscription_id = await make_subscription(db)
        outcome = await send(env, subscription_id, [])
        assert outcome.status == "sent"
        [refresh] = env.slack.calls_to("oauth.v2.access")
        assert refresh.params["grant_type"] == "refresh_token"
        [post] = env.slack.calls_to("chat.postMessage")
        assert post.token.startswith("xoxe.xoxb-rotated-")
        async with db.session() as session:
            from core.models import SlackInstallation

            row = (await session.scalars(select(SlackInstallation))).one()
            assert row.bot_token == post.token
    finally:
        await env.close()


async def test_the_rotation_job_renews_tokens_about_to_expire_and_leaves_the_others(db):
    from datetime import timedelta

    from slack_sdk.oauth.installation_store import Installation

    from bot import DatabaseInstallationStore
    from bot.token_rotation import rotate_expiring_tokens

    env = await start_bot(db, slack_client_id="111.222", slack_client_secret="shh")
    try:
        store = DatabaseInstallationStore(db)
        for team, expires_in in (("T1", 1800), ("T2", 11 * 3600)):  # 30 minutes left; 11 hours left
            env.slack.add_token(f"xoxe.xoxb-{team}", team_id=team)
            await store.async_save(Installation(
                team_id=team, user_id="UADMIN", bot_token=f"xoxe.xoxb-{team}", bot_refresh_token=f"xoxe-{team}",
                bot_token_expires_in=expires_in, bot_id=f"B{team}", bot_user_id=f"UBOT{team}",
            ))
        assert await rotate_expiring_tokens(db, env.settings, within=timedelta(hours=1)) == 1
        renewed = await store.async_find_bot(enterprise_id=None, team_id="T1")
        untouched = await store.async_find_bot(enterprise_id=None, team_id="T2")
        assert renewed.bot_token.startswith("xoxe.xoxb-rotated-")
        assert untouched.bot_token == "xoxe.xoxb-T2"
        assert len(env.slack.calls_to("oauth.v2.access")) == 1
    finally:
        await env.close()


@pytest.mark.parametrize(("body", "content_type"), [("<html>502 Bad Gateway</html>", "text/plain"),
                                                    ("{not json", "application/json")])
async def test_a_server_error_without_slacks_json_is_transient(env, db, body, content_type):
    subscription_id = await make_subscription(db)
    env.slack.script("chat.postMessage", Reply(502, body=body, content_type=content_type))
    outcome = await send(env, subscription_id, [])
    assert (outcome.status, outcome.error, outcome.transient) == ("failed", "http_502", True)
    assert outcome.pause_reason is None
    async with db.session() as session:
        assert (await session.get(Subscription, subscription_id)).enabled is True


async def test_a_resume_uploads_only_the_images_not_yet_in_slack(env, db):
    subscription_id = await make_subscription(db)
    images = [(f"Tile {i}", png((i * 10, 80, 160))) for i in range(12)]  # two completions: 10 + 2
    env.slack.script("files.completeUploadExternal", None, Reply(503, body={"ok": False, "error": "internal_error"}))
    first = await send(env, subscription_id, images)
    assert first.status == "failed" and first.transient and first.external_id
    assert first.progress == 10

    second = await send(env, subscription_id, images, resume=first)
    assert second.status == "sent" and second.external_id == first.external_id and second.progress == 12
    assert len(env.slack.calls_to("chat.postMessage")) == 1
    completed = env.slack.calls_to("files.completeUploadExternal")
    titles = [[f["title"] for f in json.loads(c.params["files"])] for c in completed]
    assert titles == [[f"Tile {i}" for i in range(10)], ["Tile 10", "Tile 11"], ["Tile 10", "Tile 11"]]
    assert all(c.params["thread_ts"] == first.external_id for c in completed)


async def test_a_resume_whose_token_cannot_be_had_keeps_the_earlier_progress(env, db):
    subscription_id = await make_subscription(db)
    from datetime import timedelta

    from core.models import SlackInstallation, utcnow

    async with db.transaction() as session:  # a rotating token about to expire, and Slack down when renewing it
        for row in (await session.scalars(select(SlackInstallation))).all():
            row.bot_refresh_token, row.bot_token_expires_at = "xoxe-refresh", utcnow() + timedelta(minutes=1)
    env.settings.slack_client_id, env.settings.slack_client_secret = "111.222", "shh"
    env.slack.script("oauth.v2.access", Reply(503, body="upstream down"))
    outcome = await send(env, subscription_id, [("one", png((1, 2, 3)))] * 3,
                         resume=Outcome("failed", external_id="123.456", progress=2))
    assert outcome.status == "failed" and outcome.transient
    assert (outcome.external_id, outcome.progress) == ("123.456", 2)


async def test_the_fallback_text_of_a_delivered_message_is_escaped(env, db):
    subscription_id = await make_subscription(db)
    outcome = await send(env, subscription_id, [], title="<!channel> Revenue & <https://evil.example|costs>")
    assert outcome.status == "sent"
    [parent] = env.slack.calls_to("chat.postMessage")
    assert parent.params["text"].startswith("&lt;!channel&gt; Revenue &amp; &lt;https://evil.example|costs&gt;")


async def test_concurrent_rotations_spend_the_refresh_token_once(db):
    import asyncio

    from slack_sdk.oauth.installation_store import Installation

    from bot import DatabaseInstallationStore
    from bot.token_rotation import fresh_bot_token

    env = await start_bot(db, slack_client_id="111.222", slack_client_secret="shh")
    try:
        env.slack.add_token("xoxe.xoxb-old", team_id="T1")
        await DatabaseInstallationStore(db).async_save(Installation(
            team_id="T1", user_id="UADMIN", bot_token="xoxe.xoxb-old", bot_refresh_token="xoxe-1-refresh",
            bot_token_expires_in=60, bot_id="BT1", bot_user_id="UBOTT1",
        ))
        # Two sends and the periodic job, each with its own store, all finding the token about to expire.
        bots = await asyncio.gather(*(
            fresh_bot_token(DatabaseInstallationStore(db), env.settings, enterprise_id=None, team_id="T1",
                            minutes_before_expiration=10)
            for _ in range(3)
        ))
        assert len(env.slack.calls_to("oauth.v2.access")) == 1
        assert len({bot.bot_token for bot in bots}) == 1 and bots[0].bot_token.startswith("xoxe.xoxb-rotated-")
        stored = await DatabaseInstallationStore(db).async_find_bot(enterprise_id=None, team_id="T1")
        assert (stored.bot_token, stored.bot_refresh_token) == (bots[0].bot_token, bots[0].bot_refresh_token)
    finally:
        await env.close()


async def test_slack_error_code_reads_only_slacks_json():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from bot.slack_client import slack_error_code

    def error(data, status):
        response = AsyncSlackResponse(client=None, http_verb="POST", api_url="x", req_args={}, data=data,
                                      headers={}, status_code=status)
        return SlackApiError("failed", response)

    assert slack_error_code(error({"ok": False, "error": "is_archived"}, 200)) == "is_archived"
    assert slack_error_code(error("<html>Bad gateway</html>", 502)) == "http_502"
    assert slack_error_code(error({}, 503)) == "http_503"

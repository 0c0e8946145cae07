"""The delivery pipeline end to end: claim, fetch and render once, fan out to Slack and email, record, retry.

Everything is real: the database under test, the demo PostHog project, the Slack Web API stand-in and an SMTP
server on loopback. Images are fixed PNGs drawn by `FixedImages` (one per insight or tile, as the renderer
gives them), except in the tests marked `browser`, which draw them in Chromium (one renderer for the module).
Time is a clock the tests move by hand; the scheduler service's `tick()` claims what is due at that moment and
the pipeline sends it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from aiohttp import web
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot import DatabaseInstallationStore
from bot.delivery import ChannelPacer
from bot.installation_store import find_workspace
from core.db import Database, empty_tables
from core.logs import make_handler
from core.models import Delivery, PostHogConnection, Subscription
from core.schedule_phrases import parse_schedule
from core.settings import Settings
from core.subscriptions import create_subscription, demo_connection
from render import Renderer
from scheduler.assembly import scheduler_service
from scheduler.service import SchedulerService
from tests.standins.clock import FakeClock
from tests.standins.content import FixedImages
from tests.standins.slack_api import Call, Reply, SlackStandIn
from tests.standins.smtp_server import SmtpServer

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one shared renderer and loop

TEAM = "T1"
TOKEN = "xoxb-t1-token"
CREATOR = "UCREATOR"
DASHBOARD = "44"  # demo "Data team": four tiles, quick to draw
DASHBOARD_TILES = 4
INSIGHT = "1003"  # demo "Signups this week"


class SlackWithChannels(SlackStandIn):
    """The Slack stand-in, plus per-channel behaviour of chat.postMessage.

    `failing[channel]` is answered to every post into that channel (recorded like any call);
    `hold[channel]` makes posts into that channel wait until the event is set (`arrived` lists them).
    """

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[str, Reply] = {}
        self.hold: dict[str, asyncio.Event] = {}
        self.arrived: list[str] = []

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage":
            params, body = await self._params(request)
            channel = params.get("channel", "")
            if channel in self.hold:
                self.arrived.append(channel)
                await self.hold[channel].wait()
            failure = self.failing.get(channel)
            if failure is not None:
                self.calls.append(_call(params, body, request))
                return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        return await super()._api(request)

    def posts_to(self, channel: str) -> int:
        return sum(1 for c in self.calls_to("chat.postMessage") if c.params.get("channel") == channel)

    def uploads_completed_in(self, channel: str) -> int:
        """Files shared into `channel` by files.completeUploadExternal."""
        return sum(
            len(json.loads(c.params.get("files", "[]")))
            for c in self.calls_to("files.completeUploadExternal")
            if c.params.get("channel_id") == channel
        )


def _call(params, body, request) -> Call:
    auth = request.headers.get("Authorization", "")
    return Call("chat.postMessage", params, auth[7:] if auth.startswith("Bearer ") else None, body)


class Clock:
    """The time the scheduler sees; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@dataclass
class Env:
    db: Database
    settings: Settings
    slack: SlackWithChannels
    smtp: SmtpServer
    clock: Clock
    service: SchedulerService
    connection_id: int
    workspace_id: int

    async def subscribe(
        self, *, content_type: str = "dashboard", ref: str = DASHBOARD, channel: str | None = None,
        recipients: list[str] | None = None, phrase: str = "daily at 9:00", tz: str = "UTC",
        created_by: str = CREATOR, title: str = "",
    ) -> int:
        async with self.db.transaction() as session:
            connection = await session.get(PostHogConnection, self.connection_id)
            subscription = await create_subscription(
                session, connection=connection, content_type=content_type, content_ref=ref,
                schedule=parse_schedule(phrase, tz, today=self.clock().date()), title=title,
                target_type="slack" if channel else "email", slack_channel_id=channel,
                email_recipients=recipients, workspace_id=self.workspace_id,
                **({"created_by_email": created_by} if "@" in created_by else {"created_by_slack_user": created_by}),
                now=self.clock(),
            )
            return subscription.id

    async def run_tick(self) -> list[int]:
        """One scheduler tick at the clock's time, waiting until everything it started has finished."""
        started = await self.service.tick()
        await self.service.drain()
        return started

    async def deliveries(self, subscription_id: int) -> list[Delivery]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Delivery).where(Delivery.subscription_id == subscription_id)
                .options(selectinload(Delivery.targets)).order_by(Delivery.scheduled_for)
            )
            return list(rows)

    async def subscription(self, subscription_id: int) -> Subscription:
        async with self.db.session() as session:
            return await session.get(Subscription, subscription_id)

    def emails_to(self, address: str) -> list:
        return [m for m in self.smtp.messages if address in m.recipients]


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def renderer() -> AsyncIterator[Renderer]:
    async with Renderer(Settings(render_scale=1.0), pool_size=1) as shared:
        yield shared


@pytest_asyncio.fixture(loop_scope="module")
async def db(database_url: str) -> AsyncIterator[Database]:
    """conftest's `db` (empty tables), on the module's event loop like the renderer."""
    database = Database(database_url)
    await empty_tables(database)
    yield database
    await database.dispose()


@pytest.fixture
def smtp() -> AsyncIterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def pipeline_settings(database: Database, slack: SlackStandIn, smtp: SmtpServer, **overrides) -> Settings:
    values = dict(
        database_url=database.url, secret_key="test-secret-key", public_url="http://exports.example",
        slack_api_url=slack.api_url, email_transport="smtp", smtp_host=smtp.host, smtp_port=smtp.port,
        smtp_security="none", email_from="PostHog Reports <reports@exports.example>",
        email_retry_attempts=4, email_retry_base_seconds=0.01, max_consecutive_failures=3,
        catch_up_grace_hours=6.0, delivery_lease_seconds=300, render_scale=1.0,
    )
    values.update(overrides)
    return Settings(**values)


async def install_workspace(database: Database, slack: SlackStandIn, team: str = TEAM, token: str = TOKEN) -> None:
    await DatabaseInstallationStore(database).async_save(Installation(
        app_id="A0APP", team_id=team, team_name=f"Team {team}", user_id="UADMIN", bot_token=token,
        bot_id=f"B{team}", bot_user_id=f"UBOT{team}", bot_scopes="commands,chat:write,files:write",
    ))
    slack.add_token(token, team_id=team, bot_user_id=f"UBOT{team}", bot_id=f"B{team}")


@asynccontextmanager
async def make_env(db: Database, smtp: SmtpServer, **drawing) -> AsyncIterator[Env]:
    """The scheduler service on the stand-ins; `drawing` is `load_content=...` or `renderer=...`."""
    slack = await SlackWithChannels().start()
    settings = pipeline_settings(db, slack, smtp)
    await install_workspace(db, slack)
    async with db.transaction() as session:
        workspace = await find_workspace(session, TEAM)
        connection = await demo_connection(session, workspace.id)
        ids = (connection.id, workspace.id)
    clock = Clock(datetime(2026, 1, 5, 8, 30, tzinfo=UTC))  # a Monday, half an hour before 09:00 UTC
    drawing = drawing or {"load_content": FixedImages(settings)}
    try:
        async with scheduler_service(settings, db, clock=clock, worker_id="test", **drawing) as service:
            # Retries and Slack's per-channel pacing are counted, not waited for.
            waits = FakeClock()
            service.pipeline.sleep = waits.sleep
            service.pipeline.senders["slack"].pacer = ChannelPacer(clock=waits, sleep=waits.sleep)
            yield Env(db, settings, slack, smtp, clock, service, *ids)
            await service.stop(timeout=5)
    finally:
        for event in slack.hold.values():
            event.set()
        await slack.close()


@pytest_asyncio.fixture(loop_scope="module")
async def env(db: Database, smtp: SmtpServer) -> AsyncIterator[Env]:
    async with make_env(db, smtp) as built:
        yield built


@pytest_asyncio.fixture(loop_scope="module")
async def browser_env(db: Database, smtp: SmtpServer, renderer: Renderer) -> AsyncIterator[Env]:
    async with make_env(db, smtp, renderer=renderer) as built:
        yield built


NINE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# --- grouping and fan-out ----------------------------------------------------------------------------------


@pytest.mark.browser
async def test_one_dashboard_is_rendered_once_and_every_target_receives_it_once(browser_env: Env) -> None:
    env = browser_env
    slack_subs = [await env.subscribe(channel=c) for c in ("C1", "C2", "C3")]
    email_subs = [
        await env.subscribe(recipients=["ada@example.com", "bob@example.com"]),
        await env.subscribe(recipients=["cyd@example.com"]),
    ]
    insight_sub = await env.subscribe(content_type="insight", ref=INSIGHT, recipients=["dee@example.com"])

    env.clock.set(NINE - timedelta(seconds=1))
    assert await env.run_tick() == []
    env.clock.set(NINE + timedelta(seconds=2))
    started = await env.run_tick()

    assert len(started) == 6
    # Two distinct contents (the dashboard and the insight): two fetches and renders for six subscriptions.
    assert env.service.pipeline.renders == 2
    for channel in ("C1", "C2", "C3"):
        assert env.slack.posts_to(channel) == 1
        assert env.slack.uploads_completed_in(channel) == DASHBOARD_TILES
    for address in ("ada@example.com", "bob@example.com", "cyd@example.com", "dee@example.com"):
        assert len(env.emails_to(address)) == 1, address
    assert len(env.smtp.messages) == 4

    for sid in slack_subs + email_subs + [insight_sub]:
        [delivery] = await env.deliveries(sid)
        assert delivery.status == "succeeded" and delivery.trigger == "schedule"
        assert delivery.scheduled_for == NINE and delivery.lease_expires_at is None
        assert delivery.targets and all(t.status == "sent" and t.external_id and t.sent_at for t in delivery.targets)
    [ada_bob] = await env.deliveries(email_subs[0])
    assert sorted(t.address for t in ada_bob.targets) == ["ada@example.com", "bob@example.com"]

    # The same moment again: nothing is due, nothing more is sent.
    assert await env.run_tick() == []
    assert env.service.pipeline.renders == 2
    assert len(env.smtp.messages) == 4 and len(env.slack.calls_to("chat.postMessage")) == 3


async def test_a_recipient_due_two_reports_in_one_run_gets_one_digest(env: Env) -> None:
    first = await env.subscribe(recipients=["ada@example.com"], title="Data team")
    second = await env.subscribe(
        content_type="insight", ref=INSIGHT, recipients=["ada@example.com", "bob@example.com"], title="Signups"
    )
    env.clock.set(NINE)
    await env.run_tick()

    [digest] = env.emails_to("ada@example.com")
    message = digest.parsed()
    assert "Data team" in message["Subject"] and "1 more" in message["Subject"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Data team" in body and "Signups" in body
    [alone] = env.emails_to("bob@example.com")
    assert "Signups" in alone.parsed()["Subject"]
    assert len(env.smtp.messages) == 2

    ada_targets = [t for sid in (first, second) for d in await env.deliveries(sid) for t in d.targets
                   if t.address == "ada@example.com"]
    assert len(ada_targets) == 2 and all(t.status == "sent" for t in ada_targets)
    assert ada_targets[0].external_id == ada_targets[1].external_id == message["Message-ID"]


# --- failures ----------------------------------------------------------------------------------------------


async def test_a_failing_target_does_not_block_the_others(env: Env) -> None:
    env.smtp.script("gone@example.com", "550 5.1.1 No such user here")
    env.slack.channels["CARCHIVED"] = {"name": "old", "is_archived": True, "is_private": False}
    mixed = await env.subscribe(recipients=["ada@example.com", "gone@example.com", "bob@example.com"])
    archived = await env.subscribe(channel="CARCHIVED")
    healthy = await env.subscribe(channel="C1")

    env.clock.set(NINE)
    await env.run_tick()

    assert env.service.pipeline.renders == 1
    assert len(env.emails_to("ada@example.com")) == len(env.emails_to("bob@example.com")) == 1
    assert env.emails_to("gone@example.com") == []
    assert env.slack.posts_to("C1") == 1 and env.slack.uploads_completed_in("C1") == DASHBOARD_TILES
    assert env.slack.uploads_completed_in("CARCHIVED") == 0

    [delivery] = await env.deliveries(mixed)
    outcome = {t.address: (t.status, t.error or "") for t in delivery.targets}
    assert outcome["ada@example.com"][0] == outcome["bob@example.com"][0] == "sent"
    assert outcome["gone@example.com"][0] == "failed" and "550" in outcome["gone@example.com"][1]
    assert delivery.status == "partial"

    [delivery] = await env.deliveries(archived)
    [target] = delivery.targets
    assert (delivery.status, target.status, target.error) == ("failed", "failed", "is_archived")
    paused = await env.subscription(archived)
    assert not paused.enabled and "is_archived" in (paused.paused_reason or "")
    # Its creator is told in a direct message.
    assert env.slack.posts_to(CREATOR) == 1

    [delivery] = await env.deliveries(healthy)
    assert delivery.status == "succeeded"
    assert (await env.subscription(mixed)).enabled and (await env.subscription(healthy)).enabled


async def test_transient_failures_are_retried_and_delivered_once(env: Env) -> None:
    env.slack.script("chat.postMessage", Reply(500, {"ok": False, "error": "internal_error"}))
    env.smtp.script("ada@example.com", "451 4.3.0 Mailbox busy, try later")
    slack_sub = await env.subscribe(channel="C1")
    email_sub = await env.subscribe(recipients=["ada@example.com"])

    env.clock.set(NINE)
    await env.run_tick()

    assert env.slack.posts_to("C1") == 2  # the failed attempt and the retry
    assert env.slack.uploads_completed_in("C1") == DASHBOARD_TILES  # the images went once, after the retry
    assert env.smtp.attempts("ada@example.com") == 2
    assert len(env.emails_to("ada@example.com")) == 1
    for sid in (slack_sub, email_sub):
        [delivery] = await env.deliveries(sid)
        assert delivery.status == "succeeded"
        assert [(t.status, t.error) for t in delivery.targets] == [("sent", None)]


async def test_a_process_that_lost_its_lease_before_sending_sends_nothing(env: Env) -> None:
    """Another process took the delivery over while this one was still drawing it (this one stalled past its
    lease): the new owner sends it, so this one must not."""
    slack_sub = await env.subscribe(channel="C1")
    email_sub = await env.subscribe(recipients=["ada@example.com"])
    drawing = env.service.pipeline.load_content

    async def drawn_then_taken_over(connection, ref):
        rendered = await drawing(connection, ref)
        async with env.db.transaction() as session:
            for delivery in (await session.scalars(select(Delivery))).all():
                delivery.claimed_by = "another-process"
        return rendered

    env.service.pipeline.load_content = drawn_then_taken_over
    env.clock.set(NINE)
    await env.run_tick()

    assert env.slack.posts_to("C1") == 0
    assert env.emails_to("ada@example.com") == []
    for sid in (slack_sub, email_sub):
        [delivery] = await env.deliveries(sid)
        assert delivery.status == "running" and delivery.claimed_by == "another-process"  # its to finish
        assert [t.status for t in delivery.targets] == ["pending"]


async def test_workspaces_take_turns_at_the_renderer(env: Env) -> None:
    """One workspace with six contents due and another with one: with one render slot, the second workspace's
    content is drawn second, not seventh."""
    busy = [await env.subscribe(content_type="insight", ref=str(ref), channel="C1") for ref in range(1001, 1007)]
    await install_workspace(env.db, env.slack, team="T2", token="xoxb-t2-token")
    async with env.db.transaction() as session:
        other = await find_workspace(session, "T2")
        connection = await demo_connection(session, other.id)
        quiet = await create_subscription(
            session, connection=connection, content_type="dashboard", content_ref=DASHBOARD,
            schedule=parse_schedule("daily at 9:00", "UTC", today=env.clock().date()), target_type="slack",
            slack_channel_id="C9", workspace_id=other.id, created_by_slack_user=CREATOR, now=env.clock(),
        )
        quiet_connection = connection.id
    env.service.pipeline.content_concurrency = 1

    env.clock.set(NINE)
    assert len(await env.run_tick()) == len(busy) + 1

    drawn = [(ref.connection_id, ref.ref) for ref in env.service.pipeline.load_content.loaded]
    assert len(drawn) == len(busy) + 1
    assert drawn.index((quiet_connection, DASHBOARD)) == 1
    assert [d.status for d in await env.deliveries(quiet.id)] == ["succeeded"]


async def test_log_lines_of_a_send_carry_its_delivery_subscription_workspace_and_target(env: Env) -> None:
    env.smtp.script("ada@example.com", "451 4.3.0 Mailbox busy, try later")
    email_sub = await env.subscribe(recipients=["ada@example.com"])
    stream = io.StringIO()
    handler = make_handler(env.settings.model_copy(update={"log_format": "json"}), stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        env.clock.set(NINE)
        await env.run_tick()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    [delivery] = await env.deliveries(email_sub)
    subscription = await env.subscription(email_sub)
    [retry] = [json.loads(line) for line in stream.getvalue().splitlines() if "failed temporarily" in line]
    assert (retry["delivery_id"], retry["subscription_id"], retry["workspace_id"], retry["target"]) == (
        delivery.id, email_sub, subscription.workspace_id, "ada@example.com")


async def test_consecutive_failed_occurrences_pause_the_subscription_and_tell_the_creator(env: Env) -> None:
    env.smtp.script("gone@example.com", "550 5.1.1 No such user here")
    email_sub = await env.subscribe(recipients=["gone@example.com"], created_by="owner@example.com")
    env.slack.failing["CDOWN"] = Reply(503, {"ok": False, "error": "service_unavailable"})
    slack_sub = await env.subscribe(channel="CDOWN", created_by=CREATOR)

    for day in range(3):
        env.clock.set(NINE + timedelta(days=day))
        assert len(await env.run_tick()) == 2
        email, slack = await env.subscription(email_sub), await env.subscription(slack_sub)
        assert (email.consecutive_failures, slack.consecutive_failures) == (day + 1, day + 1)
        paused = day == 2
        assert (email.enabled, slack.enabled) == (not paused, not paused)

    for subscription in (email, slack):
        assert "3 deliveries in a row failed" in subscription.paused_reason
    assert [d.status for d in await env.deliveries(email_sub)] == ["failed"] * 3
    assert [d.status for d in await env.deliveries(slack_sub)] == ["failed"] * 3
    # The creators are told once: the email creator by email, the Slack creator in a direct message.
    [notice] = env.emails_to("owner@example.com")
    assert "paused" in notice.parsed()["Subject"].lower() or "paused" in notice.parsed().get_body(
        preferencelist=("plain",)).get_content().lower()
    assert env.slack.posts_to(CREATOR) == 1
    assert env.emails_to("gone@example.com") == []

    # Paused subscriptions are not claimed any more.
    env.clock.set(NINE + timedelta(days=3))
    assert await env.run_tick() == []


# --- time ----------------------------------------------------------------------------------------------------


async def test_daily_at_nine_in_berlin_goes_out_at_eight_utc_in_winter_and_seven_in_summer(env: Env) -> None:
    # Berlin moves to summer time on Sunday 29 March 2026.
    env.clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    sid = await env.subscribe(channel="C1", recipients=None, tz="Europe/Berlin")
    mail_sid = await env.subscribe(recipients=["ada@example.com"], tz="Europe/Berlin")

    sent = []
    for day, expected_hour in ((28, 8), (29, 7), (30, 7)):
        expected = datetime(2026, 3, day, expected_hour, 0, tzinfo=UTC)
        env.clock.set(expected - timedelta(minutes=1))
        assert await env.run_tick() == []
        assert env.slack.posts_to("C1") == len(sent)
        env.clock.set(expected + timedelta(seconds=5))
        assert len(await env.run_tick()) == 2
        sent.append(expected)
        assert env.slack.posts_to("C1") == len(sent)
        assert len(env.emails_to("ada@example.com")) == len(sent)
        # Nothing more that hour.
        env.clock.set(expected + timedelta(minutes=59))
        assert await env.run_tick() == []

    for subscription_id in (sid, mail_sid):
        deliveries = await env.deliveries(subscription_id)
        assert [d.scheduled_for for d in deliveries] == sent
        assert {d.status for d in deliveries} == {"succeeded"}
    assert (await env.subscription(sid)).next_delivery_at == datetime(2026, 3, 31, 7, 0, tzinfo=UTC)


async def test_three_days_of_downtime_give_one_catch_up_and_skipped_records(env: Env) -> None:
    slack_sub = await env.subscribe(channel="C1")
    email_sub = await env.subscribe(recipients=["ada@example.com"])

    # Down from before 09:00 on Monday until 10:30 on Wednesday: three occurrences missed.
    env.clock.set(datetime(2026, 1, 7, 10, 30, tzinfo=UTC))
    assert len(await env.run_tick()) == 2
    assert await env.run_tick() == []

    assert env.slack.posts_to("C1") == 1
    assert len(env.emails_to("ada@example.com")) == 1
    assert env.service.pipeline.renders == 1
    for sid in (slack_sub, email_sub):
        rows = await env.deliveries(sid)
        assert [(r.scheduled_for.day, r.status) for r in rows] == [(5, "skipped"), (6, "skipped"), (7, "succeeded")]
        assert rows[2].trigger == "catch_up"
        assert all("missed while the service was down" in r.error for r in rows[:2])
        assert rows[0].targets == [] and rows[1].targets == []
        assert (await env.subscription(sid)).next_delivery_at == datetime(2026, 1, 8, 9, 0, tzinfo=UTC)

    # Back on schedule the next day.
    env.clock.set(datetime(2026, 1, 8, 9, 0, 1, tzinfo=UTC))
    assert len(await env.run_tick()) == 2
    assert env.slack.posts_to("C1") == 2 and len(env.emails_to("ada@example.com")) == 2


async def test_downtime_beyond_the_grace_period_sends_nothing_and_records_every_miss(env: Env) -> None:
    sid = await env.subscribe(recipients=["ada@example.com"])
    env.clock.set(datetime(2026, 1, 7, 20, 0, tzinfo=UTC))  # eleven hours after the last occurrence
    assert await env.run_tick() == []
    assert env.smtp.messages == []
    assert [r.status for r in await env.deliveries(sid)] == ["skipped"] * 3


async def test_a_recipient_listed_twice_gets_one_email_and_blocks_nobody(env: Env) -> None:
    doubled = await env.subscribe(
        recipients=["ada@example.com", "bob@example.com", "ada@example.com", "ADA@example.com"]
    )
    other = await env.subscribe(channel="C1")
    env.clock.set(NINE)
    assert len(await env.run_tick()) == 2
    assert len(env.emails_to("ada@example.com")) + len(env.emails_to("ADA@example.com")) == 1
    assert len(env.emails_to("bob@example.com")) == 1 and env.slack.posts_to("C1") == 1
    [delivery] = await env.deliveries(doubled)
    assert sorted(t.address for t in delivery.targets) == ["ada@example.com", "bob@example.com"]
    assert [d.status for d in await env.deliveries(other)] == ["succeeded"]


# --- content that cannot be fetched ----------------------------------------------------------------------------


async def test_content_that_cannot_be_fetched_fails_its_targets_with_the_reason_and_spares_the_others(
    env: Env,
) -> None:
    missing = await env.subscribe(ref="999", channel="C1", recipients=None)
    healthy = await env.subscribe(recipients=["ada@example.com"])
    env.clock.set(NINE + timedelta(seconds=2))
    assert len(await env.run_tick()) == 2

    [failed] = await env.deliveries(missing)
    assert failed.status == "failed" and "999" in failed.error
    [target] = failed.targets
    assert target.status == "failed" and target.attempts == 1 and "999" in target.error
    assert env.slack.posts_to("C1") == 0
    [delivered] = await env.deliveries(healthy)
    assert delivered.status == "succeeded" and len(env.emails_to("ada@example.com")) == 1


async def test_a_connection_whose_key_cannot_be_decrypted_fails_alone(env: Env) -> None:
    from sqlalchemy import text

    async with env.db.transaction() as session:
        acme = PostHogConnection(name="Acme", host="https://posthog.acme.example", project_id=2, api_key="phx_k",
                                 workspace_id=env.workspace_id)
        session.add(acme)
        await session.flush()
        subscription = await create_subscription(
            session, connection=acme, content_type="dashboard", content_ref="7",
            schedule=parse_schedule("daily at 9:00", "UTC", today=env.clock().date()),
            target_type="email", email_recipients=["bob@example.com"], created_by_slack_user=CREATOR,
            workspace_id=env.workspace_id, now=env.clock(),
        )
        broken = subscription.id
        # As if SECRET_KEY had been replaced without keeping the old key for decryption.
        await session.execute(text("UPDATE posthog_connections SET api_key = 'gAAAAA-not-a-token' WHERE id = :id"),
                              {"id": acme.id})
    healthy = await env.subscribe(recipients=["ada@example.com"])
    env.clock.set(NINE + timedelta(seconds=2))
    assert len(await env.run_tick()) == 2

    [failed] = await env.deliveries(broken)
    assert failed.status == "failed" and "SECRET_KEY" in failed.error
    [delivered] = await env.deliveries(healthy)
    assert delivered.status == "succeeded"


async def test_a_retry_after_a_failed_upload_posts_no_second_message(env: Env) -> None:
    sid = await env.subscribe(channel="C1")
    env.slack.script("files.completeUploadExternal", Reply(500, {"ok": False, "error": "internal_error"}))
    env.clock.set(NINE + timedelta(seconds=2))
    assert len(await env.run_tick()) == 1
    [delivery] = await env.deliveries(sid)
    assert delivery.status == "succeeded"
    assert env.slack.posts_to("C1") == 1
    # The refused completion shared nothing; the retry completes every tile in the same thread.
    completions = [c for c in env.slack.calls_to("files.completeUploadExternal") if c.params.get("channel_id") == "C1"]
    assert len(completions) == 2
    assert len(json.loads(completions[-1].params["files"])) == DASHBOARD_TILES
    assert len({c.params.get("thread_ts") for c in completions}) == 1


async def arrived(env: Env, channel: str) -> None:
    """Returns once a post to `channel` has reached the Slack stand-in (held there)."""
    while channel not in env.slack.arrived:
        await asyncio.sleep(0.01)


async def test_a_run_does_not_finish_a_delivery_another_process_took_over(env: Env) -> None:
    sid = await env.subscribe(channel="CSLOW")
    env.slack.hold["CSLOW"] = asyncio.Event()
    env.clock.set(NINE + timedelta(seconds=2))
    [delivery_id] = await env.service.tick()
    await asyncio.wait_for(arrived(env, "CSLOW"), 30)  # the post is in flight
    async with env.db.transaction() as session:  # meanwhile its lease lapsed and another worker took it
        (await session.get(Delivery, delivery_id)).claimed_by = "worker-b"
    env.slack.hold["CSLOW"].set()
    await env.service.drain()

    [delivery] = await env.deliveries(sid)
    assert (delivery.status, delivery.claimed_by) == ("running", "worker-b")  # left for its new owner
    assert [t.status for t in delivery.targets] == ["sent"]  # what this run did send is recorded


# --- shutdown ------------------------------------------------------------------------------------------------


async def test_stop_waits_for_running_deliveries_then_releases_what_did_not_finish(env: Env) -> None:
    quick = await env.subscribe(channel="CQUICK")
    slow = await env.subscribe(channel="CSLOW", phrase="daily at 9:01")
    env.slack.hold["CSLOW"] = asyncio.Event()
    env.clock.set(NINE + timedelta(seconds=2))
    await env.service.tick()
    await env.service.drain()
    env.clock.set(NINE + timedelta(minutes=1, seconds=2))
    [slow_delivery] = await env.service.tick()
    await asyncio.wait_for(arrived(env, "CSLOW"), 30)

    await env.service.stop(timeout=0.5)
    assert await env.service.tick() == []  # no more claims once stopping
    env.slack.hold["CSLOW"].set()

    [done] = await env.deliveries(quick)
    assert done.status == "succeeded"
    [released] = await env.deliveries(slow)
    assert released.id == slow_delivery
    assert (released.status, released.claimed_by, released.lease_expires_at) == ("pending", None, None)

"""Several `python app.py worker` processes on one PostgreSQL database: every occurrence is sent exactly once,
and a worker killed in the middle of a delivery is taken over after its lease expires without losing anything.

The Slack stand-in and the SMTP server run in this test's process; the workers are separate processes that reach
them over loopback, render with their own Chromium and claim work from the shared database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.installation_store import find_workspace
from core.db import Database
from core.models import Delivery, DeliveryTarget, Subscription
from core.schedule_phrases import parse_schedule
from core.subscriptions import create_subscription, demo_connection
from tests.conftest import database_url_under_test
from tests.standins.smtp_server import RecordingHandler, SmtpServer
from tests.test_scheduler_pipeline import TEAM, SlackWithChannels, install_workspace

pytestmark = [
    pytest.mark.skipif(
        not database_url_under_test().startswith("postgresql"),
        reason="several worker processes need PostgreSQL (SQLite allows one writer and no row locks); "
        "run with TEST_DATABASE_URL=postgresql+asyncpg://...",
    ),
    pytest.mark.slow,
    pytest.mark.browser,  # each worker renders with its own Chromium
]

REPO = Path(__file__).resolve().parents[1]
FINISHED = ("succeeded", "partial", "failed")
HOLD_LIMIT_SECONDS = 300  # a held message is refused after this, should a test never release it
# Cheap demo content: three single insights and the four-tile "Data team" dashboard.
CONTENTS = [("insight", "1001"), ("insight", "1003"), ("insight", "1005"), ("dashboard", "44")]


class Worker:
    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{self.process.pid}"

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class HoldingHandler(RecordingHandler):
    """Records like the stand-in's handler; the DATA of a message to an address in `hold` waits for its event."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: dict[str, threading.Event] = {}
        self.arrived: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        for address in envelope.rcpt_tos:
            event = self.hold.get(address.lower())
            if event is not None:
                self.arrived.append(address.lower())
                if not await asyncio.to_thread(event.wait, HOLD_LIMIT_SECONDS):
                    return f"451 4.3.0 held for {HOLD_LIMIT_SECONDS}s and never released by the test"
        return await super().handle_DATA(server, session, envelope)


class HoldingSmtpServer(SmtpServer):
    def __init__(self) -> None:
        super().__init__()
        self.handler = HoldingHandler()
        self._controller.handler = self.handler


@pytest.fixture
def smtp() -> AsyncIterator[HoldingSmtpServer]:
    server = HoldingSmtpServer().start()
    yield server
    for event in server.handler.hold.values():
        event.set()
    server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[SlackWithChannels]:
    server = await SlackWithChannels().start()
    yield server
    for event in server.hold.values():
        event.set()
    await server.close()


@pytest.fixture
async def workers(tmp_path: Path, db: Database, slack: SlackWithChannels, smtp: SmtpServer):
    """A function starting `python app.py worker` processes; all are stopped at the end."""
    started: list[Worker] = []

    async def start(name: str, **overrides: str) -> Worker:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "DATABASE_URL": db.url,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "POSTHOG_EXPORTS_VAR_DIR": str(tmp_path / f"var-{name}"),
            "SLACK_API_URL": slack.api_url,
            "EMAIL_TRANSPORT": "smtp",
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "EMAIL_FROM": "PostHog Reports <reports@exports.example>",
            "EMAIL_RETRY_BASE_SECONDS": "0.05",
            "SCHEDULER_POLL_SECONDS": "0.5",
            "RENDER_POOL_SIZE": "1",
            "RENDER_SCALE": "1",
            "LOG_LEVEL": "INFO",
            "SHUTDOWN_TIMEOUT_SECONDS": "20",
            **overrides,
        }
        log = tmp_path / f"worker-{name}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "app.py", "worker", cwd=REPO, env=environment, stdout=out, stderr=out
            )
        worker = Worker(process, log)
        started.append(worker)
        return worker

    yield start
    await asyncio.gather(*(w.stop() for w in started))


async def _until_started(pool: list[Worker]) -> None:
    """Until every worker's scheduler runs (its browser is up), so that they all see the work appear."""

    async def started() -> bool:
        return all("started (poll every" in (w.log.read_text(errors="replace") if w.log.exists() else "")
                   for w in pool)

    await _wait_until(started, timeout=90, workers=pool, what="the workers to start")


async def _setup_subscriptions(db: Database, plan: list[dict]) -> list[int]:
    """Subscriptions whose first occurrence (today, a minute or two ago) is due now."""
    due = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    created_at = due - timedelta(minutes=1)
    ids = []
    async with db.transaction() as session:
        workspace = await find_workspace(session, TEAM)
        connection = await demo_connection(session, workspace.id)
        schedule = parse_schedule(f"daily at {due:%H:%M}", "UTC", today=created_at.date())
        for item in plan:
            subscription = await create_subscription(
                session, connection=connection, schedule=schedule, workspace_id=workspace.id,
                created_by_slack_user="UCREATOR", now=created_at, **item,
            )
            assert subscription.next_delivery_at == due
            ids.append(subscription.id)
    return ids


async def _wait_until(predicate, *, timeout: float, workers: list[Worker], what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        for worker in workers:
            if worker.process.returncode is not None and worker.process.returncode != -signal.SIGKILL:
                raise AssertionError(f"worker {worker.worker_id} exited early:\n{worker.tail()}")
        if time.monotonic() > deadline:
            logs = "\n\n".join(f"--- {w.worker_id}\n{w.tail()}" for w in workers)
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        await asyncio.sleep(0.5)


async def _finished_count(db: Database) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status.in_(FINISHED)))


async def _all_deliveries(db: Database) -> list[Delivery]:
    async with db.session() as session:
        rows = await session.scalars(select(Delivery).options(selectinload(Delivery.targets)))
        return list(rows)


def _email_counts(smtp: SmtpServer) -> Counter:
    return Counter(address for message in smtp.messages for address in message.recipients)


async def test_three_workers_deliver_500_subscriptions_exactly_once(db, slack, smtp, workers) -> None:
    await install_workspace(db, slack)
    plan, channels, recipients = [], [], []
    for i in range(500):
        content_type, ref = CONTENTS[i % len(CONTENTS)]
        if i % 2 == 0:
            channel = f"C{i:04d}"
            channels.append(channel)
            plan.append(dict(content_type=content_type, content_ref=ref, target_type="slack", slack_channel_id=channel))
        else:
            addresses = [f"r{i:04d}@example.com"] + ([f"r{i:04d}-cc@example.com"] if i % 5 == 0 else [])
            recipients += addresses
            plan.append(dict(content_type=content_type, content_ref=ref, target_type="email",
                             email_recipients=addresses))
    pool = [await workers(name) for name in ("a", "b", "c")]
    await _until_started(pool)
    subscription_ids = await _setup_subscriptions(db, plan)

    await _wait_until(lambda: _finished(db, 500), timeout=240, workers=pool, what="500 finished deliveries")
    await asyncio.gather(*(w.stop() for w in pool))

    deliveries = await _all_deliveries(db)
    assert len(deliveries) == 500
    assert Counter(d.subscription_id for d in deliveries) == Counter(subscription_ids)  # one per occurrence
    problems = [(d.subscription_id, d.status, d.error) for d in deliveries if d.status != "succeeded"]
    assert problems == []
    targets = [t for d in deliveries for t in d.targets]
    assert len(targets) == len(channels) + len(recipients)
    assert all(t.status == "sent" for t in targets)

    # Counted where it arrives: each channel got one message, each recipient one email.
    posts = Counter(c.params.get("channel") for c in slack.calls_to("chat.postMessage"))
    assert posts == Counter(channels)
    assert _email_counts(smtp) == Counter(recipients)
    assert len(smtp.messages) == len(recipients)

    # The work was shared: each process runs at most a batch (100) at once, so all three took part.
    claimers = Counter(d.claimed_by for d in deliveries)
    assert set(claimers) == {w.worker_id for w in pool}, claimers
    async with db.session() as session:
        due = await session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.next_delivery_at <= datetime.now(UTC)))
    assert due == 0


async def _finished(db: Database, expected: int) -> bool:
    return await _finished_count(db) >= expected


@pytest.mark.parametrize("held", ["slack", "email"])
async def test_a_worker_killed_mid_delivery_is_taken_over_after_its_lease(db, slack, smtp, workers, held) -> None:
    """The first worker is killed while one target's message is in flight (Slack or SMTP holds it) and every
    other message that reached a server is recorded; the second worker takes the deliveries over once the
    lease has expired and sends what was not sent."""
    await install_workspace(db, slack)
    channels = [f"C{i:02d}" for i in range(20)]
    recipients = [f"r{i:02d}@example.com" for i in range(12)]
    plan = [dict(content_type="insight", content_ref="1003", target_type="slack", slack_channel_id=c)
            for c in channels]
    plan += [dict(content_type="insight", content_ref="1005", target_type="email", email_recipients=[r])
             for r in recipients]
    if held == "slack":
        slow = channels[7]
        slack.hold[slow] = asyncio.Event()
        arrived = slack.arrived
    else:
        slow = recipients[5]
        smtp.handler.hold[slow] = threading.Event()
        arrived = smtp.handler.arrived
    lease = {"DELIVERY_LEASE_SECONDS": "6"}

    first, second = await workers("first", **lease), None
    await _until_started([first])
    await _setup_subscriptions(db, plan)

    def reached_servers() -> set[str]:
        posted = {c.params.get("channel") for c in slack.calls_to("chat.postMessage")}
        return posted | {address for m in smtp.messages for address in m.recipients}

    async def mid_send() -> bool:
        if slow not in arrived:
            return False
        async with db.session() as session:
            sent = set((await session.scalars(
                select(DeliveryTarget.address).where(DeliveryTarget.status == "sent"))).all())
        # Exactly one target is in flight: every other message that reached Slack or SMTP is recorded as sent.
        return bool(sent) and reached_servers() - {slow} <= sent and slow not in sent

    await _wait_until(mid_send, timeout=120, workers=[first], what="the first worker to be mid-send")
    before = await _all_deliveries(db)
    assert len(before) == len(plan)
    assert {d.claimed_by for d in before} == {first.worker_id}
    assert {d.status for d in before if any(t.address == slow for t in d.targets)} == {"running"}

    second = await workers("second", **lease)
    first.process.send_signal(signal.SIGKILL)
    await asyncio.wait_for(first.process.wait(), 30)
    # From now on the servers answer at once. The message that was in flight may still be delivered.
    if held == "slack":
        slack.hold.pop(slow).set()
    else:
        smtp.handler.hold.pop(slow).set()

    await _wait_until(lambda: _finished(db, len(plan)), timeout=120, workers=[second],
                      what="the second worker to finish the deliveries")
    after = await _all_deliveries(db)
    assert {d.status for d in after} == {"succeeded"}
    taken_over = [d for d in after if d.claimed_by == second.worker_id]
    assert any(t.address == slow for d in taken_over for t in d.targets)
    assert all(d.attempts == 2 for d in taken_over)
    assert {d.claimed_by for d in after} <= {first.worker_id, second.worker_id}
    assert all(t.status == "sent" for d in after for t in d.targets)

    # Nothing lost, nothing sent twice, except at most the one target that was mid-send when the worker died.
    received = Counter(c.params.get("channel") for c in slack.calls_to("chat.postMessage"))
    received.update(_email_counts(smtp))
    assert set(received) == set(channels) | set(recipients)
    twice = {address: n for address, n in received.items() if n != 1}
    assert set(twice) <= {slow} and received[slow] <= 2, twice


async def test_an_export_whose_worker_is_killed_is_finished_by_another_and_announced_once(
    db: Database, slack: SlackWithChannels, workers, tmp_path: Path
) -> None:
    from core.models import ExportedAsset, PostHogConnection
    from exports import ExportRequest, start_export
    from tests.standins.posthog_server import PostHogStandIn

    posthog = PostHogStandIn(api_key="phx_workers", project_id=2)
    posthog.event_rows, posthog.query_delay = 40_000, 0.4  # 10 pages of 4,000, each taking 0.4 s
    await posthog.start()
    await install_workspace(db, slack)
    async with db.transaction() as session:
        workspace = await find_workspace(session, TEAM)
        connection = PostHogConnection(workspace_id=workspace.id, name="Acme", host=posthog.url, project_id=2,
                                       api_key="phx_workers")
        session.add(connection)
        await session.flush()
        asset = await start_export(
            session, ExportRequest(kind="events", format="csv", date_from="-30d", columns=("timestamp", "event")),
            connection=connection, workspace_id=workspace.id, requested_by_slack_user="UASKER",
        )
        asset_id = asset.id

    async def load() -> ExportedAsset:
        async with db.session() as session:
            return await session.get(ExportedAsset, asset_id)

    settings = {"EXPORT_DIR": str(tmp_path / "exports"), "EXPORT_PAGE_SIZE": "4000", "DELIVERY_LEASE_SECONDS": "3",
                "POSTHOG_ALLOW_PRIVATE_HOSTS": "true"}  # the stand-in PostHog listens on loopback
    try:
        first = await workers("a", **settings)

        async def writing() -> bool:
            row = await load()
            return row.status == "running" and row.rows_done > 0

        await _wait_until(writing, timeout=90, workers=[first], what="the first worker to start writing")
        first.process.kill()  # SIGKILL: no chance to finish, release or announce
        await asyncio.wait_for(first.process.wait(), 30)
        assert (await load()).claimed_by == first.worker_id
        second = await workers("b", **settings)

        async def ready() -> ExportedAsset | None:
            row = await load()
            return row if row.status in ("ready", "failed") else None

        done = await _wait_until(ready, timeout=120, workers=[second], what="the second worker to finish")
    finally:
        await posthog.stop()
    assert done.status == "ready", done.error
    assert done.claimed_by == second.worker_id and done.attempts == 2 and done.row_count == 40_000
    stored = tmp_path / "exports" / done.storage_key
    lines = stored.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "timestamp,event" and len(lines) == 1 + 40_000
    # The person who asked got the file once, in a direct message.
    await slack.wait_for(lambda: slack.calls_to("files.completeUploadExternal"))
    [dm] = slack.calls_to("files.completeUploadExternal")
    assert "is ready" in dm.params.get("initial_comment", "")

    async def announced() -> ExportedAsset | None:  # recorded once Slack has taken the file
        row = await load()
        return row if row.notified_at is not None else None

    await _wait_until(announced, timeout=30, workers=[second], what="the export to be recorded as announced")
    assert len(slack.calls_to("files.completeUploadExternal")) == 1

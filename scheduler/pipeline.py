"""The delivery pipeline: fetch each piece of content once, render it once, send it to every target.

Claimed deliveries are grouped by what they show (connection, insight or dashboard, image width). Each group is
fetched from PostHog and rendered once, then fanned out to every Slack channel and email recipient of every
delivery in the group; a recipient due several reports in one run gets them as one digest. Each target's
outcome is recorded on its `DeliveryTarget` row as soon as it is known, so a delivery taken over after a crash
resends only what was not yet sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import Database
from core.models import Delivery, DeliveryTarget, PostHogConnection, Subscription
from posthog_api.content import Dashboard, Insight

log = logging.getLogger(__name__)


class ContentKey(NamedTuple):
    connection_id: int
    content_type: str  # insight | dashboard
    content_ref: str
    width: int | None


@dataclass
class RenderedImage:
    title: str
    png: bytes
    link: str | None = None  # opens what the image shows in PostHog


@dataclass
class RenderedContent:
    content: Insight | Dashboard
    images: list[RenderedImage]  # in the order they are shown


@dataclass
class SendResult:
    """The outcome of sending to one target, whatever the channel."""

    status: str  # sent | failed
    error: str | None = None
    transient: bool = False  # worth retrying (network, 5xx, 429, SMTP 4xx)
    external_id: str | None = None
    pause_reason: str | None = None  # a configuration problem: the subscription is paused for it
    progress: int = 0  # parts already delivered (Slack: images uploaded), so that a retry sends only the rest


@dataclass
class Job:
    """One claimed delivery with what it needs to be sent."""

    delivery_id: int
    subscription: Subscription
    key: ContentKey
    targets: list[DeliveryTarget]
    results: dict[int, SendResult] = field(default_factory=dict)  # by DeliveryTarget.id


class ContentLoader(Protocol):
    async def __call__(self, connection: PostHogConnection, key: ContentKey) -> RenderedContent: ...


class SlackSend(Protocol):
    async def __call__(self, job: Job, target: DeliveryTarget, rendered: RenderedContent) -> SendResult: ...


class EmailSend(Protocol):
    """`run()` opens a transport for one pipeline run and yields a send function taking (job, target, content)
    items: it groups a recipient's reports into one digest and awaits `on_result(target_id, result)` as soon as a
    target's outcome is known, so that it is recorded before the run goes on; it returns every outcome."""

    def run(self) -> contextlib.AbstractAsyncContextManager[
        Callable[..., Awaitable[dict[int, SendResult]]]
    ]: ...


@dataclass
class Pipeline:
    database: Database
    load_content: ContentLoader
    send_slack: SlackSend | None
    send_email: EmailSend | None
    clock: Callable[[], datetime]
    max_attempts: int = 3
    retry_base_seconds: float = 2.0
    max_consecutive_failures: int = 3
    content_concurrency: int = 2
    # Slack posts in flight at once. Unbounded, a run of hundreds of deliveries queues for database connections
    # (each send reads its subscription and records its outcome) until the pool times out and sends fail.
    send_concurrency: int = 8
    notify_paused: Callable[[Subscription, str], Awaitable[None]] | None = None
    renders: int = 0  # how many distinct contents were rendered (for benchmarks and tests)
    worker_id: str | None = None  # the claiming process: a run finishes only deliveries it still owns
    _send_slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)  # shared by every run

    async def run(self, delivery_ids: list[int]) -> None:
        jobs = await self._load_jobs(delivery_ids)
        if not jobs:
            return
        groups: dict[ContentKey, list[Job]] = defaultdict(list)
        for job in jobs:
            groups[job.key].append(job)

        # Sends start as soon as their content is ready instead of after every render: Slack targets of a
        # content at once, an email when every report of its recipient (one digest) is ready.
        ready: dict[ContentKey, RenderedContent | SendResult] = {}
        mailbox: dict[str, list[tuple[Job, DeliveryTarget]]] = defaultdict(list)
        waiting: dict[str, set[ContentKey]] = defaultdict(set)  # recipient -> contents not ready yet
        for job in jobs:
            for target in job.targets:
                if target.kind == "email":
                    mailbox[target.address.casefold()].append((job, target))
                    waiting[target.address.casefold()].add(job.key)
        sends: list[asyncio.Task] = []

        async with self._email_run() as send_email:

            def on_ready(key: ContentKey, content: RenderedContent | SendResult) -> None:
                ready[key] = content
                for job in groups[key]:
                    for target in job.targets:
                        if isinstance(content, SendResult):
                            job.results[target.id] = content
                            sends.append(asyncio.create_task(self._record_target(target.id, content)))
                        elif target.kind == "slack":
                            sends.append(asyncio.create_task(self._send_slack(job, target, content)))
                for recipient in {t.address.casefold() for job in groups[key] for t in job.targets
                                  if t.kind == "email"}:
                    waiting[recipient].discard(key)
                    if not waiting[recipient]:
                        items = [
                            (job, target, ready[job.key]) for job, target in mailbox[recipient]
                            if not isinstance(ready[job.key], SendResult)
                        ]
                        sends.append(asyncio.create_task(self._send_emails(send_email, items)))

            try:
                await self._render_all(groups, on_ready)
            finally:
                # Every started send is waited for, whatever happens, so that the run's email transports stay
                # open until the last message is out and every outcome gets recorded.
                for outcome in await asyncio.gather(*sends, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        log.error("a send of this run failed unexpectedly", exc_info=outcome)
        await self._finish(jobs)

    async def aclose(self) -> None:
        """Close what the senders keep open between runs (HTTP sessions)."""
        for sender in (self.send_slack, self.send_email):
            close = getattr(sender, "close", None)
            if close is not None:
                await close()

    # --- loading -----------------------------------------------------------------------------------------

    async def _load_jobs(self, delivery_ids: list[int]) -> list[Job]:
        async with self.database.session() as session:
            deliveries = (
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.id.in_(delivery_ids))
                    .options(selectinload(Delivery.targets), selectinload(Delivery.subscription))
                )
            ).all()
        jobs = []
        for delivery in deliveries:
            subscription = delivery.subscription
            key = ContentKey(
                subscription.connection_id, subscription.content_type, subscription.content_ref,
                subscription.image_width,
            )
            pending = [t for t in delivery.targets if t.status != "sent"]
            jobs.append(Job(delivery.id, subscription, key, pending))
        return jobs

    async def _render_all(
        self,
        groups: dict[ContentKey, list[Job]],
        on_ready: Callable[[ContentKey, RenderedContent | SendResult], None],
    ) -> None:
        limit = asyncio.Semaphore(self.content_concurrency)

        async def one(key: ContentKey) -> None:
            async with limit:
                try:
                    # Loaded here, not with the jobs: a key that cannot be decrypted fails this content only.
                    connection = await self._connection(key.connection_id)
                    content = await self._with_retries(lambda: self.load_content(connection, key))
                    self.renders += 1
                except Exception as exc:  # noqa: BLE001 - one content's failure must not stop the others
                    log.warning("could not fetch or render %s %s: %s", key.content_type, key.content_ref, exc)
                    content = SendResult("failed", error=str(exc) or type(exc).__name__)
            on_ready(key, content)

        await asyncio.gather(*(one(key) for key in groups))

    async def _connection(self, connection_id: int) -> PostHogConnection:
        async with self.database.session() as session:
            connection = await session.get(PostHogConnection, connection_id)
        if connection is None:
            raise LookupError("the PostHog connection of this subscription was removed")
        return connection

    async def _with_retries(self, attempt: Callable[[], Awaitable]):
        for number in range(1, self.max_attempts + 1):
            try:
                return await attempt()
            except Exception as exc:
                if number == self.max_attempts or not _is_transient(exc):
                    raise
                await asyncio.sleep(self._backoff(number))

    def _backoff(self, attempt: int) -> float:
        # Exponential with full jitter: retries from many workers do not arrive together.
        return random.uniform(0, self.retry_base_seconds * 2 ** (attempt - 1))

    # --- sending -----------------------------------------------------------------------------------------

    async def _send_slack(self, job: Job, target: DeliveryTarget, content: RenderedContent) -> None:
        if self.send_slack is None:
            result = SendResult("failed", error="Slack delivery is not configured")
        else:
            if self._send_slots is None:
                self._send_slots = asyncio.Semaphore(self.send_concurrency)
            async with self._send_slots:
                result = await self._retrying_send(lambda: self.send_slack(job, target, content))
        job.results[target.id] = result
        await self._record_target(target.id, result)

    async def _retrying_send(self, send: Callable[[], Awaitable[SendResult]]) -> SendResult:
        result = SendResult("failed", error="not sent")
        for number in range(1, self.max_attempts + 1):
            try:
                result = await send()
            except Exception as exc:  # noqa: BLE001 - a sender bug must be recorded, not crash the run
                log.exception("sender failed")
                result = SendResult("failed", error=f"{type(exc).__name__}: {exc}", transient=False)
            if result.status == "sent" or not result.transient or number == self.max_attempts:
                return result
            await asyncio.sleep(self._backoff(number))
        return result

    @contextlib.asynccontextmanager
    async def _email_run(self):
        """The email sender bound to one transport (one SMTP connection) for the whole run."""
        if self.send_email is None:
            yield None
            return
        async with self.send_email.run() as send:
            yield send

    async def _send_emails(self, send_email, items: list[tuple[Job, DeliveryTarget, RenderedContent]]) -> None:
        # All of one recipient's reports in one call, so that they become one digest; the email sender
        # retries temporary SMTP failures itself.
        if not items:
            return
        recorded: set[int] = set()

        async def record(target_id: int, result: SendResult) -> None:
            if target_id not in recorded:
                recorded.add(target_id)
                await self._record_target(target_id, result)

        if send_email is None:
            results = {t.id: SendResult("failed", error="email delivery is not configured") for _, t, _ in items}
        else:
            try:
                results = await send_email(items, on_result=record)
            except Exception as exc:  # noqa: BLE001 - a sender bug must be recorded, not crash the run
                log.exception("email sender failed")
                results = {t.id: SendResult("failed", error=f"{type(exc).__name__}: {exc}") for _, t, _ in items}
        for job, target, _content in items:
            result = results.get(target.id) or SendResult("failed", error="no outcome reported")
            job.results[target.id] = result
            await record(target.id, result)

    async def _record_target(self, target_id: int, result: SendResult) -> None:
        async with self.database.transaction() as session:
            target = await session.get(DeliveryTarget, target_id)
            target.attempts += 1
            target.status = "sent" if result.status == "sent" else "failed"
            target.error = result.error
            target.external_id = result.external_id
            if result.status == "sent":
                target.sent_at = self.clock()

    # --- finishing ---------------------------------------------------------------------------------------

    async def _finish(self, jobs: list[Job]) -> None:
        now = self.clock()
        paused: list[tuple[Subscription, str]] = []
        async with self.database.transaction() as session:
            for job in jobs:
                delivery = await session.get(Delivery, job.delivery_id, options=[selectinload(Delivery.targets)])
                if self.worker_id is not None and delivery.claimed_by != self.worker_id:
                    # Taken over after this process's lease lapsed (or released on shutdown): its new owner
                    # sends what is left and finishes it.
                    log.warning("delivery %s is no longer ours (now %s); not finishing it", delivery.id,
                                delivery.claimed_by)
                    continue
                subscription = await session.get(Subscription, job.subscription.id)
                statuses = [t.status for t in delivery.targets]
                errors = sorted({r.error for r in job.results.values() if r.error})
                if statuses and all(s == "sent" for s in statuses):
                    delivery.status = "succeeded"
                elif any(s == "sent" for s in statuses):
                    delivery.status = "partial"
                else:
                    delivery.status = "failed"
                delivery.error = "; ".join(errors)[:2000] or None
                delivery.finished_at = now
                delivery.lease_expires_at = None
                subscription.last_delivery_at = now
                reason = next((r.pause_reason for r in job.results.values() if r.pause_reason), None)
                if delivery.status == "failed":
                    subscription.consecutive_failures += 1
                    if not reason and subscription.consecutive_failures >= self.max_consecutive_failures:
                        reason = (
                            f"{subscription.consecutive_failures} deliveries in a row failed; last error: "
                            f"{delivery.error or 'unknown'}"
                        )
                else:
                    subscription.consecutive_failures = 0
                if reason and subscription.enabled:
                    subscription.enabled = False
                    subscription.paused_reason = reason
                    paused.append((subscription, reason))
        for subscription, reason in paused:
            log.warning("subscription %s paused: %s", subscription.id, reason)
            if self.notify_paused:
                try:
                    await self.notify_paused(subscription, reason)
                except Exception:  # noqa: BLE001 - telling the creator is best effort
                    log.exception("could not tell the creator of subscription %s", subscription.id)


def _is_transient(exc: Exception) -> bool:
    # Not PostHogUnavailable: the PostHog client already retried with backoff, and retrying its retries would
    # hold a content slot for many minutes while the other contents of the run wait.
    return isinstance(exc, asyncio.TimeoutError | ConnectionError)

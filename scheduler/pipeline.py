"""The delivery pipeline: fetch each piece of content once, render it once, send it to every target.

Claimed deliveries are grouped by what they show (`ContentRef`: connection, insight or dashboard, image width).
Each group is fetched and rendered once, then fanned out to every Slack channel and email recipient of every
delivery in the group through the channels' `Sender`s; a recipient due several reports in one run gets them in
one call (one digest). Each target's outcome is recorded on its `DeliveryTarget` row as soon as it is known, so
a delivery taken over after a crash resends only what was not yet sent. Who retries what is in core/retry.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from core import metrics
from core.db import Database
from core.delivery import Attachment, Image, Outcome, Report, RunSender, Sender
from core.logs import log_context
from core.models import Delivery, DeliveryTarget, PostHogConnection, Subscription
from core.retry import RetryPolicy
from core.subscriptions import pause, schedule_of
from posthog_api import ContentRef, Dashboard, Insight, PostHogAddressNotAllowed, PostHogError

log = logging.getLogger(__name__)


@dataclass
class Rendered:
    """A content drawn once for a run: what it is, and its images in the order they are shown."""

    content: Insight | Dashboard
    images: list[Image]
    attachments: list[Attachment] = field(default_factory=list)  # the data as a file, when asked for


@dataclass
class Job:
    """One claimed delivery with what it needs to be sent."""

    delivery_id: int
    subscription: Subscription
    ref: ContentRef
    targets: list[DeliveryTarget]
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # by DeliveryTarget.id, written by the pipeline


class ContentLoader(Protocol):
    async def __call__(self, connection: PostHogConnection, ref: ContentRef) -> Rendered: ...


Notify = Callable[[Subscription, str], Awaitable[None]]


def content_ref(subscription: Subscription) -> ContentRef:
    """What to fetch and draw; subscriptions showing the same period of the same content share one."""
    date_from = subscription.date_from or None
    return ContentRef(
        subscription.connection_id, subscription.content_type, subscription.content_ref, subscription.image_width,
        date_from=date_from, date_to=(subscription.date_to or None) if date_from else None,
        attach=subscription.attach_format or None, time_zone=subscription.timezone or None,
        theme=subscription.theme or "light",
    )


def _ids_of(items: list[tuple[Job, DeliveryTarget, Rendered]]) -> dict[str, object]:
    """The log ids of one send: its target, and its delivery when it sends one (a digest sends several)."""
    jobs = {job.delivery_id: job for job, _target, _rendered in items}
    ids: dict[str, object] = {"target": items[0][1].address}
    if len(jobs) == 1:
        (job,) = jobs.values()
        ids.update(delivery_id=job.delivery_id, subscription_id=job.subscription.id,
                   workspace_id=job.subscription.workspace_id)
    return ids


def _by_turns(groups: dict[ContentRef, list[Job]]) -> list[ContentRef]:
    """The contents of a run, workspaces taking turns: the first content of each workspace, then the second of
    each... so that a workspace with 500 dashboards due does not keep another's one waiting for the renderer
    (the render slots are taken in this order)."""
    queues: dict[int | None, list[ContentRef]] = defaultdict(list)
    for ref, jobs in groups.items():
        queues[jobs[0].subscription.workspace_id].append(ref)
    turns = max((len(q) for q in queues.values()), default=0)
    return [q[turn] for turn in range(turns) for q in queues.values() if turn < len(q)]


def report_for(subscription: Subscription, address: str, rendered: Rendered) -> Report:
    return Report(
        subscription=subscription,
        address=address,
        title=subscription.title or rendered.content.name,
        posthog_url=rendered.content.url,
        schedule_summary=schedule_of(subscription).summary(),
        content=rendered.content,
        images=rendered.images,
        next_delivery=subscription.next_delivery_at,
        attachments=list(rendered.attachments),
    )


@dataclass
class Pipeline:
    database: Database
    load_content: ContentLoader
    senders: dict[str, Sender]  # by target kind: "slack", "email"
    clock: Callable[[], datetime]
    # Retries of a send whose outcome is transient, by target kind (1 attempt: the channel retries itself).
    send_retries: dict[str, RetryPolicy] = field(default_factory=dict)
    # Retries of a render that timed out or lost its browser (PostHog's own retries are the client's).
    content_retries: RetryPolicy = field(default_factory=RetryPolicy)
    max_consecutive_failures: int = 3
    content_concurrency: int = 2
    # Sends in flight at once. Unbounded, a run of hundreds of deliveries queues for database connections
    # (each send records its outcome) until the pool times out and sends fail.
    send_concurrency: int = 8
    notify_paused: Notify | None = None
    renders: int = 0  # how many distinct contents were rendered (for benchmarks and tests)
    worker_id: str | None = None  # the claiming process: a run finishes only deliveries it still owns
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _send_slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)  # shared by every run

    async def run(self, delivery_ids: list[int]) -> None:
        jobs = await self._load_jobs(delivery_ids)
        if not jobs:
            return
        groups: dict[ContentRef, list[Job]] = defaultdict(list)
        for job in jobs:
            groups[job.ref].append(job)

        # Sends start as soon as their content is ready instead of after every render: Slack targets of a
        # content at once, an email when every report of its recipient (one digest) is ready.
        ready: dict[ContentRef, Rendered | Outcome] = {}
        mailbox: dict[str, list[tuple[Job, DeliveryTarget]]] = defaultdict(list)
        waiting: dict[str, set[ContentRef]] = defaultdict(set)  # recipient -> contents not ready yet
        for job in jobs:
            for target in job.targets:
                if target.kind == "email":
                    mailbox[target.address.casefold()].append((job, target))
                    waiting[target.address.casefold()].add(job.ref)
        sends: list[asyncio.Task] = []
        channels: dict[str, RunSender] = {}  # each sender's side for this run (its own SMTP connections...)

        def on_ready(ref: ContentRef, rendered: Rendered | Outcome) -> None:
            ready[ref] = rendered
            for job in groups[ref]:
                for target in job.targets:
                    if isinstance(rendered, Outcome):
                        sends.append(asyncio.create_task(self._record(job, target, rendered)))
                    elif target.kind != "email":
                        sends.append(asyncio.create_task(
                            self._send(channels, target.kind, [(job, target, rendered)])
                        ))
            for recipient in {t.address.casefold() for job in groups[ref] for t in job.targets if t.kind == "email"}:
                waiting[recipient].discard(ref)
                if not waiting[recipient]:
                    items = [(job, target, ready[job.ref]) for job, target in mailbox[recipient]
                             if isinstance(ready[job.ref], Rendered)]
                    if items:
                        sends.append(asyncio.create_task(self._send(channels, "email", items)))

        async with contextlib.AsyncExitStack() as stack:
            # Channels keep their connections (SMTP) open for the whole run.
            for kind, sender in self.senders.items():
                channels[kind] = await stack.enter_async_context(sender.opened())
            try:
                await self._render_all(groups, on_ready)
            finally:
                # Every started send is waited for, whatever happens, so that the channels stay open until the
                # last message is out and every outcome gets recorded.
                for result in await asyncio.gather(*sends, return_exceptions=True):
                    if isinstance(result, BaseException):
                        log.error("a send of this run failed unexpectedly", exc_info=result)
        await self._finish(jobs)

    async def aclose(self) -> None:
        """Close what the senders keep open between runs (HTTP sessions)."""
        for sender in self.senders.values():
            await sender.close()

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
        return [
            Job(d.id, d.subscription, content_ref(d.subscription), [t for t in d.targets if t.status != "sent"])
            for d in deliveries
        ]

    async def _render_all(
        self, groups: dict[ContentRef, list[Job]], on_ready: Callable[[ContentRef, Rendered | Outcome], None]
    ) -> None:
        limit = asyncio.Semaphore(self.content_concurrency)

        async def one(ref: ContentRef) -> None:
            async with limit:
                try:
                    # Loaded here, not with the jobs: a key that cannot be decrypted fails this content only.
                    connection = await self._connection(ref.connection_id)
                    started = time.perf_counter()
                    rendered: Rendered | Outcome = await self._load_with_retries(connection, ref)
                    metrics.RENDER_SECONDS.labels(ref.kind).observe(time.perf_counter() - started)
                    self.renders += 1
                except Exception as exc:  # noqa: BLE001 - one content's failure must not stop the others
                    if isinstance(exc, PostHogError):
                        metrics.posthog_error(exc)
                    log.warning("could not fetch or render %s %s: %s", ref.kind, ref.ref, exc)
                    rendered = Outcome.failed(str(exc) or type(exc).__name__)
                    if isinstance(exc, PostHogAddressNotAllowed):  # only a changed connection can fix it
                        rendered.pause_reason = str(exc)
            on_ready(ref, rendered)

        await asyncio.gather(*(one(ref) for ref in _by_turns(groups)))

    async def _connection(self, connection_id: int) -> PostHogConnection:
        async with self.database.session() as session:
            connection = await session.get(PostHogConnection, connection_id)
        if connection is None:
            raise LookupError("the PostHog connection of this subscription was removed")
        return connection

    async def _load_with_retries(self, connection: PostHogConnection, ref: ContentRef) -> Rendered:
        attempt = 1
        while True:
            try:
                return await self.load_content(connection, ref)
            except (TimeoutError, ConnectionError):
                # A render that timed out or lost its browser. Not PostHogUnavailable: the PostHog client already
                # retried, and retrying its retries would hold a content slot for minutes.
                if not self.content_retries.should_retry(attempt):
                    raise
                await self.sleep(self.content_retries.delay(attempt))
                attempt += 1

    # --- sending -----------------------------------------------------------------------------------------

    async def _send(self, channels: dict[str, RunSender], kind: str,
                    items: list[tuple[Job, DeliveryTarget, Rendered]]) -> None:
        """Send the reports due for one target (a channel, or one recipient's digest) and record each outcome,
        retrying transient failures as the target kind's policy says, resuming where the last try stopped."""
        with log_context(**_ids_of(items)):
            items = await self._still_ours(items)
            if not items:
                return
            sender = channels.get(kind)
            if sender is None:
                outcomes = [Outcome.failed(f"{kind} delivery is not configured")] * len(items)
            else:
                if self._send_slots is None:
                    self._send_slots = asyncio.Semaphore(self.send_concurrency)
                reports = [report_for(job.subscription, target.address, rendered) for job, target, rendered in items]
                async with self._send_slots:
                    policy = self.send_retries.get(kind, RetryPolicy(1))
                    with metrics.DELIVERY_STEP_SECONDS.labels(f"send_{kind}").time():
                        outcomes = await self._send_with_retries(sender, reports, policy)
                metrics.send_errors(kind, outcomes)
            for (job, target, _rendered), outcome in zip(items, outcomes, strict=True):
                await self._record(job, target, outcome)

    async def _still_ours(self, items: list[tuple[Job, DeliveryTarget, Rendered]]
                          ) -> list[tuple[Job, DeliveryTarget, Rendered]]:
        """The items whose delivery this process still owns. A process stalled past its lease (a busy event loop,
        a long pause) has lost the delivery to another, which sends it: sending here too would send it twice."""
        if self.worker_id is None:
            return items
        ids = {job.delivery_id for job, _target, _rendered in items}
        async with self.database.session() as session:
            ours = set((await session.scalars(select(Delivery.id).where(
                Delivery.id.in_(ids), Delivery.claimed_by == self.worker_id))).all())
        for lost in sorted(ids - ours):
            log.warning("delivery %s was taken over by another process; leaving its sends to it", lost,
                        extra={"delivery_id": lost})
        return [item for item in items if item[0].delivery_id in ours]

    async def _send_with_retries(self, sender: RunSender, reports: list[Report], policy: RetryPolicy
                                 ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(reports)
        todo = list(range(len(reports)))
        resume: Outcome | None = None
        attempt = 1
        while True:
            try:
                answers = await sender.send([reports[i] for i in todo], resume)
            except Exception as exc:  # noqa: BLE001 - a sender bug must be recorded, not crash the run
                log.exception("sender failed")
                answers = [Outcome.failed(f"{type(exc).__name__}: {exc}")] * len(todo)
            for i, answer in zip(todo, answers, strict=True):
                outcomes[i] = answer
            todo = [i for i in todo if not outcomes[i].sent and outcomes[i].transient]
            if not todo or not policy.should_retry(attempt):
                return outcomes
            # One report left: the next try resumes from how far this one got (Slack: its message and images).
            resume = outcomes[todo[0]] if len(todo) == 1 else None
            await self.sleep(policy.delay(attempt))
            attempt += 1

    async def _record(self, job: Job, target: DeliveryTarget, outcome: Outcome) -> None:
        job.outcomes[target.id] = outcome
        with metrics.DELIVERY_STEP_SECONDS.labels("record").time():
            await self._record_target(target, outcome)
        metrics.DELIVERY_TARGETS.labels(target.kind, "sent" if outcome.sent else "failed").inc()

    async def _record_target(self, target: DeliveryTarget, outcome: Outcome) -> None:
        values = {"attempts": DeliveryTarget.attempts + 1, "status": "sent" if outcome.sent else "failed",
                  "error": outcome.error, "external_id": outcome.external_id}
        if outcome.sent:
            values["sent_at"] = self.clock()
        # One statement, committed at once: a sent message is on record before anything else happens.
        async with self.database.transaction() as session:
            await session.execute(update(DeliveryTarget).where(DeliveryTarget.id == target.id).values(**values))

    # --- finishing ---------------------------------------------------------------------------------------

    async def _finish(self, jobs: list[Job]) -> None:
        with metrics.DELIVERY_STEP_SECONDS.labels("record").time():
            paused = await self._finish_deliveries(jobs)
        for subscription, reason in paused:
            log.warning("subscription %s paused: %s", subscription.id, reason,
                        extra={"subscription_id": subscription.id, "workspace_id": subscription.workspace_id})
            if self.notify_paused:
                try:
                    await self.notify_paused(subscription, reason)
                except Exception:  # noqa: BLE001 - telling the creator is best effort
                    log.exception("could not tell the creator of subscription %s", subscription.id,
                                  extra={"subscription_id": subscription.id})

    async def _finish_deliveries(self, jobs: list[Job]) -> list[tuple[Subscription, str]]:
        """Each delivery's status from its targets; the subscription's failure count, paused when it must be."""
        now = self.clock()
        paused: list[tuple[Subscription, str]] = []
        async with self.database.transaction() as session:
            deliveries = await _by_id(session, Delivery, [job.delivery_id for job in jobs],
                                      selectinload(Delivery.targets))
            subscriptions = await _by_id(session, Subscription, [job.subscription.id for job in jobs])
            for job in jobs:
                delivery, subscription = deliveries.get(job.delivery_id), subscriptions.get(job.subscription.id)
                if delivery is None or subscription is None:
                    continue  # deleted with its subscription during the run: nothing left to finish
                if self.worker_id is not None and delivery.claimed_by != self.worker_id:
                    # Taken over after this process's lease lapsed (or released on shutdown): its new owner
                    # sends what is left and finishes it.
                    log.warning("delivery %s is no longer ours (now %s); not finishing it", delivery.id,
                                delivery.claimed_by)
                    continue
                statuses = [t.status for t in delivery.targets]
                errors = sorted({o.error for o in job.outcomes.values() if o.error})
                if statuses and all(s == "sent" for s in statuses):
                    delivery.status = "succeeded"
                elif any(s == "sent" for s in statuses):
                    delivery.status = "partial"
                else:
                    delivery.status = "failed"
                delivery.error = "; ".join(errors)[:2000] or None
                delivery.finished_at = now
                delivery.lease_expires_at = None
                metrics.DELIVERIES.labels(delivery.status).inc()
                subscription.last_delivery_at = now
                # A configuration problem (channel archived, token revoked) pauses at once; other failures after
                # several deliveries in a row.
                reason = next((o.pause_reason for o in job.outcomes.values() if o.pause_reason), None)
                if delivery.status == "failed":
                    subscription.consecutive_failures += 1
                    if not reason and subscription.consecutive_failures >= self.max_consecutive_failures:
                        reason = (
                            f"{subscription.consecutive_failures} deliveries in a row failed; last error: "
                            f"{delivery.error or 'unknown'}"
                        )
                else:
                    subscription.consecutive_failures = 0
                if reason and pause(subscription, reason):
                    paused.append((subscription, reason))
        return paused


async def _by_id(session, model, ids: list[int], *options) -> dict[int, Any]:
    """Rows of `model` by id, loaded a few hundred at a time (not one query per row)."""
    found: dict[int, Any] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        rows = await session.scalars(select(model).where(model.id.in_(chunk)).options(*options))
        found.update({row.id: row for row in rows})
    return found

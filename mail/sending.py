"""Sending: group reports per recipient, compose, hand to a transport, retry what is temporary.

`EmailSender` is the pipeline's email channel (`core.delivery.Sender`); `send_reports` and the notices are the
same machinery for callers that hold `EmailReport`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from core import metrics
from core.delivery import Outcome, Report
from core.retry import backoff_delay
from core.settings import Settings
from mail.compose import Composed, compose_failure_notice, compose_reports, compose_subscribed_notice
from mail.reports import EmailOutcome, EmailReport
from mail.transports import SendError, TransientSendError, Transport, make_transport

log = logging.getLogger(__name__)

_CONCURRENCY = 4  # emails composed and in flight at once (as many as the SMTP transport's connections)
DIGEST_MAX_REPORTS = 20  # more reports than this for one recipient are split over several digests (HTML size)


def _groups(reports: list[EmailReport], digest: bool) -> list[list[EmailReport]]:
    """One group per email: all of a recipient's reports (digest), or each report alone."""
    seen: set[tuple[int, str]] = set()
    groups: dict[str, list[EmailReport]] = {}
    singles: list[list[EmailReport]] = []
    for report in reports:
        key = (report.subscription_id, report.recipient.casefold())
        if key in seen:
            continue  # one outcome, and one email, per (subscription, recipient)
        seen.add(key)
        if digest:
            groups.setdefault(report.recipient.casefold(), []).append(report)
        else:
            singles.append([report])
    if not digest:
        return singles
    return [group[i:i + DIGEST_MAX_REPORTS] for group in groups.values() for i in range(0, len(group),
                                                                                        DIGEST_MAX_REPORTS)]


async def deliver(transport: Transport, message, recipient: str, settings: Settings) -> SendError | None:
    """Send with exponential backoff on temporary failures. Returns the final error, or None once sent."""
    attempts = max(1, settings.email_retry_attempts)
    error: SendError | None = None
    for attempt in range(attempts):
        try:
            await transport.send(message, recipient)
            return None
        except TransientSendError as exc:
            error = exc
            if attempt + 1 < attempts:
                delay = backoff_delay(attempt + 1, settings.email_retry_base_seconds)
                log.info("email to %s failed temporarily (%s); retrying in %.2fs", recipient, exc, delay)
                await asyncio.sleep(delay)
        except SendError as exc:
            return exc
    return error


async def _compose_and_deliver(
    compose: Callable[[], Awaitable[Composed]], recipient: str, transport: Transport, settings: Settings
) -> tuple[Composed | None, SendError | Exception | None]:
    try:
        with metrics.DELIVERY_STEP_SECONDS.labels("compose").time():
            composed = await compose()
    except Exception as exc:  # noqa: BLE001 - one broken email must not stop the others
        log.exception("could not compose the email to %s", recipient)
        return None, exc
    return composed, await deliver(transport, composed.message, recipient, settings)


def _outcome(subscription_id: int, recipient: str, composed: Composed | None, error) -> EmailOutcome:
    if error is None and composed is not None:
        return EmailOutcome(
            subscription_id=subscription_id, recipient=recipient, status="sent", external_id=composed.message_id,
            linked_images=composed.linked_images,
        )
    text = str(error) if isinstance(error, SendError) else f"the email could not be composed: {error}"
    return EmailOutcome(
        subscription_id=subscription_id, recipient=recipient, status="failed", error=text,
        transient=bool(getattr(error, "transient", False)),
    )


async def _with_transport(transport: Transport | None, settings: Settings, work):
    own = transport is None
    transport = transport or make_transport(settings)
    try:
        return await work(transport)
    finally:
        if own:
            await transport.close()


async def send_reports(
    reports: list[EmailReport], *, settings: Settings, transport: Transport | None = None
) -> list[EmailOutcome]:
    """Email every report; a recipient due several reports gets one digest. One outcome per (subscription,
    recipient), in the order given; a failure for one recipient never blocks the others."""
    groups = _groups(reports, settings.email_digest)
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(group: list[EmailReport], transport: Transport) -> list[EmailOutcome]:
        recipient = group[0].recipient
        async with limit:
            composed, error = await _compose_and_deliver(
                lambda: compose_reports(group, settings), recipient, transport, settings
            )
        return [_outcome(report.subscription_id, report.recipient, composed, error) for report in group]

    async def work(transport: Transport) -> list[EmailOutcome]:
        results = await asyncio.gather(*(one(group, transport) for group in groups))
        by_key = {(o.subscription_id, o.recipient.casefold()): o for batch in results for o in batch}
        ordered, seen = [], set()
        for report in reports:
            key = (report.subscription_id, report.recipient.casefold())
            if key not in seen:
                seen.add(key)
                ordered.append(by_key[key])
        return ordered

    return await _with_transport(transport, settings, work)


async def send_subscribed_notice(
    *,
    subscription_id: int,
    recipients: list[str],
    title: str,
    kind: str,
    schedule_summary: str,
    posthog_url: str,
    subscribed_by: str = "",
    settings: Settings,
    transport: Transport | None = None,
) -> list[EmailOutcome]:
    """Tell each newly added recipient what they will receive and when, with their own unsubscribe link."""

    async def work(transport: Transport) -> list[EmailOutcome]:
        outcomes = []
        for recipient in recipients:
            composed, error = await _compose_and_deliver(
                lambda recipient=recipient: compose_subscribed_notice(
                    recipient=recipient, subscription_id=subscription_id, title=title, kind=kind,
                    schedule_summary=schedule_summary, posthog_url=posthog_url, subscribed_by=subscribed_by,
                    settings=settings,
                ),
                recipient, transport, settings,
            )
            outcomes.append(_outcome(subscription_id, recipient, composed, error))
        return outcomes

    return await _with_transport(transport, settings, work)


async def send_failure_notice(
    *,
    to: str,
    subscription_id: int,
    title: str,
    kind: str,
    error: str,
    paused: bool = False,
    posthog_url: str = "",
    failed_recipients: list[str] | None = None,
    settings: Settings,
    transport: Transport | None = None,
) -> EmailOutcome:
    """Tell a subscription's creator that it could not be delivered (and whether it is now paused)."""

    async def work(transport: Transport) -> EmailOutcome:
        composed, failure = await _compose_and_deliver(
            lambda: compose_failure_notice(
                recipient=to, title=title, kind=kind, error=error, paused=paused, posthog_url=posthog_url,
                failed_recipients=list(failed_recipients or []), settings=settings,
            ),
            to, transport, settings,
        )
        return _outcome(subscription_id, to, composed, failure)

    return await _with_transport(transport, settings, work)


TRANSPORTS_PER_RUN = 4  # emails in flight at once in a pipeline run, each on a transport (SMTP connection) of its own


class EmailSender:
    """Emails reports: one call per recipient (their reports become one digest). `opened()` gives a run its own
    few transports, kept open for the whole run, since an SMTP connection sends one message at a time and the
    server's time per message is what limits a large fan-out; runs at once never share or close each other's.
    `send` outside a run opens a transport for the call."""

    def __init__(self, settings: Settings, transport: Transport | None = None) -> None:
        self.settings = settings
        self.transport = transport  # None: the configured transport

    @contextlib.asynccontextmanager
    async def opened(self):
        owned = [] if self.transport else [make_transport(self.settings) for _ in range(TRANSPORTS_PER_RUN)]
        pool: asyncio.Queue[Transport] = asyncio.Queue()
        for transport in owned or [self.transport] * TRANSPORTS_PER_RUN:
            pool.put_nowait(transport)
        try:
            yield _EmailRun(self, pool)
        finally:
            for transport in owned:
                await transport.close()

    async def close(self) -> None:
        """Nothing is kept open between runs."""

    async def send(self, reports: list[Report], resume: Outcome | None = None) -> list[Outcome]:
        return await self._send(reports, self.transport)

    async def _send(self, reports: list[Report], transport: Transport | None) -> list[Outcome]:
        email_reports = [
            EmailReport(
                subscription_id=r.subscription_id, recipient=r.address, title=r.title,
                schedule_summary=r.schedule_summary, posthog_url=r.posthog_url, content=r.content, images=r.images,
                attachments=r.attachments,
            )
            for r in reports
        ]
        outcomes = await send_reports(email_reports, settings=self.settings, transport=transport)
        by_key = {(o.subscription_id, o.recipient.casefold()): o for o in outcomes}
        return [
            by_key.get((r.subscription_id, r.address.casefold())) or Outcome.failed("the email was not sent")
            for r in reports
        ]


class _EmailRun:
    """The email channel of one pipeline run: its sends take turns on the run's own transports."""

    def __init__(self, sender: EmailSender, pool: asyncio.Queue[Transport]) -> None:
        self.sender = sender
        self.pool = pool

    async def send(self, reports: list[Report], resume: Outcome | None = None) -> list[Outcome]:
        transport = await self.pool.get()
        try:
            return await self.sender._send(reports, transport)
        finally:
            self.pool.put_nowait(transport)

"""The pipeline's email step: hands reports to `mail/` and maps its outcomes back onto delivery targets.

Each recipient's reports go to `mail/` as one call (so they become one digest), and their outcomes are
reported as soon as that recipient's email is sent: a process that dies halfway through a run has recorded
every email it sent, and the process that takes the run over sends only the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from core.settings import Settings
from core.subscriptions import schedule_of
from mail import EmailReport, ReportImage, make_transport, send_reports
from scheduler.pipeline import Job, RenderedContent, SendResult

log = logging.getLogger(__name__)

RECIPIENTS_AT_ONCE = 4  # emails in flight at once, each on a transport (SMTP connection) of its own


class EmailSender:
    def __init__(self, settings: Settings, transport=None) -> None:
        self.settings = settings
        self.transport = transport  # None: the configured transport, opened for each run

    @contextlib.asynccontextmanager
    async def run(self):
        """A send function for a whole pipeline run, over a few transports (SMTP connections) kept open for it:
        an SMTP connection sends one message at a time, and the server's time per message is what limits a
        large fan-out."""
        owned = [] if self.transport else [make_transport(self.settings) for _ in range(RECIPIENTS_AT_ONCE)]
        pool: asyncio.Queue = asyncio.Queue()
        for transport in owned or [self.transport] * RECIPIENTS_AT_ONCE:
            pool.put_nowait(transport)
        try:
            yield functools.partial(self._send_all, pool=pool)
        finally:
            for transport in owned:
                await transport.close()

    async def __call__(
        self,
        items: list[tuple[Job, object, RenderedContent]],
        on_result: Callable[[int, SendResult], Awaitable[None]] | None = None,
    ) -> dict[int, SendResult]:
        async with self.run() as send:
            return await send(items, on_result=on_result)

    async def _send_all(
        self,
        items: list[tuple[Job, object, RenderedContent]],
        on_result: Callable[[int, SendResult], Awaitable[None]] | None = None,
        *,
        pool: asyncio.Queue,
    ) -> dict[int, SendResult]:
        by_recipient: dict[str, list[tuple[Job, object, RenderedContent]]] = {}
        for item in items:
            by_recipient.setdefault(item[1].address.casefold(), []).append(item)
        results: dict[int, SendResult] = {}

        async def one(group: list[tuple[Job, object, RenderedContent]]) -> None:
            transport = await pool.get()
            try:
                outcome = await self._send(group, transport)
            except Exception as exc:  # noqa: BLE001 - one recipient's failure must not stop the others
                log.exception("could not email %s", group[0][1].address)
                error = SendResult("failed", error=f"{type(exc).__name__}: {exc}")
                outcome = {target.id: error for _job, target, _rendered in group}
            finally:
                pool.put_nowait(transport)
            results.update(outcome)
            if on_result is not None:
                for target_id, result in outcome.items():
                    await on_result(target_id, result)

        await asyncio.gather(*(one(group) for group in by_recipient.values()))
        return results

    async def _send(self, items: list[tuple[Job, object, RenderedContent]], transport) -> dict[int, SendResult]:
        reports = [
            EmailReport(
                subscription_id=job.subscription.id,
                recipient=target.address,
                title=job.subscription.title or rendered.content.name,
                schedule_summary=schedule_of(job.subscription).summary(),
                posthog_url=rendered.content.url,
                content=rendered.content,
                images=[ReportImage(image.title, image.png, image.link) for image in rendered.images],
            )
            for job, target, rendered in items
        ]
        outcomes = await send_reports(reports, transport=transport, settings=self.settings)
        by_key = {(o.subscription_id, o.recipient.casefold()): o for o in outcomes}
        results = {}
        for job, target, _rendered in items:
            outcome = by_key.get((job.subscription.id, target.address.casefold()))
            if outcome is None:
                results[target.id] = SendResult("failed", error="the email was not sent")
            else:
                results[target.id] = SendResult(
                    outcome.status, error=outcome.error, transient=outcome.transient, external_id=outcome.message_id
                )
        return results

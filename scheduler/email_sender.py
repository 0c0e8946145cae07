"""The pipeline's email step: hands reports to `mail/` and maps its outcomes back onto delivery targets."""

from __future__ import annotations

from core.settings import Settings
from core.subscriptions import schedule_of
from mail import EmailReport, ReportImage, send_reports
from scheduler.pipeline import Job, RenderedContent, SendResult


class EmailSender:
    def __init__(self, settings: Settings, transport=None) -> None:
        self.settings = settings
        self.transport = transport  # None: mail/ opens the configured transport per run

    async def __call__(self, items: list[tuple[Job, object, RenderedContent]]) -> dict[int, SendResult]:
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
        outcomes = await send_reports(reports, transport=self.transport, settings=self.settings)
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

"""The pipeline's Slack step: posts through `bot/`'s sender and maps its outcome onto the delivery target."""

from __future__ import annotations

from core.db import Database
from core.models import DeliveryTarget, Subscription
from core.settings import Settings
from core.subscriptions import schedule_of
from scheduler.pipeline import Job, RenderedContent, SendResult


class SlackSender:
    def __init__(self, settings: Settings, database: Database) -> None:
        import bot  # bot/ is only needed when something is sent to Slack

        self.sender = bot.SlackSender(database, settings)

    async def __call__(self, job: Job, target: DeliveryTarget, rendered: RenderedContent) -> SendResult:
        subscription = job.subscription
        # A retry of a send that posted its message but not all images resumes in that message's thread,
        # with the images not yet uploaded.
        previous = job.results.get(target.id)
        outcome = await self.sender.send(
            subscription.id,
            title=subscription.title or rendered.content.name,
            posthog_url=rendered.content.url,
            schedule_summary=schedule_of(subscription).summary(),
            next_delivery=subscription.next_delivery_at,
            images=[(image.title, image.png) for image in rendered.images],
            parent_ts=previous.external_id if previous else None,
            images_done=previous.progress if previous else 0,
        )
        # A configuration problem was already handled by bot/: subscription paused, creator told.
        result = SendResult(
            outcome.status, error=outcome.error, transient=outcome.transient, external_id=outcome.message_ts,
            progress=outcome.images_done,
        )
        job.results[target.id] = result
        return result

    async def notify_creator(self, subscription: Subscription, reason: str) -> None:
        await self.sender.notify_creator(subscription.id, reason)

    async def close(self) -> None:
        await self.sender.close()

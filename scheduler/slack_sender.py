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
        outcome = await self.sender.send(
            subscription.id,
            title=subscription.title or rendered.content.name,
            posthog_url=rendered.content.url,
            schedule_summary=schedule_of(subscription).summary(),
            next_delivery=subscription.next_delivery_at,
            images=[(image.title, image.png) for image in rendered.images],
        )
        # A configuration problem was already handled by bot/: subscription paused, creator told.
        return SendResult(outcome.status, error=outcome.error, transient=outcome.transient,
                          external_id=outcome.message_ts)

    async def notify_creator(self, subscription: Subscription, reason: str) -> None:
        await self.sender.tell_creator_paused(subscription.id, reason)

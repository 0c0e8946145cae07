"""The pipeline's Slack step: posts through `bot/`'s sender and maps its outcome onto the delivery target."""

from __future__ import annotations

from core.db import Database
from core.models import DeliveryTarget, SlackWorkspace, Subscription
from core.settings import Settings
from core.subscriptions import schedule_of
from scheduler.pipeline import Job, RenderedContent, SendResult


class SlackSender:
    def __init__(self, settings: Settings, database: Database) -> None:
        import bot  # bot/ is only needed when something is sent to Slack
        from bot.slack_client import web_client

        self.settings = settings
        self.database = database
        self.web_client = web_client
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
        """A direct message to the subscription's creator (a Slack user id) with its workspace's bot token."""
        creator = subscription.created_by or ""
        if not creator.startswith(("U", "W")) or subscription.workspace_id is None:
            return
        async with self.database.session() as session:
            workspace = await session.get(SlackWorkspace, subscription.workspace_id)
        if workspace is None or not workspace.active:
            return
        installed = await self.sender.installation_store.async_find_bot(
            enterprise_id=workspace.enterprise_id, team_id=workspace.team_id
        )
        if installed is None or not installed.bot_token:
            return
        what = subscription.title or f"{subscription.content_type} {subscription.content_ref}"
        await self.web_client(self.settings, installed.bot_token).chat_postMessage(
            channel=creator,
            text=f":pause_button: I paused your subscription #{subscription.id} ({what}) because {reason}. "
            f"Resume it with `/posthog resume {subscription.id}`.",
        )

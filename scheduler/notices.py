"""Telling a subscription's creator that it was paused: in Slack when a Slack user made it, by email when an
address did."""

from __future__ import annotations

import logging

from core.models import Subscription
from core.settings import Settings
from mail import send_failure_notice

log = logging.getLogger(__name__)


class CreatorNotifier:
    def __init__(self, settings: Settings, slack, email_transport=None) -> None:
        self.settings = settings
        self.slack = slack  # bot.SlackSender
        self.email_transport = email_transport

    async def __call__(self, subscription: Subscription, reason: str) -> None:
        if subscription.created_by_slack_user:
            await self.slack.notify_creator(subscription, reason)
        elif subscription.created_by_email:
            await send_failure_notice(
                to=subscription.created_by_email,
                subscription_id=subscription.id,
                title=subscription.title or f"{subscription.content_type} {subscription.content_ref}",
                kind=subscription.content_type,
                error=reason,
                paused=True,
                transport=self.email_transport,
                settings=self.settings,
            )
        else:
            log.warning("subscription %s paused and has no creator to tell: %s", subscription.id, reason)

"""Telling a subscription's creator that it was paused, in Slack or by email, wherever it was made."""

from __future__ import annotations

import logging

from core.db import Database
from core.models import Subscription
from core.settings import Settings
from mail import send_failure_notice

log = logging.getLogger(__name__)


class CreatorNotifier:
    def __init__(self, settings: Settings, database: Database, slack, email_transport=None) -> None:
        self.settings = settings
        self.database = database
        self.slack = slack
        self.email_transport = email_transport

    async def __call__(self, subscription: Subscription, reason: str) -> None:
        creator = subscription.created_by or ""
        if subscription.target_type == "slack" and creator and "@" not in creator:
            await self.slack.notify_creator(subscription, reason)
        elif "@" in creator:
            await send_failure_notice(
                to=creator,
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

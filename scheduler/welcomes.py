"""Telling new email recipients that they were subscribed: who did it, to what, when it arrives, and their
own unsubscribe link. The subscription lifecycle records a `WelcomeNotice` for each new recipient, whichever
door added them; this job sends them and deletes each row once its email is out."""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from core.db import Database
from core.models import Subscription, WelcomeNotice
from core.settings import Settings
from core.subscriptions import schedule_of
from mail import Transport, send_subscribed_notice
from posthog_api import content_url

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a notice that failed this often is dropped (the reports themselves still go out)
BATCH = 50


async def send_welcomes(database: Database, settings: Settings, *, transport: Transport | None = None) -> int:
    """Send the notices waiting; returns how many were sent. Safe with several processes on PostgreSQL: rows are
    claimed with SKIP LOCKED and held until their email is out."""
    sent = 0
    async with database.sessions() as session:
        async with session.begin():
            query = select(WelcomeNotice).order_by(WelcomeNotice.id).limit(BATCH)
            if session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            notices = list((await session.scalars(query)).all())
            if not notices:
                return 0
            subscriptions = {
                s.id: s for s in await session.scalars(
                    select(Subscription).where(Subscription.id.in_({n.subscription_id for n in notices}))
                    .options(selectinload(Subscription.connection))
                )
            }
            groups: dict[tuple[int, str], list[WelcomeNotice]] = defaultdict(list)
            for notice in notices:
                groups[(notice.subscription_id, notice.subscribed_by)].append(notice)
            for (subscription_id, subscribed_by), group in groups.items():
                subscription = subscriptions.get(subscription_id)
                current = {a.casefold() for a in (subscription.email_recipients if subscription else [])}
                due = [n for n in group if n.address.casefold() in current]
                stale = [n for n in group if n not in due]  # removed before they were welcomed
                if subscription is None or subscription.deleted_at is not None:
                    stale, due = group, []
                for notice in stale:
                    await session.delete(notice)
                if not due:
                    continue
                outcomes = await send_subscribed_notice(
                    subscription_id=subscription.id,
                    recipients=[n.address for n in due],
                    title=subscription.title or f"{subscription.content_type.capitalize()} {subscription.content_ref}",
                    kind=subscription.content_type,
                    schedule_summary=schedule_of(subscription).summary(),
                    posthog_url=content_url(subscription.connection, subscription.content_type,
                                            subscription.content_ref),
                    subscribed_by=subscribed_by,
                    settings=settings,
                    transport=transport,
                )
                for notice, outcome in zip(due, outcomes, strict=True):
                    if outcome.sent:
                        sent += 1
                        await session.delete(notice)
                        continue
                    notice.attempts += 1
                    if notice.attempts >= MAX_ATTEMPTS:
                        log.warning("giving up telling %s about subscription %s: %s", notice.address,
                                    subscription.id, outcome.error)
                        await session.execute(delete(WelcomeNotice).where(WelcomeNotice.id == notice.id))
    return sent

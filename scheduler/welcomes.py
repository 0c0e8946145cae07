"""Telling new email recipients that they were subscribed: who did it, to what, when it arrives, and their
own unsubscribe link. The subscription lifecycle records a `WelcomeNotice` for each new recipient, whichever
door added them; this job sends them.

Notices are taken off the table in one short transaction (SKIP LOCKED on PostgreSQL, so two processes never take
the same one) and sent outside it; a notice whose email failed is put back with one more attempt, up to
MAX_ATTEMPTS. A process that dies between the two loses at most the notices it held, never sends one twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
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


@dataclass
class _Taken:
    subscription_id: int
    address: str
    subscribed_by: str
    attempts: int


async def send_welcomes(database: Database, settings: Settings, *, transport: Transport | None = None) -> int:
    """Send the notices waiting; returns how many were sent."""
    taken, subscriptions = await _take(database)
    groups: dict[tuple[int, str], list[_Taken]] = defaultdict(list)
    for notice in taken:
        groups[(notice.subscription_id, notice.subscribed_by)].append(notice)
    sent, failed = 0, []
    for (subscription_id, subscribed_by), group in groups.items():
        subscription = subscriptions.get(subscription_id)
        current = {a.casefold() for a in (subscription.email_recipients if subscription else [])}
        due = [n for n in group if n.address.casefold() in current]  # the others left before their welcome
        if subscription is None or subscription.deleted_at is not None or not due:
            continue
        try:
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
        except Exception as exc:  # noqa: BLE001 - one subscription's problem must not hold the others' notices
            log.warning("could not welcome the recipients of subscription %s: %s", subscription_id, exc)
            failed += due
            continue
        for notice, outcome in zip(due, outcomes, strict=True):
            if outcome.sent:
                sent += 1
            else:
                failed.append(notice)
    await _put_back(database, failed)
    return sent


async def _take(database: Database) -> tuple[list[_Taken], dict[int, Subscription]]:
    async with database.sessions() as session:
        async with session.begin():
            query = select(WelcomeNotice).order_by(WelcomeNotice.id).limit(BATCH)
            if session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            notices = list((await session.scalars(query)).all())
            if not notices:
                return [], {}
            subscriptions = {
                s.id: s for s in await session.scalars(
                    select(Subscription).where(Subscription.id.in_({n.subscription_id for n in notices}))
                    .options(selectinload(Subscription.connection))
                )
            }
            taken = [_Taken(n.subscription_id, n.address, n.subscribed_by, n.attempts) for n in notices]
            for notice in notices:
                await session.delete(notice)
    return taken, subscriptions


async def _put_back(database: Database, failed: list[_Taken]) -> None:
    again = [n for n in failed if n.attempts + 1 < MAX_ATTEMPTS]
    for notice in failed:
        if notice not in again:
            log.warning("giving up telling %s about subscription %s", notice.address, notice.subscription_id)
    if not again:
        return
    try:
        async with database.transaction() as session:
            for notice in again:
                session.add(WelcomeNotice(subscription_id=notice.subscription_id, address=notice.address,
                                          subscribed_by=notice.subscribed_by, attempts=notice.attempts + 1))
    except IntegrityError:  # the same address was welcomed anew meanwhile: that notice stands
        log.info("welcome notices not put back: newer ones are waiting")

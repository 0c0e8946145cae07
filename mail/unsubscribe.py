"""Removing one recipient from subscriptions (and putting them back), as an unsubscribe link asks.

Addresses compare case-insensitively. The rules (a subscription left without recipients is paused; putting a
recipient back resumes only a subscription paused for that reason) are the lifecycle's, in core/subscriptions.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core import subscriptions as lifecycle
from core.db import Database
from core.models import Subscription


@dataclass(slots=True)
class Found:
    id: int
    title: str
    subscribed: bool  # the address is currently a recipient
    enabled: bool


def _has(subscription: Subscription, address: str) -> bool:
    return any(str(r).casefold() == address.casefold() for r in subscription.email_recipients or [])


def _summary(subscription: Subscription, address: str) -> Found:
    title = subscription.title or f"{subscription.content_type.capitalize()} {subscription.content_ref}"
    return Found(subscription.id, title, _has(subscription, address), subscription.enabled)


async def _load(session, ids: list[int], *, lock: bool) -> list[Subscription]:
    query = (
        select(Subscription)
        .where(Subscription.id.in_(ids), Subscription.target_type == "email", Subscription.deleted_at.is_(None))
        .order_by(Subscription.id)
    )
    if lock:
        query = query.with_for_update()  # two clicks at once must not lose a concurrent edit of the list
    return list((await session.scalars(query)).all())


async def look_up(database: Database, ids: list[int], address: str) -> list[Found]:
    async with database.session() as session:
        return [_summary(s, address) for s in await _load(session, ids, lock=False)]


async def remove_recipient(database: Database, ids: list[int], address: str) -> tuple[list[Found], list[int]]:
    """Remove `address` from each subscription (it unsubscribed itself); idempotent. Returns the subscriptions
    found and the ids it was removed from by this call (what an undo may put back)."""
    async with database.transaction() as session:
        subscriptions = await _load(session, ids, lock=True)
        removed = [s.id for s in subscriptions if lifecycle.remove_recipient(s, address, by_themselves=True)]
        return [_summary(s, address) for s in subscriptions], removed


async def restore_recipient(database: Database, ids: list[int], address: str) -> list[Found]:
    """Undo `remove_recipient`; idempotent."""
    async with database.transaction() as session:
        subscriptions = await _load(session, ids, lock=True)
        for subscription in subscriptions:
            lifecycle.restore_recipient(subscription, address)
        return [_summary(s, address) for s in subscriptions]

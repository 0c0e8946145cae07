"""Delivery history: what was sent, when, to whom, and why something failed.

Feeds `python app.py deliveries`, Slack's App Home and the last-delivery status of a subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import Database
from core.models import Delivery


@dataclass
class TargetLine:
    kind: str
    address: str
    status: str
    attempts: int
    error: str | None


@dataclass
class DeliveryLine:
    id: int
    subscription_id: int
    title: str
    scheduled_for: datetime
    trigger: str
    status: str
    attempts: int
    finished_at: datetime | None
    error: str | None
    targets: list[TargetLine]


async def recent_deliveries(
    database: Database, *, subscription_id: int | None = None, delivery_id: int | None = None, limit: int = 20
) -> list[DeliveryLine]:
    statement = (
        select(Delivery)
        .options(selectinload(Delivery.targets), selectinload(Delivery.subscription))
        .order_by(Delivery.scheduled_for.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if subscription_id is not None:
        statement = statement.where(Delivery.subscription_id == subscription_id)
    if delivery_id is not None:
        statement = statement.where(Delivery.id == delivery_id)
    async with database.session() as session:
        deliveries = (await session.scalars(statement)).all()
    return [
        DeliveryLine(
            id=d.id,
            subscription_id=d.subscription_id,
            title=d.subscription.title or f"{d.subscription.content_type} {d.subscription.content_ref}",
            scheduled_for=d.scheduled_for,
            trigger=d.trigger,
            status=d.status,
            attempts=d.attempts,
            finished_at=d.finished_at,
            error=d.error,
            targets=[TargetLine(t.kind, t.address, t.status, t.attempts, t.error) for t in d.targets],
        )
        for d in deliveries
    ]


def format_history(lines: list[DeliveryLine]) -> str:
    if not lines:
        return "No deliveries yet."
    out = []
    for line in lines:
        out.append(
            f"#{line.id}  {line.scheduled_for:%Y-%m-%d %H:%M} UTC  {line.status:<9} {line.trigger:<8} "
            f"subscription {line.subscription_id} ({line.title})"
        )
        for target in line.targets:
            error = f" - {target.error}" if target.error else ""
            out.append(f"    {target.kind:<5} {target.address:<32} {target.status:<7} x{target.attempts}{error}")
        if line.error and not line.targets:
            out.append(f"    {line.error}")
    return "\n".join(out)

"""The life of a subscription: create, reschedule, pause, resume, unsubscribe, ask for a delivery now.

Every door (Slack, the command line, unsubscribe links, the scheduler, the demo) changes subscriptions only
through these functions, so the rules live once: the schedule stored on a row and its next delivery time never
disagree, a pause always carries its reason, a resume never delivers what was missed while paused, and two
"Send now" requests at once make one delivery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Delivery, PostHogConnection, Subscription, utcnow
from core.schedules import Schedule

SCHEDULE_FIELDS = (
    "frequency", "interval", "byweekday", "bysetpos", "bymonthday", "hour", "minute", "timezone",
    "start_date", "until_date", "count",
)


def schedule_of(subscription: Subscription) -> Schedule:
    return Schedule.from_fields({name: getattr(subscription, name) for name in SCHEDULE_FIELDS})


def apply_schedule(subscription: Subscription, schedule: Schedule, *, now: datetime | None = None) -> None:
    """Store `schedule` on the row and compute the next delivery strictly after `now`."""
    schedule.validate()
    fields = schedule.to_fields()
    for name in SCHEDULE_FIELDS:
        setattr(subscription, name, fields[name])
    subscription.next_delivery_at = schedule.next_after(now or utcnow())


async def create_subscription(
    session: AsyncSession,
    *,
    connection: PostHogConnection,
    content_type: str,
    content_ref: str,
    schedule: Schedule,
    title: str = "",
    target_type: str,
    slack_channel_id: str | None = None,
    slack_channel_name: str | None = None,
    email_recipients: list[str] | None = None,
    created_by_slack_user: str | None = None,
    created_by_email: str | None = None,
    workspace_id: int | None = None,
    now: datetime | None = None,
) -> Subscription:
    if content_type not in ("insight", "dashboard"):
        raise ValueError(f"content_type must be insight or dashboard, not {content_type!r}")
    if target_type not in ("slack", "email"):
        raise ValueError(f"target_type must be slack or email, not {target_type!r}")
    subscription = Subscription(
        workspace_id=workspace_id,
        connection_id=connection.id,
        content_type=content_type,
        content_ref=str(content_ref),
        title=title,
        target_type=target_type,
        slack_channel_id=slack_channel_id,
        slack_channel_name=slack_channel_name,
        email_recipients=list(email_recipients or []),
        created_by_slack_user=created_by_slack_user or None,
        created_by_email=created_by_email or None,
    )
    apply_schedule(subscription, schedule, now=now)
    session.add(subscription)
    await session.flush()
    return subscription


async def find_or_create_email_subscription(
    session: AsyncSession,
    *,
    connection: PostHogConnection,
    content_type: str,
    content_ref: str,
    schedule: Schedule,
    email_recipients: list[str],
    title: str = "",
    created_by_email: str | None = None,
) -> tuple[Subscription, bool]:
    """The live email subscription of `connection` to this content, or a new one. Returns (it, created)."""
    found = await session.scalar(
        select(Subscription).where(
            Subscription.connection_id == connection.id,
            Subscription.content_type == content_type,
            Subscription.content_ref == str(content_ref),
            Subscription.target_type == "email",
            Subscription.deleted_at.is_(None),
        ).order_by(Subscription.id)
    )
    if found is not None:
        return found, False
    created = await create_subscription(
        session, connection=connection, content_type=content_type, content_ref=content_ref, schedule=schedule,
        title=title, target_type="email", email_recipients=email_recipients, created_by_email=created_by_email,
    )
    return created, True


def edit(
    subscription: Subscription,
    *,
    content_ref: str | None = None,
    title: str | None = None,
    slack_channel_id: str | None = None,
    schedule: Schedule | None = None,
    now: datetime | None = None,
) -> None:
    """Change what, where or when; what is not given stays. A new schedule counts from now."""
    if schedule is not None:
        apply_schedule(subscription, schedule, now=now)  # validates first: a bad schedule changes nothing
    if content_ref is not None:
        subscription.content_ref = str(content_ref)
    if title:
        subscription.title = title[:400]
    if slack_channel_id is not None and slack_channel_id != subscription.slack_channel_id:
        subscription.slack_channel_id = slack_channel_id
        subscription.slack_channel_name = None  # learnt again from Slack


# --- pausing, resuming, unsubscribing ----------------------------------------------------------------------


def pause(subscription: Subscription, reason: str) -> bool:
    """Stop delivering until someone resumes it, saying why. False when it was already paused (its first reason
    stays, and its creator is not told twice)."""
    if not subscription.enabled:
        return False
    subscription.enabled = False
    subscription.paused_reason = reason
    return True


def resume(subscription: Subscription, *, now: datetime | None = None) -> None:
    """Deliver again from the next occurrence after now: a subscription paused for a month does not deliver its
    missed occurrences at once. Raises ScheduleError when its stored schedule no longer validates."""
    apply_schedule(subscription, schedule_of(subscription), now=now)
    subscription.enabled = True
    subscription.paused_reason = None
    subscription.consecutive_failures = 0


def unsubscribe(subscription: Subscription) -> None:
    """Delete it for its users (the row and its history stay for the record)."""
    subscription.enabled = False
    subscription.deleted_at = utcnow()
    subscription.next_delivery_at = None


# --- delivering now ----------------------------------------------------------------------------------------


async def pending_manual_delivery(session: AsyncSession, subscription: Subscription) -> Delivery | None:
    return await session.scalar(
        select(Delivery).where(
            Delivery.subscription_id == subscription.id,
            Delivery.trigger == "manual",
            Delivery.status.in_(("pending", "running")),
        )
    )


async def _lock(session: AsyncSession, subscription: Subscription) -> None:
    """Hold the subscription's row until the transaction ends, so that two "Send now" requests at once cannot
    both find no pending delivery and both add one: the second waits here, then sees the first's delivery."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(Subscription.id).where(Subscription.id == subscription.id).with_for_update())
        return
    # SQLite has no row locks (FOR UPDATE is ignored) and runs reads outside the write transaction; a write
    # that changes nothing starts that transaction, which holds the database's only write lock.
    table = Subscription.__table__
    await session.execute(update(table).where(table.c.id == subscription.id).values(updated_at=table.c.updated_at))


async def request_delivery_now(
    session: AsyncSession, subscription: Subscription, *, now: datetime | None = None
) -> tuple[Delivery, bool]:
    """Record a delivery due now for the scheduler to claim, unless one asked for by hand is already on its
    way. Returns (the delivery, whether this call created it). A paused subscription is delivered once and
    stays paused for its schedule."""
    await _lock(session, subscription)
    existing = await pending_manual_delivery(session, subscription)
    if existing is not None:
        return existing, False
    delivery = Delivery(
        subscription_id=subscription.id, scheduled_for=now or utcnow(), trigger="manual", status="pending"
    )
    session.add(delivery)
    await session.flush()
    return delivery, True


async def demo_connection(session: AsyncSession, workspace_id: int | None = None) -> PostHogConnection:
    """The connection to the bundled demo project, created on first use."""
    found = await session.scalar(
        select(PostHogConnection).where(
            PostHogConnection.host == "demo",
            PostHogConnection.workspace_id.is_(None) if workspace_id is None
            else PostHogConnection.workspace_id == workspace_id,
        )
    )
    if found:
        return found
    connection = PostHogConnection(
        workspace_id=workspace_id, name="Demo project", host="demo", project_id=1, api_key=None
    )
    session.add(connection)
    await session.flush()
    return connection

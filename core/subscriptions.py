"""Creating subscriptions and keeping `next_delivery_at` in step with their schedule.

Every writer of subscriptions (Slack commands, the API, the demo) goes through these functions, so the
schedule stored on a row and its next delivery time can never disagree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import PostHogConnection, Subscription, utcnow
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
    created_by: str = "",
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
        created_by=created_by,
    )
    apply_schedule(subscription, schedule, now=now)
    session.add(subscription)
    await session.flush()
    return subscription


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

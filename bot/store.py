"""Workspace-scoped reads and writes. Every query here takes the requesting workspace and filters by it.

This is what keeps workspaces apart: a subscription id of another workspace is looked up exactly like an
unknown id, and comes back as None.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Delivery, DeliveryTarget, ExportedAsset, PostHogConnection, SlackWorkspace, Subscription
from core.subscriptions import Viewer, can_see, find_subscription, may_see
from posthog_api import connections_of, find_connection


async def get_subscription(
    session: AsyncSession, workspace: SlackWorkspace, subscription_id: int | str | None, viewer: Viewer | None = None
):
    """The workspace's subscription, or None: also when `viewer` may not see it (as if it did not exist)."""
    found = await find_subscription(session, workspace.id, subscription_id)
    return found if found is None or viewer is None or can_see(found, viewer) else None


async def list_subscriptions(
    session: AsyncSession, workspace: SlackWorkspace, viewer: Viewer, *, channel_id: str | None = None
) -> list[Subscription]:
    """What `viewer` may see: every subscription of the workspace, or a channel's and the email ones (which
    belong to no channel)."""
    query = select(Subscription).where(
        Subscription.workspace_id == workspace.id,
        Subscription.deleted_at.is_(None),
    )
    if channel_id is not None:
        query = query.where(or_(Subscription.slack_channel_id == channel_id, Subscription.target_type == "email"))
    # Only what the member may see is read (a workspace's hundreds of email subscriptions are not loaded for
    # every `list`); can_see decides each row.
    query = query.where(may_see(viewer))
    rows = (await session.scalars(query.order_by(Subscription.id))).all()
    return [s for s in rows if can_see(s, viewer)]


async def list_connections(session: AsyncSession, workspace: SlackWorkspace) -> list[PostHogConnection]:
    return await connections_of(session, workspace.id)


async def get_connection(session: AsyncSession, workspace: SlackWorkspace, connection_id: int):
    return await find_connection(session, workspace.id, connection_id)


@dataclass
class LastDelivery:
    delivery: Delivery
    targets: list[DeliveryTarget]

    @property
    def error(self) -> str | None:
        return self.delivery.error or next((t.error for t in self.targets if t.error), None)


async def last_deliveries(session: AsyncSession, subscription_ids: list[int]) -> dict[int, LastDelivery]:
    """The most recent delivery of each subscription, with its per-target outcomes."""
    if not subscription_ids:
        return {}
    rows = (
        await session.scalars(
            select(Delivery)
            .where(Delivery.subscription_id.in_(subscription_ids))
            .order_by(Delivery.subscription_id, Delivery.scheduled_for.desc(), Delivery.id.desc())
        )
    ).all()
    latest: dict[int, Delivery] = {}
    for row in rows:
        latest.setdefault(row.subscription_id, row)
    by_delivery: dict[int, list[DeliveryTarget]] = {}
    if latest:
        targets = (
            await session.scalars(
                select(DeliveryTarget).where(DeliveryTarget.delivery_id.in_([d.id for d in latest.values()]))
            )
        ).all()
        for target in targets:
            by_delivery.setdefault(target.delivery_id, []).append(target)
    return {sid: LastDelivery(d, by_delivery.get(d.id, [])) for sid, d in latest.items()}


async def recent_exports(session: AsyncSession, workspace: SlackWorkspace, user_id: str, limit: int = 10
                         ) -> list[ExportedAsset]:
    """A person's own recent exports in this workspace, newest first."""
    return list((await session.scalars(
        select(ExportedAsset)
        .where(ExportedAsset.workspace_id == workspace.id, ExportedAsset.requested_by_slack_user == user_id)
        .order_by(ExportedAsset.id.desc()).limit(limit)
    )).all())

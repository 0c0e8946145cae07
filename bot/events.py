"""Slack telling us the app lost access: `app_uninstalled` and `tokens_revoked`."""

from __future__ import annotations

import logging

from sqlalchemy import select

from core.models import SlackInstallation, Subscription, utcnow
from core.subscriptions import pause

from .installation_store import find_workspace
from .services import BotServices

log = logging.getLogger(__name__)

UNINSTALLED_REASON = "The PostHog app was removed from this Slack workspace. Reinstall it, then resume."


async def disable_workspace(services: BotServices, team_id: str | None, enterprise_id: str | None = None) -> int:
    """Pause every subscription of the workspace, delete its tokens and mark it uninstalled."""
    await services.installation_store.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
    async with services.database.transaction() as session:
        workspace = await find_workspace(session, team_id or enterprise_id, active_only=False)
        if workspace is None:
            return 0
        workspace.active = False
        workspace.uninstalled_at = utcnow()
        subscriptions = (
            await session.scalars(
                select(Subscription).where(
                    Subscription.workspace_id == workspace.id, Subscription.enabled.is_(True)
                )
            )
        ).all()
        for subscription in subscriptions:
            pause(subscription, UNINSTALLED_REASON)
    log.info("workspace %s uninstalled: %d subscriptions paused", team_id, len(subscriptions))
    return len(subscriptions)


async def handle_app_uninstalled(body: dict, services: BotServices) -> None:
    await disable_workspace(services, body.get("team_id"), body.get("enterprise_id"))


async def handle_tokens_revoked(body: dict, event: dict, services: BotServices) -> None:
    tokens = event.get("tokens") or {}
    team_id, enterprise_id = body.get("team_id"), body.get("enterprise_id")
    if tokens.get("bot"):
        # Without its bot token the app can deliver nothing in this workspace.
        await disable_workspace(services, team_id, enterprise_id)
        return
    user_ids = list(tokens.get("oauth") or [])
    if not user_ids:
        return
    # Only user tokens went: keep the rows (they carry the bot token) and forget the user tokens.
    async with services.database.transaction() as session:
        workspace = await find_workspace(session, team_id or enterprise_id, active_only=False)
        if workspace is None:
            return
        rows = (
            await session.scalars(
                select(SlackInstallation).where(
                    SlackInstallation.workspace_id == workspace.id, SlackInstallation.user_id.in_(user_ids)
                )
            )
        ).all()
        for row in rows:
            row.user_token = row.user_refresh_token = None
            row.user_token_expires_at = None

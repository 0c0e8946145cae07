"""What happens to a workspace's data after it removes the app.

Its tokens go at once (bot/events.py). Its subscriptions, connections, API keys, delivery history, exported files
and audit trail are kept for UNINSTALL_RETENTION_DAYS, so that a reinstall finds everything as it was, then
deleted by the hourly housekeeping; `app.py workspaces purge T…` deletes one at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from core.db import Database
from core.models import AuditEvent, ExportedAsset, PostHogConnection, SlackWorkspace, Subscription
from core.settings import Settings, get_settings
from exports import Storage, make_storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    team_id: str
    subscriptions: int
    connections: int
    exported_files: int


async def purge_workspace(database: Database, storage: Storage, team_id: str) -> Purged | None:
    """Delete everything the workspace owns (None when no such workspace). Its exported files go first: a file
    that cannot be deleted stops the purge, which the next run repeats, instead of being left with no row."""
    async with database.session() as session:
        workspace = await session.scalar(select(SlackWorkspace).where(SlackWorkspace.team_id == team_id))
        if workspace is None:
            return None
        keys = (await session.scalars(select(ExportedAsset.storage_key).where(
            ExportedAsset.workspace_id == workspace.id, ExportedAsset.storage_key.is_not(None)))).all()
    for key in keys:
        await storage.delete(key)
    async with database.transaction() as session:
        subscriptions = await session.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.workspace_id == workspace.id))
        connections = await session.scalar(
            select(func.count()).select_from(PostHogConnection).where(PostHogConnection.workspace_id == workspace.id))
        await session.execute(delete(AuditEvent).where(AuditEvent.workspace_id == workspace.id))
        # Connections, subscriptions, deliveries, exports, API keys and installations go with the row
        # (ON DELETE CASCADE).
        await session.execute(delete(SlackWorkspace).where(SlackWorkspace.id == workspace.id))
    log.info("workspace %s purged: %d subscriptions, %d connections, %d exported files", team_id, subscriptions,
             connections, len(keys))
    return Purged(team_id, subscriptions or 0, connections or 0, len(keys))


async def purge_uninstalled(database: Database, storage: Storage, now: datetime, retention: timedelta
                            ) -> list[Purged]:
    """Purge every workspace uninstalled more than `retention` ago and not installed again since."""
    async with database.session() as session:
        teams = (await session.scalars(select(SlackWorkspace.team_id).where(
            SlackWorkspace.active.is_(False), SlackWorkspace.uninstalled_at < now - retention))).all()
    purged = []
    for team_id in teams:
        try:
            done = await purge_workspace(database, storage, team_id)
        except Exception:  # noqa: BLE001 - one workspace's storage trouble must not keep the others
            log.exception("could not purge workspace %s; trying again at the next housekeeping", team_id)
            continue
        if done is not None:
            purged.append(done)
    return purged


# --- the command line ----------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("workspaces", help="Slack workspaces that installed the app; purge one's data")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every workspace, installed or not, with its subscriptions")
    purge = actions.add_parser(
        "purge", help="delete everything a workspace owns now: subscriptions, connections, API keys, history, "
        "exported files and audit trail")
    purge.add_argument("team_id", nargs="+", metavar="TEAM_ID", help="e.g. T0123ABCD")
    parser.set_defaults(func=lambda args: asyncio.run(run(args)))


async def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    database = Database(settings.database_url)
    try:
        if args.action == "list":
            return await _list(database)
        status = 0
        for team_id in args.team_id:
            purged = await purge_workspace(database, make_storage(settings), team_id)
            if purged is None:
                print(f"error: no workspace {team_id}")
                status = 2
                continue
            print(f"Purged {team_id}: {purged.subscriptions} subscriptions, {purged.connections} connections, "
                  f"{purged.exported_files} exported files, its API keys, history and audit trail.")
        return status
    finally:
        await database.dispose()


async def _list(database: Database) -> int:
    async with database.session() as session:
        rows = (await session.execute(
            select(SlackWorkspace.team_id, SlackWorkspace.name, SlackWorkspace.active, SlackWorkspace.uninstalled_at,
                   func.count(Subscription.id))
            .outerjoin(Subscription, Subscription.workspace_id == SlackWorkspace.id)
            .group_by(SlackWorkspace.id).order_by(SlackWorkspace.team_id)
        )).all()
    for team_id, name, active, uninstalled_at, subscriptions in rows:
        state = "installed" if active else f"uninstalled {uninstalled_at:%Y-%m-%d}" if uninstalled_at else "inactive"
        print(f"{team_id}  {name or '-'}  {state}  {subscriptions} subscriptions")
    if not rows:
        print("No workspace has installed the app.")
    return 0


def retention_of(settings: Settings) -> timedelta:
    return timedelta(days=settings.uninstall_retention_days)

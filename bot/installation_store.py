"""Bolt's installation and OAuth state stores, kept in our database.

One `SlackWorkspace` per team; one `SlackInstallation` row per (workspace, installing user), updated in place
when the same user reinstalls or a rotating token is refreshed. Tokens go through `EncryptedString` columns,
so they are encrypted at rest without anything here having to remember it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.models import SlackInstallation, SlackOAuthState, SlackWorkspace, utcnow

log = logging.getLogger(__name__)


def _workspace_key(enterprise_id: str | None, team_id: str | None) -> str | None:
    # An org-wide (Enterprise Grid) install has no team; the enterprise id stands in for it.
    return team_id or enterprise_id


def _from_epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def _to_epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


async def find_workspace(session: AsyncSession, team_id: str | None, *, active_only: bool = True):
    if not team_id:
        return None
    query = select(SlackWorkspace).where(SlackWorkspace.team_id == team_id)
    if active_only:
        query = query.where(SlackWorkspace.active.is_(True))
    return await session.scalar(query)


class DatabaseInstallationStore(AsyncInstallationStore):
    def __init__(self, database: Database, *, client_id: str = "") -> None:
        self.database = database
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    # -- writing ------------------------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        key = _workspace_key(installation.enterprise_id, installation.team_id)
        if key is None:
            raise ValueError("an installation without team or enterprise id")
        async with self.database.transaction() as session:
            workspace = await find_workspace(session, key, active_only=False)
            if workspace is None:
                workspace = SlackWorkspace(team_id=key)
                session.add(workspace)
            workspace.enterprise_id = installation.enterprise_id
            workspace.name = installation.team_name or installation.enterprise_name or workspace.name or ""
            workspace.active = True
            workspace.uninstalled_at = None
            await session.flush()

            row = await session.scalar(
                select(SlackInstallation).where(
                    SlackInstallation.workspace_id == workspace.id,
                    SlackInstallation.user_id == installation.user_id,
                )
            )
            if row is None:
                row = SlackInstallation(workspace_id=workspace.id, user_id=installation.user_id, team_id=key)
                session.add(row)
            row.app_id = installation.app_id
            row.enterprise_id = installation.enterprise_id
            row.team_id = key
            row.bot_id = installation.bot_id
            row.bot_user_id = installation.bot_user_id
            row.bot_token = installation.bot_token
            row.bot_refresh_token = installation.bot_refresh_token
            row.bot_token_expires_at = _from_epoch(installation.bot_token_expires_at)
            row.bot_scopes = ",".join(installation.bot_scopes or [])
            row.user_token = installation.user_token
            row.user_refresh_token = installation.user_refresh_token
            row.user_token_expires_at = _from_epoch(installation.user_token_expires_at)
            row.user_scopes = ",".join(installation.user_scopes or [])
            row.is_enterprise_install = bool(installation.is_enterprise_install)
            row.token_type = installation.token_type
            row.installed_at = utcnow()

    async def async_save_bot(self, bot: Bot) -> None:
        """A refreshed bot token (token rotation): update every installation row of the workspace."""
        key = _workspace_key(bot.enterprise_id, bot.team_id)
        async with self.database.transaction() as session:
            workspace = await find_workspace(session, key)
            if workspace is None:
                return
            rows = (
                await session.scalars(select(SlackInstallation).where(SlackInstallation.workspace_id == workspace.id))
            ).all()
            for row in rows:
                if row.bot_token is None:
                    continue
                row.bot_token = bot.bot_token
                row.bot_refresh_token = bot.bot_refresh_token
                row.bot_token_expires_at = _from_epoch(bot.bot_token_expires_at)

    # -- reading ------------------------------------------------------------------------------------------

    async def _latest(self, key: str | None, *conditions) -> tuple[SlackWorkspace, SlackInstallation] | None:
        """The workspace and its newest installation meeting `conditions`, or None."""
        if not key:
            return None
        # One query: Bolt looks an installation up (twice: the workspace's, then the person's) before every
        # request's listener runs, so before every acknowledgement.
        async with self.database.session() as session:
            found = (await session.execute(
                select(SlackWorkspace, SlackInstallation)
                .join(SlackInstallation, SlackInstallation.workspace_id == SlackWorkspace.id)
                .where(SlackWorkspace.team_id == key, SlackWorkspace.active.is_(True), *conditions)
                .order_by(SlackInstallation.installed_at.desc(), SlackInstallation.id.desc())
                .limit(1)
            )).first()
        return None if found is None else (found[0], found[1])

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        conditions = [] if user_id is None else [SlackInstallation.user_id == user_id]
        found = await self._latest(_workspace_key(enterprise_id, team_id), *conditions)
        if found is None:
            return None
        workspace, row = found
        return Installation(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            team_id=team_id if team_id else row.team_id,
            team_name=workspace.name,
            bot_token=row.bot_token,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            bot_refresh_token=row.bot_refresh_token,
            bot_token_expires_at=_to_epoch(row.bot_token_expires_at),
            user_id=row.user_id,
            user_token=row.user_token,
            user_scopes=row.user_scopes,
            user_refresh_token=row.user_refresh_token,
            user_token_expires_at=_to_epoch(row.user_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            token_type=row.token_type,
            installed_at=row.installed_at.timestamp(),
        )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = await self._latest(_workspace_key(enterprise_id, team_id), SlackInstallation.bot_token.is_not(None))
        if found is None or found[1].bot_token is None:
            return None
        workspace, row = found
        return Bot(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            team_id=row.team_id,
            team_name=workspace.name,
            bot_token=row.bot_token,
            bot_id=row.bot_id or "",
            bot_user_id=row.bot_user_id or "",
            bot_scopes=row.bot_scopes,
            bot_refresh_token=row.bot_refresh_token,
            bot_token_expires_at=_to_epoch(row.bot_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            installed_at=row.installed_at.timestamp(),
        )

    # -- deleting -----------------------------------------------------------------------------------------

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        key = _workspace_key(enterprise_id, team_id)
        async with self.database.transaction() as session:
            workspace = await find_workspace(session, key, active_only=False)
            if workspace is None:
                return
            rows = (
                await session.scalars(select(SlackInstallation).where(SlackInstallation.workspace_id == workspace.id))
            ).all()
            for row in rows:
                row.bot_token = row.bot_refresh_token = None
                row.bot_token_expires_at = None

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        key = _workspace_key(enterprise_id, team_id)
        async with self.database.transaction() as session:
            workspace = await find_workspace(session, key, active_only=False)
            if workspace is None:
                return
            query = delete(SlackInstallation).where(SlackInstallation.workspace_id == workspace.id)
            if user_id is not None:
                query = query.where(SlackInstallation.user_id == user_id)
            await session.execute(query)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class DatabaseOAuthStateStore(AsyncOAuthStateStore):
    """One-time `state` values for the install flow; consumed once, expired after `expiration_seconds`."""

    def __init__(self, database: Database, *, expiration_seconds: int = 600) -> None:
        self.database = database
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(32)
        async with self.database.transaction() as session:
            # Housekeeping on the way: states nobody came back with.
            await session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at < utcnow()))
            session.add(
                SlackOAuthState(state=state, expires_at=utcnow() + timedelta(seconds=self.expiration_seconds))
            )
        return state

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > 64:
            return False
        async with self.database.transaction() as session:
            row = await session.scalar(select(SlackOAuthState).where(SlackOAuthState.state == state))
            if row is None:
                return False
            await session.delete(row)
            return row.expires_at > utcnow()

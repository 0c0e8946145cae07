"""Rotating bot tokens (Slack's token rotation: tokens that expire after 12 hours, renewed with a refresh token).

A token is renewed just before it is used (`fresh_bot_token`) and, so that a quiet workspace's token never lapses
unnoticed, by the scheduler's periodic job (`rotate_expiring_tokens`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from datetime import timedelta

from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from sqlalchemy import select

from core.db import Database
from core.models import SlackInstallation, SlackWorkspace, utcnow
from core.settings import Settings

from .installation_store import DatabaseInstallationStore
from .slack_client import slack_error_code, web_client

log = logging.getLogger(__name__)


class TokenRotationFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# One rotation at a time per workspace in this process. Slack revokes a refresh token once it is used, so two
# concurrent rotations (sends and the periodic job) would spend it twice: the second fails, and a late save
# could overwrite the newer refresh token. Locks are per event loop (an asyncio.Lock belongs to one loop).
# Limitation: processes sharing a database are not serialised against each other; a process that loses such
# a race gets invalid_refresh_token, which is transient, and its next attempt reads the winner's token.
_rotation_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _rotation_lock(key: str) -> asyncio.Lock:
    locks = _rotation_locks.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(key, asyncio.Lock())


async def fresh_bot_token(
    store: DatabaseInstallationStore, settings: Settings, *, enterprise_id: str | None, team_id: str,
    minutes_before_expiration: int,
) -> Bot | None:
    """The workspace's bot installation, its token renewed first when it expires within the given minutes."""
    bot = await store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
    if bot is None or not bot.bot_token or not bot.bot_refresh_token:
        return bot
    if not (settings.slack_client_id and settings.slack_client_secret):
        return bot
    expires_at = bot.bot_token_expires_at
    if expires_at is None or expires_at > time.time() + minutes_before_expiration * 60:
        return bot  # not due (the rotator would do nothing): no need to queue behind a rotation in progress
    async with _rotation_lock(team_id or enterprise_id or ""):
        # Read again under the lock: a task that held it may have rotated the token while this one waited.
        bot = await store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None or not bot.bot_token or not bot.bot_refresh_token:
            return bot
        rotator = AsyncTokenRotator(
            client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
            client=web_client(settings),
        )
        try:
            refreshed = await rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=minutes_before_expiration
            )
        except SlackTokenRotationError as exc:
            error = slack_error_code(exc.api_error) if exc.api_error else ""
            raise TokenRotationFailed(error or "token_rotation_failed") from None
        if refreshed is None:
            return bot
        await store.async_save_bot(refreshed)
        return refreshed


async def rotate_expiring_tokens(database: Database, settings: Settings, *, within: timedelta) -> int:
    """Renew every active workspace's bot token that expires within `within`; returns how many were renewed."""
    async with database.session() as session:
        rows = (
            await session.execute(
                select(SlackWorkspace.enterprise_id, SlackWorkspace.team_id)
                .join(SlackInstallation, SlackInstallation.workspace_id == SlackWorkspace.id)
                .where(
                    SlackWorkspace.active.is_(True),
                    SlackInstallation.bot_refresh_token.is_not(None),
                    SlackInstallation.bot_token_expires_at < utcnow() + within,
                )
                .distinct()
            )
        ).all()
    store = DatabaseInstallationStore(database, client_id=settings.slack_client_id)
    renewed = 0
    for enterprise_id, team_id in rows:
        try:
            before = await store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
            after = await fresh_bot_token(
                store, settings, enterprise_id=enterprise_id, team_id=team_id,
                minutes_before_expiration=int(within.total_seconds() // 60),
            )
        except TokenRotationFailed as failure:
            log.warning("could not renew the bot token of workspace %s: %s", team_id, failure.code)
            continue
        except Exception:  # noqa: BLE001 - one workspace's problem must not stop the others
            log.exception("could not renew the bot token of workspace %s", team_id)
            continue
        if before is not None and after is not None and after.bot_token != before.bot_token:
            renewed += 1
    return renewed

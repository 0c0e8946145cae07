"""Telling the person who asked for an export that it is done: in Slack, the file itself in a direct message
when it is small enough (EXPORT_SLACK_MAX_BYTES), else an expiring link; or what went wrong."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import aiohttp

from core.db import Database
from core.models import ExportedAsset, utcnow
from core.settings import Settings

from .storage import Storage

log = logging.getLogger(__name__)


MAX_LINK_LIFETIME = timedelta(days=7)  # S3's longest presigned link


async def download_link(storage: Storage, asset: ExportedAsset, *, now: datetime | None = None
                        ) -> tuple[str, datetime]:
    """An expiring link to a ready export's file, and when it expires: with the file (at least a minute from now,
    an hour when the file has no expiry), and never later than a week from now."""
    now = now or utcnow()
    seconds = int(max((asset.expires_at - now).total_seconds(), 60)) if asset.expires_at else 3600
    seconds = min(seconds, int(MAX_LINK_LIFETIME.total_seconds()))
    url = await storage.download_url(asset.storage_key, filename=asset.filename, expires_in=seconds)
    return url, now + timedelta(seconds=seconds)


SendToUser = Callable[..., Awaitable[bool]]  # (workspace_id, user_id, text, *, file=(name, bytes)) -> sent


class ExportAnnouncer:
    def __init__(self, settings: Settings, database: Database, send_to_user: SendToUser, storage: Storage) -> None:
        self.settings = settings
        self.database = database
        self.send_to_user = send_to_user  # bot.SlackSender.send_to_user: exports/ does not import bot/
        self.storage = storage

    async def __call__(self, asset: ExportedAsset) -> None:
        if not asset.requested_by_slack_user or asset.workspace_id is None or asset.notified_at is not None:
            return
        what = f"{asset.content_type} {asset.content_ref}".strip()
        if asset.status != "ready":
            text = f":x: Your export #{asset.id} ({what} as {asset.format.upper()}) failed: {asset.error}"
            sent = await self.send_to_user(asset.workspace_id, asset.requested_by_slack_user, text)
        else:
            rows = f"{asset.row_count:,} rows, " if asset.row_count else ""
            capped = " It stopped at EXPORT_MAX_ROWS; the source has more." if asset.truncated else ""
            text = (f":white_check_mark: Your export #{asset.id} ({what} as {asset.format.upper()}) is ready: "
                    f"{rows}{asset.size_bytes:,} bytes.{capped}")
            data = None
            if (asset.size_bytes or 0) <= self.settings.export_slack_max_bytes:
                data = await self._read(asset)
            if data is not None:
                sent = await self.send_to_user(asset.workspace_id, asset.requested_by_slack_user, text,
                                                     file=(asset.filename, data))
            else:
                link, _expires = await download_link(self.storage, asset)
                sent = await self.send_to_user(
                    asset.workspace_id, asset.requested_by_slack_user,
                    f"{text} Download it here (the link expires with the file): {link}",
                )
        if sent:
            async with self.database.transaction() as session:
                row = await session.get(ExportedAsset, asset.id)
                if row is not None:
                    row.notified_at = utcnow()

    async def _read(self, asset: ExportedAsset) -> bytes | None:
        local = self.storage.local_path(asset.storage_key)
        if local is not None:
            return local.read_bytes() if local.exists() else None
        url = await self.storage.download_url(asset.storage_key, filename=asset.filename, expires_in=300)
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                response.raise_for_status()
                return await response.read()
        except aiohttp.ClientError as exc:
            log.warning("could not read export %s back from storage: %s", asset.id, exc)
            return None

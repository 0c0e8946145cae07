"""Housekeeping: exported files are deleted when they expire (EXPORT_TTL_HOURS after they are made).

The file goes first, then the row: a row whose file could not be deleted stays, so the next run tries again,
instead of leaving a file nobody knows about. Several processes may run this at once; deleting twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select

from core.db import Database
from core.models import ExportedAsset

from .storage import Storage, StorageKeyError

log = logging.getLogger(__name__)

BATCH = 200


async def delete_expired(database: Database, storage: Storage, now: datetime) -> int:
    """Delete the file and the row of every export whose `expires_at` is before `now`; the number of rows
    deleted. A file already gone is fine; a storage error leaves that export for the next run."""
    deleted = 0
    after = 0
    while True:
        async with database.session() as session:
            batch = (await session.execute(
                select(ExportedAsset.id, ExportedAsset.storage_key)
                .where(ExportedAsset.expires_at < now, ExportedAsset.id > after)
                .order_by(ExportedAsset.id)
                .limit(BATCH)
            )).all()
        if not batch:
            return deleted
        after = batch[-1].id
        removable = []
        for asset_id, key in batch:
            if key:
                try:
                    await storage.delete(key)
                except StorageKeyError:
                    pass  # a key we would refuse to store was never stored: only the row is left
                except Exception as exc:  # noqa: BLE001 - one stuck file must not stop the others
                    log.warning("could not delete the file of expired export %s (%s); trying again next run: %s",
                                asset_id, key, exc)
                    continue
            removable.append(asset_id)
        if removable:
            async with database.transaction() as session:
                result = await session.execute(
                    delete(ExportedAsset).where(ExportedAsset.id.in_(removable), ExportedAsset.expires_at < now)
                )
            deleted += result.rowcount or 0

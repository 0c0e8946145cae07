"""`GET /exports/download/<token>`: an exported file, for whoever holds a signed, unexpired link to it.

The token says which file and until when (`exports.links`); the database says whether the export still exists
(housekeeping may have deleted it, or a newer run replaced its file). Local files are streamed from the export
folder; with S3 the route answers with a short presigned redirect. Bad links get a short page and a 4xx, never a
500, and nothing outside the export folder can be named: the file is found through the database row's key.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import PurePosixPath

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.db import Database
from core.models import ExportedAsset, utcnow
from core.settings import Settings

from .links import parse_download_token
from .storage import Storage, StorageKeyError, content_disposition
from .writers import CSV_TYPE, XLSX_TYPE, ZIP_TYPE

log = logging.getLogger(__name__)

DATABASE_KEY = web.AppKey("exports_download_database", Database)
STORAGE_KEY = web.AppKey("exports_download_storage", object)
SETTINGS_KEY = web.AppKey("exports_download_settings", object)
CLOCK_KEY = web.AppKey("exports_download_clock", object)  # () -> aware UTC datetime; tests move it

CONTENT_TYPES = {"csv": CSV_TYPE, "zip": ZIP_TYPE, "xlsx": XLSX_TYPE, "pdf": "application/pdf"}
REDIRECT_SECONDS = 300  # lifetime of the presigned S3 URL a valid link redirects to

# The token in the URL is a credential: keep it out of caches, search engines and Referer headers.
_PRIVATE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
            "X-Content-Type-Options": "nosniff"}


def _page(status: int, heading: str, detail: str) -> web.Response:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{html.escape(heading)}</title>"
        "<body style='font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em'>"
        f"<h1 style='font-size:1.4em'>{html.escape(heading)}</h1><p>{html.escape(detail)}</p></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html", headers=_PRIVATE)


def _invalid() -> web.Response:
    return _page(400, "This download link is not valid.",
                 "The link may have been cut off or changed when it was copied. Open it again from the message "
                 "it came in, or export the data again.")


def _expired(detail: str = "Exported files are kept for a limited time. Export the data again to get a new "
             "file.") -> web.Response:
    return _page(410, "This download link has expired.", detail)


def _unavailable() -> web.Response:
    return _page(503, "Please try again in a minute.", "We could not reach our database.")


def _content_type(filename: str, export_format: str | None) -> str:
    extension = PurePosixPath(filename).suffix.lstrip(".").lower()
    return CONTENT_TYPES.get(extension) or CONTENT_TYPES.get(export_format or "") or "application/octet-stream"


async def download(request: web.Request) -> web.StreamResponse:
    settings: Settings = request.app[SETTINGS_KEY]
    storage: Storage = request.app[STORAGE_KEY]
    token = parse_download_token(request.match_info["token"], settings)
    if token is None:
        return _invalid()
    now: datetime = request.app[CLOCK_KEY]()
    if token.expired(now):
        return _expired()

    query = select(ExportedAsset.id, ExportedAsset.format, ExportedAsset.expires_at).where(
        ExportedAsset.storage_key == token.storage_key, ExportedAsset.status == "ready"
    )
    if token.asset_id is not None:
        query = query.where(ExportedAsset.id == token.asset_id)
    try:
        async with request.app[DATABASE_KEY].session() as session:
            asset = (await session.execute(query.limit(1))).first()
    except SQLAlchemyError:
        log.exception("export download: database error")
        return _unavailable()
    if asset is None or (asset.expires_at is not None and asset.expires_at <= now):
        return _expired()

    stored_name = PurePosixPath(token.storage_key).name
    filename = token.filename or stored_name
    try:
        path = storage.local_path(token.storage_key)
    except StorageKeyError:  # a signed key we would never have stored: nothing to serve
        return _expired()
    if path is None:  # remote storage: the browser fetches it straight from there
        remaining = int((token.expires_at - now).total_seconds())
        try:
            url = await storage.download_url(token.storage_key, filename=filename,
                                             expires_in=max(1, min(remaining, REDIRECT_SECONDS)))
        except Exception:  # noqa: BLE001 - credentials or endpoint trouble: say so, never a 500
            log.exception("export download: could not presign %s", token.storage_key)
            return _page(503, "Please try again in a minute.", "We could not reach the file storage.")
        raise web.HTTPFound(url, headers=_PRIVATE)
    if not path.is_file():
        return _expired("The file was removed. Export the data again to get a new one.")
    headers = {
        **_PRIVATE,
        "Content-Type": _content_type(stored_name, asset.format),
        "Content-Disposition": content_disposition(filename),
    }
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application, database: Database, storage: Storage, settings: Settings, *,
               clock: Callable[[], datetime] = utcnow) -> None:
    """Mount the download route of exported files on the service's aiohttp application."""
    app[DATABASE_KEY] = database
    app[STORAGE_KEY] = storage
    app[SETTINGS_KEY] = settings
    app[CLOCK_KEY] = clock
    app.router.add_get("/exports/download/{token}", download)


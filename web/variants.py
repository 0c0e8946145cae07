"""The other forms of a page: `.png` (the service's renderer draws the exporter page, as deliveries do) and `.csv`
(the numbers, through the exports capability, as `export` and the API write them: one CSV for an insight, a zip of
one CSV per tile for a dashboard). `.json` is the normalized content (web/shares.py `normalized`).

Each is made once per content and options while the content is cached (callers keep them in the cache entry's
`derived`), so a busy link costs one render, not one per visitor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from core.settings import Settings
from exports import dashboard_tables, insight_table, write_csv
from posthog_api import Dashboard, Insight
from render import PageOptions, Renderer

from .options import ViewOptions
from .pages import DASHBOARD_WIDTH

log = logging.getLogger(__name__)

VARIANTS = ("json", "png", "csv")


class NothingToExport(ValueError):
    """A dashboard of text cards only: it has no numbers."""


class Images:
    """PNG images from the service's renderer (`renderer_factory`, an async context manager factory, as the Slack
    previews borrow it), or, when the process gave none, from a renderer of our own started on first use."""

    def __init__(self, settings: Settings, renderer_factory: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.factory = renderer_factory
        self._own: Renderer | None = None
        self._starting = asyncio.Lock()

    async def png(self, content: Insight | Dashboard, options: ViewOptions) -> bytes:
        page_options = PageOptions(theme=options.theme)
        async with self._renderer() as renderer:
            if isinstance(content, Dashboard):
                images = await renderer.render_dashboard(content, width=options.width or DASHBOARD_WIDTH,
                                                         tiles=False, options=page_options)
                assert images.full is not None
                return images.full
            return await renderer.render_insight(content, width=options.width, options=page_options)

    @contextlib.asynccontextmanager
    async def _renderer(self):
        if self.factory is not None:
            async with self.factory() as renderer:
                yield renderer
            return
        async with self._starting:
            if self._own is None:
                renderer = Renderer(self.settings, pool_size=1)
                await renderer.start()
                self._own = renderer
        yield self._own

    async def close(self, _app: web.Application | None = None) -> None:
        if self._own is not None:
            await self._own.close()
            self._own = None


async def once(derived: dict, key: Any, make: Callable[[], Awaitable[Any]]) -> Any:
    """`make()` once per key for everyone asking at the same time; a failure is not kept (the next asks again)."""
    task = derived.get(key)
    if task is None:
        task = derived[key] = asyncio.ensure_future(make())
    try:
        return await asyncio.shield(task)
    except Exception:
        if derived.get(key) is task:
            del derived[key]
        raise


async def csv_of(content: Insight | Dashboard, settings: Settings) -> tuple[bytes, str, str]:
    """The bytes, content type and file extension of the content's numbers."""
    tables = [insight_table(content)] if isinstance(content, Insight) else dashboard_tables(content)
    if not tables:
        raise NothingToExport("This dashboard has only text cards: there are no numbers to download.")
    with tempfile.TemporaryDirectory(prefix="share-csv-") as folder:
        path = Path(folder) / "export"
        written = await write_csv(tables, path, max_rows=settings.export_max_rows)
        return path.read_bytes(), written.content_type, written.extension


def file_name(title: str, extension: str) -> str:
    """A download's name from the content's title, in plain ASCII (it goes in a header)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")[:80] or "export"
    return f"{stem}.{extension}"


def download(body: bytes, content_type: str, name: str | None = None,
             headers: dict[str, str] | None = None) -> web.Response:
    sent = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", **(headers or {})}
    if name:
        sent["Content-Disposition"] = f'attachment; filename="{name}"'
    return web.Response(body=body, headers={**sent, "Content-Type": content_type})

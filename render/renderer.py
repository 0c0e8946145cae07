"""`Renderer`: insights and dashboards in, PNG bytes out, through the exporter routes and the browser pool."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from core.settings import Settings
from posthog_api.content import Dashboard, Insight, Tile

from .browser_pool import BrowserPool, Capture, PoolConfig, default_pool_size
from .errors import RenderError, RenderTimeout
from .pages import DEFAULT_OPTIONS, ExporterPage, PageOptions, dashboard_page, insight_page, tile_key
from .routes import PAGE_STORE, SHELL_PATH, add_routes, spec_url
from .store import PageStore
from .theme import DEFAULT_DASHBOARD_WIDTH, MAX_PAGE_WIDTH

log = logging.getLogger(__name__)

MIN_WIDTH = 320


@dataclass(slots=True)
class DashboardImages:
    full: bytes | None  # the whole dashboard on its grid (None when not asked for)
    tiles: list[tuple[Tile, bytes]]  # one image per tile, in layout order


class Renderer:
    """Renders through its own loopback web server, or through `app` when the service already runs one.

    Use as an async context manager. Given an `app`, call `add_routes(app)` before the app starts and pass
    the `base_url` where the browser reaches that app.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        app: web.Application | None = None,
        base_url: str | None = None,
        pool_size: int | None = None,
        timeout_seconds: float | None = None,
        recycle_after: int | None = None,
    ) -> None:
        self.settings = settings
        self._app = app
        self._base_url = base_url
        self._pool_size = default_pool_size(pool_size if pool_size is not None else self.settings.render_pool_size)
        self.timeout_seconds = timeout_seconds or self.settings.render_timeout_seconds
        self._recycle_after = recycle_after or self.settings.render_recycle_after
        self._runner: web.AppRunner | None = None
        self._store: PageStore | None = None
        self.pool: BrowserPool | None = None

    async def __aenter__(self) -> Renderer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        page_base = self.settings.render_page_base_url  # where browsers fetch our pages, when not loopback
        if self._app is None:
            app = web.Application()
            self._store = add_routes(app)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            # Loopback serves a browser on this machine; browsers elsewhere (Grid nodes) need RENDER_PAGE_BASE_URL,
            # and then the pages are served on HOST, at that URL's port or a free one.
            host, port = (self.settings.host, urlsplit(page_base).port or 0) if page_base else ("127.0.0.1", 0)
            site = web.TCPSite(self._runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                await self.close()
                raise RenderError(f"The renderer's page server cannot listen on {host}:{port}: {exc}") from exc
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._base_url = _with_port(page_base, port) if page_base else f"http://127.0.0.1:{port}"
        else:
            if PAGE_STORE not in self._app:
                raise RuntimeError("Call render.add_routes(app) before creating a Renderer on that app.")
            self._store = self._app[PAGE_STORE]
            # The operator may name the address browsers reach (at the port the service listens on, unless it
            # names one).
            listening = urlsplit(self._base_url).port if self._base_url else None
            self._base_url = _with_port(page_base, listening or self.settings.port) if page_base else (
                self._base_url or self.settings.public_url
            )
        config = PoolConfig(
            base_url=self._base_url or "",
            size=self._pool_size,
            chromium_path=self.settings.chromium_path,
            chromedriver_path=self.settings.chromedriver_path,
            grid_url=self.settings.selenium_grid_url,
            recycle_after=self._recycle_after,
        )
        self.pool = BrowserPool(config, SHELL_PATH)
        try:
            await self.pool.start()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def store(self) -> PageStore:
        """Pages waiting to be drawn, by token (also served as whole documents at `routes.page_url`)."""
        if self._store is None:
            raise RuntimeError("The renderer has not started.")
        return self._store

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("The renderer has not started.")
        return self._base_url

    async def render_insight(
        self,
        insight: Insight,
        *,
        width: int | None = None,
        scale: float | None = None,
        options: PageOptions = DEFAULT_OPTIONS,
    ) -> bytes:
        """`options`: the subscription's or share's theme and time zone."""
        page = insight_page(insight, self._width(width, self.settings.render_width), options)
        capture = await self.render_page(page, scale=scale)
        assert capture.full is not None
        return capture.full

    async def render_dashboard(
        self,
        dashboard: Dashboard,
        *,
        width: int | None = None,
        scale: float | None = None,
        full: bool = True,
        tiles: bool = True,
        options: PageOptions = DEFAULT_OPTIONS,
    ) -> DashboardImages:
        """The whole dashboard on its grid, and one image per tile drawn at the insight width.

        Tiles cut out of the grid would each have their own width (a 3-column number tile would be blown up
        and a 12-column chart shrunk when shown one after another), so tile images come from a second page
        where every tile is full width. Deliveries, which show tiles one after another, skip the grid
        (`full=False`); a page showing the dashboard as one picture skips the tiles (`tiles=False`).
        """
        grid_width = self._width(width, max(DEFAULT_DASHBOARD_WIDTH, self.settings.render_width))
        stacked_width = self._width(width, self.settings.render_width)
        ordered = sorted(dashboard.tiles, key=lambda t: (t.y, t.x))
        # Capturing dominates a dashboard's time, so its tiles are spread over the pool's browsers: each draws
        # and captures its share on a page of its own, side by side.
        shares = _spread(ordered, self._pool_size) if tiles else []
        pages = [
            self.render_page(
                dashboard_page(replace(dashboard, tiles=share), stacked_width, stacked=True, options=options),
                scale=scale,
                with_tiles=True,
                whole=False,
            )
            for share in shares
        ]
        if full:
            pages.append(self.render_page(dashboard_page(dashboard, grid_width, options=options), scale=scale))
        captures = await asyncio.gather(*pages)
        captured = {key: image for capture in captures[: len(shares)] for key, image in capture.tiles.items()}
        images = [(tile, captured[tile_key(tile)]) for tile in ordered if tile_key(tile) in captured]
        if tiles and len(images) != len(ordered):
            raise RenderError(f'Dashboard "{dashboard.name}": some tiles were not on the page.')
        return DashboardImages(full=captures[-1].full if full else None, tiles=images)

    async def print_pdf(
        self, content: Insight | Dashboard, *, width: int | None = None, options: PageOptions = DEFAULT_OPTIONS
    ) -> bytes:
        """An insight or a dashboard as a PDF: the exporter page printed, charts as vectors; a dashboard's tiles
        one under another at the insight width, so that each reads at one size across the pages."""
        if isinstance(content, Insight):
            page = insight_page(content, self._width(width, self.settings.render_width), options)
        else:
            insight_width = self._width(width, self.settings.render_width)
            page = dashboard_page(content, insight_width, stacked=True, options=options)
        capture = await self.render_page(page, scale=1.0, with_pdf=True, whole=False)
        assert capture.pdf is not None
        return capture.pdf

    async def render_page(
        self,
        page: ExporterPage,
        *,
        scale: float | None = None,
        with_tiles: bool = False,
        with_pdf: bool = False,
        whole: bool = True,
        timeout_seconds: float | None = None,
    ) -> Capture:
        """Render an exporter page; the lower-level step behind `render_insight` and `render_dashboard`.
        `whole=False` skips the image of the whole page (when only its tiles or its PDF are wanted)."""
        if self.pool is None or self._store is None:
            raise RuntimeError("The renderer has not started; use `async with Renderer(settings) as renderer`.")
        scale = self._scale(scale)
        timeout = timeout_seconds or self.timeout_seconds
        token = self._store.put(page)
        try:
            capture = await self.pool.render(
                self.base_url + spec_url(token),
                width=page.width,
                scale=scale,
                timeout=timeout,
                with_tiles=with_tiles,
                with_pdf=with_pdf,
                whole=whole,
            )
        except RenderTimeout as exc:
            names = ", ".join(f'{key} ("{page.tiles.get(key, key)}")' for key in exc.tiles) or "the page"
            raise RenderTimeout(
                f'"{page.title}" was not ready after {timeout:g}s; still drawing: {names}',
                tiles=exc.tiles,
            ) from None
        finally:
            self._store.discard(token)
        for key in capture.errors:
            log.warning('"%s": %s drew an error card instead of its chart', page.title, page.tiles.get(key, key))
        return capture

    def _width(self, width: int | None, default: int) -> int:
        width = width or default
        if not MIN_WIDTH <= width <= MAX_PAGE_WIDTH:
            raise RenderError(f"Width must be between {MIN_WIDTH} and {MAX_PAGE_WIDTH} pixels, not {width}.")
        return width

    def _scale(self, scale: float | None) -> float:
        scale = scale or self.settings.render_scale
        if not 0.5 <= scale <= 4:
            raise RenderError(f"Scale must be between 0.5 and 4, not {scale:g}.")
        return scale


def _spread(tiles: list[Tile], parts: int) -> list[list[Tile]]:
    """`tiles` in at most `parts` runs of consecutive tiles, of sizes differing by at most one."""
    parts = max(1, min(parts, len(tiles)))
    size, extra = divmod(len(tiles), parts)
    runs, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        runs.append(tiles[start:end])
        start = end
    return runs or [[]]


def _with_port(base_url: str, port: int) -> str:
    """`base_url` as given when it names a port, else with `port` (the one the page server got)."""
    parts = urlsplit(base_url)
    if parts.port is not None:
        return base_url
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))

"""Fetching a subscription's content from PostHog and rendering it to images, once per distinct content."""

from __future__ import annotations

from collections.abc import Callable

from core.models import PostHogConnection
from core.settings import Settings
from posthog_api import open_source
from posthog_api.content import Tile
from render import Renderer
from scheduler.pipeline import ContentKey, RenderedContent, RenderedImage


def source_for(connection: PostHogConnection, settings: Settings):
    """The PostHog client (or the demo project) of a stored connection."""
    return open_source(
        host=connection.host,
        project_id=connection.project_id,
        api_key=connection.api_key,
        timeout=settings.posthog_timeout_seconds,
        max_retries=settings.posthog_max_retries,
    )


def tile_title(tile: Tile) -> str:
    if tile.insight is not None:
        return tile.insight.name
    first_line = (tile.text or "").strip().splitlines()[:1]
    return first_line[0].lstrip("# ").strip()[:80] if first_line else "Text"


class ContentRenderer:
    """The pipeline's content loader: PostHog fetch, then one render per insight or dashboard."""

    def __init__(self, renderer: Renderer, settings: Settings, sources: Callable = source_for) -> None:
        self.renderer = renderer
        self.settings = settings
        self.sources = sources

    async def __call__(self, connection: PostHogConnection, key: ContentKey) -> RenderedContent:
        async with self.sources(connection, self.settings) as source:
            if key.content_type == "insight":
                insight = await source.get_insight(key.content_ref)
                png = await self.renderer.render_insight(insight, width=key.width)
                return RenderedContent(insight, [RenderedImage(insight.name, png, insight.url or None)])
            dashboard = await source.get_dashboard(int(key.content_ref))
        images = await self.renderer.render_dashboard(dashboard, width=key.width, full=False)
        return RenderedContent(
            dashboard,
            [
                RenderedImage(tile_title(tile), png, (tile.insight.url if tile.insight else dashboard.url) or None)
                for tile, png in images.tiles
            ],
        )

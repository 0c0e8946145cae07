"""The pipeline's content loader: fetch a subscription's content from PostHog, then draw it, once per run."""

from __future__ import annotations

from core.models import PostHogConnection
from core.settings import Settings
from exports import attachment
from posthog_api import ContentRef, fetch
from render import PageOptions, Renderer, produce
from scheduler.pipeline import Rendered


class ContentRenderer:
    def __init__(self, renderer: Renderer, settings: Settings) -> None:
        self.renderer = renderer
        self.settings = settings

    async def __call__(self, connection: PostHogConnection, ref: ContentRef) -> Rendered:
        content = await fetch(connection, ref.kind, ref.ref, self.settings, date_range=ref.date_range)
        # The subscription's theme, and "computed at" in its own zone.
        options = PageOptions(theme=ref.theme, time_zone=ref.time_zone)
        images = await produce("png", self.renderer, content, width=ref.width, options=options)
        files = [await attachment(content, ref.attach, self.settings, renderer=self.renderer)] if ref.attach else []
        return Rendered(content, images, files)

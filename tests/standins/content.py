"""A content loader for the pipeline without a browser: the real PostHog fetch (the demo project, or a stand-in
PostHog server), then one fixed PNG per image, as the renderer would give them (one per insight, one per
dashboard tile). Tests of what is sent, to whom and when use it; tests of how images look use Chromium."""

from __future__ import annotations

import io

from PIL import Image as PILImage

from core.delivery import Image
from core.models import PostHogConnection
from core.settings import Settings
from exports import attachment
from posthog_api import ContentRef, Insight, fetch
from scheduler.pipeline import Rendered


def _png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (8, 6), (29, 74, 255)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


class FixedImages:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loaded: list[ContentRef] = []

    async def __call__(self, connection: PostHogConnection, ref: ContentRef) -> Rendered:
        self.loaded.append(ref)
        content = await fetch(connection, ref.kind, ref.ref, self.settings, date_range=ref.date_range)
        files = [await attachment(content, ref.attach, self.settings)] if ref.attach in ("csv", "xlsx") else []
        if isinstance(content, Insight):
            return Rendered(content, [Image(content.name, PNG, content.url)], files)
        return Rendered(content, [Image(tile.title, PNG, content.url) for tile in content.tiles], files)

"""Output formats behind one registry: content in, files out.

The pipeline and the commands ask for a format by name instead of branching on it, so that new formats (CSV,
Excel, PDF for exports) register here beside PNG rather than adding branches to every caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.delivery import Image
from posthog_api.content import Dashboard, Insight

from .pages import DEFAULT_OPTIONS, PageOptions
from .renderer import Renderer

# (renderer, content, width, options: the subscription's theme and time zone) -> files
Producer = Callable[[Renderer, Insight | Dashboard, int | None, PageOptions], Awaitable[list[Image]]]
FORMATS: dict[str, Producer] = {}


def register(name: str) -> Callable[[Producer], Producer]:
    def add(producer: Producer) -> Producer:
        FORMATS[name] = producer
        return producer

    return add


async def produce(
    name: str,
    renderer: Renderer,
    content: Insight | Dashboard,
    *,
    width: int | None = None,
    options: PageOptions = DEFAULT_OPTIONS,
) -> list[Image]:
    try:
        producer = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown output format {name!r}; known: {', '.join(sorted(FORMATS))}") from None
    return await producer(renderer, content, width, options)


@register("png")
async def png_images(
    renderer: Renderer, content: Insight | Dashboard, width: int | None, options: PageOptions = DEFAULT_OPTIONS
) -> list[Image]:
    """An insight as one image; a dashboard as one image per tile, in layout order, each at the insight width
    (so that every tile reads at one size in a Slack thread or an email)."""
    if isinstance(content, Insight):
        png = await renderer.render_insight(content, width=width, options=options)
        return [Image(content.name, png, content.url or None)]
    images = await renderer.render_dashboard(content, width=width, full=False, options=options)
    return [
        Image(tile.title, png, (tile.insight.url if tile.insight else content.url) or None)
        for tile, png in images.tiles
    ]

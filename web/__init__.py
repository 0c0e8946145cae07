"""The pages people open: the landing page (`/`), the viewer for signed-in members (`/view/...`, Sign in with
Slack), share links (`/shared/<token>`), embeds (`/embedded/<token>`) and the web components (`/embed.js`), all
drawn with the same exporter pages the renderer screenshots. `add_routes(app, database, settings)` mounts them;
share links are made, rotated and revoked through core/shares.py by every door."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from core.db import Database
from core.limits import RateLimiter
from core.settings import Settings

from . import embed, landing
from .shares import ShareSite
from .signin import SignIn
from .variants import Images
from .viewer import Viewer

SHARE_SITE = web.AppKey("web_share_site", ShareSite)


def add_routes(app: web.Application, database: Database, settings: Settings, *,
               renderer_factory: Callable[[], Any] | None = None, limits: RateLimiter | None = None) -> ShareSite:
    """Mount the viewer, sign-in, share and embed pages on `app`; returns the share site (its cache and rate, per
    process). `.png` images come from `renderer_factory` (the service's renderer, as Slack previews borrow it), or
    without one from a renderer of web/'s own, started on the first image asked for. `limits`: the process's fair
    limits, which a signed-in member's new images count against (as previews)."""
    images = Images(settings, renderer_factory)
    app.on_cleanup.append(images.close)
    site = ShareSite(database, settings, images=images)
    site.add_routes(app)
    SignIn(settings).add_routes(app)
    Viewer(database, settings, site.cache, images, limits).add_routes(app)
    embed.add_routes(app)
    landing.add_routes(app, settings)
    app[SHARE_SITE] = site
    return site


__all__ = ["SHARE_SITE", "ShareSite", "add_routes"]

"""The pages people open: the viewer for signed-in members (`/view/...`, Sign in with Slack), share links
(`/shared/<token>`) and embeds (`/embedded/<token>`), all drawn with the same exporter pages the renderer
screenshots. `add_routes(app, database, settings)` mounts them; share links are made, rotated and revoked through
core/shares.py by every door."""

from __future__ import annotations

from aiohttp import web

from core.db import Database
from core.settings import Settings

from .shares import ShareSite
from .signin import SignIn
from .viewer import Viewer

SHARE_SITE = web.AppKey("web_share_site", ShareSite)


def add_routes(app: web.Application, database: Database, settings: Settings) -> ShareSite:
    """Mount the viewer, sign-in, share and embed pages on `app`; returns the share site (its cache and rate, per
    process)."""
    site = ShareSite(database, settings)
    site.add_routes(app)
    SignIn(settings).add_routes(app)
    Viewer(database, settings, site.cache).add_routes(app)
    app[SHARE_SITE] = site
    return site


__all__ = ["SHARE_SITE", "ShareSite", "add_routes"]

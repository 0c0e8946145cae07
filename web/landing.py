"""`/`: what the service is, an "Add to Slack" button when the Slack app's OAuth is configured, and Sign in with
Slack (or who is signed in)."""

from __future__ import annotations

from aiohttp import web

from core.settings import Settings

from . import signin
from .pages import small_page, small_response


def add_routes(app: web.Application, settings: Settings) -> None:
    async def landing(request: web.Request) -> web.Response:
        viewer = signin.current_viewer(request, settings)
        return small_response(small_page("landing.html", slack_app=signin.enabled(settings), viewer=viewer))

    app.router.add_get("/", landing)

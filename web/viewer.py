"""`/view/insight/<id>` and `/view/dashboard/<id>`: the exporter page for members of the Slack workspace that
connected the PostHog project, after Sign in with Slack (web/signin.py).

Without a session the browser goes to Slack first and comes back here. The content comes from the signed-in
person's own workspace's connection (`?project=<id>` picks one when there are several): someone of another
workspace finds nothing, and gets the same 404 as for content that does not exist. Never framed.
"""

from __future__ import annotations

import json
import logging
import re

from aiohttp import web
from sqlalchemy import select

from core.db import Database
from core.limits import RateLimited, RateLimiter
from core.models import PostHogConnection, SlackWorkspace
from core.settings import Settings
from posthog_api import Dashboard, Insight, PostHogNotFound, fetch

from . import signin
from .cache import ContentCache, Entry
from .options import OptionError, ViewOptions, parse_options
from .pages import exporter_document, page_headers, small_page, small_response
from .shares import normalized
from .variants import VARIANTS, Images, NothingToExport, csv_of, download, file_name, once

log = logging.getLogger(__name__)

VIEW = "/view"
_REF = {"dashboard": re.compile(r"[0-9]{1,18}"), "insight": re.compile(r"[A-Za-z0-9_-]{1,40}")}


class Viewer:
    def __init__(self, database: Database, settings: Settings, cache: ContentCache, images: Images,
                 limits: RateLimiter | None = None) -> None:
        self.database = database
        self.settings = settings
        self.cache = cache
        self.images = images
        # Images take the browser pool: a member's new ones count as previews, as in Slack and the API.
        self.limits = limits

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(VIEW + "/{kind}/{ref}", self.page)
        app.router.add_route("*", VIEW + "/{rest:.*}", self.not_found)

    async def page(self, request: web.Request) -> web.Response:
        """The page, or its `.json`, `.png` or `.csv` form."""
        ref, _, variant = request.match_info["ref"].partition(".")
        if variant and variant not in VARIANTS:
            return await self.not_found(request)
        content, options, entry = await self.open(request, ref)
        if variant == "json":
            return download(json.dumps(normalized(content), allow_nan=False).encode(), "application/json")
        if variant == "png":
            viewer = signin.current_viewer(request, self.settings)

            async def draw() -> bytes:
                if self.limits is not None and viewer is not None:
                    self.limits.take("preview", workspace=viewer.team_id, user=viewer.user_id)
                return await self.images.png(content, options)

            try:
                png = await once(entry.derived, ("png", options.key()), draw)
            except RateLimited as exc:
                page = small_page("too_many_images.html", seconds=exc.retry_after)
                return small_response(page, status=429, headers={"Retry-After": str(exc.retry_after)})
            except Exception as exc:  # noqa: BLE001 - the reason goes to the log, the viewer gets a plain answer
                log.warning("view %s: no image: %s", request.path, exc)
                return small_response(small_page("unavailable.html"), status=503)
            return download(png, "image/png")
        if variant == "csv":
            try:
                body, content_type, extension = await once(entry.derived, "csv", lambda: csv_of(content, self.settings))
            except NothingToExport as exc:
                return small_response(small_page("bad_option.html", message=str(exc)), status=404)
            return download(body, content_type, file_name(content.name, extension))
        document = exporter_document(content, options, insight_width=self.settings.render_width, brand=False)
        return web.Response(text=document, content_type="text/html", headers=page_headers(document))

    async def open(self, request: web.Request, ref: str) -> tuple[Insight | Dashboard, ViewOptions, Entry]:
        """The content a signed-in member asked for, with their options; raises the redirect, 400, 404 or 503."""
        kind = request.match_info["kind"]
        if kind not in _REF or not _REF[kind].fullmatch(ref):
            raise _answer(self._not_found_page("This page"), 404)
        if not signin.enabled(self.settings):
            raise _answer(small_page("signin_off.html"), 503)
        viewer = signin.current_viewer(request, self.settings)
        if viewer is None:
            raise signin.authorize_redirect(request, self.settings, request.path_qs)
        try:
            options = parse_options(request.query)
        except OptionError as exc:
            raise _answer(small_page("bad_option.html", message=str(exc)), 400) from None
        what = f"{kind.capitalize()} {ref}"
        connection = await self._connection(viewer.team_id, request.query.get("project"))
        if connection is None:
            raise _answer(self._not_found_page(what), 404)
        entry = await self.cache.get(("view", connection.id, kind, ref),
                                     lambda: fetch(connection, kind, ref, self.settings))
        try:
            return await entry.content, options, entry
        except PostHogNotFound:
            raise _answer(self._not_found_page(what), 404) from None
        except Exception as exc:  # noqa: BLE001 - a viewer gets a plain page; the reason goes to the log
            log.warning("view %s %s: PostHog gave no content: %s", kind, ref, exc)
            raise _answer(small_page("unavailable.html"), 503, {"Retry-After": "15"}) from None

    async def not_found(self, request: web.Request) -> web.Response:
        return small_response(self._not_found_page("This page"), status=404)

    async def _connection(self, team_id: str, project: str | None) -> PostHogConnection | None:
        """The workspace's connection (the one of `project` when given), or None: only members see its content."""
        async with self.database.session() as session:
            workspace = await session.scalar(select(SlackWorkspace).where(
                SlackWorkspace.team_id == team_id, SlackWorkspace.active.is_(True)))
            if workspace is None:
                return None
            connections = list(await session.scalars(select(PostHogConnection).where(
                PostHogConnection.workspace_id == workspace.id).order_by(PostHogConnection.id)))
        if project is not None:
            connections = [c for c in connections if str(c.project_id) == project.strip()]
        return connections[0] if connections else None

    @staticmethod
    def _not_found_page(what: str) -> str:
        return small_page("view_not_found.html", what=what)


def _answer(document: str, status: int, headers: dict[str, str] | None = None) -> web.HTTPException:
    error = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 503: web.HTTPServiceUnavailable}[status]
    return error(text=document, content_type="text/html", headers={**page_headers(document), **(headers or {})})

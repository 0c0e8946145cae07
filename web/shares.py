"""The pages a share link opens: `/shared/<token>` for people, `/embedded/<token>` for iframes, and `.json` beside
each (the normalized content). Both draw the very page the renderer screenshots (render's exporter templates and
exporter.js), live in the browser.

Every request, in this order: the token's request rate (429), the share looked up by its token in the database
(revoked, expired or unknown: 404 at once, whatever is cached), its password (a form first), then the content
from the cache (one PostHog fetch per share per SHARE_CACHE_SECONDS). Data is fetched here, server-side: a viewer
never talks to PostHog and never sees the connection's key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from enum import Enum
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web

from core import shares
from core.db import Database
from core.models import PostHogConnection, Share
from core.settings import Settings
from core.tokens import sign, verify
from posthog_api import Dashboard, Insight, fetch

from .cache import ContentCache, RequestRate
from .options import OptionError, ViewOptions, parse_options
from .pages import exporter_document, exporter_spec, page_headers
from .pages import small_page as _page
from .variants import VARIANTS, Images, NothingToExport, csv_of, download, file_name, once

log = logging.getLogger(__name__)

SHARED, EMBEDDED = "/shared", "/embedded"
_TOKEN = "{token:[A-Za-z0-9_-]{20,100}}"

ACCESS = "share-access/v1"  # purpose of the signed cookie a share's password gives
ACCESS_SECONDS = 12 * 3600

@dataclass(frozen=True)
class Found:
    """What a request needs of its share (a plain copy: no database session outlives the lookup)."""

    id: int
    connection_id: int
    kind: str
    ref: str
    title: str
    password_hash: str | None
    allowed_origins: tuple[str, ...]

    @classmethod
    def of(cls, share: Share) -> Found:
        return cls(share.id, share.connection_id, share.content_type, share.content_ref, share.title,
                   share.password_hash, tuple(share.allowed_origins or ()))

FOUND = web.RequestKey("share", Found)

class ShareSite:
    def __init__(self, database: Database, settings: Settings, *, images: Images | None = None,
                 clock=time.monotonic) -> None:
        self.database = database
        self.settings = settings
        self.images = images or Images(settings)
        self.cache = ContentCache(settings.share_cache_seconds, clock=clock)
        self.rate = RequestRate(settings.share_requests_per_minute, clock=clock)

    # --- routes ------------------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        for prefix in (SHARED, EMBEDDED):
            app.router.add_get(f"{prefix}/{_TOKEN}.json", self.content_json)
            app.router.add_get(f"{prefix}/{_TOKEN}.png", self.image)
            app.router.add_get(f"{prefix}/{_TOKEN}.csv", self.numbers)
            app.router.add_get(f"{prefix}/{_TOKEN}", self.page)
            app.router.add_post(f"{prefix}/{_TOKEN}", self.password)
            # Anything else under the prefix (a mistyped or cut-off token) is the same "not found" page.
            app.router.add_route("*", prefix + "/{rest:.*}", self.not_found)

    async def page(self, request: web.Request) -> web.Response:
        found = await self._open(request)
        if found.password_hash and not self._has_access(request, found):
            return self._html(request, _page("password.html", title=found.title, error=""), status=401)
        options = self._options(request)
        entry = await self.cache.get(found.id, lambda: self._fetch(found))
        try:
            content = await entry.content
        except Exception as exc:  # noqa: BLE001 - a viewer gets a plain page; the reason goes to the log
            raise self._unavailable(request, found, exc) from None
        key = ("page", request.path.startswith(EMBEDDED + "/"), options.key())
        document = entry.derived.get(key)
        if document is None:
            # Embeds carry no links out and no line about us; a shared page says where it comes from.
            document = entry.derived[key] = exporter_document(
                content, options, insight_width=self.settings.render_width, brand=not key[1])
        return self._html(request, document)

    async def content_json(self, request: web.Request) -> web.Response:
        """The normalized content; with `?draw=1` also the exporter page's spec (its HTML and plotly charts) in
        the options asked for, which `/embed.js` draws. Readable from other origins (CORS) as the embed is."""
        found = await self._open(request)
        cors = self._cors(request)
        if found.password_hash and not self._has_access(request, found):
            return _json({"error": "This link asks for a password: open it in a browser first."}, 401, cors)
        try:
            options = parse_options(request.query)
        except OptionError as exc:
            return _json({"error": str(exc)}, 400, cors)
        entry = await self.cache.get(found.id, lambda: self._fetch(found))
        try:
            content = await entry.content
        except Exception as exc:  # noqa: BLE001
            log.warning("share %s: PostHog gave no content: %s", found.id, exc)
            return _json({"error": "This content cannot be shown right now. Try again in a minute."}, 503,
                         {"Retry-After": "15", **cors})
        draw = request.query.get("draw") in ("1", "true")
        key = ("json", options.key() if draw else None)
        body = entry.derived.get(key)
        if body is None:
            data = normalized(content)
            if draw:
                data["page"] = exporter_spec(content, options, insight_width=self.settings.render_width)
            body = entry.derived[key] = json.dumps(data, allow_nan=False)
        return _json(body, 200, cors)

    def _cors(self, request: web.Request) -> dict[str, str]:
        """Other sites may read a share's data, as they may frame it: any origin, or the share's allowed ones."""
        found = request.get(FOUND)
        origin = request.headers.get("Origin", "")
        if found is not None and found.allowed_origins:
            allowed = origin if origin in found.allowed_origins else ""
        else:
            allowed = "*"
        return {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"} if allowed else {"Vary": "Origin"}

    async def image(self, request: web.Request) -> web.Response:
        """The page as the renderer draws it (theme and width apply), made once per share and options."""
        found, content, entry = await self._content(request)
        options = self._options(request)
        try:
            png = await once(entry.derived, ("png", options.key()), lambda: self.images.png(content, options))
        except Exception as exc:  # noqa: BLE001 - the reason goes to the log, the viewer gets a plain answer
            log.warning("share %s: no image: %s", found.id, exc)
            return self._html(request, _page("unavailable.html"), status=503)
        return download(png, "image/png", headers={"X-Robots-Tag": "noindex"})

    async def numbers(self, request: web.Request) -> web.Response:
        """The numbers behind the page, written by the exports capability (a zip of CSVs for a dashboard)."""
        found, content, entry = await self._content(request)
        try:
            body, content_type, extension = await once(entry.derived, "csv",
                                                       lambda: csv_of(content, self.settings))
        except NothingToExport as exc:
            return self._html(request, _page("bad_option.html", message=str(exc)), status=404)
        return download(body, content_type, file_name(found.title or content.name, extension),
                        {"X-Robots-Tag": "noindex"})

    async def _content(self, request: web.Request):
        """The share, its content and cache entry, for a variant; raises the 401, 404, 429 or 503."""
        found = await self._open(request)
        if found.password_hash and not self._has_access(request, found):
            raise web.HTTPUnauthorized(text=_page("password_first.html", title=found.title, page=_page_of(request)),
                                       content_type="text/html", headers=self._headers(request))
        entry = await self.cache.get(found.id, lambda: self._fetch(found))
        try:
            return found, await entry.content, entry
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(request, found, exc) from None

    async def password(self, request: web.Request) -> web.Response:
        found = await self._open(request)
        if not found.password_hash:
            raise web.HTTPSeeOther(request.path_qs)
        form = await request.post()
        given = form.get("password")
        # scrypt is slow on purpose: off the event loop, so other visitors are not held up.
        if not isinstance(given, str) or not await asyncio.to_thread(shares.password_matches, found.password_hash,
                                                                     given):
            page = _page("password.html", title=found.title, error="That password is not right.")
            return self._html(request, page, status=401)
        response = web.HTTPSeeOther(request.path_qs)
        cookie = sign(ACCESS, f"{found.id}\n{_fingerprint(found)}\n{int(time.time()) + ACCESS_SECONDS}",
                      settings=self.settings)
        # An embed lives in another site's iframe, where browsers send only cookies marked SameSite=None (and
        # Secure, so only over https), kept apart per embedding site (Partitioned).
        secure = self.settings.public_url.startswith("https")
        cross_site = secure and request.path.startswith(EMBEDDED + "/")
        # The page and its other forms, and no other share's.
        for path in (request.path, *(f"{request.path}.{variant}" for variant in VARIANTS)):
            jar = SimpleCookie()
            jar[_cookie_name(found)] = cookie
            morsel = jar[_cookie_name(found)]
            morsel.update({"path": path, "max-age": str(ACCESS_SECONDS), "httponly": True,
                           "samesite": "None" if cross_site else "Lax", "secure": secure})
            response.headers.add("Set-Cookie", morsel.OutputString() + ("; Partitioned" if cross_site else ""))
        raise response

    def _options(self, request: web.Request) -> ViewOptions:
        try:
            return parse_options(request.query)
        except OptionError as exc:
            raise web.HTTPBadRequest(text=_page("bad_option.html", message=str(exc)), content_type="text/html",
                                     headers=self._headers(request)) from None

    async def not_found(self, request: web.Request) -> web.Response:
        return self._html(request, _page("not_found.html"), status=404)

    # --- steps -------------------------------------------------------------------------------------------

    async def _open(self, request: web.Request) -> Found:
        """The live share of the request's token, counted against the token's rate; raises the 429 or 404."""
        token = request.match_info["token"]
        wait = self.rate.take(shares.hash_token(token))
        if wait is not None:
            page = _page("too_many.html", seconds=wait)
            raise web.HTTPTooManyRequests(text=page, content_type="text/html",
                                          headers={**self._headers(request), "Retry-After": str(wait)})
        async with self.database.session() as session:
            share = await shares.find_by_token(session, token)
            found = Found.of(share) if share is not None else None
        if found is None:
            raise web.HTTPNotFound(text=_page("not_found.html"), content_type="text/html",
                                   headers=self._headers(request))
        request[FOUND] = found
        return found

    async def _fetch(self, found: Found) -> Insight | Dashboard:
        async with self.database.session() as session:
            connection = await session.get(PostHogConnection, found.connection_id)
        if connection is None:
            raise LookupError(f"connection {found.connection_id} is gone")
        return await fetch(connection, found.kind, found.ref, self.settings)

    def _has_access(self, request: web.Request, found: Found) -> bool:
        payload = verify(ACCESS, request.cookies.get(_cookie_name(found), ""), settings=self.settings)
        if payload is None or payload.count("\n") != 2:
            return False
        share_id, fingerprint, expires = payload.split("\n")
        return share_id == str(found.id) and fingerprint == _fingerprint(found) and expires.isdigit() \
            and int(expires) > time.time()

    def _unavailable(self, request: web.Request, found: Found, exc: BaseException) -> web.HTTPException:
        log.warning("share %s: PostHog gave no content: %s", found.id, exc)
        return web.HTTPServiceUnavailable(text=_page("unavailable.html"), content_type="text/html",
                                          headers={**self._headers(request), "Retry-After": "15"})

    # --- answers -----------------------------------------------------------------------------------------

    def _html(self, request: web.Request, document: str, *, status: int = 200) -> web.Response:
        return web.Response(text=document, status=status, content_type="text/html",
                            headers=self._headers(request, document))

    def _headers(self, request: web.Request, document: str = "") -> dict[str, str]:
        found = request.get(FOUND)
        if not request.path.startswith(EMBEDDED + "/"):
            ancestors = "'none'"
        elif found is not None and found.allowed_origins:
            ancestors = " ".join(found.allowed_origins)
        else:
            ancestors = "*"
        headers = page_headers(document, framed_by=ancestors)
        if request.path.endswith(".json"):  # its "not found" and "busy" are readable by the embedding site too
            headers.update(self._cors(request))
        return headers

# --- the data ----------------------------------------------------------------------------------------------

def normalized(content: Insight | Dashboard) -> dict[str, Any]:
    """The content model as JSON, without links back into the PostHog project (a public viewer needs none)."""
    kind = "dashboard" if isinstance(content, Dashboard) else "insight"
    return {"type": kind, kind: _plain(dataclasses.asdict(content))}

def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return web.Response(text=text, status=status, content_type="application/json", headers={
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", **(headers or {})})

# --- small pages -------------------------------------------------------------------------------------------

def _page_of(request: web.Request) -> str:
    """The page a variant belongs to (where its password is asked)."""
    return request.path.rsplit(".", 1)[0]


def _cookie_name(found: Found) -> str:
    return f"share_access_{found.id}"

def _fingerprint(found: Found) -> str:
    # A new password invalidates the cookies the old one gave.
    return hashlib.sha256((found.password_hash or "").encode()).hexdigest()[:16]

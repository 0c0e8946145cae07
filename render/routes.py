"""HTTP routes of the exporter: static assets (plotly.js from the installed package) and pages by token.

Mount them with `add_routes(app)`. Assets are served with versioned URLs and a year-long immutable
Cache-Control, so a browser loads plotly.js (~4.7 MB) once per profile, not once per image.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import plotly
from aiohttp import web

from .pages import ExporterPage, template
from .store import PageStore

PREFIX = "/exporter"
STATIC_PREFIX = f"{PREFIX}/static"
SHELL_PATH = f"{PREFIX}/shell"
PAGE_STORE = web.AppKey("render_page_store", PageStore)

_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    content_type: str


@cache
def _assets() -> dict[str, _Asset]:
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    files = {"plotly.min.js": plotly_js.read_bytes()}
    static = resources.files("render") / "static"
    for name in ("exporter.js", "exporter.css", "topojson/world_110m.json"):
        files[name] = (static / name).read_bytes()
    return {name: _Asset(body, _CONTENT_TYPES[Path(name).suffix]) for name, body in files.items()}


@cache
def asset_version() -> str:
    digest = hashlib.sha256()
    for name, asset in sorted(_assets().items()):
        digest.update(name.encode())
        digest.update(asset.body)
    return digest.hexdigest()[:12]


def document_html(page: ExporterPage | None) -> str:
    """A whole HTML document: the page drawn on load, or (without a page) the warm shell."""
    return template("document.html").render(
        title=page.title if page else "Exporter",
        spec=page.spec() if page else None,
        static_url=STATIC_PREFIX,
        version=asset_version(),
    )


def page_url(token: str) -> str:
    return f"{PREFIX}/pages/{token}"


def spec_url(token: str) -> str:
    return f"{PREFIX}/pages/{token}.json"


async def _static(request: web.Request) -> web.Response:
    asset = _assets().get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    # Public, versioned assets: pages on other origins (the embed components) draw with them too, world maps
    # included, which fetch their shapes.
    headers = {"Cache-Control": _IMMUTABLE, "Access-Control-Allow-Origin": "*"}
    return web.Response(body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers)


async def _shell(request: web.Request) -> web.Response:
    return web.Response(text=document_html(None), content_type="text/html")


def _lookup(request: web.Request) -> ExporterPage:
    page = request.app[PAGE_STORE].get(request.match_info["token"])
    if page is None:
        raise web.HTTPNotFound(text="This export page has expired.")
    return page


async def _page(request: web.Request) -> web.Response:
    page = _lookup(request)
    return web.Response(text=document_html(page), content_type="text/html", headers={"Cache-Control": "no-store"})


async def _spec(request: web.Request) -> web.Response:
    return web.json_response(_lookup(request).spec(), headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> PageStore:
    """Mount the exporter routes on `app`; returns the page store that the renderer fills."""
    if PAGE_STORE not in app:
        app[PAGE_STORE] = PageStore()
    app.router.add_get(f"{STATIC_PREFIX}/{{name:(topojson/)?[A-Za-z0-9_.-]+}}", _static)
    app.router.add_get(SHELL_PATH, _shell)
    app.router.add_get(f"{PREFIX}/pages/{{token:[A-Za-z0-9_-]+}}.json", _spec)
    app.router.add_get(f"{PREFIX}/pages/{{token:[A-Za-z0-9_-]+}}", _page)
    return app[PAGE_STORE]

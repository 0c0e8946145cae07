"""`/embed.js`: the web components `<posthog-insight>` and `<posthog-dashboard>` (web/static/embed.js), served to
any site with the exporter's asset addresses written in, so that it loads the same stylesheet and plotly.js as
our pages, at their current versions."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from aiohttp import web

from render import document_html

EMBED_JS = "/embed.js"


@cache
def script() -> str:
    # The exporter's shell document names its assets (with their version): use the very same addresses.
    shell = document_html(None)
    found = {url.split("?")[0].rsplit("/", 1)[-1]: url for url in re.findall(r'(?:src|href)="([^"]+)"', shell)}
    css, plotly = found["exporter.css"], found["plotly.min.js"]
    assets = {"css": css, "plotly": plotly, "topojson": plotly.rsplit("/", 1)[0] + "/topojson/"}
    source = resources.files("web").joinpath("static/embed.js").read_text(encoding="utf-8")
    return source.replace("__ASSETS__", json.dumps(assets))


async def embed_js(_request: web.Request) -> web.Response:
    return web.Response(text=script(), content_type="application/javascript", charset="utf-8", headers={
        "Access-Control-Allow-Origin": "*",  # any site may use the components; what a share shows is its own rule
        "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
    })


STATIC = "/web/static"
_FILES = {"fit.js": "application/javascript"}  # what our pages load beside the exporter's own assets


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _FILES:
        raise web.HTTPNotFound()
    body = resources.files("web").joinpath("static", name).read_text(encoding="utf-8")
    return web.Response(text=body, content_type=_FILES[name], charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


def add_routes(app: web.Application) -> None:
    app.router.add_get(EMBED_JS, embed_js)
    app.router.add_get(STATIC + "/{name}", static)

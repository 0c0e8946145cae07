"""What every page of web/ is made of: the exporter document (render's templates and exporter.js, as the renderer
screenshots it) with a viewer's options applied, our own small pages (not found, password, sign-in...), and the
headers that go with them."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from typing import Any

import jinja2
from aiohttp import web

from posthog_api import Dashboard, Insight
from render import ExporterPage, PageOptions, dashboard_page, document_html, insight_page
from render.pages import NARROW_DASHBOARD

from .options import ViewOptions

DASHBOARD_WIDTH = 1200  # CSS px a dashboard is laid out for (PostHog's grid, as in delivered images)

# What the options hide, by the exporter templates' own classes (render/templates).
_HIDE_HEADER = ".dashboard-header, .insight-header { display: none !important; }"
_HIDE_LEGEND = ".legend { display: none !important; }"
_BRAND = (".pe-brand { font: 12px/1.4 Inter, 'Noto Sans', sans-serif; color: #8a8f9c; padding: 8px 24px 16px; }"
          ".pe-brand a { color: inherit; }")


def exporter_page(content: Insight | Dashboard, options: ViewOptions, *, insight_width: int) -> ExporterPage:
    page_options = PageOptions(theme=options.theme)
    if isinstance(content, Dashboard):
        return dashboard_page(content, options.width or DASHBOARD_WIDTH, options=page_options)
    return insight_page(content, options.width or insight_width, page_options)


def exporter_spec(content: Insight | Dashboard, options: ViewOptions, *, insight_width: int) -> dict[str, Any]:
    """What exporter.js draws (the page's HTML, escaped by the templates, and each chart's plotly data and layout),
    for `/embed.js` to draw the same way inside another site's page."""
    return exporter_page(content, options, insight_width=insight_width).spec()


def exporter_document(content: Insight | Dashboard, options: ViewOptions, *, insight_width: int,
                      brand: bool) -> str:
    """The exporter page of `content` as a whole document, drawn live by exporter.js. `brand`: a line saying
    where the page comes from (not on embeds, nor with `whitelabel`)."""
    document = document_html(exporter_page(content, options, insight_width=insight_width))
    # Our own script (allowed by script-src 'self'): the page scales down to fit a narrower window, and a
    # dashboard laid out for the default width is laid out again, one column as PostHog has it, on a small screen.
    reflow = f' data-reflow-below="{NARROW_DASHBOARD}"' if isinstance(content, Dashboard) and not options.width else ""
    head, tail = [f'<script src="/web/static/fit.js"{reflow}></script>'], []
    styles = [_HIDE_HEADER if options.no_header else "", "" if options.legend else _HIDE_LEGEND,
              _BRAND if brand and not options.whitelabel else ""]
    if any(styles):
        head.append("<style>" + "".join(styles) + "</style>")
    if options.refresh:
        # A plain meta refresh: no script to allow, and the page fetches nothing itself (our cache answers).
        head.append(f'<meta http-equiv="refresh" content="{options.refresh}">')
    if brand and not options.whitelabel:
        tail.append('<footer class="pe-brand">Shared with <a href="/" target="_top">PostHog Exports</a></footer>')
    document = document.replace("</head>", "".join(head) + "\n</head>", 1)
    if tail:
        document = document.replace("</main>", "</main>\n" + "".join(tail), 1)
    return document


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def content_security_policy(document: str, frame_ancestors: str) -> str:
    """Only this service's own scripts, styles, images and fonts, nothing from third parties. The exporter page's
    one inline script (the call that draws the spec) is allowed by its hash, so no other inline script runs.
    Styles allow inline ones: the exporter templates and plotly lay out with style attributes."""
    hashes = " ".join(f"'sha256-{_sha256(s)}'" for s in dict.fromkeys(_INLINE_SCRIPT.findall(document)))
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' {hashes}".rstrip(),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        f"frame-ancestors {frame_ancestors}",
    ])


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def page_headers(document: str, *, framed_by: str = "'none'") -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(document, framed_by),
        # Revoking or signing out must take effect at once: no browser or proxy keeps a copy.
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",  # a share's token is in the address
        "X-Content-Type-Options": "nosniff",
        "X-Robots-Tag": "noindex",
    }
    if framed_by == "'none'":
        headers["X-Frame-Options"] = "DENY"
    return headers


# --- our small pages ---------------------------------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("web", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def small_page(name: str, **values: Any) -> str:
    return _environment().get_template(name).render(**values)


def small_response(document: str, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=document, status=status, content_type="text/html",
                        headers={**page_headers(document), **(headers or {})})

"""Exporter pages and PNG rendering of PostHog insights and dashboards.

`async with Renderer(settings) as renderer:` then `await renderer.render_insight(insight)` gives PNG bytes and
`await renderer.render_dashboard(dashboard)` gives `DashboardImages` (`full`, and `tiles` in layout order).
`add_routes(app)` mounts the exporter pages on the service's web application; `produce(format, renderer,
content, options=PageOptions(theme="dark", time_zone="Europe/Berlin"))` gives a format's files (PNG images
today) through the format registry, in the subscription's theme and time zone. `insight_page`/`dashboard_page`
and `document_html` give the same page as a document for people to open (web/'s share links and embeds).
"""

from .errors import RenderError, RenderTimeout
from .formats import FORMATS, produce
from .pages import ExporterPage, PageOptions, dashboard_page, insight_page
from .renderer import DashboardImages, Renderer
from .routes import add_routes, document_html

__all__ = [
    "FORMATS",
    "DashboardImages",
    "ExporterPage",
    "PageOptions",
    "RenderError",
    "RenderTimeout",
    "Renderer",
    "add_routes",
    "dashboard_page",
    "document_html",
    "insight_page",
    "produce",
]

"""Exporter pages and PNG rendering of PostHog insights and dashboards.

`async with Renderer(settings) as renderer:` then `await renderer.render_insight(insight)` gives PNG bytes and
`await renderer.render_dashboard(dashboard)` gives `DashboardImages` (`full`, and `tiles` in layout order).
`add_routes(app)` mounts the exporter pages on the service's web application; `produce(format, renderer,
content)` gives a format's files (PNG images today) through the format registry.
"""

from .errors import RenderError, RenderTimeout
from .formats import FORMATS, produce
from .renderer import DashboardImages, Renderer
from .routes import add_routes

__all__ = ["FORMATS", "DashboardImages", "RenderError", "RenderTimeout", "Renderer", "add_routes", "produce"]

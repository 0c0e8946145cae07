"""Exporter pages and PNG rendering of PostHog insights and dashboards.

`async with Renderer() as renderer:` then `await renderer.render_insight(insight)` gives PNG bytes and
`await renderer.render_dashboard(dashboard)` gives `DashboardImages` (`full`, and `tiles` in layout order).
`add_routes(app)` mounts the exporter pages on the service's web application.
"""

from .errors import RenderError, RenderTimeout
from .renderer import DashboardImages, Renderer
from .routes import add_routes

__all__ = ["DashboardImages", "RenderError", "RenderTimeout", "Renderer", "add_routes"]

"""PostHog content: the REST client, the bundled demo project and one normalized content model.

Nothing outside this package reads a raw PostHog payload; it gets `Insight` and `Dashboard` objects.
"""

from .client import PostHogClient
from .content import (
    ChartKind,
    Dashboard,
    FunnelBreakdown,
    FunnelStep,
    Insight,
    PathLink,
    RetentionRow,
    Series,
    Table,
    Tile,
)
from .daterange import describe_date_range
from .demo import DEMO_BASE_URL, DEMO_DASHBOARD_ID, DEMO_PROJECT_ID, DemoProject, is_demo_host, open_source
from .errors import (
    PostHogAuthError,
    PostHogError,
    PostHogNotFound,
    PostHogPayloadError,
    PostHogPermissionError,
    PostHogUnavailable,
)
from .normalize import normalize_dashboard, normalize_insight
from .urls import InvalidReference, parse_posthog_reference

ContentSource = PostHogClient | DemoProject

__all__ = [
    "ChartKind",
    "ContentSource",
    "DEMO_BASE_URL",
    "DEMO_DASHBOARD_ID",
    "DEMO_PROJECT_ID",
    "Dashboard",
    "DemoProject",
    "FunnelBreakdown",
    "FunnelStep",
    "Insight",
    "InvalidReference",
    "PathLink",
    "PostHogAuthError",
    "PostHogClient",
    "PostHogError",
    "PostHogNotFound",
    "PostHogPayloadError",
    "PostHogPermissionError",
    "PostHogUnavailable",
    "RetentionRow",
    "Series",
    "Table",
    "Tile",
    "describe_date_range",
    "is_demo_host",
    "normalize_dashboard",
    "normalize_insight",
    "open_source",
    "parse_posthog_reference",
]

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
from .data import DataQuery, InvalidDataQuery, RowPage, data_pages, hogql
from .daterange import describe_date_range
from .demo import DEMO_BASE_URL, DEMO_DASHBOARD_ID, DEMO_PROJECT_ID, DemoProject, is_demo_host
from .errors import (
    PostHogAddressNotAllowed,
    PostHogAuthError,
    PostHogError,
    PostHogNotFound,
    PostHogPayloadError,
    PostHogPermissionError,
    PostHogUnavailable,
)
from .normalize import normalize_dashboard, normalize_insight
from .sources import (
    CHECK_ACCESS_SECONDS,
    CheckedConnection,
    ContentRef,
    ContentSource,
    check_connection,
    configured_connection,
    connections_of,
    content_url,
    data_pages_for,
    fetch,
    find_connection,
    open_connection,
    open_source,
    operator_connection,
    save_connection,
)
from .urls import InvalidReference, parse_posthog_reference

__all__ = [
    "CHECK_ACCESS_SECONDS",
    "ChartKind",
    "CheckedConnection",
    "ContentRef",
    "ContentSource",
    "DEMO_BASE_URL",
    "DEMO_DASHBOARD_ID",
    "DEMO_PROJECT_ID",
    "Dashboard",
    "DataQuery",
    "DemoProject",
    "FunnelBreakdown",
    "FunnelStep",
    "Insight",
    "InvalidDataQuery",
    "InvalidReference",
    "PathLink",
    "PostHogAddressNotAllowed",
    "PostHogAuthError",
    "PostHogClient",
    "PostHogError",
    "PostHogNotFound",
    "PostHogPayloadError",
    "PostHogPermissionError",
    "PostHogUnavailable",
    "RetentionRow",
    "RowPage",
    "Series",
    "Table",
    "Tile",
    "check_connection",
    "configured_connection",
    "connections_of",
    "content_url",
    "data_pages",
    "data_pages_for",
    "describe_date_range",
    "fetch",
    "find_connection",
    "hogql",
    "is_demo_host",
    "normalize_dashboard",
    "normalize_insight",
    "open_connection",
    "open_source",
    "operator_connection",
    "parse_posthog_reference",
    "save_connection",
]

"""One line per family: the insight type a `Spec` names -> the module that reads its results.

Adding a kind of insight means adding a reader module (`read(insight, payload, result, spec)`) and a line here
(and, for a new query kind, a line in `spec.QUERY_KINDS` or `spec.TABLE_SOURCES`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..content import Insight
from . import funnels, paths, retention, sql, tables, trends
from .spec import Spec

Reader = Callable[[Insight, dict[str, Any], object, Spec], None]

READERS: dict[str, Reader] = {
    "TRENDS": trends.read,
    "LIFECYCLE": trends.read,
    "STICKINESS": trends.read,
    "FUNNELS": funnels.read,
    "RETENTION": retention.read,
    "PATHS": paths.read,
    "SQL": sql.read,
    "EVENTS": tables.read_events,
    "ACTORS": tables.read_events,
    "WEB_STATS": tables.read_web_stats,
    "WEB_OVERVIEW": tables.read_web_overview,
}

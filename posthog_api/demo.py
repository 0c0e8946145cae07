"""The bundled demo project: PostHog-shaped payloads served through the client's interface, offline.

`posthog_api.sources` serves it for connections whose host is "demo" (or empty).

A `filters_override` date range is honoured as far as eight days of demo data allow: the insight (and every
insight of a dashboard) says the range; series with a point per day keep only the days in the range, counted
back from the series' last day (the demo's "today"), with totals and aggregated values (pie, number, table)
scaled to what is kept; the query or filters in the payload carry the range, as PostHog returns them. A range
that misses every demo day (the previous month) keeps the eight days. Funnels, retention, paths, stickiness
and SQL insights keep their numbers.

Raw data (events, persons, cohorts, groups) for data exports is generated on the fly by
`posthog_api.demo_events`, deterministically for the demo's today (the current date in UTC when the project is
made): `data_page` answers a `DataQuery` page natively, without HogQL.
"""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

from core.date_ranges import DateRange, DateRangeError

from . import demo_events
from .client import DEFAULT_CURRENCY, in_base_currency
from .content import Dashboard, Insight
from .data import DataQuery, RowPage
from .daterange import date_override
from .errors import PostHogNotFound
from .normalize import currency_code, normalize_dashboard, normalize_insight

DEMO_BASE_URL = "https://demo.posthog.example"
DEMO_PROJECT_ID = 1
DEMO_PROJECT_NAME = "Demo project"
DEMO_DASHBOARD_ID = 42

_DATA = Path(__file__).parent / "demo_data"


@cache
def _load() -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    insights = json.loads((_DATA / "insights.json").read_text(encoding="utf-8"))
    dashboards = json.loads((_DATA / "dashboards.json").read_text(encoding="utf-8"))
    return {i["id"]: i for i in insights}, {d["id"]: d for d in dashboards}


class DemoProject:
    """Same async interface as `PostHogClient`; every call returns fresh copies, so callers may mutate them."""

    host = DEMO_BASE_URL
    project_id = DEMO_PROJECT_ID

    def __init__(self, *, today: date | None = None, base_currency: object = DEFAULT_CURRENCY) -> None:
        self._insights, self._dashboards = _load()
        self.today = today or datetime.now(UTC).date()  # the day the raw data is generated for
        self._base_currency = base_currency  # the project's `base_currency`, as PostHog's project payload says it

    def __repr__(self) -> str:
        return "DemoProject()"

    async def __aenter__(self) -> DemoProject:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Nothing to release; here so callers can treat both sources alike."""

    async def check_access(self) -> str:
        return DEMO_PROJECT_NAME

    async def get_project_payload(self) -> dict[str, Any]:
        """The demo project as PostHog's GET /api/projects/{id}/ answers (the fields this service reads)."""
        return {"id": DEMO_PROJECT_ID, "name": DEMO_PROJECT_NAME, "timezone": "UTC",
                "base_currency": self._base_currency}

    async def base_currency(self) -> str:
        """The project's base currency, read as `PostHogClient.base_currency` reads it (USD when not a code)."""
        return currency_code((await self.get_project_payload()).get("base_currency")) or DEFAULT_CURRENCY

    def list_dashboards(self) -> list[tuple[int, str]]:
        """(id, name) of the demo dashboards, for help texts and pickers."""
        return [(d["id"], d["name"]) for d in self._dashboards.values()]

    def list_insights(self) -> list[tuple[int, str, str]]:
        """(id, short id, name) of the demo insights."""
        return [(i["id"], i["short_id"], i["name"]) for i in self._insights.values()]

    def list_cohorts(self) -> list[tuple[int, str]]:
        """(id, name) of the demo cohorts."""
        return list(demo_events.COHORTS.items())

    def list_group_types(self) -> list[tuple[int, str]]:
        """(index, name) of the demo group types."""
        return list(demo_events.GROUP_TYPES.items())

    async def data_page(self, query: DataQuery, limit: int, offset: int) -> RowPage:
        """Rows `offset` to `offset + limit - 1` of raw data, as `posthog_api.data.data_pages` reads them from
        PostHog's query API; generated for `self.today` (see `posthog_api.demo_events`) in a worker thread, so
        that the event loop keeps answering meanwhile."""
        return await asyncio.to_thread(demo_events.data_page, query, limit, offset, today=self.today)

    async def get_insight_payload(
        self, ref: int | str, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit()):
            found = self._insights.get(int(ref))
        else:
            found = next((i for i in self._insights.values() if i["short_id"] == ref), None)
        if found is None:
            raise PostHogNotFound(
                f"Insight {ref} was not found in the demo project. Demo insights are 1001 to "
                f"{max(self._insights)} (for example dm-pgvw).",
                status=404,
            )
        return _in_range(copy.deepcopy(found), date_override(filters_override))

    async def get_insight(
        self, ref: int | str, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> Insight:
        payload = await self.get_insight_payload(ref, refresh=refresh, filters_override=filters_override)
        return await in_base_currency(lambda currency: normalize_insight(
            payload, base_url=DEMO_BASE_URL, project_id=DEMO_PROJECT_ID, date_override=date_override(filters_override),
            base_currency=currency,
        ), self.base_currency)

    async def get_dashboard_payload(
        self, dashboard_id: int, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        key = int(dashboard_id) if str(dashboard_id).isascii() and str(dashboard_id).isdigit() else None
        spec = self._dashboards.get(key) if key is not None else None
        if spec is None:
            ids = ", ".join(str(d) for d in self._dashboards)
            raise PostHogNotFound(
                f"Dashboard {dashboard_id} was not found in the demo project. Demo dashboards: {ids}.",
                status=404,
            )
        # Assemble what PostHog's dashboard endpoint returns: tiles carrying full insights.
        override = date_override(filters_override)
        tiles = []
        for tile in spec["tiles"]:
            insight_id = tile.get("insight_id")
            tiles.append(
                {
                    "id": tile["id"],
                    "layouts": copy.deepcopy(tile["layouts"]),
                    "color": None,
                    "insight": _in_range(copy.deepcopy(self._insights[insight_id]), override) if insight_id else None,
                    "text": {"body": tile["text"]} if "text" in tile else None,
                    "deleted": False,
                }
            )
        return {
            "id": spec["id"],
            "name": spec["name"],
            "description": spec["description"],
            "filters": {**copy.deepcopy(spec.get("filters", {})), **(filters_override or {})},
            "pinned": True,
            "deleted": False,
            "tiles": tiles,
        }

    async def get_dashboard(
        self, dashboard_id: int, *, refresh: bool = True, filters_override: dict[str, Any] | None = None
    ) -> Dashboard:
        payload = await self.get_dashboard_payload(dashboard_id, refresh=refresh, filters_override=filters_override)
        return await in_base_currency(lambda currency: normalize_dashboard(
            payload, base_url=DEMO_BASE_URL, project_id=DEMO_PROJECT_ID, date_override=date_override(filters_override),
            base_currency=currency,
        ), self.base_currency)


# --- a date range on demo data -----------------------------------------------------------------------------


def _in_range(payload: dict[str, Any], override: tuple[object, object] | None) -> dict[str, Any]:
    """The insight payload as PostHog would compute it for the range `override` (see the module's notes)."""
    if override is None:
        return payload
    date_from, date_to = override
    date_range = DateRange(str(date_from), date_to if isinstance(date_to, str) and date_to else None)
    query = payload.get("query")
    source = query.get("source", query) if isinstance(query, dict) else None
    if isinstance(source, dict) and source.get("kind") in ("HogQLQuery", "DataVisualizationNode"):
        return payload
    if isinstance(source, dict) and source.get("kind"):
        source["dateRange"] = date_range.filters_override()
    elif isinstance(payload.get("filters"), dict):
        payload["filters"].update(date_range.filters_override())
    result = payload.get("result")
    if isinstance(result, list):
        for series in result:
            if isinstance(series, dict):
                _cut_series(series, date_range)
    return payload


def _cut_series(series: dict[str, Any], date_range: DateRange) -> None:
    """Keep the points of one series whose day lies in the range, counted back from its last day. A series
    of one aggregated value (no daily points in the demo data) is scaled by the share of days kept."""
    days, data = series.get("days"), series.get("data")
    if not isinstance(days, list) or not days or not isinstance(data, list) or len(data) not in (0, len(days)):
        return
    try:
        parsed = [date.fromisoformat(str(day)[:10]) for day in days]
    except ValueError:
        return  # stickiness counts days (1, 2, 3...) rather than dating them
    try:
        first, last = date_range.bounds(max(parsed))
    except DateRangeError:
        return  # a range the demo cannot place: the numbers stay, the label still says it
    keep = [i for i, day in enumerate(parsed) if first <= day <= last]
    if not keep or len(keep) == len(days):
        return
    old_total = sum(v for v in data if isinstance(v, int | float))
    for key in ("days", "data", "labels"):
        values = series.get(key)
        if isinstance(values, list) and values and len(values) == len(days):
            series[key] = [values[i] for i in keep]
    new_total = sum(v for v in series["data"] if isinstance(v, int | float))
    if data and isinstance(series.get("count"), int | float):
        series["count"] = new_total
    share = new_total / old_total if data and old_total else len(keep) / len(days)
    aggregated = series.get("aggregated_value")
    if isinstance(aggregated, int | float) and not isinstance(aggregated, bool):
        scaled = aggregated * share
        series["aggregated_value"] = round(scaled) if isinstance(aggregated, int) else scaled


def is_demo_host(host: str | None) -> bool:
    return not host or host.strip().lower() == "demo"

"""The bundled demo project: PostHog-shaped payloads served through the client's interface, offline.

`posthog_api.sources` serves it for connections whose host is "demo" (or empty).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

from .content import Dashboard, Insight
from .errors import PostHogNotFound
from .normalize import normalize_dashboard, normalize_insight

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

    def __init__(self) -> None:
        self._insights, self._dashboards = _load()

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

    def list_dashboards(self) -> list[tuple[int, str]]:
        """(id, name) of the demo dashboards, for help texts and pickers."""
        return [(d["id"], d["name"]) for d in self._dashboards.values()]

    def list_insights(self) -> list[tuple[int, str, str]]:
        """(id, short id, name) of the demo insights."""
        return [(i["id"], i["short_id"], i["name"]) for i in self._insights.values()]

    async def get_insight_payload(self, ref: int | str, *, refresh: bool = True) -> dict[str, Any]:
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
        return copy.deepcopy(found)

    async def get_insight(self, ref: int | str, *, refresh: bool = True) -> Insight:
        payload = await self.get_insight_payload(ref, refresh=refresh)
        return normalize_insight(payload, base_url=DEMO_BASE_URL, project_id=DEMO_PROJECT_ID)

    async def get_dashboard_payload(self, dashboard_id: int, *, refresh: bool = True) -> dict[str, Any]:
        key = int(dashboard_id) if str(dashboard_id).isascii() and str(dashboard_id).isdigit() else None
        spec = self._dashboards.get(key) if key is not None else None
        if spec is None:
            ids = ", ".join(str(d) for d in self._dashboards)
            raise PostHogNotFound(
                f"Dashboard {dashboard_id} was not found in the demo project. Demo dashboards: {ids}.",
                status=404,
            )
        # Assemble what PostHog's dashboard endpoint returns: tiles carrying full insights.
        tiles = []
        for tile in spec["tiles"]:
            insight_id = tile.get("insight_id")
            tiles.append(
                {
                    "id": tile["id"],
                    "layouts": copy.deepcopy(tile["layouts"]),
                    "color": None,
                    "insight": copy.deepcopy(self._insights[insight_id]) if insight_id else None,
                    "text": {"body": tile["text"]} if "text" in tile else None,
                    "deleted": False,
                }
            )
        return {
            "id": spec["id"],
            "name": spec["name"],
            "description": spec["description"],
            "filters": copy.deepcopy(spec.get("filters", {})),
            "pinned": True,
            "deleted": False,
            "tiles": tiles,
        }

    async def get_dashboard(self, dashboard_id: int, *, refresh: bool = True) -> Dashboard:
        payload = await self.get_dashboard_payload(dashboard_id, refresh=refresh)
        return normalize_dashboard(payload, base_url=DEMO_BASE_URL, project_id=DEMO_PROJECT_ID)


def is_demo_host(host: str | None) -> bool:
    return not host or host.strip().lower() == "demo"


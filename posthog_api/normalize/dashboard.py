"""One dashboard payload -> `Dashboard`: its tiles (insights and text cards) in PostHog's grid order."""

from __future__ import annotations

from typing import Any

from ..content import Dashboard, Tile
from ..daterange import describe_date_range
from ..errors import PostHogPayloadError
from .insight import identity, link, normalize_insight
from .readers import as_dict, text


def _layout(tile: dict[str, Any]) -> dict[str, int] | None:
    layouts = as_dict(tile.get("layouts"))
    sm = as_dict(layouts.get("sm"))
    values = {k: sm.get(k) for k in ("x", "y", "w", "h")}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
        return values  # type: ignore[return-value]
    return None


def normalize_dashboard(
    payload: object,
    *,
    base_url: str = "",
    project_id: int | None = None,
    date_override: tuple[object, object] | None = None,
    base_currency: str | None = None,
) -> Dashboard:
    """One dashboard payload (GET /api/projects/{pid}/dashboards/{id}/) -> `Dashboard`, tiles in grid order.
    `date_override`: the (date_from, date_to) it was asked for with, which replaces the dashboard's own;
    `base_currency`: the project's, for its insights' currency values."""
    data, dashboard_id = identity(payload, "a dashboard")
    dashboard = Dashboard(
        id=dashboard_id,
        name=text(data.get("name")) or f"Dashboard {dashboard_id}",
        description=data.get("description") if isinstance(data.get("description"), str) else "",
        url=link(base_url, project_id, f"dashboard/{dashboard_id}"),
    )
    # A date range set on the dashboard overrides its insights' own ranges, as in PostHog.
    filters = as_dict(data.get("filters"))
    override = (filters["date_from"], filters.get("date_to")) if text(filters.get("date_from")) else None
    if date_override is not None and text(date_override[0]):
        override = date_override
    if override is not None:
        dashboard.date_range = describe_date_range(*override)

    tiles = data.get("tiles")
    if tiles is None and isinstance(data.get("items"), list):
        # Old PostHog versions listed insights as `items`, each with its own `layouts`.
        tiles = [
            {"id": item.get("id"), "insight": item, "layouts": item.get("layouts")}
            for item in data["items"]
            if isinstance(item, dict)
        ]
    if tiles is None:
        tiles = []
    if not isinstance(tiles, list):
        raise PostHogPayloadError(f"Dashboard {dashboard_id} from PostHog has tiles that are not a list.")

    placed: list[Tile] = []
    unplaced: list[Tile] = []
    for index, raw in enumerate(tiles):
        if not isinstance(raw, dict) or raw.get("deleted") is True:
            continue
        insight_payload, card = raw.get("insight"), as_dict(raw.get("text"))
        insight = None
        if isinstance(insight_payload, dict):
            if insight_payload.get("deleted") is True:
                continue
            insight = normalize_insight(
                insight_payload, base_url=base_url, project_id=project_id, date_override=override,
                base_currency=base_currency, on_dashboard=True,
            )
        body = card.get("body") if isinstance(card.get("body"), str) else None
        if insight is None and body is None:
            continue  # an empty tile: nothing to show
        tile_id = raw.get("id") if isinstance(raw.get("id"), int) and not isinstance(raw.get("id"), bool) else index
        layout = _layout(raw)
        tile = Tile(id=tile_id, x=0, y=0, w=12, h=5, insight=insight, text=body)
        if layout:
            tile.x, tile.y, tile.w, tile.h = layout["x"], layout["y"], layout["w"], layout["h"]
            placed.append(tile)
        else:
            unplaced.append(tile)
    placed.sort(key=lambda t: (t.y, t.x))  # stable: equal positions keep payload order
    bottom = max((t.y + t.h for t in placed), default=0)
    for tile in unplaced:  # stacked full width below the laid-out tiles
        tile.y, bottom = bottom, bottom + tile.h
    dashboard.tiles = placed + unplaced
    return dashboard

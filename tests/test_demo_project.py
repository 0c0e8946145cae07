"""The bundled demo project: same interface as the client, realistic content, no network."""

from __future__ import annotations

import pytest

from posthog_api import (
    DEMO_BASE_URL,
    ChartKind,
    DemoProject,
    PostHogClient,
    PostHogNotFound,
    normalize_dashboard,
    normalize_insight,
    open_source,
)

REQUIRED_ON_OVERVIEW = {
    ChartKind.LINE,
    ChartKind.BAR,
    ChartKind.NUMBER,
    ChartKind.PIE,
    ChartKind.TABLE,
    ChartKind.FUNNEL,
    ChartKind.RETENTION,
    ChartKind.LIFECYCLE,
}


async def test_product_overview_has_every_required_kind_and_a_text_tile() -> None:
    async with DemoProject() as demo:
        dashboard = await demo.get_dashboard(42)
    assert dashboard.name == "Product overview"
    insights = [t.insight for t in dashboard.tiles if t.insight is not None]
    assert len(insights) >= 8
    assert REQUIRED_ON_OVERVIEW <= {i.kind for i in insights}
    assert any(t.text and t.text.startswith("## Product overview") for t in dashboard.tiles)
    assert all(i.unsupported_reason == "" for i in insights)
    assert dashboard.url == f"{DEMO_BASE_URL}/project/1/dashboard/42"


async def test_demo_dashboards_use_a_sane_12_column_grid_in_order() -> None:
    demo = DemoProject()
    for dashboard_id, _ in demo.list_dashboards():
        dashboard = await demo.get_dashboard(dashboard_id)
        assert dashboard.tiles, dashboard_id
        for tile in dashboard.tiles:
            assert 0 <= tile.x and tile.w >= 1 and tile.x + tile.w <= 12 and tile.h >= 1
        positions = [(t.y, t.x) for t in dashboard.tiles]
        assert positions == sorted(positions)
        # No two tiles overlap.
        cells = [(t.x + dx, t.y + dy) for t in dashboard.tiles for dx in range(t.w) for dy in range(t.h)]
        assert len(cells) == len(set(cells)), dashboard_id


async def test_every_demo_insight_normalizes_and_is_reachable_by_id_and_short_id() -> None:
    demo = DemoProject()
    listed = demo.list_insights()
    assert len(listed) >= 12
    for insight_id, short_id, name in listed:
        by_id = await demo.get_insight(insight_id)
        by_short = await demo.get_insight(short_id)
        assert by_id == by_short
        assert by_id.name == name and by_id.kind is not ChartKind.UNSUPPORTED
        assert by_id.url == f"{DEMO_BASE_URL}/project/1/insights/{short_id}"


async def test_payloads_are_posthog_shaped_copies() -> None:
    demo = DemoProject()
    payload = await demo.get_dashboard_payload(42)
    assert {"id", "name", "tiles"} <= payload.keys()
    assert normalize_dashboard(payload, base_url=DEMO_BASE_URL, project_id=1) == await demo.get_dashboard(42)
    payload["tiles"].clear()  # callers may mutate what they get
    assert (await demo.get_dashboard_payload(42))["tiles"]
    insight = await demo.get_insight_payload("dm-sgnp")
    assert normalize_insight(insight).series[0].aggregated_value == 3141592


async def test_unknown_ids_are_not_found() -> None:
    demo = DemoProject()
    with pytest.raises(PostHogNotFound, match="Insight 9999 was not found in the demo project"):
        await demo.get_insight(9999)
    with pytest.raises(PostHogNotFound, match="Insight dm-nope was not found"):
        await demo.get_insight("dm-nope")
    with pytest.raises(PostHogNotFound, match="Dashboard 7 was not found in the demo project"):
        await demo.get_dashboard(7)


async def test_check_access_and_close() -> None:
    demo = DemoProject()
    assert await demo.check_access() == "Demo project"
    await demo.close()


def test_open_source_picks_demo_or_client() -> None:
    assert isinstance(open_source(host=""), DemoProject)
    assert isinstance(open_source(host=None), DemoProject)
    assert isinstance(open_source(host=" Demo "), DemoProject)
    client = open_source(host="https://eu.posthog.com", project_id=3, api_key="phx_x")
    assert isinstance(client, PostHogClient) and client.project_id == 3
    with pytest.raises(ValueError, match="project id and a personal API key"):
        open_source(host="https://eu.posthog.com", project_id=None, api_key="phx_x")

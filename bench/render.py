"""Render benchmark: a fresh browser per image (as PostHog's and Superset's exporters do) against the warm pool.

    .venv/bin/python bench/render.py [--runs 15] [--fresh-runs 5] [--scale 2]

Prints the median seconds per insight image both ways, their ratio, and the time of a 12-tile dashboard (the
images a delivery sends, and with the grid image as well).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from core.settings import get_settings  # noqa: E402
from posthog_api.content import Dashboard, Insight, Tile  # noqa: E402
from posthog_api.normalize import normalize_insight  # noqa: E402
from render import Renderer  # noqa: E402
from render.browser_pool import CHROMIUM_FLAGS  # noqa: E402
from render.pages import insight_page  # noqa: E402
from render.routes import page_url  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "posthog-fixtures" / "insights"
LOCAL_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "posthog" / "insights"


def load_insight(name: str) -> Insight:
    for folder in (LOCAL_FIXTURES, FIXTURES):
        path = folder / f"{name}.json"
        if path.exists():
            return normalize_insight(json.loads(path.read_text(encoding="utf-8")))
    raise SystemExit(f"fixture {name}.json not found in {LOCAL_FIXTURES} or {FIXTURES}")


def fresh_browser_render(url: str, width: int, scale: float, timeout: float) -> bytes:
    """One image the cold way: new chromedriver + Chromium + profile, load the page (and plotly.js), quit."""
    settings = get_settings()
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    options = Options()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = settings.chromium_path
    driver = webdriver.Chrome(service=Service(settings.chromedriver_path), options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": scale, "mobile": False},
        )
        driver.get(url)
        WebDriverWait(driver, timeout, poll_frequency=0.02).until(
            lambda d: d.execute_script("return window.__exportReady")
        )
        size = driver.execute_script("return window.exporter.measure()")
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "clip": {"x": 0, "y": 0, "width": max(width, size["width"]), "height": size["height"], "scale": 1},
                "captureBeyondViewport": True,
                "optimizeForSpeed": True,
            },
        )
        return base64.b64decode(shot["data"])
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def twelve_tile_dashboard(insights: list[Insight]) -> Dashboard:
    tiles = []
    for index in range(12):
        x, y = (index % 3) * 4, (index // 3) * 5
        tiles.append(Tile(id=index + 1, x=x, y=y, w=4, h=5, insight=insights[index % len(insights)]))
    return Dashboard(id=1, name="Twelve tiles", tiles=tiles)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--insight", default="trendsLineMulti", help="fixture name (default trendsLineMulti)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--fresh-runs", type=int, default=5)
    parser.add_argument("--dashboard-runs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--width", type=int, default=1000)
    args = parser.parse_args()

    insight = load_insight(args.insight)
    async with Renderer(get_settings(), pool_size=1) as renderer:
        # (b) warm pool: one session, so every image is rendered by the same warm page.
        await renderer.render_insight(insight, width=args.width, scale=args.scale)  # first use of this size
        warm = []
        for _ in range(args.runs):
            started = time.perf_counter()
            await renderer.render_insight(insight, width=args.width, scale=args.scale)
            warm.append(time.perf_counter() - started)

        # (a) fresh browser per image, drawing the same page from the same server.
        store = renderer.store
        fresh = []
        for _ in range(args.fresh_runs):
            token = store.put(insight_page(insight, args.width))
            started = time.perf_counter()
            await asyncio.to_thread(
                fresh_browser_render, renderer.base_url + page_url(token), args.width, args.scale, 60.0
            )
            fresh.append(time.perf_counter() - started)
            store.discard(token)

    # A dashboard as a delivery needs it (one image per tile), on the pool as `serve` and `worker` size it:
    # the tiles are spread over its browsers. Then with the grid image too, as `app.py render` makes it.
    names = ["trendsLine", "trendsBarBreakdown", "trendsPie", "trendsNumber", "funnelLeftToRight", "retention"]
    dashboard = twelve_tile_dashboard([load_insight(name) for name in names])
    async with Renderer(get_settings()) as renderer:
        pool_size = len(renderer.pool.sessions)
        await renderer.render_dashboard(dashboard, scale=args.scale, full=True)
        dash, dash_full = [], []
        for _ in range(args.dashboard_runs):
            started = time.perf_counter()
            images = await renderer.render_dashboard(dashboard, scale=args.scale, full=False)
            dash.append(time.perf_counter() - started)
            started = time.perf_counter()
            await renderer.render_dashboard(dashboard, scale=args.scale, full=True)
            dash_full.append(time.perf_counter() - started)

    warm_median, fresh_median = statistics.median(warm), statistics.median(fresh)
    print(f"insight {args.insight!r} at {args.width}px, scale {args.scale:g}")
    print(f"  fresh browser per image: median {fresh_median:.3f}s over {len(fresh)} runs")
    print(f"  warm pool:               median {warm_median:.3f}s over {len(warm)} runs")
    print(f"  ratio fresh / warm:      {fresh_median / warm_median:.1f}x")
    print(f"12-tile dashboard on a pool of {pool_size}:")
    print(f"  the {len(images.tiles)} tile images a delivery sends: median {statistics.median(dash):.3f}s "
          f"over {len(dash)} runs")
    print(f"  with the grid image too:       median {statistics.median(dash_full):.3f}s")

if __name__ == "__main__":
    asyncio.run(main())

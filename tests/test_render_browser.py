"""Rendering through real Chromium: every fixture, the demo dashboard, crashes, time-outs, the CLI and Remote."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from core.settings import Settings, get_settings
from posthog_api.content import ChartKind, Insight, Series
from posthog_api.demo import DemoProject
from posthog_api.normalize import normalize_insight
from render import DashboardImages, Renderer, RenderTimeout
from render.pages import insight_page

pytestmark = pytest.mark.browser
in_module_loop = pytest.mark.asyncio(loop_scope="module")  # shares the module-scoped renderer

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "posthog" / "insights"
SHARED_FIXTURES = REPO.parent / "shared" / "posthog-fixtures" / "insights"
WIDTH = 1000
SCALE = 2
PAGE_PROBE = """return [window.__exportReady, Array.from(
  document.querySelectorAll("#export-root .notice-unsupported, #export-root .notice-empty, #export-root .chart-error"),
  el => el.className + ": " + el.textContent.trim().replace(/\\s+/g, " "))]"""


def load(name: str) -> Insight:
    return normalize_insight(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


def drawn_share(png: bytes) -> float:
    """The share of pixels that differ from the page background (white)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - histogram[255] / (image.width * image.height)


async def assert_page_ready_without_placeholders(renderer: Renderer) -> None:
    """The page the browser drew last says ready (not "error:<tiles>") and shows no card instead of a chart:
    neither the "not supported" / "No data" card of render/templates/_insight.html nor exporter.js's error."""
    assert renderer.pool is not None
    (session,) = renderer.pool.sessions
    ready, cards = await asyncio.to_thread(session.driver.execute_script, PAGE_PROBE)
    assert ready is True, f"the page is not ready: {ready!r}"
    assert cards == [], cards


def assert_png_drawn(png: bytes, css_width: int, scale: int = SCALE, min_share: float = 0.01) -> Image.Image:
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.width == css_width * scale
    assert drawn_share(png) >= min_share, "the image is (nearly) blank"
    return image


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def renderer() -> AsyncIterator[Renderer]:
    async with Renderer(Settings(), pool_size=1) as shared:
        yield shared


def test_the_in_repo_fixtures_cover_every_shared_fixture() -> None:
    if SHARED_FIXTURES.is_dir():
        shared = {p.name for p in SHARED_FIXTURES.glob("*.json")}
        assert shared <= {p.name for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
@in_module_loop
async def test_every_fixture_renders_to_a_drawn_png(renderer: Renderer, name: str) -> None:
    insight = load(name)
    png = await renderer.render_insight(insight, width=WIDTH, scale=SCALE)
    # Funnels, retention and paths may widen the page to stay readable; the image follows the page.
    assert_png_drawn(png, insight_page(insight, WIDTH).width)
    await assert_page_ready_without_placeholders(renderer)


@in_module_loop
async def test_scale_one_and_a_custom_width(renderer: Renderer) -> None:
    png = await renderer.render_insight(load("trendsLine"), width=640, scale=1)
    image = assert_png_drawn(png, 640, scale=1)
    assert 300 < image.height < 1000


@in_module_loop
async def test_cjk_and_emoji_labels_draw(renderer: Renderer) -> None:
    insight = Insight(
        id=1,
        short_id="cjk",
        name="注册用户 🚀 サインアップ 가입",
        kind=ChartKind.BAR,
        x_labels=["一月", "二月", "三月"],
        series=[Series(label="浏览 😀", values=[3, 5, 2], breakdown_value="中国")],
    )
    assert_png_drawn(await renderer.render_insight(insight), WIDTH)


@in_module_loop
async def test_demo_dashboard_renders_a_full_image_and_one_per_tile(renderer: Renderer) -> None:
    async with DemoProject() as demo:
        dashboard = await demo.get_dashboard(42)
    images = await renderer.render_dashboard(dashboard, width=1200, scale=SCALE)
    assert isinstance(images, DashboardImages)
    await assert_page_ready_without_placeholders(renderer)
    full = assert_png_drawn(images.full, 1200)
    assert [tile.id for tile, _ in images.tiles] == [t.id for t in sorted(dashboard.tiles, key=lambda t: (t.y, t.x))]
    for tile, png in images.tiles:
        image = Image.open(io.BytesIO(png))
        assert 0 < image.width < full.width and 0 < image.height < full.height, tile.id
        assert drawn_share(png) > 0.01, f"tile {tile.id} is blank"


@in_module_loop
async def test_a_page_that_never_becomes_ready_times_out_without_an_image(renderer: Renderer) -> None:
    insight = load("trendsLine")
    page = insight_page(insight, WIDTH).with_never_ready()
    started = time.monotonic()
    with pytest.raises(RenderTimeout) as caught:
        await renderer.render_page(page, timeout_seconds=1.5)
    assert time.monotonic() - started < 10
    assert caught.value.tiles == [f"insight {insight.short_id}"]
    assert insight.name in str(caught.value)
    # The stuck session is replaced; the next render works.
    assert_png_drawn(await renderer.render_insight(insight), WIDTH)


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


@in_module_loop
async def test_a_killed_browser_is_replaced_and_the_render_still_succeeds(renderer: Renderer) -> None:
    assert renderer.pool is not None
    await renderer.render_insight(load("trendsBar"))  # the session is warm and idle again
    (session,) = renderer.pool.sessions
    driver_pid = session.chromedriver_pid
    assert driver_pid is not None
    browsers = _children(driver_pid)
    assert browsers, "chromedriver has no Chromium child"
    for pid in browsers:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in browsers):
        assert time.monotonic() < deadline, f"Chromium processes {browsers} still run 10s after SIGKILL"
        await asyncio.sleep(0.05)

    png = await renderer.render_insight(load("trendsPie"))
    assert_png_drawn(png, WIDTH)
    assert renderer.pool.sessions[0] is not session


@in_module_loop
async def test_concurrent_renders_share_the_pool_and_sessions_are_recycled_after_k_renders() -> None:
    names = ["trendsNumber", "retention", "funnelTopToBottom", "lifecycle"]
    async with Renderer(Settings(), pool_size=2, recycle_after=2) as pooled:
        assert pooled.pool is not None
        first = set(pooled.pool.sessions)
        pngs = await asyncio.gather(*(pooled.render_insight(load(name)) for name in names))
        for name, png in zip(names, pngs, strict=True):
            assert_png_drawn(png, insight_page(load(name), WIDTH).width)
        assert_png_drawn(await pooled.render_insight(load("trendsBar")), WIDTH)
        assert not first & set(pooled.pool.sessions)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listened on 127.0.0.1:{port} within {timeout:g}s ({exc})") from None
            time.sleep(0.05)


@in_module_loop
async def test_a_selenium_grid_url_switches_to_a_remote_driver() -> None:
    # A chromedriver listening on a port is a W3C remote end, as a Grid node is.
    port = _free_port()
    chromedriver = subprocess.Popen(
        [get_settings().chromedriver_path, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_port(port)
        settings = Settings(selenium_grid_url=f"http://127.0.0.1:{port}")
        async with Renderer(settings, pool_size=1) as remote:
            assert_png_drawn(await remote.render_insight(load("trendsLineMulti")), WIDTH)
    finally:
        chromedriver.terminate()
        try:
            chromedriver.wait(10)
        except subprocess.TimeoutExpired:
            chromedriver.kill()
            chromedriver.wait(10)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "render.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_cli_renders_a_demo_insight_a_dashboard_and_a_payload_file(tmp_path: Path) -> None:
    insight = _cli("insight", "1001", "-o", str(tmp_path / "insight.png"))
    assert insight.returncode == 0, insight.stderr
    assert_png_drawn((tmp_path / "insight.png").read_bytes(), WIDTH)

    dashboard = _cli("dashboard", "42", "-o", str(tmp_path / "board"), "--scale", "1")
    assert dashboard.returncode == 0, dashboard.stderr
    files = sorted(p.name for p in (tmp_path / "board").iterdir())
    assert "dashboard-42.png" in files and len(files) > 2
    assert_png_drawn((tmp_path / "board" / "dashboard-42.png").read_bytes(), 1200, scale=1)

    from_file = _cli("--from-file", str(FIXTURES / "funnelTopToBottom.json"), "-o", str(tmp_path / "f.png"))
    assert from_file.returncode == 0, from_file.stderr
    assert_png_drawn((tmp_path / "f.png").read_bytes(), WIDTH)

    missing = _cli("insight", "999999", "-o", str(tmp_path / "missing.png"))
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert not (tmp_path / "missing.png").exists()


@in_module_loop
async def test_a_dashboard_prints_to_a_pdf_with_every_tile(renderer: Renderer) -> None:
    from pypdf import PdfReader

    def words(text: str) -> str:
        return "".join(text.split())

    dashboard = await DemoProject().get_dashboard(42)
    pdf = await renderer.print_pdf(dashboard)
    assert pdf.startswith(b"%PDF")
    text = words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    for tile in dashboard.tiles:
        assert words(tile.title) in text, tile.title
    assert words(dashboard.name) in text

"""Rendering through a real Selenium Grid 4: a hub and two nodes on loopback, each node running Debian's Chromium
and chromedriver by path (nothing downloaded). The Grid server is the jar of the `@nightwatch/selenium-server` npm
package, run by Debian's Java; `make setup` installs both. A dashboard renders through the Grid, sessions are
reused and released, and a node killed in the middle of a render costs no image."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from PIL import Image

from core.settings import Settings
from posthog_api.content import Dashboard, Insight
from posthog_api.demo import DemoProject
from render import DashboardImages, Renderer, add_routes
from render.errors import BrowserCrashed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
GRID_DIR = REPO / ".grid"  # where `make setup` puts the Grid server jar
START_SECONDS = 120.0  # three JVMs on a 2-core machine
# The JVMs serve a few requests each: start them fast rather than tune them for long runs.
JAVA_FLAGS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m"]
NODE_TOML = """\
[node]
detect-drivers = false      # only the driver configured below: Debian's, by path
selenium-manager = false    # never download a driver
override-max-sessions = true
max-sessions = 2

[[node.driver-configuration]]
display-name = "Debian Chromium"
webdriver-executable = "{chromedriver}"
max-sessions = 2
stereotype = '{{"browserName": "chrome", "goog:chromeOptions": {{"binary": "{chromium}"}}}}'
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_members(groups: set[int]) -> list[int]:
    """Live processes (not zombies) in any of these process groups."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) in groups:
            members.append(int(stat.parent.name))
    return members


@dataclass
class Grid:
    """A hub and its nodes, each a JVM in its own process group (with the chromedrivers and Chromiums it starts)."""

    url: str
    folder: Path
    hub: subprocess.Popen[bytes] | None = None
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by node URL
    killed: set[str] = field(default_factory=set)  # nodes killed on purpose

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/status", timeout=10) as response:
            return json.load(response)["value"]

    def live_nodes(self) -> list[str]:
        return [node["uri"] for node in self.status()["nodes"] if node["availability"] == "UP"]

    def sessions(self) -> dict[str, str]:
        """The hub's view: session id -> URL of the node that runs it."""
        return {
            slot["session"]["sessionId"]: node["uri"]
            for node in self.status()["nodes"]
            for slot in node["slots"]
            if slot["session"]
        }

    def wait_until(self, what: str, condition, timeout: float = START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, process in [("hub", self.hub), *self.nodes.items()]:
                if process is not None and name not in self.killed and process.poll() is not None:
                    pytest.fail(f"the Grid's {name} exited ({process.returncode}) before {what}\n{self.logs()}")
            try:
                if condition():
                    return
            except OSError:  # the hub is not listening yet
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Grid did not reach: {what} within {timeout:g}s\n{self.logs()}")
            time.sleep(0.2)

    def end_session(self, session_id: str) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/session/{session_id}", method="DELETE"), timeout=30)

    def kill_node(self, uri: str) -> None:
        """SIGKILL a node with everything it started: no goodbye to the hub, its browsers gone mid-command."""
        self.killed.add(uri)
        os.killpg(self.nodes[uri].pid, signal.SIGKILL)
        self.nodes[uri].wait(30)

    def stop(self) -> None:
        processes = [p for p in [self.hub, *self.nodes.values()] if p is not None]
        groups = {p.pid for p in processes}
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in processes:
            process.wait(30)
        deadline = time.monotonic() + 30
        while left := _group_members(groups):
            if time.monotonic() > deadline:
                raise AssertionError(f"processes of the Grid outlived it: {left}")
            time.sleep(0.1)

    def logs(self, lines: int = 15) -> str:
        parts = []
        for log in sorted(self.folder.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} (last {lines} lines)\n" + "\n".join(tail))
        return "\n".join(parts)


def _grid_server() -> tuple[str, Path]:
    java = shutil.which("java")
    jars = sorted(GRID_DIR.glob("selenium-server-*.jar"))
    if java is None or not jars:
        missing = " and ".join(
            what for what, absent in [("Java (openjdk-17-jre-headless)", java is None),
                                      (f"the Selenium Grid server jar in {GRID_DIR}", not jars)] if absent
        )
        pytest.fail(f"The Grid tests need {missing}: run `make setup`, which installs them.", pytrace=False)
    return java, jars[-1]


@pytest.fixture(scope="module")
def grid() -> Iterator[Grid]:
    java, jar = _grid_server()
    folder = Path(tempfile.mkdtemp(prefix="posthog-exports-grid-"))
    settings = Settings()
    (folder / "node.toml").write_text(
        NODE_TOML.format(chromium=settings.chromium_path, chromedriver=settings.chromedriver_path)
    )
    hub_port, publish, subscribe = _free_port(), _free_port(), _free_port()
    bus = ["--publish-events", f"tcp://127.0.0.1:{publish}", "--subscribe-events", f"tcp://127.0.0.1:{subscribe}"]
    grid = Grid(url=f"http://127.0.0.1:{hub_port}", folder=folder)
    # Browser profiles and the JVMs' scratch files stay in the folder removed at the end.
    env = {**os.environ, "TMPDIR": str(folder)}

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(folder / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                [java, *JAVA_FLAGS, f"-Djava.io.tmpdir={folder}", "-jar", str(jar), *args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=folder,
                start_new_session=True,  # its own process group: killed with all it starts
            )

    try:
        # The hub checks its nodes every 10 s (the least it allows; 120 s by default), so a dead node stops being
        # offered new sessions soon after it dies.
        grid.hub = start("hub", "hub", "--host", "127.0.0.1", "--port", str(hub_port), *bus,
                         "--healthcheck-interval", "10")
        for number in (1, 2):
            port = _free_port()
            grid.nodes[f"http://127.0.0.1:{port}"] = start(
                f"node{number}", "node", "--host", "127.0.0.1", "--port", str(port),
                "--hub", grid.url, *bus, "--config", str(folder / "node.toml"),
            )
        grid.wait_until("ready with 2 nodes", lambda: grid.status()["ready"] and len(grid.live_nodes()) == 2)
        yield grid
    finally:
        try:
            grid.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def dashboard() -> Dashboard:
    async with DemoProject() as demo:
        return await demo.get_dashboard(42)


def drawn_share(png: bytes) -> float:
    """The share of pixels that differ from the page background (white)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return 1 - image.histogram()[255] / (image.width * image.height)


def assert_every_image_drawn(images: DashboardImages, dashboard: Dashboard) -> None:
    assert [tile.id for tile, _ in images.tiles] == [t.id for t in sorted(dashboard.tiles, key=lambda t: (t.y, t.x))]
    for tile, png in [*images.tiles, *([(None, images.full)] if images.full else [])]:
        assert png.startswith(b"\x89PNG"), tile
        assert drawn_share(png) > 0.01, f"tile {tile.id if tile else '(the whole dashboard)'} is blank"


def first_insight(dashboard: Dashboard) -> Insight:
    return next(tile.insight for tile in dashboard.tiles if tile.insight is not None)


def session_ids(renderer: Renderer) -> set[str]:
    assert renderer.pool is not None
    return {session.driver.session_id for session in renderer.pool.sessions}


async def test_a_dashboard_renders_through_the_grid_in_sessions_reused_and_released(
    grid: Grid, dashboard: Dashboard
) -> None:
    settings = Settings(selenium_grid_url=grid.url)
    async with Renderer(settings, pool_size=2) as renderer:
        ours = session_ids(renderer)
        assert len(ours) == 2 and ours <= set(grid.sessions())  # two sessions, held on the Grid's nodes
        assert_every_image_drawn(await renderer.render_dashboard(dashboard, width=1200), dashboard)
        assert drawn_share(await renderer.render_insight(first_insight(dashboard))) > 0.01
        assert session_ids(renderer) == ours  # the same sessions served every render

        # A node ends a session of ours (as it does one idle past its --session-timeout): the render that finds
        # it gone gets a new session and still delivers every image.
        ended = sorted(ours)[0]
        await asyncio.to_thread(grid.end_session, ended)
        assert_every_image_drawn(await renderer.render_dashboard(dashboard, width=1200), dashboard)
        last = session_ids(renderer)
        assert ended not in last and len(last) == 2
    # Closing the renderer released its sessions: the Grid's slots are free for others.
    await asyncio.to_thread(grid.wait_until, "our sessions released", lambda: not last & set(grid.sessions()), 30)


async def test_render_page_base_url_is_where_the_grid_browsers_fetch_pages(grid: Grid, dashboard: Dashboard) -> None:
    # The renderer's own page server, reached by the nodes under another name than the loopback address it uses
    # by default; without a port in the URL, it takes a free one.
    settings = Settings(selenium_grid_url=grid.url, render_page_base_url="http://localhost", host="127.0.0.1")
    async with Renderer(settings, pool_size=1) as renderer:
        assert renderer.base_url.startswith("http://localhost:")
        png = await renderer.render_insight(first_insight(dashboard))
        assert drawn_share(png) > 0.01


async def test_a_page_address_the_grid_cannot_reach_is_named_in_the_error(grid: Grid) -> None:
    app = web.Application()
    add_routes(app)  # never served: nothing listens at the address below
    settings = Settings(selenium_grid_url=grid.url, render_page_base_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(BrowserCrashed) as caught:
        async with Renderer(settings, app=app, pool_size=1):
            pass
    assert "RENDER_PAGE_BASE_URL" in str(caught.value) and settings.render_page_base_url in str(caught.value)


class SpecGate:
    """Holds the browsers' requests for page specs until released: each browser is then mid-render, its page
    loaded and waiting for what to draw, while the renderer waits on the page's readiness."""

    def __init__(self, requests: int) -> None:
        self.expected = requests
        self.seen = 0
        self.arrived = asyncio.Event()
        self.released = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        spec = request.path.startswith("/exporter/pages/") and request.path.endswith(".json")
        if spec and not self.released.is_set():
            self.seen += 1
            if self.seen >= self.expected:
                self.arrived.set()
            await self.released.wait()
        return await handler(request)


@contextlib.asynccontextmanager
async def _serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def test_a_node_killed_mid_render_costs_no_image(grid: Grid, dashboard: Dashboard) -> None:
    assert len(grid.live_nodes()) == 2
    # The service's way: the exporter routes on its own web application (here with the gate in front).
    gate = SpecGate(requests=2)
    app = web.Application(middlewares=[gate.middleware])
    add_routes(app)
    async with _serve(app) as base_url:
        settings = Settings(selenium_grid_url=grid.url)
        async with Renderer(settings, app=app, base_url=base_url, pool_size=2) as renderer:
            before = session_ids(renderer)
            # The grid image and the tiles' page render at once, one in each session.
            rendering = asyncio.create_task(renderer.render_dashboard(dashboard, width=1200))
            await asyncio.wait_for(gate.arrived.wait(), START_SECONDS)
            where = await asyncio.to_thread(grid.sessions)
            victim = where[sorted(before)[0]]  # the node of one of our two sessions, both busy drawing
            killed = {session for session, node in where.items() if node == victim}
            await asyncio.to_thread(grid.kill_node, victim)
            gate.released.set()

            images = await rendering
            assert_every_image_drawn(images, dashboard)
            after = session_ids(renderer)
            assert not after & killed, "a session of the killed node is still in use"
            survivor = next(uri for uri in grid.nodes if uri != victim)
            where = await asyncio.to_thread(grid.sessions)
            assert {where.get(session) for session in after} == {survivor}
            # And the pool goes on working on what is left.
            assert drawn_share(await renderer.render_insight(first_insight(dashboard))) > 0.01

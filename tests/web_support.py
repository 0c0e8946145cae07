"""What the web tests share: a PostHog dashboard whose words carry script, share links made through the service, a
connection to the PostHog stand-in, the whole web application on a loopback port (with Sign in with Slack against
the Slack stand-in when asked), and one headless Chromium per test module."""

from __future__ import annotations

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from core import shares
from core.models import PostHogConnection
from core.settings import Settings
from core.subscriptions import demo_connection
from render.browser_pool import CHROMIUM_FLAGS
from tests.api_support import start_api
from tests.standins.fixtures import load_fixture
from tests.standins.posthog_server import PostHogStandIn

PAYLOAD_TITLE = '<img src=x onerror="window.__pwned=1">Revenue'
PAYLOAD_TEXT = '<script>window.__pwned=2</script> **Notes** <b onmouseover="window.__pwned=3">bold</b>'


def hostile_dashboard(dashboard_id: int = 7) -> dict:
    insight = load_fixture("trendsLine")
    insight["name"] = PAYLOAD_TITLE
    return {
        "id": dashboard_id, "name": f"{PAYLOAD_TITLE} dashboard", "description": "<i>desc</i>",
        "tiles": [
            {"id": 1, "insight": insight, "layouts": {"sm": {"x": 0, "y": 0, "w": 6, "h": 5}}},
            {"id": 2, "text": {"body": PAYLOAD_TEXT}, "insight": None,
             "layouts": {"sm": {"x": 6, "y": 0, "w": 6, "h": 5}}},
        ],
    }


async def start(db, **settings):
    return await start_api(db, **settings)


@pytest.fixture
async def env(db):
    """The service's web application on loopback (see `start`), closed after the test."""
    env = await start(db)
    yield env
    await env.close()


async def another_origin(html: str) -> tuple[str, web.AppRunner]:
    """A plain site serving `html` on its own loopback port (another origin than the service's), with no policy of
    its own; returns its address and its runner (to clean up)."""
    app = web.Application()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/", runner  # type: ignore[union-attr]


async def start_with_signin(db, **settings):
    """The application with Sign in with Slack on: the stand-in's authorize page, PUBLIC_URL where it listens."""
    env = await start_api(db, slack_client_id="111.222", slack_client_secret="openid-secret", **settings)
    # Known only once both listen; the routes read the same Settings object on every request.
    env.settings.slack_openid_authorize_url = env.slack.openid_authorize_url
    env.settings.public_url = env.base
    return env


async def member_workspace(env, team_id: str, *, with_demo: bool = True) -> int:
    """A workspace that installed the app, with the demo project connected (dashboard 42) unless told not to."""
    workspace_id = await env.install(team_id)
    if with_demo:
        async with env.db.transaction() as session:
            await demo_connection(session, workspace_id)
    return workspace_id


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for a test module (import it there), the way the renderer starts one."""
    settings = Settings()
    options = Options()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.binary_location = settings.chromium_path
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to read Content-Security-Policy refusals
    # The driver's path is given, so Selenium Manager never runs (it would try to download one).
    driver = webdriver.Chrome(service=Service(settings.chromedriver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


async def share_of(db, connection=None, **options) -> shares.NewToken:
    async with db.transaction() as session:
        connection = await session.merge(connection) if connection is not None else await demo_connection(session)
        ref, kind = options.pop("ref", "42"), options.pop("kind", "dashboard")
        return await shares.create_share(session, connection=connection, content_type=kind,
                                         content_ref=ref, title="Shared", **options)


async def standin_connection(db, posthog: PostHogStandIn) -> PostHogConnection:
    async with db.transaction() as session:
        connection = PostHogConnection(name="Acme", host=posthog.url, project_id=posthog.project_id,
                                       api_key=posthog.api_key)
        session.add(connection)
    return connection


async def get(env, path: str, **kwargs):
    async with env.http.get(env.base + path, allow_redirects=False, **kwargs) as response:
        return response.status, response.headers, await response.text()

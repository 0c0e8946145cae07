"""What the share-link tests share: a PostHog dashboard whose words carry script, share links made through the
service, a connection to the PostHog stand-in, and the whole web application on a loopback port."""

from __future__ import annotations

from core import shares
from core.models import PostHogConnection
from core.subscriptions import demo_connection
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


async def share_of(db, connection=None, **options) -> shares.NewToken:
    async with db.transaction() as session:
        connection = await session.merge(connection) if connection is not None else await demo_connection(session)
        ref = options.pop("ref", "42")
        return await shares.create_share(session, connection=connection, content_type="dashboard",
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

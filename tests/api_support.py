"""What the API tests share: the whole web application (`app.build_web_app`: the API beside the Slack routes) on a
loopback port 0 with the Slack stand-in, installed workspaces, keys made through the key service, and a small HTTP
client that returns status, headers and body."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from app import build_web_app
from core import api_keys
from core.db import Database
from core.settings import Settings
from tests.standins.slack_api import SIGNING_SECRET, BotEnv, SlackDriver, SlackStandIn


@dataclass
class Answer:
    status: int
    headers: CIMultiDict  # any spelling of a name finds it
    body: Any  # parsed JSON, or the text when it is not JSON

    def __repr__(self) -> str:  # what a failed assertion shows
        return f"Answer({self.status}, {self.body!r})"


@dataclass
class ApiEnv:
    base: str
    db: Database
    settings: Settings
    slack: SlackStandIn
    driver: SlackDriver
    runner: web.AppRunner
    http: aiohttp.ClientSession
    workspaces: dict[str, int] = field(default_factory=dict)  # team id -> workspace id

    async def install(self, team_id: str, *, user_id: str = "UADMIN") -> int:
        """Install the app in a Slack workspace as OAuth would (through the installation store)."""
        await BotEnv(self.slack, self.driver, self.settings, self.db, self.runner).install(team_id, user_id=user_id)
        async with self.db.session() as session:
            workspace = await api_keys.workspace_by_team(session, team_id)
        self.workspaces[team_id] = workspace.id
        return workspace.id

    async def key(self, team_id: str | None = None, *, name: str | None = None, read_only: bool = False,
                  created_by_slack_user: str | None = None) -> str:
        """A new key's secret, for a workspace (or the operator with None)."""
        async with self.db.transaction() as session:
            made = await api_keys.create_api_key(
                session, workspace_id=self.workspaces[team_id] if team_id else None,
                name=name or f"key {uuid.uuid4().hex[:12]}", read_only=read_only,
                created_by_slack_user=created_by_slack_user)
        return made.secret

    async def call(self, method: str, path: str, key: str | None = None, *, json_body: Any = None,
                   headers: dict[str, str] | None = None, data: bytes | None = None) -> Answer:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        url = path if path.startswith("http") else f"{self.base}{path}"
        kwargs: dict[str, Any] = {"headers": sent, "allow_redirects": False}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        async with self.http.request(method, url, **kwargs) as response:
            raw = await response.read()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            return Answer(response.status, CIMultiDict(response.headers), body)

    async def close(self) -> None:
        await self.http.close()
        await self.runner.cleanup()
        await self.slack.close()


def api_settings(database_url: str, **overrides: Any) -> Settings:
    values = {"database_url": database_url, "secret_key": "test-secret-key", "slack_signing_secret": SIGNING_SECRET,
              "posthog_allow_private_hosts": True}  # the PostHog stand-in listens on 127.0.0.1
    return Settings(**{**values, **overrides})


async def start_api(db: Database, **overrides: Any) -> ApiEnv:
    """The service's web application on 127.0.0.1, port 0, with a fresh Slack stand-in."""
    slack = await SlackStandIn().start()
    settings = api_settings(db.url, slack_api_url=slack.api_url, **overrides)
    runner = web.AppRunner(build_web_app(settings, db))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    return ApiEnv(base, db, settings, slack, SlackDriver(base, SIGNING_SECRET, slack), runner, aiohttp.ClientSession())

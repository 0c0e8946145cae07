"""Counting stand-ins of the Slack Web API and of an SMTP server, in a process of their own, for benchmarks.

In production Slack and the mail server are other machines: their work must not be counted in our
per-delivery cost. `python bench/standins.py TOKEN TEAM` starts both on loopback, prints one JSON line with
their addresses, and serves until its standard input closes. `GET {slack}/bench/stats` answers the counts so
far; `POST {slack}/bench/reset` clears them; `GET {slack}/bench/targets` answers what each target received
(chat.postMessage calls by channel, emails by recipient), for counting duplicates and losses.

They accept and count, nothing more: the Slack methods a delivery calls (chat.postMessage, conversations.join
and the three steps of files_upload_v2, with the bot token TOKEN of workspace TEAM) and every email. Recording
calls, scripting errors and driving the app the way Slack does is the tests' stand-ins' job (tests/standins/).
A `serve` process answering slash commands also calls auth.test, users.info and users.conversations: they are
answered too (a workspace member who is no admin and in no private channel), and counted by method.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"


class Counts:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()  # Slack API method (and "upload") -> calls
        self.uploaded_bytes = 0
        self.emails = 0
        self.posts_by_channel: Counter[str] = Counter()  # chat.postMessage calls answered ok, by channel
        self.emails_by_recipient: Counter[str] = Counter()  # emails accepted, by envelope recipient

    def reset(self) -> None:
        self.calls.clear()
        self.uploaded_bytes = 0
        self.emails = 0
        self.posts_by_channel.clear()
        self.emails_by_recipient.clear()

    def targets_json(self) -> dict[str, Any]:
        return {"slack": dict(self.posts_by_channel), "email": dict(self.emails_by_recipient)}

    def as_json(self) -> dict[str, Any]:
        return {
            "posts": self.calls["chat.postMessage"],
            "uploads": self.calls["upload"],
            "uploaded_bytes": self.uploaded_bytes,
            "emails": self.emails,
            "unknown_methods": sorted(
                set(self.calls) - set(SlackApi.METHODS) - set(SlackApi.COMMAND_METHODS) - {"upload"}
            ),
        }


class SlackApi:
    """Answers the methods of a delivery as Slack does when all goes well; any other method is unknown."""

    METHODS = (
        "chat.postMessage", "conversations.join", "files.getUploadURLExternal", "files.completeUploadExternal",
    )
    # What answering a slash command asks of Slack: the token's identity, the user, their private channels.
    COMMAND_METHODS = ("auth.test", "users.info", "users.conversations")

    def __init__(self, counts: Counts, token: str, team: str) -> None:
        self.counts = counts
        self.token = token
        self.team = team
        self.base = ""
        self._ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/{method}", self.api),
            web.get("/api/{method}", self.api),  # users.info and users.conversations come as GET
            web.post("/upload/{file_id}", self.upload),
            web.get("/bench/stats", self.stats),
            web.get("/bench/targets", self.targets),
            web.post("/bench/reset", self.reset),
        ]

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.counts.calls[method] += 1
        if method in self.COMMAND_METHODS:
            return await self.command_method(request, method)
        if method not in self.METHODS:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        serial = next(self._ids)
        if method == "files.getUploadURLExternal":
            file_id = f"F{serial:08d}"
            return web.json_response({"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"})
        if method == "files.completeUploadExternal":
            files = json.loads(params.get("files") or "[]")
            return web.json_response({"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                                            for f in files]})
        channel = params.get("channel", "")
        if method == "conversations.join":
            return web.json_response({"ok": True, "channel": {"id": channel, "is_member": True}})
        self.counts.posts_by_channel[channel] += 1
        return web.json_response({"ok": True, "channel": channel, "ts": f"{int(time.time())}.{serial:06d}",
                                  "team": self.team})

    async def command_method(self, request: web.Request, method: str) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        if method == "auth.test":
            return web.json_response({"ok": True, "url": "https://bench.slack.com/", "team": "Bench", "user": "posthog",
                                      "team_id": self.team, "user_id": "UBOTBENCH", "bot_id": "BBENCH"})
        if method == "users.info":
            user = params.get("user", "")
            return web.json_response({"ok": True, "user": {"id": user, "name": user.lower(), "is_admin": False,
                                                            "is_owner": False, "tz": "UTC"}})
        return web.json_response({"ok": True, "channels": [], "response_metadata": {"next_cursor": ""}})

    async def upload(self, request: web.Request) -> web.Response:
        self.counts.calls["upload"] += 1
        self.counts.uploaded_bytes += len(await request.read())  # only the size is kept
        return web.Response(text="OK - 0")

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.counts.as_json())

    async def targets(self, _request: web.Request) -> web.Response:
        return web.json_response(self.counts.targets_json())

    async def reset(self, _request: web.Request) -> web.Response:
        self.counts.reset()
        return web.json_response({"ok": True})


class CountingMail:
    """aiosmtpd handler: accepts every message and counts it."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd hook
        self.counts.emails += 1
        self.counts.emails_by_recipient.update(address.lower() for address in envelope.rcpt_tos)
        return "250 Message accepted for delivery"


async def serve(token: str, team: str) -> None:
    counts = Counts()
    slack = SlackApi(counts, token, team)
    app = web.Application(client_max_size=50 * 1024 * 1024)
    app.add_routes(slack.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    slack.base = f"http://{HOST}:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    mail = CountingMail(counts)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(mail, hostname=HOST), HOST, 0)
    smtp_port = smtp.sockets[0].getsockname()[1]

    print(json.dumps({"slack_api_url": f"{slack.base}/api/", "slack_base": slack.base, "smtp_host": HOST,
                      "smtp_port": smtp_port}), flush=True)
    try:
        await loop.run_in_executor(None, sys.stdin.read)
    finally:
        smtp.close()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))

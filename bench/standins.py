"""The Slack Web API stand-in and an SMTP server in a process of their own, for benchmarks.

In production Slack and the mail server are other machines: their work must not be counted in our
per-delivery cost. `python bench/standins.py TOKEN TEAM` starts both, prints one JSON line with their
addresses, and serves until its standard input closes. `GET {slack}/bench/stats` answers the counts so far;
`POST {slack}/bench/reset` clears them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.standins.slack_api import Call, SlackStandIn  # noqa: E402
from tests.standins.smtp_server import SmtpServer  # noqa: E402


class CountingSlack(SlackStandIn):
    """Keeps only the size of uploaded files (a thousand deliveries of images add up)."""

    def __init__(self) -> None:
        super().__init__()
        self.uploaded_bytes = 0

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        size = len(await request.read())
        self.uploaded_bytes += size
        self.uploads[file_id] = b""
        self.calls.append(Call("upload", {"file_id": file_id, "bytes": size}, None))
        return web.Response(text="OK - 0")


async def serve(token: str, team: str) -> None:
    slack = CountingSlack()
    smtp = SmtpServer().start()

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({
            "posts": len(slack.calls_to("chat.postMessage")),
            "uploads": len(slack.calls_to("upload")),
            "uploaded_bytes": slack.uploaded_bytes,
            "emails": len(smtp.messages),
        })

    async def reset(_request: web.Request) -> web.Response:
        slack.calls.clear()
        slack.uploaded_bytes = 0
        with smtp.handler.lock:
            smtp.handler.messages.clear()
        return web.json_response({"ok": True})

    await slack.start([web.get("/bench/stats", stats), web.post("/bench/reset", reset)])
    slack.add_token(token, team_id=team, bot_user_id="UBOTBENCH", bot_id="BBENCH")
    print(json.dumps({"slack_api_url": slack.api_url, "slack_base": slack.base, "smtp_host": smtp.host,
                      "smtp_port": smtp.port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    smtp.stop()
    await slack.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))

"""Counting stand-ins of the Slack Web API and of an SMTP server, in a process of their own, for benchmarks.

In production Slack and the mail server are other machines: their work must not be counted in our
per-delivery cost. `python bench/standins.py TOKEN TEAM` starts both on loopback, prints one JSON line with
their addresses, and serves until its standard input closes. `GET {slack}/bench/stats` answers the counts so
far; `POST {slack}/bench/reset` clears them; `GET {slack}/bench/targets` answers what each target received
(chat.postMessage calls by channel, emails by recipient), for counting duplicates and losses.

They accept and count, nothing more: the Slack methods a delivery calls (chat.postMessage, conversations.join
and the three steps of files_upload_v2, with the bot token TOKEN of workspace TEAM) and every email. Recording
calls, scripting errors and driving the app the way Slack does is the tests' stand-ins' job (tests/standins/).
A `serve` process answering slash commands also calls auth.test, users.info, users.conversations and
conversations.info: they are answered too (a workspace member who is no admin and in no private channel; a public
channel the app is in), and counted by method; `POST {slack}/bench/respond` stands in for a command's response_url.

The functions at the end are shared by the bench scripts (claim.py, ack.py, memory.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import hmac
import itertools
import json
import math
import os
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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
            "responses": self.calls["respond"],
            "unknown_methods": sorted(
                set(self.calls) - set(SlackApi.METHODS) - set(SlackApi.COMMAND_METHODS) - {"upload", "respond"}
            ),
        }


class SlackApi:
    """Answers the methods of a delivery as Slack does when all goes well; any other method is unknown."""

    METHODS = (
        "chat.postMessage", "conversations.join", "files.getUploadURLExternal", "files.completeUploadExternal",
    )
    # What answering a slash command asks of Slack: the token's identity, the user, their private channels, the
    # channel a subscription goes to.
    COMMAND_METHODS = ("auth.test", "users.info", "users.conversations", "conversations.info")

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
            web.post("/bench/respond", self.respond),  # a response_url: what a command says after its ack
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
        if method == "conversations.info":
            channel = params.get("channel", "")
            return web.json_response({"ok": True, "channel": {"id": channel, "name": f"bench-{channel[1:].lower()}",
                                                               "is_private": False, "is_member": True}})
        return web.json_response({"ok": True, "channels": [], "response_metadata": {"next_cursor": ""}})

    async def respond(self, request: web.Request) -> web.Response:
        self.counts.calls["respond"] += 1
        await request.read()
        return web.Response(text="ok")

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



# --- shared by the bench scripts (claim.py, ack.py, memory.py) ------------------------------------------------
# Imported as `standins` by a script of this folder (its folder is first on sys.path); what needs the service's
# own modules imports them when called, after the script has put the repository on sys.path.

REPO = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """In a child before exec: a process group of its own, and SIGTERM should the bench itself be killed."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def migrate(url: str, *, create: bool = True) -> None:
    """Create the PostgreSQL database of `url` when it does not exist (never the test suite's `test`), then run
    `app.py db upgrade` on it, as an operator would."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.database == "test":
            raise SystemExit("the database `test` belongs to the test suite; pick another one")
        if create:
            import asyncpg

            admin = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                          password=parsed.password, database="postgres")
            try:
                if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database):
                    await admin.execute(f'CREATE DATABASE "{parsed.database}"')
            finally:
                await admin.close()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", "db", "upgrade", cwd=REPO, env={**os.environ, "DATABASE_URL": url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"app.py db upgrade failed:\n{output.decode(errors='replace')}")


async def install_workspace(database, team: str, token: str) -> None:
    """The workspace `team` installed with the bot token `token`, through the app's own installation store."""
    from slack_sdk.oauth.installation_store import Installation

    from bot import DatabaseInstallationStore

    await DatabaseInstallationStore(database).async_save(Installation(
        app_id="A0APP", team_id=team, team_name="Bench", user_id="UADMIN", bot_token=token, bot_id="BBENCH",
        bot_user_id="UBOTBENCH", bot_scopes="commands,chat:write,files:write",
    ))


def subscription_row(schedule, next_delivery_at, **columns: Any) -> dict[str, Any]:
    """The column values of one subscription on `schedule`, for a bulk insert (bulk_subscriptions)."""
    return {**schedule.to_fields(), "next_delivery_at": next_delivery_at, **columns}


async def bulk_subscriptions(database, rows: list[dict[str, Any]], chunk: int = 10_000) -> None:
    """Insert subscription rows many at a time (executemany through one statement), not one ORM object each.
    The columns' own defaults (enabled, theme, created_at...) fill what a row leaves out."""
    from sqlalchemy import insert

    from core.models import Subscription

    statement = insert(Subscription.__table__)
    shapes: dict[frozenset, list[dict[str, Any]]] = {}  # one executemany per set of columns given
    for row in rows:
        shapes.setdefault(frozenset(row), []).append(row)
    for same in shapes.values():
        for start in range(0, len(same), chunk):
            async with database.engine.begin() as connection:
                await connection.execute(statement, same[start:start + chunk])


def signed_headers(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with (X-Slack-Signature over `v0:timestamp:body`)."""
    ts = int(time.time()) if timestamp is None else timestamp
    signature = "v0=" + hmac.new(signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature}


def slash_command(team: str, channel: str, user: str, text: str, serial: int,
                  response_url: str = "http://127.0.0.1:9/respond") -> str:
    """The form body of `/posthog TEXT` typed by `user` in `channel`, as Slack posts it."""
    return urlencode({
        "token": "legacy", "team_id": team, "team_domain": "bench", "channel_id": channel,
        "channel_name": f"bench-{channel[1:].lower()}", "user_id": user, "user_name": user.lower(),
        "command": "/posthog", "text": text, "api_app_id": "A0APP", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": f"trigger-{serial}",
    })


async def start_standins(token: str, team: str) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    """This file as a process of its own; (the process, its addresses). Close its stdin to stop it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__)), token, team,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, preexec_fn=die_with_parent,
    )
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if not line:
        raise SystemExit(f"bench/standins.py exited ({await process.wait()}) before printing its addresses")
    return process, json.loads(line)


async def stop_process(process: asyncio.subprocess.Process, seconds: float = 30) -> bool:
    """SIGTERM, then SIGKILL of its process group after `seconds`; True when it had to be killed."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), seconds)
        return False
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return True


def _parents() -> dict[int, int]:
    """The parent of every live process, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                continue
    return parents


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children...), from /proc."""
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, p in parents.items() if p == parent]
        found += children
        frontier += children
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds `pid` has used so far (/proc/PID/stat), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process together with the processes below it (each process counts
    for the nearest named one above it), plus "browsers": the Chromium and chromedriver processes among them,
    counted there and not in their group."""
    parents, roots = _parents(), {pid: name for name, pid in groups.items()}
    totals = {name: 0.0 for name in [*groups, "browsers"]}
    for pid in parents:
        ancestor = pid
        while ancestor not in roots and ancestor in parents and ancestor > 1:
            ancestor = parents[ancestor]
        if ancestor not in roots:
            continue
        try:
            command = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        totals["browsers" if "chrom" in command else roots[ancestor]] += cpu_seconds(pid)
    return totals


def rss_bytes(pid: int) -> int:
    """The resident set of `pid` (VmRSS of /proc/PID/status), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))

"""A local stand-in of the Slack Web API (aiohttp on 127.0.0.1, port 0).

It records every call (method, params, token, uploaded bytes), answers like Slack for the methods the bot
uses, and can be scripted to answer errors: `slack.script("chat.postMessage", {"ok": False, "error":
"is_archived"})` or `slack.script("chat.postMessage", Reply(429, headers={"Retry-After": "1"}))`. Scripted
answers are used once each, in order, before the normal behaviour resumes; a scripted `None` lets that call
through normally (to fail the second call only). A `Reply` whose body is a string is sent as is, not as JSON
(`content_type` defaults to text/plain), the way a proxy's error page arrives.

It also receives `response_url` posts at /respond/<key> (the way Slack delivers delayed command answers).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"  # for a string body only


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    body: bytes = b""


class SlackStandIn:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict]] = []  # (response_url key, posted JSON)
        self.uploads: dict[str, bytes] = {}
        self.tokens: dict[str, dict[str, str]] = {}  # token -> {"team_id", "bot_user_id", "bot_id", "user_id"}
        self.users: dict[str, dict[str, Any]] = {}  # user id -> users.info "user"
        self.channels: dict[str, dict[str, Any]] = {}  # channel id -> conversations.info "channel"
        self.oauth_codes: dict[str, dict[str, Any]] = {}  # code -> oauth.v2.access answer
        # Sign in with Slack: who the browser is signed in to Slack as (set by a test), the codes the authorize
        # page gave (code -> identity and redirect_uri) and the user tokens they became (token -> identity).
        self.openid_identity: dict[str, str] | None = None
        self.openid_codes: dict[str, dict[str, str]] = {}
        self.openid_users: dict[str, dict[str, str]] = {}
        self._scripts: dict[str, list[Any]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base = ""

    # -- set-up -----------------------------------------------------------------------------------------

    async def start(self, extra_routes: list[web.RouteDef] = ()) -> SlackStandIn:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_get("/openid/connect/authorize", self._openid_authorize)
        app.add_routes(extra_routes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.base}/respond/{key}"

    @property
    def openid_authorize_url(self) -> str:
        return f"{self.base}/openid/connect/authorize"

    def sign_in_as(self, team_id: str, user_id: str, name: str = "") -> None:
        """The person the authorize page signs in (as if they were signed in to Slack in that browser)."""
        self.openid_identity = {"team_id": team_id, "user_id": user_id, "name": name or user_id}

    def add_token(self, token: str, *, team_id: str, bot_user_id: str = "UBOT", bot_id: str = "BBOT") -> None:
        self.tokens[token] = {"team_id": team_id, "bot_user_id": bot_user_id, "bot_id": bot_id}

    def script(self, method: str, *answers: Any) -> None:
        self._scripts.setdefault(method, []).extend(answers)

    # -- inspection -------------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def responses_to(self, key: str) -> list[dict]:
        return [body for k, body in self.responses if k == key]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                seen = [call.method for call in self.calls]
                raise AssertionError(
                    f"the Slack stand-in did not see what was expected within {timeout:g}s; "
                    f"calls so far: {seen}, response_url posts: {len(self.responses)}"
                )
            await asyncio.sleep(0.02)

    # -- handlers ---------------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], bytes]:
        params: dict[str, Any] = dict(request.query)
        body = await request.read()
        ctype = request.content_type
        if ctype == "application/json" and body:
            params.update(json.loads(body))
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params, body

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, body = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else params.get("token")
        self.calls.append(Call(method, params, token, body))
        scripted = self._scripts.get(method)
        answer = scripted.pop(0) if scripted else None
        if isinstance(answer, Reply):
            if isinstance(answer.body, str):
                return web.Response(text=answer.body, status=answer.status, headers=answer.headers,
                                    content_type=answer.content_type)
            payload = answer.body if answer.body is not None else {"ok": False, "error": "ratelimited"}
            return web.json_response(payload, status=answer.status, headers=answer.headers)
        if answer is not None:
            return web.json_response(answer)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        if method not in ("oauth.v2.access", "openid.connect.token") and token not in self.tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response(handler(params, token))

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        self.calls.append(Call("upload", {"file_id": request.match_info["file_id"]}, None,
                               self.uploads[request.match_info["file_id"]]))
        return web.Response(text="OK - 0")

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append((request.match_info["key"], await request.json()))
        return web.Response(text="ok")

    async def _openid_authorize(self, request: web.Request) -> web.Response:
        """Slack's Sign in with Slack page: with someone signed in, straight back to the app with a code."""
        query = request.query
        self.calls.append(Call("openid.authorize", dict(query), None))
        redirect = query.get("redirect_uri", "")
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split() \
                or not query.get("client_id") or not redirect.startswith("http"):
            return web.Response(status=400, text="bad authorize request")
        if self.openid_identity is None:
            raise web.HTTPFound(f"{redirect}?{urlencode({'error': 'access_denied', 'state': query.get('state', '')})}")
        code = f"openid-code-{next(self._ids)}"
        self.openid_codes[code] = {**self.openid_identity, "redirect_uri": redirect}
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, 'state': query.get('state', '')})}")

    # -- methods ----------------------------------------------------------------------------------------

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _m_auth_test(self, params: dict, token: str) -> dict:
        info = self.tokens[token]
        return {"ok": True, "url": "https://example.slack.com/", "team": "Team", "user": "posthog",
                "team_id": info["team_id"], "user_id": info["bot_user_id"], "bot_id": info["bot_id"]}

    def _m_users_info(self, params: dict, token: str) -> dict:
        user_id = params.get("user", "")
        user = self.users.get(user_id)
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user_id, **user}}

    def _m_chat_postMessage(self, params: dict, token: str) -> dict:
        channel = params.get("channel", "")
        info = self.channels.get(channel, {})
        if info.get("is_archived"):
            return {"ok": False, "error": "is_archived"}
        return {"ok": True, "channel": channel, "ts": self._ts(), "message": {"text": params.get("text", "")}}

    def _m_chat_postEphemeral(self, params: dict, token: str) -> dict:
        return {"ok": True, "message_ts": self._ts()}

    def _m_conversations_join(self, params: dict, token: str) -> dict:
        channel = params.get("channel", "")
        info = self.channels.setdefault(channel, {})
        if info.get("is_private"):
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        info["is_member"] = True
        return {"ok": True, "channel": {"id": channel, **info}}

    def _m_conversations_info(self, params: dict, token: str) -> dict:
        channel = params.get("channel", "")
        info = self.channels.get(channel)
        if info is None:
            info = {"name": channel.lower(), "is_private": False, "is_archived": False, "is_member": False}
        if info.get("missing"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": channel, **info}}

    def _m_users_conversations(self, params: dict, token: str) -> dict:
        """The channels of `user` (their ids in a channel's "members"), or the bot's own (is_member)."""
        user, types = params.get("user"), params.get("types", "public_channel")
        found = []
        for channel_id, info in self.channels.items():
            private = bool(info.get("is_private"))
            if ("private_channel" if private else "public_channel") not in types:
                continue
            if (user in info.get("members", ())) if user else info.get("is_member"):
                found.append({"id": channel_id, "name": info.get("name", channel_id.lower()), "is_private": private})
        return {"ok": True, "channels": found, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_open(self, params: dict, token: str) -> dict:
        users = params.get("users", "")
        return {"ok": True, "channel": {"id": "D" + users.lstrip("U")[:10]}}

    def _m_files_getUploadURLExternal(self, params: dict, token: str) -> dict:
        file_id = f"F{next(self._ids):08d}"
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, params: dict, token: str) -> dict:
        files = json.loads(params.get("files", "[]"))
        missing = [f["id"] for f in files if f["id"] not in self.uploads]
        if missing:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}

    def _m_views_open(self, params: dict, token: str) -> dict:
        return {"ok": True, "view": {"id": f"V{next(self._ids)}"}}

    _m_views_publish = _m_views_open
    _m_views_update = _m_views_open

    def _m_oauth_v2_access(self, params: dict, token: str | None) -> dict:
        if params.get("grant_type") == "refresh_token":
            new_token = f"xoxe.xoxb-rotated-{next(self._ids)}"
            old = next(iter(self.tokens.values()), {"team_id": "T?"})
            self.tokens[new_token] = dict(old)
            return {"ok": True, "access_token": new_token, "refresh_token": f"xoxe-refresh-{next(self._ids)}",
                    "expires_in": 43200, "token_type": "bot", "team": {"id": old["team_id"]}}
        answer = self.oauth_codes.get(params.get("code", ""))
        if answer is None:
            return {"ok": False, "error": "invalid_code"}
        return answer

    def _m_openid_connect_token(self, params: dict, token: str | None) -> dict:
        found = self.openid_codes.pop(params.get("code", ""), None)  # a code is good once
        if found is None or found["redirect_uri"] != params.get("redirect_uri"):
            return {"ok": False, "error": "invalid_code"}
        user_token = f"xoxp-openid-{next(self._ids)}"
        self.tokens[user_token] = {"team_id": found["team_id"], "bot_user_id": found["user_id"], "bot_id": ""}
        self.openid_users[user_token] = found
        return {"ok": True, "access_token": user_token, "token_type": "Bearer", "id_token": "not.checked.here"}

    def _m_openid_connect_userInfo(self, params: dict, token: str) -> dict:
        found = self.openid_users.get(token)
        if found is None:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "sub": found["user_id"], "https://slack.com/user_id": found["user_id"],
                "https://slack.com/team_id": found["team_id"], "name": found["name"],
                "email": f"{found['user_id'].lower()}@example.com"}


# --- driving the app the way Slack does ------------------------------------------------------------------


def sign(secret: str, body: str, timestamp: int) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Answer:
    """What a slash command got back: the HTTP ack, and later posts to its response_url."""

    status: int
    body: str
    key: str
    slack: SlackStandIn

    @property
    def json(self) -> dict:
        return json.loads(self.body) if self.body.startswith("{") else {}

    @property
    def text(self) -> str:
        data = self.json
        return _all_text(data) if data else self.body

    def later(self) -> list[dict]:
        return self.slack.responses_to(self.key)

    async def wait_later(self, n: int = 1, timeout: float = 15.0) -> dict:
        await self.slack.wait_for(lambda: len(self.later()) >= n, timeout)
        return self.later()[n - 1]


def _all_text(value: Any) -> str:
    """Every `text` string in a message or view, joined: what a person would read."""
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                if k == "text" and isinstance(item, str):
                    out.append(item)
                else:
                    walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return "\n".join(out)


class SlackDriver:
    """Sends signed requests to the app exactly as Slack does (v0 HMAC signature, form bodies)."""

    def __init__(self, base_url: str, signing_secret: str, slack: SlackStandIn) -> None:
        self.base_url = base_url
        self.signing_secret = signing_secret
        self.slack = slack
        self._keys = itertools.count(1)

    async def post(self, body: str, *, content_type: str = "application/x-www-form-urlencoded",
                   timestamp: int | None = None, signature: str | None = None) -> tuple[int, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(self.signing_secret, body, ts),
        }
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.base_url}/slack/events", data=body.encode(), headers=headers) as resp:
                return resp.status, await resp.text()

    def command_body(self, text: str, *, team_id: str, user_id: str, channel_id: str, channel_name: str,
                     key: str) -> str:
        return urlencode({
            "token": "legacy", "team_id": team_id, "team_domain": team_id.lower(), "channel_id": channel_id,
            "channel_name": channel_name, "user_id": user_id, "user_name": user_id.lower(), "command": "/posthog",
            "text": text, "api_app_id": "A0APP", "is_enterprise_install": "false",
            "response_url": self.slack.response_url(key), "trigger_id": f"trigger-{key}",
        })

    async def command(self, text: str, *, team_id: str = "T1", user_id: str = "U1", channel_id: str = "C1",
                      channel_name: str = "general", **post_kwargs: Any) -> Answer:
        key = f"r{next(self._keys)}"
        body = self.command_body(text, team_id=team_id, user_id=user_id, channel_id=channel_id,
                                 channel_name=channel_name, key=key)
        status, answer = await self.post(body, **post_kwargs)
        return Answer(status, answer, key, self.slack)

    async def interact(self, payload: dict) -> Answer:
        key = f"r{next(self._keys)}"
        payload = dict(payload)
        if payload.get("type") == "block_actions" and payload.pop("with_response_url", True):
            payload["response_url"] = self.slack.response_url(key)
        status, answer = await self.post(urlencode({"payload": json.dumps(payload)}))
        return Answer(status, answer, key, self.slack)

    async def button(self, action_id: str, value: str, *, team_id: str = "T1", user_id: str = "U1",
                     channel_id: str = "C1", from_home: bool = False) -> Answer:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": team_id, "domain": team_id.lower()},
            "user": {"id": user_id, "team_id": team_id},
            "api_app_id": "A0APP",
            "trigger_id": f"trigger-{action_id}",
            "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button",
                         "action_ts": str(time.time())}],
        }
        if from_home:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home"}
            payload["with_response_url"] = False
        else:
            payload["container"] = {"type": "message", "channel_id": channel_id, "message_ts": "1.0"}
            payload["channel"] = {"id": channel_id}
        return await self.interact(payload)

    async def submit_view(self, callback_id: str, values: dict, *, private_metadata: str = "",
                          team_id: str = "T1", user_id: str = "U1") -> Answer:
        payload = {
            "type": "view_submission",
            "team": {"id": team_id, "domain": team_id.lower()},
            "user": {"id": user_id, "team_id": team_id},
            "api_app_id": "A0APP",
            "view": {"id": "VMODAL", "type": "modal", "callback_id": callback_id,
                     "private_metadata": private_metadata, "state": {"values": values}},
        }
        return await self.interact(payload)

    async def event(self, event: dict, *, team_id: str = "T1") -> tuple[int, str]:
        body = json.dumps({
            "token": "legacy", "team_id": team_id, "api_app_id": "A0APP", "type": "event_callback",
            "event_id": f"Ev{next(self._keys)}", "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": team_id, "user_id": "UBOT", "is_bot": True}],
        })
        return await self.post(body, content_type="application/json")


SIGNING_SECRET = "test-signing-secret"


@dataclass
class BotEnv:
    slack: SlackStandIn
    driver: SlackDriver
    settings: Any
    database: Any
    runner: web.AppRunner

    async def install(self, team_id: str = "T1", *, token: str | None = None, user_id: str = "UADMIN",
                      name: str | None = None) -> str:
        """Install the app into a workspace directly through the installation store (as OAuth would)."""
        from slack_sdk.oauth.installation_store import Installation

        from bot import DatabaseInstallationStore

        token = token or f"xoxb-{team_id.lower()}-token"
        await DatabaseInstallationStore(self.database).async_save(Installation(
            app_id="A0APP", team_id=team_id, team_name=name or f"Team {team_id}", user_id=user_id,
            bot_token=token, bot_id=f"B{team_id}", bot_user_id=f"UBOT{team_id}",
            bot_scopes="commands,chat:write,files:write",
        ))
        self.slack.add_token(token, team_id=team_id, bot_user_id=f"UBOT{team_id}", bot_id=f"B{team_id}")
        return token

    async def close(self) -> None:
        await self.runner.cleanup()
        await self.slack.close()


async def start_bot(database: Any, *, renderer_factory: Any = None, **overrides: Any) -> BotEnv:
    """The Slack routes on a real aiohttp site (127.0.0.1, port 0), talking to a fresh stand-in."""
    from bot import add_routes
    from core.settings import Settings

    slack = await SlackStandIn().start()
    values = {"database_url": database.url, "slack_signing_secret": SIGNING_SECRET, "slack_api_url": slack.api_url,
              "posthog_allow_private_hosts": True}  # the PostHog stand-in listens on 127.0.0.1
    settings = Settings(**{**values, **overrides})
    app = web.Application()
    add_routes(app, database=database, settings=settings, renderer_factory=renderer_factory)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    driver = SlackDriver(f"http://127.0.0.1:{port}", SIGNING_SECRET, slack)
    return BotEnv(slack, driver, settings, database, runner)

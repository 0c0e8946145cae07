"""Sign in with Slack (OpenID Connect): who a viewer of `/view/...` is.

`/signin?next=/view/...` sends the browser to Slack's authorize page with a fresh `state` (kept in a short-lived
signed cookie, so a callback that this browser did not start is refused); `/signin/callback` exchanges the code
with `openid.connect.token`, asks `openid.connect.userInfo` who signed in, and sets the session cookie (signed with
SECRET_KEY through core/tokens.py; HttpOnly, SameSite=Lax, Secure when PUBLIC_URL is https). `/signout` drops it.
The session names a Slack team and user; what they may see is decided by the viewer (web/viewer.py).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.settings import Settings
from core.tokens import sign, verify

from .pages import small_page, small_response

log = logging.getLogger(__name__)

SIGNIN, CALLBACK, SIGNOUT = "/signin", "/signin/callback", "/signout"
SESSION_COOKIE, STATE_COOKIE = "posthog_exports_session", "posthog_exports_signin"
SESSION, STATE = "viewer-session/v1", "signin-state/v1"  # purposes of the two signed cookies
STATE_SECONDS = 600  # time to sign in at Slack
SCOPES = "openid profile email"


@dataclass(frozen=True)
class Viewer:
    team_id: str
    user_id: str
    name: str


def enabled(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK


def safe_next(value: str | None) -> str:
    """Only a path of this service: never another site (an open redirect) or a protocol-relative `//host`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 2000 \
            or not value.isprintable() or any(c.isspace() for c in value):  # no header splitting either
        return "/"
    return value


def current_viewer(request: web.Request, settings: Settings) -> Viewer | None:
    payload = verify(SESSION, request.cookies.get(SESSION_COOKIE, ""), settings=settings)
    try:
        data = json.loads(payload) if payload else None
        if not data or data["expires"] <= time.time():
            return None
        return Viewer(str(data["team"]), str(data["user"]), str(data.get("name", "")))
    except (ValueError, KeyError, TypeError):
        return None


def authorize_redirect(request: web.Request, settings: Settings, next_path: str) -> web.HTTPFound:
    """Off to Slack's authorize page, remembering (signed, in this browser) the state and where to come back."""
    state = secrets.token_urlsafe(24)
    query = urlencode({"response_type": "code", "scope": SCOPES, "client_id": settings.slack_client_id,
                       "state": state, "redirect_uri": redirect_uri(settings), "nonce": secrets.token_urlsafe(16)})
    response = web.HTTPFound(f"{settings.slack_openid_authorize_url}?{query}")
    payload = json.dumps({"state": state, "next": safe_next(next_path), "expires": time.time() + STATE_SECONDS})
    _set_cookie(response, settings, STATE_COOKIE, sign(STATE, payload, settings=settings), STATE_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


class SignIn:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(SIGNIN, self.signin)
        app.router.add_get(CALLBACK, self.callback)
        app.router.add_get(SIGNOUT, self.signout)
        app.router.add_post(SIGNOUT, self.signout)

    async def signin(self, request: web.Request) -> web.Response:
        if not enabled(self.settings):
            return not_configured()
        raise authorize_redirect(request, self.settings, request.query.get("next", "/"))

    async def callback(self, request: web.Request) -> web.Response:
        if not enabled(self.settings):
            return not_configured()
        remembered = verify(STATE, request.cookies.get(STATE_COOKIE, ""), settings=self.settings)
        try:
            started = json.loads(remembered) if remembered else None
        except ValueError:
            started = None
        given = request.query.get("state", "")
        if not started or started.get("expires", 0) <= time.time() or not given \
                or not secrets.compare_digest(str(started.get("state", "")), given):
            return _failed("This sign-in was not started here, or it took too long. Please sign in again.", 400)
        if "error" in request.query or not request.query.get("code"):
            return _failed("Slack did not sign you in (it was cancelled or refused). You can try again.", 400)
        try:
            viewer = await self._identify(request.query["code"])
        except (SlackApiError, OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("Sign in with Slack failed: %s", _reason(exc))
            return _failed("Slack could not confirm who you are just now. Please try again.", 502)
        response = web.HTTPFound(safe_next(started.get("next")))
        session = json.dumps({"team": viewer.team_id, "user": viewer.user_id, "name": viewer.name,
                              "expires": time.time() + self.settings.signin_session_hours * 3600})
        _set_cookie(response, self.settings, SESSION_COOKIE, sign(SESSION, session, settings=self.settings),
                    int(self.settings.signin_session_hours * 3600))
        _set_cookie(response, self.settings, STATE_COOKIE, "", 0)  # a state is good for one callback
        response.headers["Cache-Control"] = "no-store"
        raise response

    async def signout(self, request: web.Request) -> web.Response:
        response = web.HTTPSeeOther("/")
        _set_cookie(response, self.settings, SESSION_COOKIE, "", 0)
        raise response

    async def _identify(self, code: str) -> Viewer:
        client = AsyncWebClient(base_url=self.settings.slack_api_url)
        answer = await client.openid_connect_token(
            client_id=self.settings.slack_client_id, client_secret=self.settings.slack_client_secret,
            code=code, redirect_uri=redirect_uri(self.settings), grant_type="authorization_code")
        # The user's token is used once, to ask who they are, and never kept.
        user = await AsyncWebClient(base_url=self.settings.slack_api_url,
                                    token=answer["access_token"]).openid_connect_userInfo()
        team, user_id = user["https://slack.com/team_id"], user["https://slack.com/user_id"]
        if not (isinstance(team, str) and team and isinstance(user_id, str) and user_id):
            raise ValueError("userInfo named no team or user")
        return Viewer(team, user_id, str(user.get("name") or ""))


def _set_cookie(response: web.StreamResponse, settings: Settings, name: str, value: str, max_age: int) -> None:
    jar = SimpleCookie()
    jar[name] = value
    jar[name].update({"path": "/", "max-age": str(max_age), "httponly": True, "samesite": "Lax",
                      "secure": settings.public_url.startswith("https")})
    response.headers.add("Set-Cookie", jar[name].OutputString())


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__


def _failed(message: str, status: int) -> web.Response:
    return small_response(small_page("signin_failed.html", message=message), status=status)


def not_configured() -> web.Response:
    return small_response(small_page("signin_off.html"), status=503)

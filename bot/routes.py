"""The Slack HTTP surface on our aiohttp application: /slack/events, /slack/install, /slack/oauth_redirect."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from core.db import Database
from core.limits import RateLimiter
from core.settings import Settings

from .app import build_bolt_app
from .payload_shape import shape_problem
from .services import BotServices

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"

SLACK_APP_KEY = web.AppKey("slack_bolt_app", AsyncApp)


def add_routes(
    app: web.Application, *, database: Database, settings: Settings, renderer_factory=None,
    limits: RateLimiter | None = None,
) -> AsyncApp | None:
    """Mount the Slack routes. Returns the Bolt app, or None when SLACK_SIGNING_SECRET is not set. `limits` is
    the process's fair limits, shared with the other doors when given."""
    if not settings.slack_signing_secret:
        # Without a secret no request can be verified, so none is accepted.
        async def not_configured(_request: web.Request) -> web.Response:
            return web.Response(status=503, text="Slack is not configured: set SLACK_SIGNING_SECRET.")

        app.router.add_post(EVENTS_PATH, not_configured)
        app.router.add_get(INSTALL_PATH, not_configured)
        app.router.add_get(REDIRECT_PATH, not_configured)
        return None

    bolt, services = build_bolt_app(database, settings, renderer_factory=renderer_factory, limits=limits)
    app[SLACK_APP_KEY] = bolt

    verifier = SignatureVerifier(settings.slack_signing_secret)

    async def events(request: web.Request) -> web.Response:
        # A signed request in a shape Slack never sends is refused here, before Bolt reads it (Bolt would fail on
        # some with a 500) or a listener does. Unsigned ones go on to Bolt, which refuses them (401) unread.
        raw = await request.text()
        if verifier.is_valid_request(raw, dict(request.headers)):
            try:
                problem = shape_problem(parse_body(raw, request.content_type))
            except ValueError:  # the payload field is not JSON
                problem = "the payload is not JSON"
            if problem:
                return web.Response(status=400, text=f"Not a request Slack sends: {problem}.")
        bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def install(request: web.Request) -> web.Response:
        if bolt.oauth_flow is None:
            return web.Response(status=404, text="Installing from this page is not configured (SLACK_CLIENT_ID).")
        return await to_aiohttp_response(await bolt.oauth_flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(request: web.Request) -> web.Response:
        if bolt.oauth_flow is None:
            return web.Response(status=404, text="Installing from this page is not configured (SLACK_CLIENT_ID).")
        return await to_aiohttp_response(await bolt.oauth_flow.handle_callback(await to_bolt_request(request)))

    async def open_slack_session(_app: web.Application) -> None:
        # One connection pool for the Web API calls of every request (Bolt hands the app client's session to each
        # request's client), instead of a new session, connection and handshake per call.
        bolt.client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=bolt.client.timeout))

    async def close_slack_session(_app: web.Application) -> None:
        session, bolt.client.session = bolt.client.session, None
        if session is not None:
            await session.close()

    app.on_startup.append(open_slack_session)
    app.on_cleanup.append(close_slack_session)
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(INSTALL_PATH, install)
    app.router.add_get(REDIRECT_PATH, oauth_redirect)
    if settings.slack_app_token:
        _add_socket_mode(app, bolt, settings, services)
    return bolt


def _add_socket_mode(app: web.Application, bolt: AsyncApp, settings: Settings, services: BotServices) -> None:
    """Socket Mode for local development: Slack pushes over a WebSocket, no public URL needed."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)

    async def start(_app: web.Application) -> None:
        await handler.connect_async()
        log.info("Slack Socket Mode connected")

    async def stop(_app: web.Application) -> None:
        await handler.close_async()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)

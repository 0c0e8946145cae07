"""The Bolt AsyncApp: one app for every workspace, authorized per request from our installation store."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError

from core import subscriptions as lifecycle
from core.audit import Actor, act_from_now_on
from core.db import Database
from core.limits import RateLimiter
from core.recipients import RecipientError, split_addresses
from core.settings import Settings
from core.subscriptions import schedule_of
from posthog_api import CHECK_ACCESS_SECONDS, PostHogError, parse_posthog_reference

from . import blocks, store
from .commands import (
    fetch_title,
    handle_command,
    manage,
    member_addresses,
    not_found,
    revoke_share,
    slack_user,
)
from .events import handle_app_uninstalled, handle_tokens_revoked
from .home import home_view
from .installation_store import DatabaseInstallationStore, DatabaseOAuthStateStore
from .modals import (
    CONNECT_CALLBACK,
    EDIT_CALLBACK,
    confirmed_addresses,
    connect_submission,
    edit_modal,
    edit_values,
    load_for_edit,
    save_edit,
    validate_edit,
)
from .new_subscription import NEW_CALLBACK, open_new_subscription, submit_new_subscription
from .parsing import CommandError
from .services import NOT_INSTALLED, BotServices
from .slack_client import slack_error_code, web_client
from .viewers import may_see, viewer_for

log = logging.getLogger(__name__)

BOT_SCOPES = [
    "commands", "chat:write", "chat:write.public", "files:write", "channels:join", "channels:read", "groups:read",
    "im:write", "users:read", "users:read.email",
]  # fmt: skip
COMMAND = "/posthog"
MANAGE_ACTIONS = {
    blocks.ACTION_SEND_NOW: "send",
    blocks.ACTION_PAUSE: "pause",
    blocks.ACTION_RESUME: "resume",
    blocks.ACTION_UNSUBSCRIBE: "unsubscribe",
}


def oauth_enabled(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


AUTH_TEST_CACHE_SECONDS = 600


class CachingAuthorize(AsyncInstallationStoreAuthorize):
    """Bolt's authorization from the installation store, keeping what Slack's auth.test said of a bot token for
    AUTH_TEST_CACHE_SECONDS instead of asking Slack again before every request (a round trip to slack.com ahead of
    every acknowledgement).

    Every request still reads its workspace's installation first: an uninstalled workspace or a revoked token is
    refused at once, and a rotated token is a new key. The app asks for no user scopes, so only the bot's token
    is looked up (one read, not a second one for the person's own installation: Bolt's `bot_only`), a result
    holds no person's token and it serves every member of the workspace."""

    def __init__(self, *args, cache_seconds: float = AUTH_TEST_CACHE_SECONDS, **kwargs) -> None:
        super().__init__(*args, cache_enabled=True, bot_only=True, **kwargs)
        self.cache_seconds = cache_seconds
        self._cache_started = time.monotonic()

    async def __call__(self, **kwargs):
        if time.monotonic() - self._cache_started > self.cache_seconds:
            self.authorize_result_cache.clear()
            self._cache_started = time.monotonic()
        return await super().__call__(**kwargs)


def build_bolt_app(
    database: Database, settings: Settings, *, renderer_factory=None, limits: RateLimiter | None = None
) -> tuple[AsyncApp, BotServices]:
    installation_store = DatabaseInstallationStore(database, client_id=settings.slack_client_id)
    services = BotServices(database, settings, installation_store, renderer_factory, limits)
    oauth_settings = None
    if oauth_enabled(settings):
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=BOT_SCOPES,
            user_scopes=[],
            redirect_uri=settings.public_url.rstrip("/") + "/slack/oauth_redirect",
            installation_store=installation_store,
            state_store=DatabaseOAuthStateStore(database),
        )
    client = web_client(settings)
    app = AsyncApp(
        name="posthog-exports",
        signing_secret=settings.slack_signing_secret,
        # Every Web API call, OAuth's oauth.v2.access and token refreshes included, goes to slack_api_url.
        client=client,
        installation_store=installation_store,
        # As Bolt would make it from the installation store (token rotation included), with auth.test cached.
        authorize=CachingAuthorize(
            installation_store=installation_store, logger=logging.getLogger("slack_bolt.AsyncApp"),
            client_id=settings.slack_client_id if oauth_settings else None,
            client_secret=settings.slack_client_secret if oauth_settings else None,
            client=client,
        ),
        oauth_settings=oauth_settings,
    )
    register(app, services)
    return app, services


def _user_id(body: dict) -> str:
    """Who pressed the button or submitted the form."""
    return (body.get("user") or {}).get("id", "")


async def _reply(body: dict, respond, client, text: str, services: BotServices, workspace) -> None:
    """Answer a button press where it came from: ephemerally in the channel, or by refreshing the Home tab."""
    if body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, text=text)
        return
    user_id = _user_id(body)
    if user_id and workspace is not None:
        await publish_home(client, user_id, workspace, services)


async def publish_home(client, user_id: str, workspace, services: BotServices) -> None:
    view = await home_view(workspace, services, await viewer_for(client, user_id))
    await client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, services: BotServices) -> None:  # noqa: C901 - one place lists every listener
    @app.middleware
    async def record_who_acts(body, context, next):  # noqa: A002 - Bolt passes the chain as `next`
        # What a command, button or form changes is recorded as this person's (core/audit.py). Each request is
        # handled in a task of its own, so this lasts for its listener and the work the listener starts.
        user_id = context.user_id or _user_id(body) or body.get("user_id") or "unknown"
        act_from_now_on(Actor("slack", user_id, f"Slack workspace {context.team_id or 'unknown'}"))
        return await next()

    @app.command(COMMAND)
    async def on_command(ack, body, respond, client, context):
        await handle_command(ack, body, respond, client, context, services)

    @app.action(re.compile("^(" + "|".join(MANAGE_ACTIONS) + ")$"))
    async def on_manage(ack, body, action, respond, client, context):
        await ack()
        workspace = await services.workspace(context.team_id)
        if workspace is None:
            await _reply(body, respond, client, NOT_INSTALLED, services, None)
            return
        user_id = _user_id(body)
        text = await manage(MANAGE_ACTIONS[action["action_id"]], action.get("value"), user_id, workspace, services,
                            client)
        await _reply(body, respond, client, text, services, workspace)

    @app.action(blocks.ACTION_SHARE_REVOKE)
    async def on_share_revoke(ack, body, action, respond, client, context):
        await ack()
        workspace = await services.workspace(context.team_id)
        if workspace is None:
            await _reply(body, respond, client, NOT_INSTALLED, services, None)
            return
        text = await revoke_share(action.get("value"), _user_id(body), workspace, services, client)
        await _reply(body, respond, client, text, services, workspace)

    @app.action(blocks.ACTION_NEW)
    async def on_new(ack, body, client, context):
        await ack()
        workspace = await services.workspace(context.team_id)
        if workspace is not None:
            user_id = _user_id(body)
            await open_new_subscription(client, body["trigger_id"], user_id, workspace, services)

    @app.view(NEW_CALLBACK)
    async def on_new_submit(ack, body, view, client, context):
        workspace = await services.workspace(context.team_id)
        if workspace is None:
            await ack(response_action="errors", errors={"target": NOT_INSTALLED})
            return
        user_id = _user_id(body)
        result = await submit_new_subscription(view, user_id, workspace, services, client)
        if isinstance(result, dict):
            await ack(response_action="errors", errors=result)
            return
        await ack()
        await _safe(client.chat_postMessage(
            channel=user_id,
            text=f"Subscribed {blocks.destination(result)} to {blocks.escape(blocks.label(result))}, "
            f"{schedule_of(result).summary()}. Next delivery: "
            f"{blocks.local_time(result.next_delivery_at, result.timezone)}. (subscription #{result.id})",
        ))
        await _safe(publish_home(client, user_id, workspace, services))

    @app.action(blocks.ACTION_OPEN)
    async def on_open(ack):
        await ack()  # a link button: Slack opens the URL itself, we only acknowledge

    @app.action(blocks.ACTION_EDIT)
    async def on_edit(ack, body, action, respond, client, context):
        await ack()
        workspace = await services.workspace(context.team_id)
        subscription = None
        if workspace is not None:
            async with services.database.session() as session:
                subscription = await store.get_subscription(session, workspace, action.get("value"))
        user_id = _user_id(body)
        if not await may_see(client, user_id, subscription):
            await _reply(body, respond, client, not_found(action.get("value")), services, workspace)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=edit_modal(subscription))

    @app.view(EDIT_CALLBACK)
    async def on_edit_submit(ack, body, view, client, context):
        workspace = await services.workspace(context.team_id)
        subscription = await load_for_edit(services, workspace, view) if workspace is not None else None
        if not await may_see(client, _user_id(body), subscription):
            await ack(response_action="errors", errors={"target": "This subscription was not found in this workspace."})
            return
        values = edit_values(view)
        errors, schedule = validate_edit(subscription, values)
        if errors or schedule is None:
            await ack(response_action="errors", errors=errors)
            return
        title = None
        if values["target"].strip() != subscription.content_ref:
            # A new target must exist before it is saved; Slack gives the submission 3 seconds.
            try:
                async with services.database.session() as session:
                    connection = await store.get_connection(session, workspace, subscription.connection_id)
                _kind, ref = parse_posthog_reference(values["target"])
                title = await asyncio.wait_for(
                    fetch_title(services, connection, subscription.content_type, ref), CHECK_ACCESS_SECONDS
                )
            except (CommandError, TimeoutError) as exc:
                await ack(response_action="errors", errors={"target": str(exc)[:150] or "PostHog did not answer."})
                return
            except PostHogError as exc:  # shown on the field, e.g. "Insight 4242 was not found ..."
                await ack(response_action="errors", errors={"target": str(exc)[:150]})
                return
        user_id = _user_id(body)
        addresses = None
        if subscription.target_type == "email":
            addresses, problem = await member_addresses(client, values.get("members") or [])
            if problem:
                await ack(response_action="errors", errors={"members": problem})
                return
            addresses += split_addresses(values.get("recipients") or "")
        try:
            async with services.database.transaction() as session:
                fresh = await store.get_subscription(session, workspace, subscription.id)
                if fresh is None:
                    await ack(response_action="errors", errors={"target": "This subscription was just removed."})
                    return
                await save_edit(session, fresh, values, schedule, title)
                if addresses is not None:
                    editor = await slack_user(client, user_id)
                    await lifecycle.set_recipients(
                        session, fresh, addresses, services.settings,
                        subscribed_by=f"{editor.name or 'Someone'} in {workspace.name or 'Slack'}",
                        confirmed=confirmed_addresses(view),
                    )
        except lifecycle.ReaddNeedsConfirmation as exc:
            # Nothing was saved; the form comes back with the warning, and saving again confirms.
            await ack(response_action="update", view=edit_modal(subscription, recipients=addresses,
                                                                confirm=exc.addresses))
            return
        except RecipientError as exc:
            await ack(response_action="errors", errors={"recipients": str(exc)[:150]})
            return
        await ack()
        if user_id:
            await _safe(publish_home(client, user_id, workspace, services))

    @app.view(CONNECT_CALLBACK)
    async def on_connect_submit(ack, body, view, client, context):
        workspace = await services.workspace(context.team_id)
        if workspace is None:
            await ack(response_action="errors", errors={"host": NOT_INSTALLED})
            return
        user_id = _user_id(body)
        result = await connect_submission(view, user_id, workspace, services)
        if isinstance(result, dict):
            await ack(response_action="errors", errors=result)
            return
        await ack()
        await _safe(client.chat_postMessage(
            channel=user_id,
            text=f"Connected PostHog project “{blocks.escape(result.name)}” (project {result.project_id} on "
            f"{blocks.escape(result.host)}). "
            "Subscribe with `/posthog subscribe dashboard <id> weekly`.",
        ))

    @app.event("app_home_opened")
    async def on_home(event, client, context):
        if event.get("tab", "home") != "home":
            return
        workspace = await services.workspace(context.team_id)
        if workspace is not None:
            await publish_home(client, event["user"], workspace, services)

    @app.event("app_uninstalled")
    async def on_uninstalled(body):
        await handle_app_uninstalled(body, services)

    @app.event("tokens_revoked")
    async def on_tokens_revoked(body, event):
        await handle_tokens_revoked(body, event, services)

    @app.error
    async def on_error(error, body):
        log.error("Slack listener failed: %s", error, exc_info=error)


async def _safe(awaitable) -> None:
    try:
        await awaitable
    except SlackApiError as exc:
        log.warning("Slack call failed: %s", slack_error_code(exc))

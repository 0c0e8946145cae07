"""`/posthog ...`: parse, answer what can be answered at once in the ack, continue slow work after it.

Everything that only reads or writes our database is answered in the ack (well within Slack's 3 seconds).
Work that calls Slack or PostHog (subscribe, preview, list: who may see what) acks first and replies through the
response_url.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core import api_keys, shares
from core import subscriptions as lifecycle
from core.date_ranges import DateRangeError
from core.delivery import Image
from core.limits import RateLimited
from core.models import SlackWorkspace, utcnow
from core.recipients import RecipientError, check_recipients
from core.schedules import ScheduleError, canonical_timezone
from core.subscriptions import create_subscription, demo_connection
from exports import (
    ExportAnnouncer,
    ExportError,
    ExportRequest,
    export_date_range,
    is_quick,
    make_storage,
    run_now,
    start_export,
)
from posthog_api import PostHogError, fetch

from . import blocks, store
from .delivery import SlackSender
from .modals import connect_modal
from .parsing import (
    EXAMPLE_EMAIL,
    ApiKeyCommand,
    CommandError,
    Connect,
    Export,
    Help,
    ListExports,
    ListShares,
    ListSubscriptions,
    Manage,
    NewSubscription,
    Preview,
    Projects,
    ShareContent,
    Subscribe,
    parse_command,
)
from .services import NOT_INSTALLED, BotServices, choose_connection
from .slack_client import slack_error_code
from .viewers import may_see, viewer_for

log = logging.getLogger(__name__)

CHANNEL_PROBLEMS = {
    "channel_not_found": "I can't see {channel}. If it is a private channel, invite me first with "
    "`/invite @PostHog`, then subscribe again.",
    "is_archived": "{channel} is archived, so nothing can be posted there. Pick another channel.",
}


def not_found(subscription_id: int | str) -> str:
    # Identical for unknown ids and ids of other workspaces.
    return f"Subscription {subscription_id} was not found in this workspace. `/posthog list all` shows yours."


async def handle_command(ack, body: dict, respond, client: AsyncWebClient, context, services: BotServices) -> None:
    try:
        command = parse_command(body.get("text", ""))
    except CommandError as exc:
        await ack(response_type="ephemeral", text=str(exc))
        return
    if isinstance(command, Help):
        await ack(response_type="ephemeral", text=blocks.HELP_TEXT)
        return
    workspace = await services.workspace(context.team_id or body.get("team_id"))
    if workspace is None:
        await ack(response_type="ephemeral", text=NOT_INSTALLED)
        return
    try:
        if isinstance(command, Connect):
            await _connect(command, ack, body, client, workspace, services)
        elif isinstance(command, Projects):
            await _projects(ack, workspace, services)
        elif isinstance(command, ListSubscriptions):
            await _list(command, ack, body, respond, client, workspace, services)
        elif isinstance(command, Manage):
            reply = await manage(command.action, command.subscription_id, body.get("user_id", ""), workspace, services,
                                 client)
            await ack(response_type="ephemeral", text=reply)
        elif isinstance(command, Subscribe):
            await _subscribe(command, ack, body, respond, client, workspace, services)
        elif isinstance(command, NewSubscription):
            await ack()
            from .new_subscription import open_new_subscription  # the form module builds on this one

            await open_new_subscription(client, body.get("trigger_id", ""), body.get("user_id", ""), workspace,
                                        services)
        elif isinstance(command, Preview):
            await _preview(command, ack, body, respond, client, workspace, services)
        elif isinstance(command, Export):
            await _export(command, ack, body, client, workspace, services)
        elif isinstance(command, ListExports):
            await ack(response_type="ephemeral", text=await _my_exports(body.get("user_id", ""), workspace, services))
        elif isinstance(command, ApiKeyCommand):
            await ack(response_type="ephemeral",
                      text=await api_key(command, body.get("user_id", ""), workspace, services, client))
        elif isinstance(command, ShareContent):
            await _share(command, ack, body, respond, workspace, services)
        elif isinstance(command, ListShares):
            await ack(response_type="ephemeral", text=await _list_shares(workspace, services))
    except CommandError as exc:
        await ack(response_type="ephemeral", text=str(exc))


# --- connect / projects / list ---------------------------------------------------------------------------


async def _connect(command: Connect, ack, body, client: AsyncWebClient, workspace: SlackWorkspace,
                   services: BotServices) -> None:
    if command.demo:
        async with services.database.transaction() as session:
            connection = await demo_connection(session, workspace.id)
            connection.created_by = connection.created_by or body.get("user_id", "")
        await ack(
            response_type="ephemeral",
            text=f"Connected the demo project “{connection.name}”. Try "
            "`/posthog subscribe dashboard 42 weekly` or `/posthog preview dashboard 42`.",
        )
        return
    await ack()
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=connect_modal())
    except SlackApiError as exc:
        log.warning("views.open failed: %s", slack_error_code(exc))


async def _projects(ack, workspace: SlackWorkspace, services: BotServices) -> None:
    async with services.database.session() as session:
        connections = await store.list_connections(session, workspace)
    if not connections:
        text = "No PostHog project is connected yet. Run `/posthog connect`, or `/posthog connect demo` to try it."
    else:
        lines = [
            f"• *{blocks.escape(c.name)}* — project {c.project_id} on {'the bundled demo' if c.is_demo else c.host}"
            for c in connections
        ]
        text = "*Connected PostHog projects*\n" + "\n".join(lines)
    await ack(response_type="ephemeral", text=text)


async def _list(command: ListSubscriptions, ack, body, respond, client: AsyncWebClient,
                workspace: SlackWorkspace, services: BotServices) -> None:
    # What the person may see depends on what Slack says of them (users.info, users.conversations): acked first,
    # the list replaces the ack through the response_url.
    where = "in this workspace" if command.everywhere else "in this channel"
    await ack(response_type="ephemeral", text=f"Looking up the subscriptions {where}…")
    channel_id = None if command.everywhere else body.get("channel_id")
    viewer = await viewer_for(client, body.get("user_id", ""))
    async with services.database.session() as session:
        subscriptions = await store.list_subscriptions(session, workspace, viewer, channel_id=channel_id)
    await respond(response_type="ephemeral", replace_original=True, text=f"Subscriptions {where}",
                  blocks=blocks.subscription_list(subscriptions, where=where))


# --- API keys --------------------------------------------------------------------------------------------


async def api_key(command: ApiKeyCommand, user_id: str, workspace: SlackWorkspace, services: BotServices,
                  client: AsyncWebClient) -> str:
    """Make, list or revoke the workspace's keys of the REST API (core/api_keys.py: admins only). The new key is
    in this ephemeral answer only: shown once, to the person who made it."""
    user = await slack_user(client, user_id)
    base = services.settings.public_url.rstrip("/")
    try:
        async with services.database.transaction() as session:
            if command.action == "create":
                made = await api_keys.create_api_key(
                    session, workspace_id=workspace.id, name=command.argument, read_only=command.read_only,
                    created_by_slack_user=user_id, creator_is_admin=user.is_admin)
                return (f"Your new API key “{blocks.escape(made.key.name)}”"
                        f"{' (read-only)' if made.key.read_only else ''}:\n`{made.secret}`\n"
                        "Copy it now: it is not shown again, to you or anyone. Send it as `Authorization: Bearer "
                        f"<key>` to {base}/api/v1 (documented at {base}/api/docs).")
            if command.action == "list":
                keys = await api_keys.list_api_keys(session, workspace.id, actor_is_admin=user.is_admin)
                if not keys:
                    return "This workspace has no API keys. `/posthog api-key create \"name\"` makes one."
                lines = [f"• `{k.prefix}…` *{blocks.escape(k.name)}*{' (read-only)' if k.read_only else ''} — "
                         f"made {k.created_at:%Y-%m-%d}{_by(k.created_by_slack_user)}, "
                         + (f"last used {k.last_used_at:%Y-%m-%d %H:%M} UTC" if k.last_used_at else "never used")
                         for k in keys]
                return "*API keys of this workspace*\n" + "\n".join(lines)
            key = await api_keys.revoke_api_key(session, workspace.id, command.argument,
                                                actor_is_admin=user.is_admin)
            return (f"Revoked the API key “{blocks.escape(key.name)}” (`{key.prefix}…`). It is refused from its "
                    "next request on.")
    except api_keys.ApiKeyError as exc:
        return str(exc)


def _by(user_id: str | None) -> str:
    return f" by <@{user_id}>" if user_id else ""


# --- unsubscribe / pause / resume / send (commands and buttons) ------------------------------------------


async def manage(action: str, subscription_id: int | str, user_id: str, workspace: SlackWorkspace,
                 services: BotServices, client: AsyncWebClient | None = None) -> str:
    async with services.database.session() as session:
        found = await store.get_subscription(session, workspace, subscription_id)
    if not await may_see(client, user_id, found):
        return not_found(subscription_id)
    async with services.database.transaction() as session:
        subscription = await store.get_subscription(session, workspace, subscription_id)
        if subscription is None:
            return not_found(subscription_id)
        name = f"#{subscription.id} {blocks.escape(blocks.label(subscription))}"
        where = blocks.destination(subscription)
        if action == "unsubscribe":
            lifecycle.unsubscribe(subscription)
            return f"Unsubscribed {where} from {name}. It will not be delivered again."
        if action == "pause":
            if not subscription.enabled:
                return f"{name} is already paused. `/posthog resume {subscription.id}` restarts it."
            lifecycle.pause(subscription, blocks.paused_by(user_id) if user_id else "paused")
            return f"Paused {name} in {where}. `/posthog resume {subscription.id}` restarts it."
        if action == "resume":
            if subscription.enabled:
                return f"{name} is not paused; next delivery {blocks.status_line(subscription)[6:]}."
            lifecycle.resume(subscription)
            return (
                f"Resumed {name} in {where}. Next delivery: "
                f"{blocks.local_time(subscription.next_delivery_at, subscription.timezone)}."
            )
        if action == "send":
            try:
                services.limits.take("send", workspace=workspace.id, user=user_id)
            except RateLimited as exc:
                return str(exc)
            _delivery, created = await lifecycle.request_delivery_now(session, subscription)
            if not created:
                return f"{name} is already on its way to {where}."
            note = " (it stays paused for its schedule)" if not subscription.enabled else ""
            return f"Sending {name} to {where} now{note}; it arrives within a minute or two."
    raise ValueError(action)


# --- subscribe -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackUser:
    id: str
    timezone: str = "UTC"
    email: str | None = None  # needs the users:read.email scope
    name: str = ""
    is_admin: bool = False
    is_guest: bool = False  # a single- or multi-channel guest


async def slack_user(client: AsyncWebClient, user_id: str) -> SlackUser:
    """What Slack tells of a user (users.info); defaults where it does not say (UTC, no address)."""
    try:
        user = (await client.users_info(user=user_id)).get("user") or {}
    except SlackApiError:
        return SlackUser(user_id)
    try:
        zone = canonical_timezone(user.get("tz") or "UTC")
    except ScheduleError:
        zone = "UTC"
    profile = user.get("profile") or {}
    return SlackUser(
        user_id, zone, profile.get("email") or None,
        profile.get("real_name") or user.get("real_name") or user.get("name") or "",
        bool(user.get("is_admin") or user.get("is_owner")),
        bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
    )


async def member_addresses(client, user_ids: list[str]) -> tuple[list[str], str | None]:
    """The Slack addresses of workspace members picked in a form, or a problem naming who has none."""
    users = await asyncio.gather(*(slack_user(client, u) for u in user_ids))
    missing = [u.id for u in users if not u.email]
    if missing:
        who = ", ".join(f"<@{u}>" for u in missing[:3])
        return [], (f"Slack did not give me the address of {who} (the app needs `users:read.email`); type it in "
                    "Email addresses instead")
    return [u.email for u in users], None


async def user_timezone(client: AsyncWebClient, user_id: str) -> str:
    """The user's Slack time zone (users.info), or UTC when Slack does not say."""
    return (await slack_user(client, user_id)).timezone


def _channel_of(command: Subscribe, body: dict) -> tuple[str, str | None]:
    if command.channel_id:
        return command.channel_id, command.channel_name
    channel_id = body.get("channel_id") or ""
    channel_name = body.get("channel_name") or None
    is_dm = channel_id[:1] == "D" or channel_name == "directmessage" or (channel_name or "").startswith("mpdm-")
    if not channel_id or is_dm:
        raise CommandError(
            "I can't post into direct messages. Run the command in a channel, or name one: "
            f"`/posthog subscribe {command.kind} {command.ref} {command.schedule} in #metrics`."
        )
    return channel_id, channel_name


async def check_channel(client: AsyncWebClient, channel_id: str) -> tuple[str | None, str | None]:
    """(problem, channel name): a reason the bot cannot post there, or None when it can (or cannot tell)."""
    mention = f"<#{channel_id}>"
    try:
        response = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        template = CHANNEL_PROBLEMS.get(slack_error_code(exc))
        return (template.format(channel=mention) if template else None), None
    channel = response.get("channel") or {}
    if channel.get("is_archived"):
        return CHANNEL_PROBLEMS["is_archived"].format(channel=mention), channel.get("name")
    if channel.get("is_private") and not channel.get("is_member"):
        return CHANNEL_PROBLEMS["channel_not_found"].format(channel=mention), channel.get("name")
    return None, channel.get("name")


async def _subscribe(command: Subscribe, ack, body, respond, client: AsyncWebClient, workspace: SlackWorkspace,
                     services: BotServices) -> None:
    async with services.database.session() as session:
        connection = choose_connection(await store.list_connections(session, workspace), command.project)
    if command.by_email:
        await _subscribe_by_email(command, ack, body, respond, client, workspace, connection, services)
        return
    channel_id, channel_name = _channel_of(command, body)
    try:
        # Syntax check before the ack, so that a bad schedule is answered at once; the user's zone comes after.
        lifecycle.read_when(command.schedule, "UTC")
    except (ScheduleError, DateRangeError) as exc:
        raise CommandError(f"{exc} For example `/posthog subscribe {command.kind} {command.ref} weekly`.") from None
    await ack(response_type="ephemeral", text=f"Looking up {command.kind} {command.ref} in {connection.name}…")

    user_id = body.get("user_id", "")
    try:
        zone = await user_timezone(client, user_id)
        now = utcnow()
        schedule, date_range, attach = lifecycle.read_when(command.schedule, zone, now=now)
        problem, found_name = await check_channel(client, channel_id)
        if problem:
            await respond(response_type="ephemeral", replace_original=False, text=problem)
            return
        title = await fetch_title(services, connection, command.kind, command.ref)
        async with services.database.transaction() as session:
            subscription = await create_subscription(
                session,
                connection=connection,
                content_type=command.kind,
                content_ref=str(command.ref),
                schedule=schedule,
                title=title[:400],
                target_type="slack",
                slack_channel_id=channel_id,
                slack_channel_name=found_name or channel_name,
                created_by_slack_user=user_id,
                workspace_id=workspace.id,
                now=now,
                date_range=date_range,
                attach_format=attach,
            )
        upcoming = schedule.occurrences(now, 3)
        await respond(
            response_type="ephemeral",
            replace_original=True,
            text=f"Subscribed to {blocks.escape(title)}: {schedule.summary()}",
            blocks=blocks.subscription_created(subscription, schedule.summary(), upcoming),
        )
    except (ScheduleError, DateRangeError, CommandError) as exc:
        await respond(response_type="ephemeral", replace_original=False, text=str(exc))
    except PostHogError as exc:
        await respond(response_type="ephemeral", replace_original=False, text=f"{exc} Nothing was subscribed.")


async def _subscribe_by_email(command: Subscribe, ack, body, respond, client: AsyncWebClient,
                              workspace: SlackWorkspace, connection, services: BotServices) -> None:
    try:
        # What can be checked without Slack or PostHog is answered in the ack: the schedule, typed addresses.
        lifecycle.read_when(command.schedule, "UTC")
        if command.emails:
            check_recipients(list(command.emails), services.settings)
    except (ScheduleError, DateRangeError) as exc:
        raise CommandError(f"{exc} For example `{EXAMPLE_EMAIL}`.") from None
    except RecipientError as exc:
        raise CommandError(f"{exc} Nothing was subscribed.") from None
    await ack(response_type="ephemeral", text=f"Looking up {command.kind} {command.ref} in {connection.name}…")

    user = await slack_user(client, body.get("user_id", ""))
    try:
        recipients = list(command.emails)
        if command.email_me:
            if not user.email:
                raise CommandError(
                    "I couldn't read your email address from Slack (the app needs the `users:read.email` "
                    "permission: ask an admin to reinstall it), so nothing was subscribed. Type your address instead."
                )
            recipients.insert(0, user.email)
        now = utcnow()
        schedule, date_range, attach = lifecycle.read_when(command.schedule, user.timezone, now=now)
        title = await fetch_title(services, connection, command.kind, command.ref)
        async with services.database.transaction() as session:
            subscription = await lifecycle.subscribe_by_email(
                session, services.settings, connection=connection, content_type=command.kind,
                content_ref=str(command.ref), schedule=schedule, recipients=recipients, title=title[:400],
                subscribed_by=f"{user.name or 'Someone'} in {workspace.name or 'Slack'}",
                created_by_slack_user=user.id, workspace_id=workspace.id, now=now, date_range=date_range,
                attach_format=attach,
            )
        await respond(
            response_type="ephemeral",
            replace_original=True,
            text=f"Subscribed {blocks.escape(', '.join(subscription.email_recipients))} to {blocks.escape(title)}: "
            f"{schedule.summary()}",
            blocks=blocks.subscription_created(subscription, schedule.summary(), schedule.occurrences(now, 3)),
        )
    except (ScheduleError, DateRangeError, CommandError) as exc:
        await respond(response_type="ephemeral", replace_original=False, text=str(exc))
    except RecipientError as exc:
        await respond(response_type="ephemeral", replace_original=False, text=f"{exc} Nothing was subscribed.")
    except PostHogError as exc:
        await respond(response_type="ephemeral", replace_original=False, text=f"{exc} Nothing was subscribed.")


async def fetch_content(services: BotServices, connection, kind: str, ref: int | str):
    return await fetch(connection, kind, ref, services.settings, interactive=True)


async def fetch_title(services: BotServices, connection, kind: str, ref: int | str) -> str:
    content = await fetch_content(services, connection, kind, ref)
    return content.name or f"{kind.capitalize()} {ref}"


# --- share links -------------------------------------------------------------------------------------------


async def _share(command: ShareContent, ack, body, respond, workspace: SlackWorkspace,
                 services: BotServices) -> None:
    """A new share link (core/shares.py), shown only to the person who asked: the token is not kept, so this
    ephemeral answer is the only place it appears."""
    async with services.database.session() as session:
        connection = choose_connection(await store.list_connections(session, workspace), command.project)
    await ack(response_type="ephemeral", text=f"Making a share link to {command.kind} {command.ref}…")
    try:
        content = await fetch_content(services, connection, command.kind, command.ref)  # it must exist
        async with services.database.transaction() as session:
            made = await shares.create_share(
                session, connection=await session.merge(connection), content_type=command.kind,
                content_ref=str(command.ref), title=content.name, created_by_slack_user=body.get("user_id"))
    except (PostHogError, shares.ShareError) as exc:
        await respond(response_type="ephemeral", replace_original=True, text=str(exc))
        return
    links = shares.links(services.settings.public_url, made.token)
    await respond(
        response_type="ephemeral", replace_original=True,
        text=f"Share link to {blocks.escape(content.name)}: {links.shared}",
        blocks=blocks.share_message(content.name, command.kind, str(command.ref), made.share.id, links.shared,
                                    links.iframe(content.name)),
    )


async def _list_shares(workspace: SlackWorkspace, services: BotServices) -> str:
    async with services.database.session() as session:
        rows = await shares.shares_of(session, workspace.id)
    if not rows:
        return "This workspace has no share links. `/posthog share dashboard 42` makes one."
    lines = [f"• #{s.id} *{blocks.escape(s.title or s.content_type)}* ({s.content_type} "
             f"{blocks.escape(s.content_ref)}) — {shares.state(s)}, made {s.created_at:%Y-%m-%d}"
             f"{_by(s.created_by_slack_user)}" for s in rows]
    return "*Share links of this workspace*\n" + "\n".join(lines)


async def revoke_share(share_id: object, user_id: str, workspace: SlackWorkspace, services: BotServices,
                       client: AsyncWebClient) -> str:
    """The Revoke button: its creator or a workspace admin stops the link at once."""
    async with services.database.transaction() as session:
        share = await shares.find_share(session, workspace.id, share_id)
        if share is None:
            return f"Share link {str(share_id)[:20]} was not found in this workspace."
        if share.created_by_slack_user != user_id and not (await slack_user(client, user_id)).is_admin:
            return "Only whoever made this link, or a workspace admin, can revoke it."
        if not shares.revoke(share):
            return f"Share link #{share.id} was already revoked."
        return f"Revoked share link #{share.id}: it answers “not found” from now on, embeds too."


# --- export --------------------------------------------------------------------------------------------------


async def _export(command: Export, ack, body, client: AsyncWebClient, workspace: SlackWorkspace,
                  services: BotServices) -> None:
    """Record the export for a worker; the file comes to the requester's DM when it is ready."""
    async with services.database.session() as session:
        connection = choose_connection(await store.list_connections(session, workspace), command.project)
    try:
        period = export_date_range(command.period)
        request = ExportRequest(
            kind=command.kind, ref=command.ref, format=command.format, where=command.where,
            date_from=period.date_from if period else None, date_to=period.date_to if period else None,
        )
        services.limits.take("export", workspace=workspace.id, user=body.get("user_id", ""))
        # Whether the requester is a guest matters for raw data only (exports' rule); ask Slack only then.
        requester = await slack_user(client, body.get("user_id", "")) if request.is_data else None
        async with services.database.transaction() as session:
            asset = await start_export(session, request, connection=await session.merge(connection),
                                       workspace_id=workspace.id, requested_by_slack_user=body.get("user_id"),
                                       requester_is_guest=bool(requester and requester.is_guest))
    except ExportError as exc:
        raise CommandError(f"{exc} Nothing was exported.") from None
    except RateLimited as exc:
        raise CommandError(str(exc)) from None
    what = f"{command.kind} {command.ref}".strip()
    span = f" over the {period.label.lower()}" if period else ""
    await ack(response_type="ephemeral", text=(
        f"Exporting {blocks.escape(what)}{span} as {command.format.upper()} (export #{asset.id}). "
        "I'll send it to you in a direct message when it is ready."
    ))
    if is_quick(request):
        sender = SlackSender(services.database, services.settings)
        try:
            announce = ExportAnnouncer(services.settings, services.database, sender.send_to_user,
                                       make_storage(services.settings))
            await run_now(services.database, services.settings, asset.id, worker_id=f"slack:{os.getpid()}",
                          announce=announce)
        finally:
            await sender.close()


async def _my_exports(user_id: str, workspace: SlackWorkspace, services: BotServices) -> str:
    async with services.database.session() as session:
        rows = await store.recent_exports(session, workspace, user_id)
    if not rows:
        return "You have no exports yet. Try `/posthog export dashboard 42 as xlsx`."
    lines = []
    for a in rows:
        what = blocks.escape(f"{a.content_type} {a.content_ref}".strip())
        state = {"pending": "waiting for a worker", "running": f"running: {a.rows_done:,} rows so far",
                 "ready": f"ready ({a.row_count or 0:,} rows, "
                          f"{'sent to you' if a.notified_at else 'on its way to you'})",
                 "failed": f"failed: {blocks.escape(a.error or '')}"}.get(a.status, a.status)
        lines.append(f"• #{a.id} {what} as {a.format.upper()}: {state}")
    return "*Your recent exports*\n" + "\n".join(lines)


# --- preview ---------------------------------------------------------------------------------------------


async def _preview(command: Preview, ack, body, respond, client: AsyncWebClient, workspace: SlackWorkspace,
                   services: BotServices) -> None:
    if services.renderer_factory is None:
        await ack(
            response_type="ephemeral",
            text="Previews need the image renderer, which is not running in this service. "
            "Subscriptions still work: `/posthog subscribe ...` and `/posthog send <number>`.",
        )
        return
    async with services.database.session() as session:
        connection = choose_connection(await store.list_connections(session, workspace), command.project)
    user_id = body.get("user_id", "")
    try:
        services.limits.take("preview", workspace=workspace.id, user=user_id)
    except RateLimited as exc:
        await ack(response_type="ephemeral", text=str(exc))
        return
    await ack(response_type="ephemeral", text=f"Rendering {command.kind} {command.ref}…")
    try:
        content = await fetch_content(services, connection, command.kind, command.ref)
        images = await render_images(services, command.kind, content)
        # Files cannot be ephemeral in Slack: the preview goes to the user's DM with the app instead.
        dm = await client.conversations_open(users=user_id)
        await client.files_upload_v2(
            channel=dm["channel"]["id"],
            initial_comment=f"Preview of *{blocks.escape(content.name)}*",
            file_uploads=[
                {"content": image.png, "filename": f"{command.kind}-{command.ref}-{i}.png", "title": image.title}
                for i, image in enumerate(images, 1)
            ],
        )
        await respond(response_type="ephemeral", replace_original=True,
                      text=f"I sent the preview of {blocks.escape(content.name)} to our direct messages.")
    except PostHogError as exc:
        await respond(response_type="ephemeral", replace_original=False, text=str(exc))
    except SlackApiError as exc:
        await respond(response_type="ephemeral", replace_original=False,
                      text=f"Slack refused the preview upload ({slack_error_code(exc)}).")
    except Exception:  # noqa: BLE001 - a render failure must still get an answer
        log.exception("preview of %s %s failed", command.kind, command.ref)
        await respond(response_type="ephemeral", replace_original=False,
                      text=f"I couldn't render {command.kind} {command.ref} just now. Try again in a minute.")


async def render_images(services: BotServices, kind: str, content: Any) -> list[Image]:
    """A preview: the insight, or the whole dashboard on its grid as one image."""
    assert services.renderer_factory is not None
    async with services.renderer_factory() as renderer:
        if kind == "insight":
            return [Image(content.name, await renderer.render_insight(content))]
        rendered = await renderer.render_dashboard(content)
        return [Image(content.name, rendered.full)]

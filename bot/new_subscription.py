"""The "New subscription" form: opened by `/posthog subscribe` with nothing after it and from the Home tab.

It asks for the same things as the command (what, where, when) and the images' theme, and goes through the same
lifecycle functions, so a mistake gets the same message on the field that the command would have answered.
"""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from core import subscriptions as lifecycle
from core.date_ranges import DateRangeError
from core.models import PostHogConnection, SlackWorkspace, Subscription, utcnow
from core.recipients import RecipientError, check_recipients, split_addresses
from core.schedules import ScheduleError, canonical_timezone
from posthog_api import CHECK_ACCESS_SECONDS, PostHogError

from . import store
from .blocks import Block
from .commands import check_channel, fetch_title, member_addresses, slack_user
from .modals import (
    _input,
    _option,
    _text_input,
    _value,
    parse_range_field,
    range_input,
    recipients_inputs,
    theme_input,
)
from .parsing import CommandError, parse_target
from .services import BotServices

NEW_CALLBACK = "subscription_new"


def new_subscription_modal(timezone: str, connections: list[PostHogConnection]) -> Block:
    project: list[Block] = []
    if len(connections) > 1:
        project = [_input("project", "PostHog project", {
            "type": "static_select", "action_id": "value",
            "options": [_option(str(c.id), f"{c.name} (project {c.project_id})"[:75]) for c in connections],
            "initial_option": _option(str(connections[0].id), f"{connections[0].name} "
                                      f"(project {connections[0].project_id})"[:75]),
        })]
    return {
        "type": "modal",
        "callback_id": NEW_CALLBACK,
        "title": {"type": "plain_text", "text": "New subscription"},
        "submit": {"type": "plain_text", "text": "Subscribe"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("target", "Insight or dashboard", _text_input("value", placeholder="dashboard 42"),
                   hint="dashboard 42, insight abc123XY, or a PostHog link"),
            *project,
            _input("channel", "Slack channel", {
                "type": "conversations_select", "action_id": "value",
                "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            }, optional=True, hint="Post it into a channel, or email it: leave this empty and pick people below"),
            *recipients_inputs(),
            _input("schedule", "When", _text_input("value", initial="weekly on monday at 9:00"),
                   hint="e.g. daily at 8am, weekdays at 17:30, every 2 weeks on monday, monthly on the first monday"),
            _input("timezone", "Time zone", _text_input("value", initial=timezone),
                   hint="An IANA name such as Europe/London or America/Los_Angeles"),
            range_input(),
            theme_input(),
        ],
    }


async def open_new_subscription(client: AsyncWebClient, trigger_id: str, user_id: str, workspace: SlackWorkspace,
                                services: BotServices) -> None:
    async with services.database.session() as session:
        connections = await store.list_connections(session, workspace)
    user = await slack_user(client, user_id)
    await client.views_open(trigger_id=trigger_id, view=new_subscription_modal(user.timezone, connections))


async def submit_new_subscription(view: dict, user_id: str, workspace: SlackWorkspace, services: BotServices,
                                  client: AsyncWebClient) -> dict[str, str] | Subscription:
    """Field errors, or the new subscription."""
    values = view.get("state", {}).get("values", {})
    errors: dict[str, str] = {}
    kind = ref = None
    try:
        kind, ref, rest = parse_target("subscribe", (_value(values, "target") or "").split())
        if rest:
            errors["target"] = "Just the insight or dashboard here; the schedule has its own field"
    except CommandError as exc:
        errors["target"] = str(exc)[:150]
    channel = _value(values, "channel")
    members = _value(values, "members", many=True)
    typed = split_addresses(_value(values, "recipients") or "")
    if channel and (members or typed):
        errors["channel"] = "A subscription goes to a channel or to email addresses, not both"
    elif not channel and not (members or typed):
        errors["channel"] = "Pick a channel, or people to email below"
    try:
        zone = canonical_timezone(_value(values, "timezone") or "")
    except ScheduleError as exc:
        errors["timezone"], zone = str(exc)[:150], "UTC"
    now = utcnow()
    schedule = date_range = attach = None
    try:
        schedule, date_range, attach = lifecycle.read_when(_value(values, "schedule") or "", zone, now=now)
    except (ScheduleError, DateRangeError) as exc:
        errors["schedule"] = str(exc)[:150]
    try:
        field_range = parse_range_field(_value(values, "range"))
        if field_range is not None and date_range is not None:
            errors["range"] = "The When field already gives a date range; give it once"
        date_range = date_range or field_range
    except DateRangeError as exc:
        errors["range"] = str(exc)[:150]
    theme = "light"  # a form without the field (opened before it had one) draws light images
    if (chosen_theme := _value(values, "theme")) is not None:
        try:
            theme = lifecycle.read_theme(chosen_theme)
        except lifecycle.ThemeError as exc:
            errors["theme"] = str(exc)[:150]
    async with services.database.session() as session:
        connections = await store.list_connections(session, workspace)
    chosen = _value(values, "project")
    connection = next((c for c in connections if str(c.id) == chosen), connections[0] if connections else None)
    if connection is None:
        errors["target"] = "No PostHog project is connected yet: run `/posthog connect` (or `/posthog connect demo`)"
    addresses: list[str] = []
    if not channel and (members or typed):
        addresses, problem = await member_addresses(client, members)
        if problem:
            errors["members"] = problem
        try:
            addresses = check_recipients(addresses + typed, services.settings)
        except RecipientError as exc:
            errors["recipients"] = str(exc)[:150]
    if errors:
        return errors
    try:
        title = await asyncio.wait_for(fetch_title(services, connection, kind, ref), CHECK_ACCESS_SECONDS)
    except (PostHogError, TimeoutError) as exc:
        return {"target": str(exc)[:150] or "PostHog did not answer in time; try again"}
    user = await slack_user(client, user_id)
    if channel:
        problem, name = await check_channel(client, channel)
        if problem:
            return {"channel": problem[:150]}
        async with services.database.transaction() as session:
            return await lifecycle.create_subscription(
                session, connection=await session.merge(connection), content_type=kind, content_ref=str(ref),
                schedule=schedule, title=title[:400], target_type="slack", slack_channel_id=channel,
                slack_channel_name=name, created_by_slack_user=user_id, workspace_id=workspace.id, now=now,
                date_range=date_range, attach_format=attach, theme=theme,
            )
    async with services.database.transaction() as session:
        return await lifecycle.subscribe_by_email(
            session, services.settings, connection=await session.merge(connection), content_type=kind,
            content_ref=str(ref), schedule=schedule, recipients=addresses, title=title[:400],
            subscribed_by=f"{user.name or 'Someone'} in {workspace.name or 'Slack'}", created_by_slack_user=user_id,
            workspace_id=workspace.id, now=now, date_range=date_range, attach_format=attach, theme=theme,
        )

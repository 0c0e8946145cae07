"""Modals: connecting a PostHog project and editing a subscription, with field-level errors."""

from __future__ import annotations

import json
import logging
from typing import Any

from core.date_ranges import DateRange, DateRangeError, parse_date_range
from core.limits import RateLimited
from core.models import PostHogConnection, Subscription
from core.schedule_defaults import FREQUENCIES, MAX_INTERVAL
from core.schedules import WEEKDAYS, Schedule, ScheduleError, canonical_timezone
from core.subscriptions import THEMES, ThemeError, date_range_of, edit, read_theme, schedule_of
from posthog_api import InvalidReference, check_connection, parse_posthog_reference, save_connection

from . import store
from .blocks import Block, escape, label

log = logging.getLogger(__name__)

CONNECT_CALLBACK = "posthog_connect"
EDIT_CALLBACK = "subscription_edit"


def _input(block_id: str, label_text: str, element: Block, *, hint: str | None = None, optional: bool = False) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label_text},
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def _text_input(action_id: str, *, initial: str | None = None, placeholder: str | None = None) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": action_id}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": placeholder}
    return element


def _option(value: str, text: str | None = None) -> Block:
    return {"text": {"type": "plain_text", "text": text or value.capitalize()}, "value": value}


def connect_modal() -> Block:
    return {
        "type": "modal",
        "callback_id": CONNECT_CALLBACK,
        "title": {"type": "plain_text", "text": "Connect PostHog"},
        "submit": {"type": "plain_text", "text": "Connect"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("host", "PostHog host", _text_input("value", initial="https://us.posthog.com"),
                   hint="https://us.posthog.com, https://eu.posthog.com or your self-hosted address"),
            _input("project_id", "Project id", _text_input("value", placeholder="12345"),
                   hint="The number after /project/ in your PostHog address bar"),
            _input("api_key", "Personal API key", _text_input("value", placeholder="phx_..."),
                   hint="Needs insight:read, dashboard:read and project:read. Stored encrypted, never shown again."),
        ],
    }


def _value(values: dict, block_id: str, *, many: bool = False) -> Any:
    """What was entered in one field: its text or selection (str), or with `many` its selections (list of str).
    A field left empty, or not in the shape Slack gives it, reads as None (or [] with `many`), so that a
    malformed form is answered like one left empty."""
    found = _entered(values, block_id)
    if many:
        return found if isinstance(found, list) else []
    return found if isinstance(found, str) else None


def _entered(values: dict, block_id: str) -> Any:
    block = values.get(block_id) if isinstance(values, dict) else None
    action = next(iter(block.values()), None) if isinstance(block, dict) else None
    if not isinstance(action, dict):
        return None
    for key in ("value", "selected_conversation", "selected_time", "selected_channel"):
        if key in action:
            return action[key] if isinstance(action[key], str) else None
    if "selected_users" in action:
        return _strings(action["selected_users"])
    if "selected_option" in action:
        option = action["selected_option"]
        return option.get("value") if isinstance(option, dict) and isinstance(option.get("value"), str) else None
    if "selected_options" in action:
        options = action["selected_options"] if isinstance(action["selected_options"], list) else []
        return _strings([o.get("value") for o in options if isinstance(o, dict)])
    return None


def _strings(items: Any) -> list[str]:
    return [item for item in items if isinstance(item, str)] if isinstance(items, list) else []


async def connect_submission(view: dict, user_id: str, workspace, services) -> dict[str, str] | PostHogConnection:
    """Field errors, or the saved connection."""
    values = view.get("state", {}).get("values", {})
    try:
        services.limits.take("connect", workspace=workspace.id, user=user_id)
    except RateLimited as exc:
        return {"host": str(exc)}
    checked = await check_connection(
        _value(values, "host") or "", _value(values, "project_id") or "", _value(values, "api_key") or "",
        services.settings,
    )
    if isinstance(checked, dict):
        return checked
    async with services.database.transaction() as session:
        return await save_connection(session, checked, workspace_id=workspace.id, created_by=user_id)


# --- editing a subscription ------------------------------------------------------------------------------


def range_input(current: str = "") -> Block:
    return _input("range", "Date range", _text_input("value", initial=current, placeholder="last 7 days"),
                  optional=True, hint="The period every delivery shows, e.g. last 7 days, last month, this week. "
                  "Empty: as saved in PostHog")


def parse_range_field(text: str | None) -> DateRange | None:
    """The Date range field: None when empty (the content's own period); DateRangeError when not understood."""
    return parse_date_range(text) if (text or "").strip() else None


def theme_input(current: str = "light") -> Block:
    return _input("theme", "Theme", {
        "type": "static_select", "action_id": "value", "options": [_option(t) for t in THEMES],
        "initial_option": _option(current if current in THEMES else "light"),
    }, hint="The images' palette")


def recipients_inputs(addresses: list[str] | None = None) -> list[Block]:
    """Email recipients: workspace members (their Slack addresses are looked up) and any other addresses."""
    return [
        _input("members", "Workspace members", {
            "type": "multi_users_select", "action_id": "value",
            "placeholder": {"type": "plain_text", "text": "People to email"},
        }, optional=True, hint="Their email addresses in Slack are used"),
        _input("recipients", "Email addresses",
               {**_text_input("value", initial=", ".join(addresses or [])), "multiline": True}, optional=True,
               hint="Anyone else, separated by commas or spaces, e.g. ada@acme.com, bob@acme.com"),
    ]


def edit_modal(subscription: Subscription, *, recipients: list[str] | None = None,
               confirm: list[str] | None = None) -> Block:
    """The Edit form. `recipients` refills the address field; `confirm` names addresses that unsubscribed
    themselves and asks to save again to add them back."""
    s = subscription
    frequency = _option(s.frequency)
    days = [_option(d) for d in s.byweekday or []]
    days_element: Block = {
        "type": "multi_static_select",
        "action_id": "value",
        "options": [_option(d) for d in WEEKDAYS],
        "placeholder": {"type": "plain_text", "text": "Days of the week"},
    }
    if days:
        days_element["initial_options"] = days
    channel_element: Block = {
        "type": "conversations_select",
        "action_id": "value",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if s.slack_channel_id:
        channel_element["initial_conversation"] = s.slack_channel_id
    if s.target_type == "email":
        where = recipients_inputs(recipients if recipients is not None else list(s.email_recipients or []))
    else:
        where = [_input("channel", "Channel", channel_element)]
    warning = []
    if confirm:
        warning = [{"type": "section", "text": {"type": "mrkdwn", "text": (
            f":warning: {escape(', '.join(confirm))} unsubscribed themselves from this subscription. "
            "Save again to add them back anyway, or take them out."
        )}}]
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps({"subscription_id": s.id, "confirm": list(confirm or [])}),
        "title": {"type": "plain_text", "text": f"Edit subscription #{s.id}"[:24]},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(label(s))}*"}},
            *warning,
            _input("target", "Insight or dashboard", _text_input("value", initial=str(s.content_ref)),
                   hint="An id, a short id or a PostHog link"),
            *where,
            _input("frequency", "Frequency", {
                "type": "static_select", "action_id": "value",
                "options": [_option(f) for f in FREQUENCIES], "initial_option": frequency,
            }),
            _input("interval", "Every how many", _text_input("value", initial=str(s.interval)),
                   hint="1 = every week (or day, month, year); 2 = every other"),
            _input("days", "Days", days_element, optional=True,
                   hint="Weekly: the days to deliver on. Monthly with a position: the day to count."),
            _input("time", "Time", {"type": "timepicker", "action_id": "value",
                                    "initial_time": f"{s.hour:02d}:{s.minute:02d}"}),
            _input("timezone", "Time zone", _text_input("value", initial=s.timezone),
                   hint="An IANA name such as Europe/London or America/Los_Angeles"),
            range_input(current.label if (current := date_range_of(s)) else ""),
            theme_input(s.theme),
        ],
    }


def edit_values(view: dict) -> dict[str, Any]:
    values = view.get("state", {}).get("values", {})
    return {key: _value(values, key, many=key in ("members", "days")) for key in
            ("target", "channel", "members", "recipients", "frequency", "interval", "days", "time", "timezone",
             "range", "theme")}


def validate_edit(subscription: Subscription, values: dict[str, Any]) -> tuple[dict[str, str], Schedule | None]:
    """Field errors (by block id), and the new schedule when the schedule fields are all valid."""
    errors: dict[str, str] = {}
    target = (values.get("target") or "").strip()
    if not target:
        errors["target"] = "Enter the insight or dashboard, e.g. 42 or a PostHog link"
    else:
        try:
            kind, ref = parse_posthog_reference(target)
            if subscription.content_type == "dashboard" and not isinstance(ref, int):
                errors["target"] = "Dashboards have numeric ids, e.g. 42"
            elif kind is not None and kind != subscription.content_type:
                errors["target"] = (
                    f"That link is to {'an' if kind == 'insight' else 'a'} {kind}; this subscription delivers "
                    f"{'an' if subscription.content_type == 'insight' else 'a'} {subscription.content_type}"
                )
        except InvalidReference as exc:
            errors["target"] = str(exc)[:150]
    if subscription.target_type == "slack" and not values.get("channel"):
        errors["channel"] = "Pick the channel to deliver to"
    no_one = not values.get("members") and not (values.get("recipients") or "").strip()
    if subscription.target_type == "email" and no_one:
        errors["recipients"] = "Add at least one person or email address"
    frequency = values.get("frequency")
    if frequency not in FREQUENCIES:
        errors["frequency"] = "Pick daily, weekly, monthly or yearly"
    interval_text = str(values.get("interval") or "").strip()
    # isdigit() alone accepts "²", which int() refuses.
    if not (interval_text.isascii() and interval_text.isdigit() and 1 <= int(interval_text) <= MAX_INTERVAL):
        errors["interval"] = f"A whole number from 1 to {MAX_INTERVAL}, e.g. 2 for every other week"
    time_text = values.get("time") or ""
    try:
        hour, minute = (int(part) for part in time_text.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError
    except ValueError:
        errors["time"] = "Pick a time, e.g. 09:00"
        hour, minute = 9, 0
    try:
        zone = canonical_timezone(values.get("timezone") or "")
    except ScheduleError as exc:
        errors["timezone"] = str(exc)[:150]
        zone = "UTC"
    try:
        parse_range_field(values.get("range"))
    except DateRangeError as exc:
        errors["range"] = str(exc)[:150]
    if values.get("theme") is not None:  # left out (an older form): unchanged
        try:
            read_theme(values["theme"])
        except ThemeError as exc:
            errors["theme"] = str(exc)[:150]
    if errors:
        return errors, None
    days = tuple(values.get("days") or ())
    current = schedule_of(subscription)
    try:
        schedule = Schedule(
            frequency=frequency, interval=int(interval_text), byweekday=days,
            bysetpos=current.bysetpos if frequency in ("monthly", "yearly") and days else None,
            # Keep "on the 15th": without it the rule would fall back to the day the edit was saved.
            bymonthday=current.bymonthday if frequency in ("monthly", "yearly") and not days else None,
            hour=hour, minute=minute, timezone=zone, start=current.start, until=current.until, count=current.count,
        )
        schedule.validate()
    except ScheduleError as exc:
        return {"days": str(exc)[:150]}, None
    return {}, schedule


async def save_edit(session, subscription: Subscription, values: dict[str, Any], schedule: Schedule,
                    title: str | None) -> None:
    _kind, ref = parse_posthog_reference(values["target"])
    date_range = parse_range_field(values.get("range"))  # checked by validate_edit
    edit(subscription, content_ref=str(ref), title=title, slack_channel_id=values.get("channel"), schedule=schedule,
         date_range=date_range, clear_date_range=date_range is None, theme=values.get("theme"))


def parse_metadata(view: dict) -> int | None:
    try:
        return int(json.loads(view.get("private_metadata") or "{}").get("subscription_id"))
    except (TypeError, ValueError, AttributeError):
        return None


def confirmed_addresses(view: dict) -> set[str]:
    """The self-unsubscribed addresses the editor was warned about and saved again with."""
    try:
        return {str(a).casefold() for a in json.loads(view.get("private_metadata") or "{}").get("confirm") or []}
    except (TypeError, ValueError, AttributeError):
        return set()


async def load_for_edit(services, workspace, view: dict):
    async with services.database.session() as session:
        return await store.get_subscription(session, workspace, parse_metadata(view))

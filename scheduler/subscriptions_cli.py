"""`subscriptions`: list, add, pause, resume and remove subscriptions from the command line.

    subscriptions list [--json]
    subscriptions add dashboard 42 --email ada@acme.com --email bob@acme.com \\
        --schedule "weekly on monday at 9:00" --tz Europe/London [--range "last 7 days"] [--project ID] \
        [--theme dark]
    subscriptions pause|resume|remove ID

Like Slack, this is a door onto the subscription lifecycle (core/subscriptions.py): the same checks, the same
messages for the same mistakes. Subscriptions made here belong to the operator's PostHog connection
(POSTHOG_HOST...; the bundled demo project when none is set), or to a connected project named by `--project`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass

from sqlalchemy import select

from core import subscriptions as lifecycle
from core.date_ranges import DateRangeError, parse_date_range
from core.db import Database
from core.models import PostHogConnection, Subscription, utcnow
from core.recipients import RecipientError
from core.schedules import ScheduleError, canonical_timezone
from core.settings import Settings, get_settings
from posthog_api import InvalidReference, PostHogError, fetch, operator_connection, parse_posthog_reference
from scheduler.welcomes import send_welcomes


class UsageError(Exception):
    """A mistake in what was asked; `str()` is the message."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "subscriptions", help="list, add, pause, resume or remove subscriptions (email reports)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every subscription, with its schedule and next delivery")
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    add = actions.add_parser("add", help="email an insight or a dashboard on a schedule")
    add.add_argument("kind", choices=["insight", "dashboard"])
    add.add_argument("ref", help="dashboard id, insight id or short id, or a PostHog link")
    add.add_argument("--email", action="append", required=True, metavar="ADDRESS",
                     help="a recipient (repeat for more; commas work too)")
    add.add_argument("--schedule", default="weekly", help='e.g. "weekly on monday at 9:00" (default: weekly)')
    add.add_argument("--tz", default="UTC", help="IANA time zone of the schedule, e.g. Europe/London")
    add.add_argument("--range", default=None, help='the period each delivery shows, e.g. "last 7 days", '
                     '"last month", "this week" (default: as saved in PostHog)')
    add.add_argument("--theme", default="light", metavar="light|dark", help="the images' palette (default: light)")
    add.add_argument("--project", default=None, help="id or name of a connected PostHog project")
    add.add_argument("--owner", default=None, metavar="ADDRESS", help="who is told if the subscription pauses")
    for verb, text in (("pause", "stop delivering until resumed"), ("resume", "deliver again from the next "
                       "occurrence"), ("remove", "delete the subscription")):
        one = actions.add_parser(verb, help=text)
        one.add_argument("id", type=int)
    parser.set_defaults(func=lambda args: asyncio.run(run(args)))


async def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    database = Database(settings.database_url)
    try:
        if args.action == "list":
            rows = await list_subscriptions(database)
            print(json.dumps([r.as_json() for r in rows], indent=2) if args.json else format_rows(rows))
            return 0
        if args.action == "add":
            message = await add(database, settings, args)
        else:
            message = await manage(database, args.action, args.id)
    except (UsageError, ScheduleError, DateRangeError, RecipientError, PostHogError, lifecycle.ThemeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await database.dispose()
    print(message)
    return 0


# --- add ---------------------------------------------------------------------------------------------------


async def add(database: Database, settings: Settings, args: argparse.Namespace) -> str:
    kind, ref = _target(args.kind, args.ref)
    try:
        zone = canonical_timezone(args.tz)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    schedule, date_range, attach = lifecycle.read_when(args.schedule, zone)
    if args.range is not None:
        if date_range is not None:
            raise UsageError("Give the date range once: in --schedule (\"weekly over the last 7 days\") or --range.")
        date_range = parse_date_range(args.range)
    theme = lifecycle.read_theme(args.theme)  # before PostHog is asked: a typo costs nothing
    recipients = [a for given in args.email for a in given.split(",")]
    async with database.transaction() as session:
        connection = await _connection(session, settings, args.project)
    # Checked before anything is saved: an unknown insight is refused like in Slack.
    content = await fetch(connection, kind, ref, settings, interactive=True)
    async with database.transaction() as session:
        subscription = await lifecycle.subscribe_by_email(
            session, settings, connection=await session.merge(connection), content_type=kind, content_ref=str(ref),
            schedule=schedule, recipients=recipients, title=content.name[:400], created_by_email=args.owner,
            date_range=date_range, attach_format=attach, theme=theme,
        )
        summary = (
            f"Subscription {subscription.id}: {content.name} ({kind} {ref}), {schedule.summary()}"
            f"{f', date range {date_range.label}' if date_range else ''}"
            f"{', dark images' if theme == 'dark' else ''}, to "
            f"{', '.join(subscription.email_recipients)}.\n"
            f"Next deliveries: {', '.join(_local(o, zone) for o in schedule.occurrences(utcnow(), 3))}."
        )
    welcomed = await send_welcomes(database, settings)
    return summary + (f"\n{welcomed} new recipient{'s' if welcomed != 1 else ''} told by email." if welcomed else "")


def _target(kind: str, raw: str) -> tuple[str, int | str]:
    try:
        link_kind, ref = parse_posthog_reference(raw)
    except InvalidReference as exc:
        raise UsageError(str(exc)) from None
    if link_kind is not None and link_kind != kind:
        raise UsageError(f"That link is to {'an' if link_kind == 'insight' else 'a'} {link_kind}, not a {kind}.")
    if kind == "dashboard" and not isinstance(ref, int):
        raise UsageError(f"Dashboards have numeric ids; “{raw[:40]}” looks like an insight's short id.")
    return kind, ref


async def _connection(session, settings: Settings, project: str | None) -> PostHogConnection:
    if project is None:
        return await operator_connection(session, settings)
    connections = list(await session.scalars(
        select(PostHogConnection).where(PostHogConnection.workspace_id.is_(None)).order_by(PostHogConnection.id)
    ))
    wanted = project.strip().casefold()
    for connection in connections:
        if wanted in (str(connection.project_id), connection.name.casefold()):
            return connection
    names = ", ".join(f"{c.name} (project {c.project_id})" for c in connections) or "none"
    raise UsageError(f"No connected PostHog project is called “{project[:60]}”. Connected: {names}.")


def _local(instant, zone: str) -> str:
    from zoneinfo import ZoneInfo

    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y %H:%M ") + (local.tzname() or zone)


# --- pause / resume / remove -------------------------------------------------------------------------------


async def manage(database: Database, action: str, subscription_id: int) -> str:
    async with database.transaction() as session:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None or subscription.deleted_at is not None:
            raise UsageError(f"Subscription {subscription_id} does not exist. `subscriptions list` shows them.")
        name = f"Subscription {subscription.id} ({subscription.title or subscription.content_type})"
        if action == "remove":
            lifecycle.unsubscribe(subscription)
            return f"{name} removed. It will not be delivered again."
        if action == "pause":
            if not lifecycle.pause(subscription, "paused from the command line"):
                return f"{name} is already paused."
            return f"{name} paused. `subscriptions resume {subscription.id}` restarts it."
        if subscription.enabled:
            return f"{name} is not paused."
        lifecycle.resume(subscription)
        return f"{name} resumed. Next delivery: {_local(subscription.next_delivery_at, subscription.timezone)}."


# --- list --------------------------------------------------------------------------------------------------


@dataclass
class Row:
    subscription: Subscription
    schedule: str

    def as_json(self) -> dict:
        s = self.subscription
        return {
            "id": s.id, "kind": s.content_type, "ref": s.content_ref, "title": s.title, "target": s.target_type,
            "channel": s.slack_channel_id, "recipients": list(s.email_recipients or []), "schedule": self.schedule,
            "timezone": s.timezone, "date_from": s.date_from, "date_to": s.date_to, "theme": s.theme,
            "enabled": s.enabled,
            "paused_reason": s.paused_reason,
            "next_delivery_at": s.next_delivery_at.isoformat() if s.next_delivery_at else None,
        }


async def list_subscriptions(database: Database) -> list[Row]:
    async with database.session() as session:
        rows = await session.scalars(
            select(Subscription).where(Subscription.deleted_at.is_(None)).order_by(Subscription.id)
        )
        return [Row(s, _summary(s)) for s in rows]


def _summary(subscription: Subscription) -> str:
    try:
        return lifecycle.schedule_of(subscription).summary()
    except ScheduleError as exc:
        return f"(schedule unusable: {exc})"


def format_rows(rows: list[Row]) -> str:
    if not rows:
        return "No subscriptions. Add one with `subscriptions add dashboard 42 --email you@example.com`."
    lines = []
    for row in rows:
        s = row.subscription
        where = (f"Slack {s.slack_channel_name and '#' + s.slack_channel_name or s.slack_channel_id}"
                 if s.target_type == "slack" else ", ".join(s.email_recipients or []))
        state = (f"next {_local(s.next_delivery_at, s.timezone)}" if s.enabled and s.next_delivery_at
                 else f"paused: {s.paused_reason}" if not s.enabled else "schedule ended")
        lines.append(f"{s.id:>5}  {s.title or s.content_type} ({s.content_type} {s.content_ref})  →  {where}\n"
                     f"       {row.schedule}{'; dark images' if s.theme == 'dark' else ''}; {state}")
    return "\n".join(lines)

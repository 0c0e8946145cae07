"""Commands of `core/`: `db` (migrations), `schedule` (preview a schedule), `audit` (who changed what) and
`secrets rotate` (re-encrypt stored secrets with the first key of SECRET_KEY)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core import migrations
from core.audit import describe, trail
from core.crypto import SecretKeyError
from core.db import Database
from core.key_rotation import rotate_secrets
from core.models import SlackWorkspace
from core.schedule_preview import preview_schedule
from core.schedules import ScheduleError
from core.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database migrations (upgrade, downgrade, current, revision)")
    db.add_argument("action", choices=["upgrade", "downgrade", "current", "revision"])
    db.add_argument("revision", nargs="?", default=None, help="target revision (default: head)")
    db.add_argument("-m", "--message", default="", help="message of a new revision")
    db.add_argument("--url", default=None, help="database URL (default: DATABASE_URL)")
    db.set_defaults(func=_db)

    schedule = subparsers.add_parser(
        "schedule",
        help="preview a schedule: its summary and next occurrences",
        description='Examples: "weekly on monday at 9:00", "every 2 weeks on mon and thu at 17:30", '
        '"monthly on the first monday", "weekdays at 8am", "FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1".',
    )
    schedule.add_argument("rule", help="a schedule phrase or an RRULE")
    schedule.add_argument("--tz", default="UTC", help="IANA time zone, e.g. Europe/London (default UTC)")
    schedule.add_argument("--from", dest="from_", default=None, help="ISO date or time to start from")
    schedule.add_argument("--count", type=int, default=5, help="how many occurrences (default 5)")
    schedule.set_defaults(func=_schedule)

    audit = subparsers.add_parser(
        "audit", help="who changed which subscription, connection or API key, when, how and from where",
        description="Newest first. Without --workspace: the operator's own (made from the command line).",
    )
    audit.add_argument("--workspace", metavar="TEAM_ID", help="a Slack workspace, e.g. T0123ABCD")
    audit.add_argument("--all", action="store_true", help="every workspace")
    audit.add_argument("--since", metavar="WHEN", help="an ISO date or time (UTC), or a number of days ago, e.g. 7")
    audit.add_argument("--subscription", type=int, metavar="ID", help="one subscription's trail (any workspace)")
    audit.add_argument("--limit", type=int, default=200, help="at most this many lines (default 200)")
    audit.set_defaults(func=_audit)

    keys = subparsers.add_parser(
        "secrets", help="re-encrypt every stored secret with the first key of SECRET_KEY",
        description="To replace a key: set SECRET_KEY=new,old on every process, run `secrets rotate`, then drop "
        "the old key.",
    )
    keys.add_argument("action", choices=["rotate"])
    keys.set_defaults(func=_secrets)


def _db(args: argparse.Namespace) -> int:
    url = args.url or get_settings().database_url
    if args.action == "upgrade":
        migrations.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrations.downgrade(url, args.revision or "-1")
    elif args.action == "current":
        migrations.current(url)
    else:
        if not args.message:
            print("db revision needs -m MESSAGE")
            return 2
        migrations.revision(url, args.message)
    return 0


def _schedule(args: argparse.Namespace) -> int:
    try:
        preview = preview_schedule(args.rule, args.tz, start=args.from_, count=max(args.count, 0))
    except ScheduleError as exc:
        print(f"error: {exc}")
        return 2
    schedule, occurrences = preview.schedule, preview.occurrences
    print(schedule.summary())
    for moment in occurrences:
        local = preview.local(moment)
        print(f"  {local:%a %Y-%m-%d %H:%M %Z}  =  {moment:%Y-%m-%d %H:%M} UTC")
    if len(occurrences) < args.count:
        print("  (no more occurrences)")
    return 0



def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    if text.isdigit():
        return datetime.now(UTC) - timedelta(days=int(text))
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _audit(args: argparse.Namespace) -> int:
    try:
        since = _since(args.since)
    except ValueError:
        print(f"error: --since takes an ISO date or time, or a number of days, not {args.since!r}")
        return 2
    return asyncio.run(_print_audit(args, since))


async def _print_audit(args: argparse.Namespace, since: datetime | None) -> int:
    database = Database(get_settings().database_url)
    try:
        async with database.session() as session:
            workspace_id = None
            if args.workspace:
                workspace_id = await session.scalar(
                    select(SlackWorkspace.id).where(SlackWorkspace.team_id == args.workspace))
                if workspace_id is None:
                    print(f"error: no workspace {args.workspace} has installed the app")
                    return 2
            events = await trail(
                session, workspace_id=workspace_id, since=since,
                all_workspaces=bool(args.all or args.subscription) and not args.workspace,
                object_type="subscription" if args.subscription else None, object_id=args.subscription,
                limit=max(args.limit, 1),
            )
    finally:
        await database.dispose()
    for event in events:
        print(describe(event))
    if not events:
        print("No changes recorded" + (" since then." if since else "."))
    return 0


def _secrets(args: argparse.Namespace) -> int:
    async def rotate() -> dict[str, int]:
        database = Database(get_settings().database_url)
        try:
            return await rotate_secrets(database)
        finally:
            await database.dispose()

    try:
        rewritten = asyncio.run(rotate())
    except SecretKeyError as exc:
        print(f"error: {exc}")
        return 2
    for column, count in rewritten.items():
        print(f"{column}: {count} re-encrypted")
    print("Every stored secret is now under the first key of SECRET_KEY; the others can be dropped.")
    return 0

"""Commands of `core/`: `db` (migrations) and `schedule` (preview a schedule)."""

from __future__ import annotations

import argparse

from core import migrations
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


"""Commands of `core/`: `db` (migrations) and `schedule` (preview a schedule)."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core import migrations
from core.schedule_phrases import parse_schedule
from core.schedules import ScheduleError
from core.settings import get_settings

_EPSILON = timedelta(microseconds=1)


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


def _parse_from(text: str | None, zone: ZoneInfo) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ScheduleError(f'"{text}" is not an ISO date or time. Try --from 2026-03-20 or 2026-03-20T08:00.') from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)  # a bare --from is read in the schedule's own zone
    return moment


def _schedule(args: argparse.Namespace) -> int:
    try:
        schedule = parse_schedule(args.rule, args.tz, today=date.today())
        zone = ZoneInfo(schedule.timezone)
        after = _parse_from(args.from_, zone)
        if args.from_:
            schedule = parse_schedule(args.rule, args.tz, today=after.astimezone(zone).date())
        # "from" is inclusive: an occurrence exactly at the start time counts.
        occurrences = schedule.occurrences(after - _EPSILON, max(args.count, 0))
    except ScheduleError as exc:
        print(f"error: {exc}")
        return 2
    print(schedule.summary())
    for moment in occurrences:
        local = moment.astimezone(zone)
        print(f"  {local:%a %Y-%m-%d %H:%M %Z}  =  {moment:%Y-%m-%d %H:%M} UTC")
    if len(occurrences) < args.count:
        print("  (no more occurrences)")
    return 0


"""Previewing a schedule: its summary and next occurrences, as `app.py schedule` prints them and the API's
`/schedules/preview` answers them (one rule for both: a start that is a bare date or time is read in the schedule's
own zone, and an occurrence exactly at the start counts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.schedule_phrases import parse_schedule
from core.schedules import Schedule, ScheduleError

_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class Preview:
    schedule: Schedule
    occurrences: list[datetime]  # UTC
    zone: ZoneInfo

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


def parse_start(text: str | None, zone: ZoneInfo) -> datetime | None:
    """An ISO date or time to start from; a bare one is read in the schedule's own zone."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ScheduleError(f'"{text[:40]}" is not an ISO date or time. Try 2026-03-20 or 2026-03-20T08:00.') from exc
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def preview_schedule(rule: str, timezone: str, *, start: str | None = None, count: int = 5,
                     now: datetime | None = None) -> Preview:
    """The schedule `rule` in `timezone` and its next `count` occurrences from `start` (default: now). Raises
    ScheduleError with the message for the person who typed it."""
    schedule = parse_schedule(rule, timezone, today=date.today())
    zone = ZoneInfo(schedule.timezone)
    after = parse_start(start, zone)
    if after is not None:
        # "every 2 weeks" counts from the start date
        schedule = parse_schedule(rule, timezone, today=after.astimezone(zone).date())
    else:
        after = now or datetime.now(UTC)
    return Preview(schedule, schedule.occurrences(after - _EPSILON, count), zone)

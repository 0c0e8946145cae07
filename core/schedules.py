"""Delivery schedules: PostHog's rule fields evaluated with rrule in the subscription's IANA time zone.

The rule is evaluated on naive *local* wall times (so count, until and "first Monday" are counted in
the local calendar), then each wall time is turned into a UTC instant:

- a wall time that exists once maps to that instant;
- an ambiguous wall time (clocks going back) takes the first of its two instants (fold=0);
- a wall time that does not exist (clocks going forward) moves to the moment the clocks jump, which
  is the next valid instant (02:30 on a Berlin spring-forward night becomes 03:00 CEST).

Defaults when a field is left empty: weekly runs on the weekday of `start`, monthly on the day of the
month of `start`, yearly on the month and day of `start`; without a start, on the fallbacks in
core.schedule_defaults (WEEKLY_DAY, MONTHLY_DAY, YEARLY_MONTH and YEARLY_DAY), the table that also holds
the default time and time zone and the limits. Monthly "on the 31st" skips months without a 31st, as
rrule does.
"""

from __future__ import annotations

import bisect
import calendar
import difflib
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from dateutil import rrule as _rr

# The table's names stay importable from here too (core.schedules.WEEKDAYS etc.), as before it existed.
from core.schedule_defaults import (
    DEFAULT_HOUR,
    DEFAULT_MINUTE,
    DEFAULT_TIMEZONE,
    FREQUENCIES,
    MAX_COUNT,
    MAX_INTERVAL,
    MONTHLY_DAY,
    POSITIONS,
    WEEKDAYS,
    WEEKLY_DAY,
    WORKWEEK,
    YEARLY_DAY,
    YEARLY_MONTH,
)

__all__ = ["WEEKDAYS", "FREQUENCIES", "MAX_INTERVAL", "MAX_COUNT", "Schedule", "ScheduleError", "canonical_timezone"]

# Without a start date, "every 2 weeks" needs a fixed anchor to be stable: a Monday, so weeks line up.
ANCHOR = date(2000, 1, 3)

# dateutil's constants, in the order of FREQUENCIES and WEEKDAYS.
_FREQ = dict(zip(FREQUENCIES, (_rr.DAILY, _rr.WEEKLY, _rr.MONTHLY, _rr.YEARLY), strict=True))
_RR_DAYS = (_rr.MO, _rr.TU, _rr.WE, _rr.TH, _rr.FR, _rr.SA, _rr.SU)


class ScheduleError(ValueError):
    """A schedule that cannot be used. The message is shown to end users as is."""


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _zone_names_folded() -> dict[str, str]:
    return {name.casefold(): name for name in _zone_names()}


def canonical_timezone(name: object) -> str:
    """The IANA name for `name` ("europe/london" -> "Europe/London"), or ScheduleError with a suggestion."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError('Please give a time zone, e.g. "Europe/London" or "UTC".')
    key = name.strip()
    if key in _zone_names():
        return key
    folded = _zone_names_folded().get(key.casefold())
    if folded is not None:
        return folded
    shown = key if len(key) <= 60 else key[:57] + "..."
    close = difflib.get_close_matches(key, sorted(_zone_names()), n=1, cutoff=0.6)
    hint = f'Did you mean "{close[0]}"?' if close else 'Use an IANA name such as "Europe/London" or "UTC".'
    raise ScheduleError(f'"{shown}" is not a time zone I know. {hint}')


def _zone(name: str) -> ZoneInfo:
    canonical = canonical_timezone(name)  # unknown zones raise here, with a suggestion
    if canonical != name:
        raise ScheduleError(f'Please spell the time zone exactly as "{canonical}" (got "{str(name)[:60]}").')
    return ZoneInfo(name)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """Naive local wall time -> aware UTC instant (ambiguous: first instant; missing: the jump)."""
    candidates = []
    for fold in (0, 1):
        offset = wall.replace(tzinfo=zone, fold=fold).utcoffset()
        assert offset is not None
        candidates.append((wall - offset).replace(tzinfo=UTC))
    existing = [u for u in candidates if _wall(u, zone) == wall]
    if existing:
        return min(existing)
    # In a gap: wall(lo) is before the wall time and wall(hi) after it, so the jump lies in (lo, hi].
    # Binary search (in whole seconds, zoneinfo's resolution) for the first instant past the wall time.
    lo, hi = min(candidates), max(candidates)
    low, high = 0, int((hi - lo).total_seconds())
    while high - low > 1:
        mid = (low + high) // 2
        if _wall(lo + timedelta(seconds=mid), zone) > wall:
            high = mid
        else:
            low = mid
    return lo + timedelta(seconds=high)


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _join(words: list[str], last: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Schedule:
    """When a subscription delivers. See the module docstring for the time zone rules and defaults."""

    frequency: str
    interval: int = 1
    byweekday: tuple[str, ...] = ()
    bysetpos: int | None = None
    hour: int = DEFAULT_HOUR
    minute: int = DEFAULT_MINUTE
    timezone: str = DEFAULT_TIMEZONE
    start: date | None = None
    until: date | None = None
    count: int | None = None
    # Day of the month (1..31, or -1 for the last day) for monthly and yearly rules.
    bymonthday: int | None = None

    def __post_init__(self) -> None:
        # Accept any spelling of the days that is unambiguous and store them canonically (hashable, in
        # week order) so that equal schedules compare equal. Anything odd is left for validate().
        if isinstance(self.frequency, str):
            object.__setattr__(self, "frequency", self.frequency.strip().lower())
        days: Any = self.byweekday
        if days is None:
            days = ()
        elif isinstance(days, str):
            days = [d for d in days.split(",") if d.strip()]
        try:
            days = tuple(d.strip().lower() if isinstance(d, str) else d for d in days)
        except TypeError:
            return
        if all(isinstance(d, str) and d in WEEKDAYS for d in days):
            days = tuple(sorted(set(days), key=WEEKDAYS.index))
        object.__setattr__(self, "byweekday", days)

    # -- validation -----------------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise ScheduleError naming the first field that cannot be used."""
        self._compiled  # noqa: B018 - computing it is the validation

    @cached_property
    def _compiled(self) -> _Compiled:
        return _compile(self)

    # -- evaluation -----------------------------------------------------------------------------------

    def occurrences(self, after: datetime, n: int) -> list[datetime]:
        """The next `n` deliveries strictly after `after` (aware, any zone), as aware UTC datetimes."""
        if n < 0:
            raise ValueError("n must be zero or more")
        return list(itertools.islice(self._iter_after(after), n))

    def next_after(self, after: datetime) -> datetime | None:
        """The first delivery strictly after `after`, or None when the rule has ended (until/count)."""
        return next(self._iter_after(after), None)

    def _iter_after(self, after: datetime) -> Iterator[datetime]:
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("after must be a timezone-aware datetime")
        c = self._compiled
        try:
            bound = after.astimezone(UTC)
            wall_bound = _wall(bound, c.zone)
        except OverflowError:
            return
        if c.count_walls is not None:
            # Count rules: at most MAX_COUNT wall times, computed once; start just past the bound.
            walls: Iterator[datetime] = iter(c.count_walls[bisect.bisect_right(c.count_walls, wall_bound) :])
        else:
            walls = iter(self._rrule(c, self._dtstart_near(c, wall_bound.date())))
        previous = None
        try:
            for wall in walls:
                # Local time is monotonic in UTC time, so a wall time not after the bound's own wall time
                # cannot be after the bound; skip those without converting them.
                if wall <= wall_bound:
                    continue
                instant = localize(wall, c.zone)
                # Just after clocks go back, a later wall time can still be an earlier instant.
                if instant <= bound or instant == previous:
                    continue
                previous = instant
                yield instant
        except OverflowError:  # the edge of the datetime range: nothing further
            return

    def _rrule(self, c: _Compiled, dtstart: datetime) -> _rr.rrule:
        until = datetime.combine(self.until, time.max) if self.until is not None else None
        return _rr.rrule(
            c.freq,
            dtstart=dtstart,
            interval=self.interval,
            wkst=_rr.MO,
            count=self.count,
            until=until,
            bysetpos=self.bysetpos,
            bymonth=c.bymonth,
            bymonthday=c.bymonthday,
            byweekday=c.byweekday,
            byhour=self.hour,
            byminute=self.minute,
            bysecond=0,
        )

    def _dtstart_near(self, c: _Compiled, bound: date) -> datetime:
        """A dtstart in the same phase as the rule's own, a little before `bound`, so that evaluation never
        walks from a start years ago. Without a start the rule extends backwards as well."""
        base = self.start or ANCHOR
        at = time(self.hour, self.minute)
        target = bound - timedelta(days=2) if bound > date.min + timedelta(days=2) else bound
        k = self.interval
        try:
            if self.frequency in ("daily", "weekly"):
                step = k * (7 if self.frequency == "weekly" else 1)
                m = (target - base).days // step
                if self.start is not None and m <= 0:
                    return datetime.combine(self.start, at)
                return datetime.combine(base + timedelta(days=m * step), at)
            if self.frequency == "monthly":
                b = base.year * 12 + base.month - 1
                m = (target.year * 12 + target.month - 1 - b) // k
                if self.start is not None and m <= 0:
                    return datetime.combine(self.start, at)
                idx = b + m * k
                return datetime.combine(date(idx // 12, idx % 12 + 1, 1), at)
            m = (target.year - base.year) // k
            if self.start is not None and m <= 0:
                return datetime.combine(self.start, at)
            return datetime.combine(date(base.year + m * k, 1, 1), at)
        except (OverflowError, ValueError):  # near year 1 or 9999: fall back to the rule's own start
            return datetime.combine(base, at)

    # -- presentation ---------------------------------------------------------------------------------

    def summary(self) -> str:
        """A short English description, e.g. "every 2 weeks on Monday and Thursday at 09:00 (Europe/London)"."""
        c = self._compiled
        days = [d.capitalize() for d in c.days]
        k = self.interval
        if self.frequency == "daily":
            if not days or (k == 1 and len(days) == 7):
                head = "every day" if k == 1 else f"every {k} days"
            elif k == 1:
                head = self._every_days(c.days)
            else:
                head = f"every {k} days, only on {_join(days)}"
        elif self.frequency == "weekly":
            if k == 1:
                head = self._every_days(c.days)
            else:
                on = "weekdays" if c.days == WORKWEEK else _join(days)
                head = f"every {k} weeks on {on}"
        else:
            unit = "month" if self.frequency == "monthly" else "year"
            head = f"every {unit}" if k == 1 else f"every {k} {unit}s"
            if self.bysetpos is not None:
                what = "weekday" if c.days == WORKWEEK else _join(days, "or")
                head += f" on the {POSITIONS[self.bysetpos]} {what}"
                if unit == "year":
                    head += " of the year"
            elif days:
                head += f" on every {_join(days)}"
            elif unit == "month":
                day = c.bymonthday
                if day == -1:
                    head += " on the last day"
                else:
                    head += f" on the {_ordinal(day)}"
                    if day > 28:
                        head += f" (skipping months without a {_ordinal(day)})"
            else:
                month = calendar.month_name[c.bymonth]
                if c.bymonthday == -1:
                    head += f" on the last day of {month}"
                else:
                    head += f" on {month} {c.bymonthday}"
                    if c.bymonth == 2 and c.bymonthday == 29:
                        head += " (only in leap years)"
        text = f"{head} at {self.hour:02d}:{self.minute:02d} ({self.timezone})"
        if self.count is not None:
            text += ", once" if self.count == 1 else f", {self.count} times"
        if self.until is not None:
            text += f", until {self.until.isoformat()}"
        return text

    @staticmethod
    def _every_days(days: tuple[str, ...]) -> str:
        if len(days) == 7:
            return "every day"
        if days == WORKWEEK:
            return "every weekday"
        return f"every {_join([d.capitalize() for d in days])}"

    # -- storage --------------------------------------------------------------------------------------

    def to_fields(self) -> dict[str, Any]:
        """Plain values for the database columns (dates stay `date` objects)."""
        return {
            "frequency": self.frequency,
            "interval": self.interval,
            "byweekday": list(self.byweekday),
            "bysetpos": self.bysetpos,
            "bymonthday": self.bymonthday,
            "hour": self.hour,
            "minute": self.minute,
            "timezone": self.timezone,
            "start_date": self.start,
            "until_date": self.until,
            "count": self.count,
        }

    @classmethod
    def from_fields(cls, d: Mapping[str, Any]) -> Schedule:
        """Inverse of to_fields; also accepts ISO date strings and numeric strings (API input). Validates."""

        def opt_int(key: str, default: int | None = None) -> int | None:
            value = d.get(key, default)
            if value is None or value == "":
                return default
            if _is_int(value):
                return value
            if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 12:
                return int(value)
            raise ScheduleError(f'{key} must be a whole number, e.g. {key} 1 (got "{str(value)[:40]}").')

        def opt_date(key: str) -> date | None:
            value = d.get(key)
            if value is None or value == "":
                return None
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value.strip())
                except ValueError:
                    pass
            raise ScheduleError(f'{key} must be a date like 2027-01-31 (got "{str(value)[:40]}").')

        if not isinstance(d, Mapping) or "frequency" not in d:
            raise ScheduleError('A schedule needs a frequency, e.g. "weekly".')
        schedule = cls(
            frequency=d["frequency"],
            interval=opt_int("interval", 1),  # type: ignore[arg-type]
            byweekday=d.get("byweekday") or (),
            bysetpos=opt_int("bysetpos"),
            bymonthday=opt_int("bymonthday"),
            hour=opt_int("hour", DEFAULT_HOUR),  # type: ignore[arg-type]
            minute=opt_int("minute", DEFAULT_MINUTE),  # type: ignore[arg-type]
            timezone=d.get("timezone") or DEFAULT_TIMEZONE,
            start=opt_date("start_date"),
            until=opt_date("until_date"),
            count=opt_int("count"),
        )
        schedule.validate()
        return schedule


@dataclass(frozen=True)
class _Compiled:
    zone: ZoneInfo
    freq: int
    days: tuple[str, ...]  # effective weekdays (with weekly's default filled in)
    byweekday: tuple[Any, ...] | None
    bymonth: int | None
    bymonthday: int | None
    count_walls: tuple[datetime, ...] | None


_EXAMPLE_DAYS = 'e.g. byweekday ["monday", "thursday"]'


def _compile(s: Schedule) -> _Compiled:
    if not isinstance(s.frequency, str) or s.frequency not in _FREQ:
        shown = str(s.frequency)[:40]
        raise ScheduleError(
            f'"{shown}" is not a frequency I know. Use daily, weekly, monthly or yearly; '
            'for every other week use frequency "weekly" with interval 2.'
        )
    if not _is_int(s.interval) or not 1 <= s.interval <= MAX_INTERVAL:
        raise ScheduleError(
            f"The interval must be a whole number from 1 to {MAX_INTERVAL} (got {s.interval!r}), "
            "e.g. 2 for every other week."
        )
    for day in s.byweekday:
        if not isinstance(day, str) or day not in WEEKDAYS:
            raise ScheduleError(f'"{str(day)[:40]}" is not a day of the week. Use English names, {_EXAMPLE_DAYS}.')
    if not _is_int(s.hour) or not 0 <= s.hour <= 23:
        raise ScheduleError(f"The hour must be from 0 to 23 (got {s.hour!r}), e.g. 17 for 17:30.")
    if not _is_int(s.minute) or not 0 <= s.minute <= 59:
        raise ScheduleError(f"The minute must be from 0 to 59 (got {s.minute!r}), e.g. 30 for 17:30.")
    zone = _zone(s.timezone)

    monthly_like = s.frequency in ("monthly", "yearly")
    if s.bysetpos is not None:
        if not _is_int(s.bysetpos) or s.bysetpos not in POSITIONS:
            raise ScheduleError(
                f"Position {s.bysetpos!r} is not supported. Use 1 to 4 for the first to fourth, or -1 for "
                'the last, e.g. bysetpos 1 with byweekday ["monday"] for the first Monday of the month.'
            )
        if not monthly_like:
            raise ScheduleError(
                f'A position such as "first Monday" needs a monthly or yearly frequency, not {s.frequency}. '
                'E.g. frequency "monthly", bysetpos 1, byweekday ["monday"].'
            )
        if not s.byweekday:
            raise ScheduleError(
                'A position needs a day to count, e.g. bysetpos -1 with byweekday ["friday"] for the last Friday.'
            )
    if s.bymonthday is not None:
        if not _is_int(s.bymonthday) or not (1 <= s.bymonthday <= 31 or s.bymonthday == -1):
            raise ScheduleError(
                f"The day of the month must be from 1 to 31, or -1 for the last day (got {s.bymonthday!r}), "
                "e.g. 15 for the 15th."
            )
        if not monthly_like:
            raise ScheduleError(
                f"A day of the month needs a monthly or yearly frequency, not {s.frequency}. "
                'E.g. frequency "monthly" with bymonthday 15.'
            )
        if s.byweekday:
            raise ScheduleError(
                "Choose either a day of the month or days of the week, not both, e.g. bymonthday 15 alone, "
                'or bysetpos 1 with byweekday ["monday"].'
            )

    for name in ("start", "until"):
        value = getattr(s, name)
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise ScheduleError(f"The {name} must be a date like 2027-01-31 (got {str(value)[:40]!r}).")
    if s.count is not None:
        if not _is_int(s.count) or not 1 <= s.count <= MAX_COUNT:
            raise ScheduleError(
                f"The number of deliveries must be from 1 to {MAX_COUNT} (got {s.count!r}), e.g. count 5."
            )
        if s.until is not None:
            raise ScheduleError("Give either a number of deliveries or an end date, not both, e.g. count 5.")
        if s.start is None:
            raise ScheduleError("A number of deliveries is counted from a start date; please set start too.")
    if s.start is not None and s.until is not None and s.until < s.start:
        raise ScheduleError(
            f"The end date {s.until.isoformat()} is before the start date {s.start.isoformat()}; "
            "pick an end date on or after the start."
        )

    base = s.start or ANCHOR
    days = s.byweekday
    byweekday = None
    bymonth = None
    bymonthday = None
    if s.frequency == "weekly" and not days:
        days = (WEEKDAYS[base.weekday()],) if s.start is not None else (WEEKLY_DAY,)
    if days:
        byweekday = tuple(_RR_DAYS[WEEKDAYS.index(d)] for d in days)
    elif s.frequency == "monthly":
        bymonthday = s.bymonthday if s.bymonthday is not None else (s.start.day if s.start else MONTHLY_DAY)
        _check_monthly_day(bymonthday, base, s.interval)
    elif s.frequency == "yearly":
        bymonth = s.start.month if s.start else YEARLY_MONTH
        bymonthday = s.bymonthday if s.bymonthday is not None else (s.start.day if s.start else YEARLY_DAY)
        _check_yearly_day(bymonth, bymonthday, base, s.interval)

    compiled = _Compiled(zone, _FREQ[s.frequency], days, byweekday, bymonth, bymonthday, None)
    if s.count is not None:
        walls = tuple(s._rrule(compiled, datetime.combine(base, time(s.hour, s.minute))))
        compiled = _Compiled(zone, compiled.freq, days, byweekday, bymonth, bymonthday, walls)
    return compiled


def _check_monthly_day(day: int, base: date, interval: int) -> None:
    """A day past the 28th in months that never have it (e.g. the 31st every 12 months from June)."""
    if day <= 28:
        return
    first = base.year * 12 + base.month - 1
    # Months visited repeat within one 400-year Gregorian cycle (4800 months).
    for i in range(4800 // math.gcd(interval, 4800)):
        idx = first + i * interval
        if idx // 12 > 9999:
            break
        if calendar.monthrange(idx // 12, idx % 12 + 1)[1] >= day:
            return
    raise ScheduleError(
        f"Every {interval} months from {calendar.month_name[base.month]} never reaches a {_ordinal(day)}. "
        "Pick an earlier day, or bymonthday -1 for the last day of the month."
    )


def _check_yearly_day(month: int, day: int, base: date, interval: int) -> None:
    if day == -1 or (day <= calendar.monthrange(2001, month)[1]):
        return
    if month == 2 and day == 29:
        for i in range(400 // math.gcd(interval, 400)):
            year = base.year + i * interval
            if year > 9999:
                break
            if calendar.isleap(year):
                return
    raise ScheduleError(
        f"{calendar.month_name[month]} has no {_ordinal(day)}"
        + (" in the years this rule visits" if month == 2 and day == 29 else "")
        + ". Pick an earlier day, or bymonthday -1 for the last day of the month."
    )

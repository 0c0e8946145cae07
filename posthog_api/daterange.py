"""PostHog date ranges ("-7d", "dStart", "2022-03-08") in the words PostHog's date picker shows."""

from __future__ import annotations

import re

from core.date_ranges import NAMED_LABELS

DEFAULT_DATE_FROM = "-7d"  # what PostHog uses when an insight has no date range

# Pairs PostHog's date picker names (frontend `dateMapping`): the ones a subscription may use, and two more that
# only come from PostHog.
_NAMED: dict[tuple[str, str | None], str] = {
    **NAMED_LABELS,
    ("dStart", "dEnd"): "Today",
    ("all", None): "All time",
}

_UNITS = {"h": "hour", "d": "day", "w": "week", "m": "month", "q": "quarter", "y": "year"}
_RELATIVE = re.compile(r"^-(\d{1,6})([hdwmqy])$")
_RELATIVE_EDGE = re.compile(r"^-(\d{1,6})([hdwmqy])(Start|End)$")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _point(value: str) -> str:
    """One end of a range in words: an ISO date, "7 days ago", "today"."""
    if value in ("dStart", "dEnd"):
        return "today"
    if m := _RELATIVE.match(value):
        return f"{_plural(int(m[1]), _UNITS[m[2]])} ago"
    if m := _RELATIVE_EDGE.match(value):
        return f"{_plural(int(m[1]), _UNITS[m[2]])} ago"
    if m := _ISO.match(value):
        date, time = m[1], m[2]
        return date if time in (None, "00:00") else f"{date} {time}"
    return value


def date_override(filters_override: object) -> tuple[object, object] | None:
    """(date_from, date_to) of a `filters_override` that sets a date range, else None."""
    if isinstance(filters_override, dict) and isinstance(filters_override.get("date_from"), str):
        if filters_override["date_from"].strip():
            return filters_override["date_from"], filters_override.get("date_to")
    return None


_DAY = re.compile(r"^-(\d{1,6})d(?:Start|End)?$")


def _single_day(start: str, end: str) -> str | None:
    """The one day a range covers when it starts and ends on the same day ("-0d" to "-0d": today), else None."""
    days = []
    for point in (start, end):
        if point in ("dStart", "dEnd"):
            days.append(0)
        elif m := _DAY.match(point):
            days.append(int(m[1]))
        else:
            days.append(None)
    if days[0] is not None and days[0] == days[1]:
        return "Today" if days[0] == 0 else "Yesterday" if days[0] == 1 else f"{days[0]} days ago"
    a, b = _ISO.match(start), _ISO.match(end)
    if a and b and a[1] == b[1] and a[2] in (None, "00:00") and b[2] in (None, "00:00", "23:59"):
        return a[1]
    return None


def describe_date_range(date_from: object, date_to: object = None, default_from: str = DEFAULT_DATE_FROM) -> str:
    """Human words for a PostHog date range; a missing `date_from` means PostHog's default (`default_from`)."""
    start = date_from.strip() if isinstance(date_from, str) and date_from.strip() else default_from
    end = date_to.strip() if isinstance(date_to, str) and date_to.strip() else None
    if (start, end) in _NAMED:
        return _NAMED[(start, end)]
    if end is not None and (day := _single_day(start, end)):
        return day
    if end is None:
        if m := _RELATIVE.match(start):
            return f"Last {_plural(int(m[1]), _UNITS[m[2]])}"
        return f"Since {_point(start)}"
    return f"From {_point(start)} to {_point(end)}"

"""The date range of a subscription: which period of its insight or dashboard every delivery shows.

A range is kept as PostHog's own relative date strings (what its date picker stores and what its API's
`filters_override` takes), so that each delivery asks PostHog for the period as of that day:

| phrase people type                               | date_from  | date_to  | label            |
| ------------------------------------------------ | ---------- | -------- | ---------------- |
| today                                            | dStart     |          | Today            |
| yesterday                                        | -1dStart   | -1dEnd   | Yesterday        |
| this week, week to date                          | wStart     |          | Week to date     |
| last week, previous week                         | -1wStart   | -1wEnd   | Previous week    |
| this month, month to date                        | mStart     |          | Month to date    |
| last month, previous month                       | -1mStart   | -1mEnd   | Previous month   |
| this year, year to date, ytd                     | yStart     |          | Year to date     |
| last 7 days, past 7 days, 7 days, 7d, -7d        | -7d        |          | Last 7 days      |
| last 24 hours / 3 weeks / 6 months / 2 quarters  | -24h, -3w, -6m, -2q |  | Last 24 hours... |
| past day / week / month / year                   | -24h, -7d, -1m, -12m |  | Last 24 hours... |

"Last week" and "last month" are the previous calendar week and month, as in PostHog's date picker; a rolling
period says its length ("last 30 days"). "The" is optional everywhere ("over the last 7 days"). Number words
up to twelve are read ("last seven days"). Shorthand follows PostHog: d days, w weeks, m months, q quarters,
y years, h hours. A range reaches at most five years back. "Last year", "last quarter" and "last day" are
refused with the phrases to use instead, since PostHog has no exact calendar form of them.

Labels are the words `posthog_api.describe_date_range` gives the same strings, so that the Slack message,
the email and the images all say the same thing.

In a schedule phrase a range is introduced by "over", "for" or "covering" ("weekly over the last 7 days",
"daily at 9 for the last month", "monthly on the 1st covering last month at 8am"); `split_date_range` takes it
out. Without one of those words nothing is taken: schedules use "last" themselves ("monthly on the last
friday"). A phrase that ends in an unmistakable range without its introducer ("weekly this week") is
answered with a DateRangeError saying to add "over".

Pure: no I/O, no clock (callers pass `today`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

MAX_YEARS_BACK = 5
_MAX_DAYS_BACK = 5 * 365 + 2  # five years, leap days included

# Sunday, PostHog's default first day of the week (a project may choose Monday), as date.weekday() counts.
POSTHOG_WEEK_START = 6

EXAMPLES = '"last 7 days", "last 30 days", "last month", "this week", "yesterday" or "30d"'

_UNIT_WORDS = {
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "w": "week", "wk": "week", "wks": "week", "week": "week", "weeks": "week",
    "m": "month", "mo": "month", "mos": "month", "month": "month", "months": "month",
    "q": "quarter", "quarter": "quarter", "quarters": "quarter",
    "y": "year", "yr": "year", "yrs": "year", "year": "year", "years": "year",
}
_CODE = {"hour": "h", "day": "d", "week": "w", "month": "m", "quarter": "q", "year": "y"}
_UNIT_OF_CODE = {code: unit for unit, code in _CODE.items()}
_UNIT_DAYS = {"h": 1 / 24, "d": 1, "w": 7, "m": 365 / 12, "q": 365 / 4, "y": 365}

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}

# The named pairs PostHog's date picker offers, in the words `posthog_api.describe_date_range` gives them.
NAMED_LABELS: dict[tuple[str, str | None], str] = {
    ("dStart", None): "Today",
    ("-1dStart", "-1dEnd"): "Yesterday",
    ("wStart", None): "Week to date",
    ("-1wStart", "-1wEnd"): "Previous week",
    ("mStart", None): "Month to date",
    ("-1mStart", "-1mEnd"): "Previous month",
    ("yStart", None): "Year to date",
}

_PHRASES: dict[str, tuple[str, str | None]] = {
    "today": ("dStart", None),
    "yesterday": ("-1dStart", "-1dEnd"),
    "this week": ("wStart", None),
    "week to date": ("wStart", None),
    "last week": ("-1wStart", "-1wEnd"),
    "previous week": ("-1wStart", "-1wEnd"),
    "this month": ("mStart", None),
    "month to date": ("mStart", None),
    "last month": ("-1mStart", "-1mEnd"),
    "previous month": ("-1mStart", "-1mEnd"),
    "this year": ("yStart", None),
    "year to date": ("yStart", None),
    "ytd": ("yStart", None),
    "past day": ("-24h", None),
    "past week": ("-7d", None),
    "past month": ("-1m", None),
    "past year": ("-12m", None),
}

# Phrases PostHog has no exact form of: refused, with what to say instead.
_REFUSED = {
    "last year": '"last year" has no exact form in PostHog. Say "last 12 months" or "year to date".',
    "previous year": '"previous year" has no exact form in PostHog. Say "last 12 months" or "year to date".',
    "last quarter": '"last quarter" has no exact form in PostHog. Say "last 3 months" or "last 90 days".',
    "previous quarter": '"previous quarter" has no exact form in PostHog. Say "last 3 months" or "last 90 days".',
    "this quarter": '"this quarter" has no exact form in PostHog. Say "last 3 months" or "month to date".',
    "last day": '"last day" is ambiguous. Say "yesterday", "today" or "last 24 hours".',
    "previous day": '"previous day" is ambiguous. Say "yesterday" or "last 24 hours".',
    "all time": f'A date range reaches at most {MAX_YEARS_BACK} years back. Say e.g. "last 12 months".',
    "all": f'A date range reaches at most {MAX_YEARS_BACK} years back. Say e.g. "last 12 months".',
}

_RE_SHORT = re.compile(r"^-?(\d{1,6})(h|d|w|m|q|y)$")  # "30d", "-30d" (PostHog's notation)
_RE_RELATIVE = re.compile(r"^-(\d{1,6})([hdwmqy])$")
_RE_EDGE = re.compile(r"^-?(\d{0,6})([dwmy])(Start|End)$")
_RE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_FILLER = ("the",)
INTRODUCERS = ("over", "for", "covering")
_TRIM = ".,;:!?"


class DateRangeError(ValueError):
    """A date range that cannot be used. The message is shown to end users as is."""

    understood = True  # False: the words are no range at all (rather than a range that is refused)


@dataclass(frozen=True, slots=True)
class DateRange:
    """A period in PostHog's relative date strings (`date_to` None: up to now) and its words for people."""

    date_from: str
    date_to: str | None = None
    label: str = ""  # derived from the strings when left empty

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", describe(self.date_from, self.date_to))

    def __str__(self) -> str:
        return self.label

    def to_fields(self) -> dict[str, str | None]:
        """What a subscription stores (its `date_from` and `date_to` columns)."""
        return {"date_from": self.date_from, "date_to": self.date_to}

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> DateRange | None:
        """The stored range of `to_fields`, its label derived again; None when no range is stored."""
        date_from, date_to = fields.get("date_from"), fields.get("date_to")
        if not isinstance(date_from, str) or not date_from.strip():
            return None
        end = date_to.strip() if isinstance(date_to, str) and date_to.strip() else None
        return cls(date_from.strip(), end)

    def filters_override(self) -> dict[str, str | None]:
        """PostHog's `filters_override` for this range; `date_to` stays in as null, replacing any end date a
        dashboard has of its own."""
        return {"date_from": self.date_from, "date_to": self.date_to}

    def bounds(self, today: date, *, week_start: int = POSTHOG_WEEK_START) -> tuple[date, date]:
        """The first and the last calendar day the range covers on `today` (`week_start`: 0 Monday ... 6
        Sunday). Hours round out to whole days."""
        first = resolve_date(self.date_from, today, week_start=week_start)
        last = resolve_date(self.date_to, today, week_start=week_start, end=True) if self.date_to else today
        return first, max(first, last)


def describe(date_from: str, date_to: str | None = None) -> str:
    """Words for a pair of PostHog date strings, as `posthog_api.describe_date_range` says them."""
    if (date_from, date_to) in NAMED_LABELS:
        return NAMED_LABELS[(date_from, date_to)]
    if date_to is None and (m := _RE_RELATIVE.match(date_from)):
        return f"Last {_plural(int(m[1]), _UNIT_OF_CODE[m[2]])}"
    if date_to is None:
        return f"Since {date_from}"
    return f"From {date_from} to {date_to}"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _words(text: str) -> list[str]:
    words = [w.strip(_TRIM) for w in text.lower().split()]
    return [w for w in words if w]


def parse_date_range(text: str) -> DateRange:
    """A phrase ("last 7 days", "the last month", "this week", "yesterday", "30d") as a DateRange. Raises
    DateRangeError naming the phrase and giving examples."""
    if not isinstance(text, str) or not text.strip():
        raise _not_understood("")
    shown = " ".join(text.split())[:60]
    words = _words(text)
    while words and words[0] in _FILLER:
        words = words[1:]
    phrase = " ".join(words)
    if phrase in _PHRASES:
        return DateRange(*_PHRASES[phrase])
    if phrase in _REFUSED:
        raise DateRangeError(_REFUSED[phrase])
    count, unit = _count_and_unit(words)
    if count is None or unit is None:
        raise _not_understood(shown)
    if count < 1:
        raise DateRangeError(f'"{shown}" is an empty period. Say at least one, e.g. "last 1 {_UNIT_OF_CODE[unit]}".')
    if count * _UNIT_DAYS[unit] > _MAX_DAYS_BACK:
        raise DateRangeError(
            f'"{shown}" reaches too far back: a date range goes back at most {MAX_YEARS_BACK} years, '
            'e.g. "last 12 months" or "last 90 days".'
        )
    return DateRange(f"-{count}{unit}")


def _not_understood(shown: str) -> DateRangeError:
    error = DateRangeError(
        f'"{shown}" isn\'t a date range I understand. Try {EXAMPLES}.' if shown
        else f"Say which period to show, e.g. {EXAMPLES}."
    )
    error.understood = False
    return error


def _count_and_unit(words: list[str]) -> tuple[int | None, str | None]:
    """(N, PostHog unit code) of "last N units", "past N units", "N units", "Nd"; (None, None) otherwise."""
    if words and words[0] in ("last", "past", "previous"):
        words = words[1:]
    if len(words) == 1 and (m := _RE_SHORT.match(words[0])):
        return int(m[1]), m[2]
    if len(words) == 2:
        number, unit = words
        count = int(number) if number.isascii() and number.isdigit() and len(number) <= 6 else _NUMBER_WORDS.get(number)
        name = _UNIT_WORDS.get(unit)
        if count is not None and name is not None:
            return count, _CODE[name]
    return None, None


def resolve_date(value: str, today: date, *, week_start: int = POSTHOG_WEEK_START, end: bool = False) -> date:
    """The calendar day one PostHog date string means on `today` ("-7d" seven days back, "mStart" the 1st,
    "-1mEnd" the last day of the previous month, an ISO date itself). `end`: the string ends a range, so an
    hour count rounds to its day rather than further back."""
    value = value.strip()
    if m := _RE_ISO.match(value):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := _RE_RELATIVE.match(value):
        n, unit = int(m[1]), m[2]
        if unit == "h":
            return today - timedelta(days=(n // 24 if end else -(-n // 24)))
        return _back(today, n, unit)
    if m := _RE_EDGE.match(value):
        n, unit, edge = int(m[1] or 0), m[2], m[3]
        moved = _back(today, n, unit)
        if unit == "d":
            return moved
        if unit == "w":
            start = moved - timedelta(days=(moved.weekday() - week_start) % 7)
            return start if edge == "Start" else start + timedelta(days=6)
        if unit == "m":
            last = calendar.monthrange(moved.year, moved.month)[1]
            return moved.replace(day=1 if edge == "Start" else last)
        return moved.replace(month=1, day=1) if edge == "Start" else moved.replace(month=12, day=31)
    if value in ("dEnd", "all"):
        return today if value == "dEnd" else today - timedelta(days=_MAX_DAYS_BACK)
    raise DateRangeError(f'"{value[:40]}" is not a PostHog date.')


def _back(today: date, n: int, unit: str) -> date:
    if unit == "d":
        return today - timedelta(days=n)
    if unit == "w":
        return today - timedelta(weeks=n)
    if unit == "m":
        return today - relativedelta(months=n)
    if unit == "q":
        return today - timedelta(weeks=13 * n)  # what PostHog counts a quarter as
    return today - relativedelta(years=n)


# --- in a schedule phrase ----------------------------------------------------------------------------------

_BARE_STARTS = ("this", "past", "previous")  # words no schedule phrase uses: a range without its "over"


def split_date_range(schedule_text: str) -> tuple[str, DateRange | None]:
    """Take the date range out of a schedule phrase: "weekly over the last 7 days" -> ("weekly", last 7 days);
    "daily at 9 for the last month" -> ("daily at 9", previous month); a phrase without a range comes back
    as it is, with None. The range follows "over", "for" or "covering", anywhere in the phrase ("weekly
    over the last 7 days at 9am"); "for 5 times" stays the schedule's. Raises DateRangeError when what follows
    one of those words is not a range, or when a phrase gives two ranges or one without its introducer."""
    tokens = schedule_text.split()
    words = [t.lower().strip(_TRIM) for t in tokens]
    found: list[tuple[int, int, DateRange]] = []
    i = 0
    while i < len(words):
        if words[i] not in INTRODUCERS or (words[i] == "for" and _is_count(words, i + 1)):
            i += 1
            continue
        match = _longest_range(words, i + 1)
        if isinstance(match, DateRangeError):
            raise match
        if match is None:
            after = " ".join(tokens[i + 1 : i + 5])
            raise DateRangeError(
                f'"{tokens[i]} {after}": after "{words[i]}" I expected a date range, e.g. '
                f'"weekly over the last 7 days". Ranges: {EXAMPLES}.'
                if after else f'"{words[i]}" needs a date range after it, e.g. "weekly over the last 7 days".'
            )
        end, date_range = match
        found.append((i, end, date_range))
        i = end
    if len(found) > 1:
        raise DateRangeError(
            f'Give one date range, not {len(found)} ("{found[0][2].label}" and "{found[1][2].label}").'
        )
    if not found:
        _refuse_bare_range(tokens, words)
        return schedule_text, None
    start, end, date_range = found[0]
    rest = " ".join(tokens[:start] + tokens[end:])
    return rest.strip().rstrip(",;").strip(), date_range


def _is_count(words: list[str], i: int) -> bool:
    """ "for 5 times" is a number of deliveries."""
    return i + 1 < len(words) and words[i].isdigit() and words[i + 1] in ("time", "times")


def _longest_range(words: list[str], start: int) -> tuple[int, DateRange] | DateRangeError | None:
    """(end, range) of the longest run of words from `start` that is a date range; else the first refusal of
    a run that reads as a range ("last 10 years": too far back), or None."""
    refusal: DateRangeError | None = None
    for end in range(min(len(words), start + 5), start, -1):
        try:
            return end, parse_date_range(" ".join(words[start:end]))
        except DateRangeError as exc:
            if exc.understood and refusal is None:
                refusal = exc
    return refusal


def _refuse_bare_range(tokens: list[str], words: list[str]) -> None:
    """A phrase ending in a range without "over" ("weekly this week", "daily last 7 days"): say what to add.
    Only what no schedule phrase says is caught ("on the last friday" and "starting today" are schedules')."""
    for start in range(max(0, len(words) - 4), len(words)):
        tail = words[start:]
        core_words = tail[1:] if tail[0] == "the" else tail
        if not core_words:
            continue
        bare = (
            core_words[0] in _BARE_STARTS
            or " ".join(core_words) in ("year to date", "month to date", "week to date", "ytd")
            or (core_words[0] in ("last", "past") and _count_and_unit(core_words)[0] is not None)
        )
        if not bare:
            continue
        try:
            date_range = parse_date_range(" ".join(tail))
        except DateRangeError:
            continue
        before = " ".join(tokens[:start])
        raise DateRangeError(
            f'Say "over" before the date range: "{before} over {" ".join(tokens[start:])}".'
            if before
            else f'Say "over" before the date range, e.g. "weekly over {date_range.label.lower()}".'
        )

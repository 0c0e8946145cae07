"""Turn what people type in Slack and the CLI ("every 2 weeks on monday at 17:30") into a Schedule.

parse_schedule is the one entry point: it also accepts an RFC 5545 RRULE ("FREQ=WEEKLY;BYDAY=MO"),
which it hands to core.schedule_rrule. Every failure is a ScheduleError whose message names what was
not understood and gives an example.

What a phrase leaves out is filled in from core.schedule_defaults, the table both parsers share: the
day for "weekly" and "monthly", the time, and the start (today in the zone, so "yearly" repeats on
today's date). Which frequency a phrase means without saying it is decided here: "on monday" alone
means weekly, "on the first monday" or "on the 15th" alone monthly, and "at 9am" alone daily.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from core.schedule_defaults import (
    DEFAULT_HOUR,
    DEFAULT_MINUTE,
    MAX_INTERVAL,
    MAX_PHRASE_LENGTH,
    POSITIONS,
    WEEKDAYS,
    WEEKEND,
    WORKWEEK,
    parsed_days,
    parsed_start,
)
from core.schedule_rrule import parse_rrule
from core.schedules import Schedule, ScheduleError, canonical_timezone

__all__ = ["parse_schedule"]

EXAMPLE = '"every 2 weeks on monday at 9:00"'

_DAY_WORDS: dict[str, str] = {}
for _name in WEEKDAYS:
    for _form in (_name, _name + "s", _name[:3]):
        _DAY_WORDS[_form] = _name
_DAY_WORDS.update({"tues": "tuesday", "weds": "wednesday", "thur": "thursday", "thurs": "thursday"})
_GROUPS = {
    "weekday": WORKWEEK,
    "weekdays": WORKWEEK,
    "weekend": WEEKEND,
    "weekends": WEEKEND,
}
_ADVERBS = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "yearly": "yearly", "annually": "yearly"}
_UNITS = {
    "day": "daily",
    "days": "daily",
    "week": "weekly",
    "weeks": "weekly",
    "month": "monthly",
    "months": "monthly",
    "year": "yearly",
    "years": "yearly",
}
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_POSITION_WORDS = {word: pos for pos, word in POSITIONS.items()}  # "first" -> 1, "last" -> -1
_FILLER = {"on", "and", "&", "the", "at", "every", "each", "of"}

_RE_NUMBER = re.compile(r"[0-9]{1,6}")
_RE_ORDINAL = re.compile(r"([0-9]{1,6})(st|nd|rd|th)")
_RE_TIME = re.compile(r"([0-9]{1,6})(?:[:.h]([0-9]{2}))?(am|pm)?")
_RE_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _err(word: str) -> ScheduleError:
    shown = word if len(word) <= 40 else word[:37] + "..."
    return ScheduleError(f'I couldn\'t understand "{shown}". Try {EXAMPLE}.')


@dataclass
class _Parts:
    """What the phrase said, before defaults: each field remembers the words that set it."""

    freq: str | None = None
    freq_words: str = ""
    interval: int = 1
    days: list[str] = field(default_factory=list)
    days_words: list[str] = field(default_factory=list)
    setpos: int | None = None
    setpos_words: str = ""
    monthday: int | None = None
    monthday_words: str = ""
    of_unit: str | None = None  # "of the month" / "of the year"
    time: tuple[int, int] | None = None
    time_words: str = ""
    timezone: str | None = None
    until: date | None = None
    start: date | None = None
    count: int | None = None

    def set_freq(self, freq: str, interval: int, words: str) -> None:
        if self.freq is not None and (self.freq, self.interval) != (freq, interval):
            raise ScheduleError(
                f'"{self.freq_words}" and "{words}" say different things; please use just one, e.g. {EXAMPLE}.'
            )
        if not 1 <= interval <= MAX_INTERVAL:
            raise ScheduleError(
                f'"{words}" doesn\'t work: the number must be from 1 to {MAX_INTERVAL}, e.g. "every 2 weeks".'
            )
        self.freq, self.interval, self.freq_words = freq, interval, words

    def add_days(self, days: tuple[str, ...], words: str) -> None:
        for day in days:
            if day not in self.days:
                self.days.append(day)
        self.days_words.append(words)

    def set_position(self, pos: int, days: tuple[str, ...], words: str) -> None:
        if self.setpos is not None:
            raise ScheduleError(
                f'Only one position per schedule: "{self.setpos_words}" and "{words}". '
                'Use two subscriptions, e.g. "monthly on the first monday" and "monthly on the third monday".'
            )
        self.setpos, self.setpos_words = pos, words
        self.add_days(days, words)

    def set_monthday(self, day: int, words: str) -> None:
        if self.monthday is not None and self.monthday != day:
            raise ScheduleError(
                f'Only one day of the month per schedule: "{self.monthday_words}" and "{words}". '
                'E.g. "every month on the 15th".'
            )
        if not (1 <= day <= 31 or day == -1):
            raise ScheduleError(f'"{words}" is not a day of the month. Use the 1st to the 31st, e.g. "on the 15th".')
        self.monthday, self.monthday_words = day, words

    def set_time(self, hm: tuple[int, int], words: str) -> None:
        if self.time is not None and self.time != hm:
            raise ScheduleError(
                f'Only one delivery time per schedule: "{self.time_words}" and "{words}". '
                'Use two subscriptions for two times, e.g. "daily at 9:00".'
            )
        self.time, self.time_words = hm, words


def _number(word: str) -> int | None:
    if _RE_NUMBER.fullmatch(word):
        return int(word)
    return _NUMBER_WORDS.get(word)


def _parse_time(word: str, suffix: str | None = None) -> tuple[int, int] | None:
    """'9am', '5pm', '17:30', '9:00', '5.30pm', '17h30', 'noon', 'midnight'; None if it isn't time-like."""
    if word == "noon" or word == "midday":
        return (12, 0)
    if word == "midnight":
        return (0, 0)
    m = _RE_TIME.fullmatch(word)
    if not m:
        return None
    hour_s, minute_s, ampm = m.groups()
    ampm = ampm or suffix
    shown = word + (f" {suffix}" if suffix else "")
    if len(hour_s) == 4 and minute_s is None:  # "0930"
        hour_s, minute_s = hour_s[:2], hour_s[2:]
    if len(hour_s) > 2:
        raise ScheduleError(f'"{shown}" isn\'t a valid time. Use a time like 17:30 or 9am.')
    hour, minute = int(hour_s), int(minute_s or 0)
    if ampm:
        if not 1 <= hour <= 12:
            raise ScheduleError(f'"{shown}" isn\'t a valid time: with am/pm the hour is 1 to 12. Try "5pm" or "17:00".')
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(f'"{shown}" isn\'t a valid time. Use a 24-hour time like 17:30, or 9am.')
    return (hour, minute)


def _parse_date(word: str, context: str) -> date:
    if _RE_DATE.fullmatch(word):
        try:
            return date.fromisoformat(word)
        except ValueError:
            pass
    raise ScheduleError(f'"{context} {word}" needs a date like 2027-01-31, e.g. "weekly until 2027-01-31".')


def _tokens(text: str) -> list[str]:
    text = re.sub(r"(?<![a-z])a\.m\.?", "am", text)
    text = re.sub(r"(?<![a-z])p\.m\.?", "pm", text)
    words = re.findall(r"&|[^\s,;&]+", text)
    return [w.rstrip(".!?") or w for w in words]


def _parse_words(words: list[str], parts: _Parts) -> None:  # noqa: C901 - one flat dispatch on the word
    i, n = 0, len(words)

    def peek(k: int = 1) -> str | None:
        return words[i + k] if i + k < n else None

    while i < n:
        w = words[i]
        nxt = peek()
        if w in _ADVERBS:
            parts.set_freq(_ADVERBS[w], 1, w)
        elif w in ("every", "each"):
            if nxt is None:
                raise ScheduleError(f'"{w}" needs something after it, e.g. {EXAMPLE}.')
            num = _number(nxt)
            if nxt == "other":
                num = 2
            elif num is None and peek(2) in _UNITS:  # "every second week", "every 3rd day"
                ordinal = _RE_ORDINAL.fullmatch(nxt)
                num = int(ordinal.group(1)) if ordinal else _POSITION_WORDS.get(nxt) if nxt != "last" else None
            if num is not None:
                unit = peek(2)
                if unit in _UNITS:
                    parts.set_freq(_UNITS[unit], num, f"{w} {nxt} {unit}")
                    i += 3
                    continue
                if nxt == "other" and unit in _DAY_WORDS:  # "every other monday"
                    parts.set_freq("weekly", 2, f"{w} other")
                    i += 2
                    continue
                raise _err(f"{w} {nxt} {unit}" if unit else f"{w} {nxt}")
            if nxt in _UNITS:  # "every week"
                parts.set_freq(_UNITS[nxt], 1, f"{w} {nxt}")
                i += 2
                continue
            # "every monday", "every weekday", "every first monday": the next word says what.
            if nxt not in _DAY_WORDS and nxt not in _GROUPS and nxt not in _POSITION_WORDS:
                raise _err(nxt)
        elif w in _GROUPS:
            parts.add_days(_GROUPS[w], w)
        elif w in _DAY_WORDS:
            parts.add_days((_DAY_WORDS[w],), w)
        elif w in _POSITION_WORDS or (
            _RE_ORDINAL.fullmatch(w) and (nxt in _DAY_WORDS or nxt in _GROUPS or nxt == "day")
        ):
            pos = _POSITION_WORDS.get(w)
            if pos is None:
                pos = int(_RE_ORDINAL.fullmatch(w).group(1))  # type: ignore[union-attr]
            if nxt in _DAY_WORDS or nxt in ("weekday", "weekdays"):
                days = _GROUPS[nxt] if nxt in _GROUPS else (_DAY_WORDS[nxt],)
                if pos not in POSITIONS:
                    raise ScheduleError(
                        f'"{w} {nxt}" isn\'t in every month. Use first to fourth or last, '
                        'e.g. "monthly on the last friday".'
                    )
                parts.set_position(pos, days, f"{w} {nxt}")
            elif nxt == "day":
                parts.set_monthday(pos, f"{w} {nxt}")
            elif nxt is None:
                raise ScheduleError(f'"{w}" what? Say the day too, e.g. "monthly on the {w} monday".')
            else:
                raise _err(nxt)
            i += 2
            continue
        elif _RE_ORDINAL.fullmatch(w):  # "the 15th"
            parts.set_monthday(int(_RE_ORDINAL.fullmatch(w).group(1)), w)  # type: ignore[union-attr]
        elif w == "the" and nxt is not None and _RE_NUMBER.fullmatch(nxt) and peek(2) not in ("am", "pm"):
            parts.set_monthday(int(nxt), f"the {nxt}")  # "on the 15"
            i += 2
            continue
        elif w == "of":
            j = i + 1
            if j < n and words[j] in ("the", "each", "every"):
                j += 1
            unit = words[j] if j < n else None
            if unit not in ("month", "year"):
                raise _err(" ".join(words[i : j + 1]))
            parts.of_unit = _UNITS[unit]
            i = j + 1
            continue
        elif w == "at":
            if nxt is None:
                raise ScheduleError('"at" needs a time, e.g. "at 9:00", "at 9am" or "at 17:30".')
            suffix = peek(2) if peek(2) in ("am", "pm") else None
            hm = _parse_time(nxt, suffix)
            if hm is None:
                raise ScheduleError(
                    f'"at {nxt}" isn\'t a time I understand. Use e.g. "at 9:00", "at 9am" or "at 17:30".'
                )
            parts.set_time(hm, f"at {nxt}" + (f" {suffix}" if suffix else ""))
            i += 3 if suffix else 2
            continue
        elif w in ("noon", "midday", "midnight") or (
            _RE_TIME.fullmatch(w) and (":" in w or "h" in w or w.endswith(("am", "pm")) or nxt in ("am", "pm"))
        ):
            suffix = nxt if nxt in ("am", "pm") else None
            hm = _parse_time(w, suffix)
            assert hm is not None
            parts.set_time(hm, w + (f" {suffix}" if suffix else ""))
            i += 2 if suffix else 1
            continue
        elif w == "until":
            if nxt is None:
                raise ScheduleError('"until" needs a date, e.g. "weekly until 2027-01-31".')
            parts.until = _parse_date(nxt, w)
            i += 2
            continue
        elif w in ("starting", "from", "beginning"):
            j = i + 1 + (peek() == "on")
            if j >= n:
                raise ScheduleError(f'"{w}" needs a date, e.g. "weekly starting 2027-01-04".')
            parts.start = _parse_date(words[j], w)
            i = j + 1
            continue
        elif w == "for" and nxt is not None and _number(nxt) is not None and peek(2) in ("times", "time"):
            i += 1  # "for 5 times": the number is read next
            continue
        elif _number(w) is not None and nxt in ("times", "time"):
            parts.count = _number(w)
            if parts.count is not None and parts.count < 1:
                raise ScheduleError('The number of deliveries must be at least 1, e.g. "weekly, 5 times".')
            i += 2
            continue
        elif w in ("utc", "gmt") or "/" in w:
            parts.timezone = canonical_timezone(w)
        elif w in ("biweekly", "bi-weekly"):
            raise ScheduleError(
                f'"{w}" can mean twice a week or every two weeks. '
                'Try "every 2 weeks on monday" or "on monday and thursday".'
            )
        elif w not in _FILLER:
            raise _err(w)
        i += 1


def _assemble(parts: _Parts, timezone: str, today: date | None, hour: int, minute: int) -> Schedule:
    freq = parts.freq
    days = tuple(d for d in WEEKDAYS if d in parts.days)
    if parts.of_unit is not None:
        if freq is not None and freq != parts.of_unit:
            unit = "month" if parts.of_unit == "monthly" else "year"
            raise ScheduleError(
                f'"{parts.freq_words}" and "of the {unit}" say different things, '
                f'e.g. "{parts.of_unit} on the first monday".'
            )
        if parts.setpos is None and parts.monthday is None:
            unit = "month" if parts.of_unit == "monthly" else "year"
            raise ScheduleError(f'Which day of the {unit}? E.g. "on the first monday of the {unit}".')
        freq = parts.of_unit
    if freq is None:
        if parts.setpos is not None or parts.monthday is not None:
            freq = "monthly"
        elif days:
            freq = "weekly"
        elif parts.time is not None:
            freq = "daily"
        else:
            raise ScheduleError(f'Please say when to deliver, e.g. {EXAMPLE}, "daily at 9am" or "weekdays at 17:30".')

    day_words = " and ".join(parts.days_words)
    if freq == "daily" and days:
        raise ScheduleError(
            f'"{parts.freq_words}" means every day, so "{day_words}" doesn\'t fit. '
            f'Try "every {day_words}" or "weekly on {day_words}".'
        )
    if freq in ("daily", "weekly") and (parts.setpos is not None or parts.monthday is not None):
        what = parts.setpos_words or parts.monthday_words
        raise ScheduleError(
            f'"{what}" is a day of the month, so it doesn\'t fit "{parts.freq_words}". '
            f'Try "monthly on the {what.removeprefix("the ")}".'
        )
    if freq in ("monthly", "yearly"):
        if parts.setpos is not None and len(parts.days_words) > 1:
            raise ScheduleError(
                f'"{parts.setpos_words}" can\'t be combined with other days ("{day_words}"). '
                'E.g. "monthly on the first monday".'
            )
        if parts.setpos is None and days:
            unit = "month" if freq == "monthly" else "year"
            raise ScheduleError(
                f'"{parts.freq_words}" on "{day_words}" needs to say which one in the {unit}, '
                f'e.g. "{freq} on the first {parts.days[0]}", or "every {parts.days[0]}" for every week.'
            )
        if freq == "yearly" and parts.monthday is not None:
            raise ScheduleError(
                f'For yearly deliveries I can\'t tell which month "{parts.monthday_words}" is in. '
                'Say "yearly" alone to repeat on the start date each year, or "monthly on the 15th".'
            )
    if parts.count is not None and parts.until is not None:
        raise ScheduleError('Give either a number of times or an end date, not both, e.g. "weekly, 5 times".')

    tz = parts.timezone or canonical_timezone(timezone)
    days, monthday = parsed_days(freq, days, parts.monthday)
    hm = parts.time if parts.time is not None else (hour, minute)
    schedule = Schedule(
        frequency=freq,
        interval=parts.interval,
        byweekday=days,
        bysetpos=parts.setpos,
        hour=hm[0],
        minute=hm[1],
        timezone=tz,
        start=parts.start or parsed_start(today, tz),
        until=parts.until,
        count=parts.count,
        bymonthday=monthday,
    )
    schedule.validate()
    return schedule


def parse_schedule(
    text: str,
    timezone: str,
    *,
    today: date | None = None,
    default_hour: int = DEFAULT_HOUR,
    default_minute: int = DEFAULT_MINUTE,
) -> Schedule:
    """Parse a schedule phrase or an RRULE in `timezone`; raise ScheduleError with a friendly message.

    `today` is the start date (default: today in the zone); `default_hour`:`default_minute` is the time
    when the text gives none.
    """
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(f'Please say when to deliver, e.g. {EXAMPLE} or "daily at 9am".')
    if len(text) > MAX_PHRASE_LENGTH:
        raise ScheduleError(f"That schedule is too long ({len(text)} characters). Try something like {EXAMPLE}.")
    if "=" in text:  # phrases never contain "=", every part of an RRULE does
        return parse_rrule(text, timezone, today, default_hour, default_minute)
    parts = _Parts()
    _parse_words(_tokens(text.lower()), parts)
    return _assemble(parts, timezone, today, default_hour, default_minute)

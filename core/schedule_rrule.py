"""Turn an RFC 5545 RRULE ("FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2", optionally "RRULE:"-prefixed) into a Schedule.

People who already have a rule from a calendar can paste it instead of writing a phrase. Only the
parts a Schedule can hold are accepted; anything else is a ScheduleError that names the part and gives
an example. What the rule leaves out (the day for WEEKLY or MONTHLY, the time) and the limits come from
core.schedule_defaults, the same table the phrase parser uses, so both read a rule the same way.
Callers use core.schedule_phrases.parse_schedule, which sends RRULEs here.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.schedule_defaults import (
    FREQUENCIES,
    MAX_COUNT,
    MAX_INTERVAL,
    POSITIONS,
    WEEKDAYS,
    parsed_days,
    parsed_start,
)
from core.schedules import Schedule, ScheduleError, canonical_timezone

__all__ = ["parse_rrule"]

# RFC 5545 names days by their first two letters (MO, TU, ...) and frequencies in capitals (WEEKLY).
_RRULE_DAYS = {day[:2].upper(): day for day in WEEKDAYS}
_RRULE_FREQ = {freq.upper(): freq for freq in FREQUENCIES}
_RRULE_EXAMPLE = '"FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2;BYHOUR=9"'


def parse_rrule(text: str, timezone: str, today: date | None, hour: int, minute: int) -> Schedule:
    """Parse an RRULE in `timezone`, starting on `today`; `hour`:`minute` is used when BYHOUR/BYMINUTE are absent."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    fields: dict[str, str] = {}
    for item in body.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not key or not value:
            raise ScheduleError(f'"{item[:40]}" in the rule should look like KEY=VALUE, e.g. {_RRULE_EXAMPLE}.')
        if key in fields:
            raise ScheduleError(f"{key} appears twice in the rule; give it once, e.g. {_RRULE_EXAMPLE}.")
        fields[key] = value

    def integer(key: str, low: int, high: int) -> int | None:
        if key not in fields:
            return None
        value = fields.pop(key)
        if not re.fullmatch(r"[+-]?[0-9]{1,6}", value) or not low <= int(value) <= high:
            raise ScheduleError(f"{key}={value[:20]} is out of range: use {low} to {high}, e.g. {_RRULE_EXAMPLE}.")
        return int(value)

    freq_s = fields.pop("FREQ", None)
    if freq_s is None:
        raise ScheduleError(f"The rule needs a FREQ, e.g. {_RRULE_EXAMPLE}.")
    if freq_s not in _RRULE_FREQ:
        raise ScheduleError(
            f"FREQ={freq_s[:20]} isn't supported: use DAILY, WEEKLY, MONTHLY or YEARLY, e.g. {_RRULE_EXAMPLE}."
        )
    freq = _RRULE_FREQ[freq_s]
    interval = integer("INTERVAL", 1, MAX_INTERVAL) or 1
    setpos = integer("BYSETPOS", min(POSITIONS), max(POSITIONS))
    if setpos == 0:
        raise ScheduleError("BYSETPOS=0 isn't a position: use 1 to 4, or -1 for the last.")
    monthday = integer("BYMONTHDAY", -1, 31)
    if monthday == 0:
        raise ScheduleError("BYMONTHDAY=0 isn't a day: use 1 to 31, or -1 for the last day.")
    rule_hour = integer("BYHOUR", 0, 23)
    rule_minute = integer("BYMINUTE", 0, 59)
    integer("BYSECOND", 0, 0)  # only on the minute
    count = integer("COUNT", 1, MAX_COUNT)
    wkst = fields.pop("WKST", "MO")
    if wkst != "MO":
        raise ScheduleError(f"WKST={wkst[:20]} isn't supported; weeks start on Monday (WKST=MO).")

    days: list[str] = []
    if "BYDAY" in fields:
        fields_byday = fields.pop("BYDAY")
        for item in fields_byday.split(","):
            m = re.fullmatch(r"([+-]?[0-9]{1,2})?([A-Z]{2})", item.strip())
            if not m or m.group(2) not in _RRULE_DAYS:
                raise ScheduleError(
                    f'BYDAY "{item[:20]}" isn\'t a day: use MO, TU, WE, TH, FR, SA, SU or e.g. 1MO, -1FR.'
                )
            if m.group(1) is not None:
                if "," in fields_byday:
                    raise ScheduleError(
                        "A position in BYDAY (like 1MO) works with one day only, e.g. FREQ=MONTHLY;BYDAY=1MO."
                    )
                pos = int(m.group(1))
                if setpos is not None and setpos != pos:
                    raise ScheduleError("Give the position either in BYDAY (1MO) or in BYSETPOS, not both.")
                setpos = pos
            days.append(_RRULE_DAYS[m.group(2)])

    until = None
    if "UNTIL" in fields:
        value = fields.pop("UNTIL")
        m = re.fullmatch(r"([0-9]{4})([0-9]{2})([0-9]{2})(?:T([0-9]{2})([0-9]{2})([0-9]{2})(Z)?)?", value)
        try:
            if not m:
                raise ValueError
            until = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if m.group(7):  # a UTC instant: the last delivery date is its local date
                moment = datetime(until.year, until.month, until.day, int(m.group(4)), int(m.group(5)),
                                  int(m.group(6)), tzinfo=ZoneInfo("UTC"))  # fmt: skip
                until = moment.astimezone(ZoneInfo(canonical_timezone(timezone))).date()
        except (ValueError, OverflowError):
            raise ScheduleError(f"UNTIL={value[:20]} isn't a date: use YYYYMMDD, e.g. UNTIL=20270131.") from None
    if fields:
        key = sorted(fields)[0]
        raise ScheduleError(f"{key[:20]} isn't supported in the rule. Supported: FREQ, INTERVAL, BYDAY, BYSETPOS, "
                            "BYMONTHDAY, BYHOUR, BYMINUTE, COUNT, UNTIL.")  # fmt: skip
    if count is not None and until is not None:
        raise ScheduleError("Give either COUNT or UNTIL, not both.")
    if setpos is not None and not days:
        raise ScheduleError("BYSETPOS needs BYDAY, e.g. FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1 for the last Friday.")

    tz = canonical_timezone(timezone)
    byweekday, bymonthday = parsed_days(freq, tuple(days), monthday)
    schedule = Schedule(
        frequency=freq,
        interval=interval,
        byweekday=byweekday,
        bysetpos=setpos,
        bymonthday=bymonthday,
        hour=hour if rule_hour is None else rule_hour,
        minute=minute if rule_minute is None else rule_minute,
        timezone=tz,
        start=parsed_start(today, tz),
        until=until,
        count=count,
    )
    schedule.validate()
    return schedule

"""The one table of schedule defaults and limits.

Schedule (core.schedules), the phrase parser (core.schedule_phrases), the RRULE parser
(core.schedule_rrule) and the Slack edit form (bot.modals) all read these values from here, so that
"weekly means Monday" or "at most every 366 days" is decided in one place and cannot drift apart.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# -- vocabulary -----------------------------------------------------------------------------------

FREQUENCIES = ("daily", "weekly", "monthly", "yearly")
# Week order, Monday first: weeks start on Monday everywhere (RRULE WKST=MO).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WORKWEEK = WEEKDAYS[:5]  # what "weekdays" means
WEEKEND = WEEKDAYS[5:]  # what "weekends" means
# "The first Monday" .. "the fourth Monday", or "the last Monday": a fifth one is not in every month.
POSITIONS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}

# -- defaults for what a schedule leaves out ------------------------------------------------------

WEEKLY_DAY = "monday"  # "weekly" without days
MONTHLY_DAY = 1  # "monthly" without a day: the 1st
YEARLY_MONTH, YEARLY_DAY = 1, 1  # "yearly" without a start date: January 1
DEFAULT_HOUR, DEFAULT_MINUTE = 9, 0  # no time given: 09:00
DEFAULT_TIMEZONE = "UTC"  # a stored schedule without a time zone

# -- limits ---------------------------------------------------------------------------------------

MAX_INTERVAL = 366  # "every N days/weeks/months/years"
# Count rules are evaluated from their start, so the count is kept to what a person would ask for.
MAX_COUNT = 1000
MAX_PHRASE_LENGTH = 300  # characters of a typed schedule (phrase or RRULE)


def parsed_days(frequency: str, days: tuple[str, ...], monthday: int | None) -> tuple[tuple[str, ...], int | None]:
    """The days a typed rule runs on, with the defaults filled in: weekly on WEEKLY_DAY, monthly on MONTHLY_DAY.

    A typed rule always starts today, and Schedule on its own would take the weekday or day of the month
    from the start date; pinning them here keeps "weekly" meaning Monday whichever day it was typed on.
    """
    if frequency == "weekly" and not days:
        days = (WEEKLY_DAY,)
    if frequency == "monthly" and not days and monthday is None:
        monthday = MONTHLY_DAY
    return days, monthday


def parsed_start(today: date | None, timezone: str) -> date:
    """The start date of a typed rule that names none: `today`, or else today's date in `timezone`.

    So a yearly rule repeats on the date it was typed, as seen where it is delivered.
    """
    return today or datetime.now(ZoneInfo(timezone)).date()

"""What people type in Slack and the CLI, and the messages they get back when it doesn't parse."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.schedule_phrases import parse_schedule
from core.schedules import Schedule, ScheduleError

TODAY = date(2026, 3, 20)  # a Friday
WORKWEEK = ("monday", "tuesday", "wednesday", "thursday", "friday")


def parse(text: str, tz: str = "Europe/London") -> Schedule:
    return parse_schedule(text, tz, today=TODAY)


def expected(frequency: str, **kwargs: object) -> Schedule:
    fields: dict = {"timezone": "Europe/London", "start": TODAY, **kwargs}
    return Schedule(frequency, **fields)


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        ("daily", expected("daily")),
        ("weekly", expected("weekly", byweekday=("monday",))),
        ("monthly", expected("monthly", bymonthday=1)),
        ("yearly", expected("yearly")),
        ("annually", expected("yearly")),
        ("every day", expected("daily")),
        ("every 2 weeks", expected("weekly", interval=2, byweekday=("monday",))),
        ("every 3 days", expected("daily", interval=3)),
        ("every other week", expected("weekly", interval=2, byweekday=("monday",))),
        ("every second week", expected("weekly", interval=2, byweekday=("monday",))),
        ("every two months", expected("monthly", interval=2, bymonthday=1)),
        ("weekdays", expected("weekly", byweekday=WORKWEEK)),
        ("every weekday", expected("weekly", byweekday=WORKWEEK)),
        ("weekends", expected("weekly", byweekday=("saturday", "sunday"))),
        ("on monday and thursday", expected("weekly", byweekday=("monday", "thursday"))),
        ("mon, wed, fri", expected("weekly", byweekday=("monday", "wednesday", "friday"))),
        ("Tues & Thurs", expected("weekly", byweekday=("tuesday", "thursday"))),
        ("every monday", expected("weekly", byweekday=("monday",))),
        ("mondays", expected("weekly", byweekday=("monday",))),
        ("every other friday", expected("weekly", interval=2, byweekday=("friday",))),
        ("weekly on monday at 9:00", expected("weekly", byweekday=("monday",))),
        (
            "every 2 weeks on monday and thursday at 17:30",
            expected("weekly", interval=2, byweekday=("monday", "thursday"), hour=17, minute=30),
        ),
        ("at 9am", expected("daily")),
        ("at 5pm", expected("daily", hour=17)),
        ("at 17:30", expected("daily", hour=17, minute=30)),
        ("at noon", expected("daily", hour=12)),
        ("at midnight", expected("daily", hour=0)),
        ("at 12am", expected("daily", hour=0)),
        ("at 12pm", expected("daily", hour=12)),
        ("daily at 9 a.m.", expected("daily")),
        ("daily at 5.30pm", expected("daily", hour=17, minute=30)),
        ("daily at 0930", expected("daily", minute=30)),
        ("daily 17h30", expected("daily", hour=17, minute=30)),
        ("weekdays 8:15am", expected("weekly", byweekday=WORKWEEK, hour=8, minute=15)),
        ("on the first monday", expected("monthly", byweekday=("monday",), bysetpos=1)),
        ("monthly on the last friday", expected("monthly", byweekday=("friday",), bysetpos=-1)),
        ("on the second tuesday", expected("monthly", byweekday=("tuesday",), bysetpos=2)),
        ("on the 3rd wednesday of the month", expected("monthly", byweekday=("wednesday",), bysetpos=3)),
        ("on the last weekday of the month", expected("monthly", byweekday=WORKWEEK, bysetpos=-1)),
        ("every first monday of the year", expected("yearly", byweekday=("monday",), bysetpos=1)),
        ("every month on the 15th", expected("monthly", bymonthday=15)),
        ("on the 15th", expected("monthly", bymonthday=15)),
        ("monthly on the last day", expected("monthly", bymonthday=-1)),
        ("monthly on the first day", expected("monthly", bymonthday=1)),
        ("every 3 months on the 1st at 8am", expected("monthly", interval=3, bymonthday=1, hour=8)),
        ("  Weekly ,  ON  Monday,,  AT 9AM  ", expected("weekly", byweekday=("monday",))),
        ("weekly, 5 times", expected("weekly", byweekday=("monday",), count=5)),
        ("daily until 2026-12-31", expected("daily", until=date(2026, 12, 31))),
        (
            "weekly starting 2026-04-06",
            Schedule("weekly", byweekday=("monday",), timezone="Europe/London", start=date(2026, 4, 6)),
        ),
        ("daily at 9am Europe/Berlin", expected("daily", timezone="Europe/Berlin")),
        ("daily at 9am UTC", expected("daily", timezone="UTC")),
    ],
)
def test_phrases(text: str, schedule: Schedule) -> None:
    assert parse(text) == schedule


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        (
            "FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2",
            expected("weekly", interval=2, byweekday=("monday", "thursday")),
        ),
        (
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2;BYHOUR=17;BYMINUTE=30",
            expected("weekly", interval=2, byweekday=("monday", "thursday"), hour=17, minute=30),
        ),
        ("rrule:freq=daily", expected("daily")),
        ("FREQ=MONTHLY;BYDAY=-1FR", expected("monthly", byweekday=("friday",), bysetpos=-1)),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1", expected("monthly", byweekday=("monday",), bysetpos=1)),
        ("FREQ=MONTHLY;BYMONTHDAY=15;BYHOUR=8", expected("monthly", bymonthday=15, hour=8)),
        ("FREQ=MONTHLY", expected("monthly", bymonthday=1)),
        ("FREQ=WEEKLY", expected("weekly", byweekday=("monday",))),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", expected("daily", byweekday=WORKWEEK)),
        ("FREQ=DAILY;COUNT=5", expected("daily", count=5)),
        ("FREQ=DAILY;UNTIL=20270131", expected("daily", until=date(2027, 1, 31))),
        # A UTC instant is read in the zone: 23:30Z on the 31st is still the 31st in London.
        ("FREQ=DAILY;UNTIL=20270131T233000Z", expected("daily", until=date(2027, 1, 31))),
        ("FREQ=WEEKLY;WKST=MO;BYDAY=FR;", expected("weekly", byweekday=("friday",))),
    ],
)
def test_rrule_strings(text: str, schedule: Schedule) -> None:
    assert parse(text) == schedule


def test_rrule_until_in_utc_is_read_in_the_zone() -> None:
    s = parse_schedule("FREQ=DAILY;UNTIL=20270131T233000Z", "Europe/Berlin", today=TODAY)
    assert s.until == date(2027, 2, 1)


def test_defaults_and_today() -> None:
    s = parse_schedule("weekly", "UTC", today=TODAY, default_hour=17, default_minute=45)
    assert (s.hour, s.minute) == (17, 45)
    assert parse_schedule("weekly at 8am", "UTC", today=TODAY, default_hour=17).hour == 8
    # Without `today`, the rule starts on today's date in the zone.
    now = parse_schedule("daily", "Pacific/Kiritimati")
    assert now.start is not None and abs((now.start - datetime.now(UTC).date()).days) <= 1


def test_timezone_argument_is_canonicalized() -> None:
    assert parse_schedule("daily", "europe/london", today=TODAY).timezone == "Europe/London"


def test_a_parsed_schedule_evaluates() -> None:
    s = parse("every 2 weeks on monday and thursday at 17:30")
    occ = s.occurrences(datetime(2026, 3, 20, tzinfo=UTC), 4)
    # Week of the start (16th-22nd) has no Monday/Thursday left; then the week of the 30th.
    assert [o.date() for o in occ] == [date(2026, 3, 30), date(2026, 4, 2), date(2026, 4, 13), date(2026, 4, 16)]
    assert s.summary() == "every 2 weeks on Monday and Thursday at 17:30 (Europe/London)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fortnightly", 'I couldn\'t understand "fortnightly". Try "every 2 weeks on monday at 9:00".'),
        ("weekly on funday", 'I couldn\'t understand "funday". Try "every 2 weeks on monday at 9:00".'),
        ("hourly", 'I couldn\'t understand "hourly"'),
        ("", "Please say when to deliver"),
        ("   ", "Please say when to deliver"),
        ("on", "Please say when to deliver"),
        ("every", '"every" needs something after it'),
        ("every 2 mondays", 'I couldn\'t understand "every 2 mondays"'),
        ("every 0 days", "the number must be from 1 to 366"),
        ("every 400 days", "the number must be from 1 to 366"),
        ("at 25:00", '"25:00" isn\'t a valid time'),
        ("at 9:75", '"9:75" isn\'t a valid time'),
        ("at 13pm", "with am/pm the hour is 1 to 12"),
        ("at", '"at" needs a time'),
        ("at lunch", '"at lunch" isn\'t a time I understand'),
        ("at 9am at 5pm", "Only one delivery time"),
        ("daily on monday", '"daily" means every day, so "monday" doesn\'t fit'),
        ("every day on weekdays", "doesn't fit"),
        ("daily weekly", '"daily" and "weekly" say different things'),
        ("monthly on monday", "needs to say which one in the month"),
        ("weekly on the first monday", 'Try "monthly on the first monday"'),
        ("weekly on the 15th", 'Try "monthly on the 15th"'),
        ("on the first monday and friday", "can't be combined"),
        ("on the first monday and the third monday", "Only one position per schedule"),
        ("on the 5th monday", "isn't in every month"),
        ("on the 32nd", "is not a day of the month"),
        ("on the first", "Say the day too"),
        ("of the month", "Which day of the month"),
        ("weekly on the first monday of the month", "say different things"),
        ("yearly on the 15th", "can't tell which month"),
        ("biweekly", "can mean twice a week or every two weeks"),
        ("daily until tomorrow", "needs a date like 2027-01-31"),
        ("daily until 2026-02-30", "needs a date like 2027-01-31"),
        ("daily until 2026-01-01", "before the start date"),
        ("weekly, 5 times until 2027-01-01", "not both"),
        ("daily 0 times", "at least 1"),
        ("daily at 9am Europe/Londn", 'Did you mean "Europe/London"'),
        ("FREQ=HOURLY", "FREQ=HOURLY isn't supported"),
        ("BYDAY=MO", "needs a FREQ"),
        ("FREQ=WEEKLY;BYMONTH=3", "BYMONTH isn't supported"),
        ("FREQ=WEEKLY;BYDAY=XX", 'BYDAY "XX" isn\'t a day'),
        ("FREQ=WEEKLY;BYHOUR=24", "BYHOUR=24 is out of range"),
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL=0 is out of range"),
        ("FREQ=WEEKLY;FREQ=DAILY", "FREQ appears twice"),
        ("FREQ=WEEKLY;BYDAY=1MO", "needs a monthly or yearly frequency"),
        ("FREQ=MONTHLY;BYDAY=1MO,3MO", "works with one day only"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs BYDAY"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "either COUNT or UNTIL"),
        ("FREQ=DAILY;UNTIL=2027", "isn't a date"),
        ("FREQ=DAILY;WKST=SU", "WKST=SU isn't supported"),
        ("FREQ=DAILY;X", "should look like KEY=VALUE"),
        ("x" * 400, "too long"),
    ],
)
def test_errors_are_specific(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse(text)
    assert message in str(info.value)


def test_bad_timezone_argument() -> None:
    with pytest.raises(ScheduleError, match='"Mars/Base" is not a time zone'):
        parse_schedule("daily", "Mars/Base", today=TODAY)


_WORDS = st.sampled_from(
    "every each other on at the of and & daily weekly monthly yearly day days week weeks month months "
    "year years monday tue weds thurs fridays weekdays weekend first second 3rd last 15th 31st 9am 5pm 17:30 "
    "25:00 noon 2 0 366 367 times until 2027-01-31 starting utc europe/berlin FREQ=WEEKLY BYDAY=MO ; , "
    "a.m. p.m. 9 am pm 12pm 13pm 0930 of".split()
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_is_a_schedule_or_a_schedule_error(text: str) -> None:
    _parse_or_error(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=8).map(" ".join))
def test_word_salad_is_a_schedule_or_a_schedule_error(text: str) -> None:
    _parse_or_error(text)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "FREQ=DAILY",
                "FREQ=WEEKLY",
                "FREQ=MONTHLY",
                "BYDAY=MO,TH",
                "BYDAY=-1FR",
                "BYSETPOS=2",
                "BYMONTHDAY=31",
                "INTERVAL=3",
                "COUNT=2",
                "UNTIL=20270101",
                "BYHOUR=7",
                "BYMINUTE=5",
                "RRULE:",
                "WKST=MO",
                "=",
                "BYDAY=",
                "FREQ=YEARLY",
            ]
        ),  # fmt: skip
        max_size=6,
    ).map(";".join)
)
def test_rrule_salad_is_a_schedule_or_a_schedule_error(text: str) -> None:
    _parse_or_error(text)


def _parse_or_error(text: str) -> None:
    try:
        s = parse_schedule(text, "Europe/London", today=TODAY)
    except ScheduleError as e:
        assert str(e)  # every error explains itself
        return
    s.validate()
    assert s.summary()
    s.next_after(datetime(2026, 3, 20, tzinfo=UTC))

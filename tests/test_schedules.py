"""Schedule evaluation in real IANA zones (zoneinfo + dateutil), across clock changes."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.schedules import Schedule, ScheduleError, canonical_timezone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


# -- the London example and clock changes ---------------------------------------------------------------


def test_weekly_monday_london_keeps_local_time_across_spring_forward() -> None:
    s = Schedule("weekly", byweekday=("monday",), timezone="Europe/London", start=date(2026, 3, 20))
    occ = s.occurrences(datetime(2026, 3, 20, tzinfo=ZoneInfo("Europe/London")), 3)
    assert occ == [utc(2026, 3, 23, 9), utc(2026, 3, 30, 8), utc(2026, 4, 6, 8)]
    assert all(o.tzinfo is UTC for o in occ)
    assert [local(o, "Europe/London").hour for o in occ] == [9, 9, 9]


def test_berlin_daily_nine_is_eight_utc_in_winter_and_seven_in_summer() -> None:
    s = Schedule("daily", timezone="Europe/Berlin")
    assert s.next_after(utc(2026, 1, 15)) == utc(2026, 1, 15, 8)
    assert s.next_after(utc(2026, 7, 15)) == utc(2026, 7, 15, 7)
    # and back again after the autumn change
    assert s.occurrences(utc(2026, 10, 24, 12), 2) == [utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)]


def test_nonexistent_local_time_moves_to_the_moment_clocks_jump() -> None:
    s = Schedule("daily", hour=2, minute=30, timezone="Europe/Berlin")
    occ = s.occurrences(utc(2026, 3, 28, 12), 2)
    # 02:30 does not exist on 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST = 01:00 UTC.
    assert occ[0] == utc(2026, 3, 29, 1)
    assert local(occ[0], "Europe/Berlin").replace(tzinfo=None) == datetime(2026, 3, 29, 3, 0)
    assert occ[1] == utc(2026, 3, 30, 0, 30)


def test_ambiguous_local_time_takes_the_first_instant() -> None:
    s = Schedule("daily", hour=2, minute=30, timezone="Europe/Berlin")
    occ = s.occurrences(utc(2026, 10, 24, 12), 2)
    assert occ[0] == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET (01:30 UTC)
    assert occ[1] == utc(2026, 10, 26, 1, 30)


def test_after_inside_the_repeated_hour_does_not_repeat_or_skip() -> None:
    s = Schedule("daily", hour=2, minute=30, timezone="Europe/Berlin")
    # Between the two 02:30s: the first one has passed, so the next is the following day.
    assert s.next_after(utc(2026, 10, 25, 1)) == utc(2026, 10, 26, 1, 30)
    assert s.next_after(utc(2026, 10, 25, 0, 29)) == utc(2026, 10, 25, 0, 30)


def test_los_angeles_both_changes() -> None:
    s = Schedule("weekly", byweekday=("sunday",), hour=2, minute=15, timezone="America/Los_Angeles")
    # 2026-03-08 02:15 does not exist (02:00 PST -> 03:00 PDT, at 10:00 UTC).
    assert s.next_after(utc(2026, 3, 7)) == utc(2026, 3, 8, 10)
    # 2026-11-01 01:00-02:00 repeats; 02:15 happens once (PST) = 10:15 UTC.
    assert s.next_after(utc(2026, 10, 31)) == utc(2026, 11, 1, 10, 15)
    one = Schedule("daily", hour=1, minute=30, timezone="America/Los_Angeles")
    assert one.next_after(utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 8, 30)  # first 01:30 is PDT


def test_lord_howe_half_hour_shift() -> None:
    # Lord Howe moves by 30 minutes: 02:00 -> 02:30 on the first Sunday of October (2026-10-04).
    s = Schedule("daily", hour=2, minute=10, timezone="Australia/Lord_Howe")
    occ = s.next_after(datetime(2026, 10, 3, 12, tzinfo=ZoneInfo("Australia/Lord_Howe")))
    assert occ is not None
    assert local(occ, "Australia/Lord_Howe").replace(tzinfo=None) == datetime(2026, 10, 4, 2, 30)
    assert occ == utc(2026, 10, 3, 15, 30)  # +10:30 before, +11:00 after
    # In April it falls back 02:00 -> 01:30: 01:45 happens twice, the first is at +11:00.
    s2 = Schedule("daily", hour=1, minute=45, timezone="Australia/Lord_Howe")
    occ2 = s2.next_after(datetime(2026, 4, 4, 12, tzinfo=ZoneInfo("Australia/Lord_Howe")))
    assert occ2 == utc(2026, 4, 4, 14, 45)


def test_kolkata_has_no_dst_and_a_half_hour_offset() -> None:
    s = Schedule("daily", hour=9, minute=0, timezone="Asia/Kolkata")
    assert s.occurrences(utc(2026, 3, 1), 2) == [utc(2026, 3, 1, 3, 30), utc(2026, 3, 2, 3, 30)]
    assert s.next_after(utc(2026, 7, 1)) == utc(2026, 7, 1, 3, 30)


def test_chatham_quarter_hour_offset_and_southern_summer() -> None:
    s = Schedule("daily", hour=9, minute=0, timezone="Pacific/Chatham")
    chatham = ZoneInfo("Pacific/Chatham")
    # 09:00 local is the previous evening in UTC: +13:45 in January (summer), +12:45 in July (winter).
    assert s.next_after(datetime(2026, 1, 10, tzinfo=chatham)) == utc(2026, 1, 9, 19, 15)
    assert s.next_after(datetime(2026, 7, 10, tzinfo=chatham)) == utc(2026, 7, 9, 20, 15)
    # Spring forward on 2026-09-27 at 02:45 -> 03:45 local.
    gap = Schedule("daily", hour=3, minute=0, timezone="Pacific/Chatham")
    occ = gap.next_after(datetime(2026, 9, 26, 12, tzinfo=ZoneInfo("Pacific/Chatham")))
    assert occ is not None
    assert local(occ, "Pacific/Chatham").replace(tzinfo=None) == datetime(2026, 9, 27, 3, 45)


@pytest.mark.parametrize(
    ("zone", "winter_utc_hour", "summer_utc_hour"),
    [
        ("Australia/Sydney", 22, 23),  # southern summer (January) is +11, winter (July) +10
        ("America/Santiago", 12, 13),  # -03 in January, -04 in July
        ("America/Sao_Paulo", 12, 12),  # no DST since 2019
    ],
)
def test_southern_hemisphere_offsets(zone: str, winter_utc_hour: int, summer_utc_hour: int) -> None:
    s = Schedule("daily", hour=9, minute=0, timezone=zone)
    january = s.next_after(datetime(2026, 1, 15, tzinfo=ZoneInfo(zone)))
    july = s.next_after(datetime(2026, 7, 15, tzinfo=ZoneInfo(zone)))
    assert january is not None and july is not None
    assert january.hour == winter_utc_hour and july.hour == summer_utc_hour
    assert local(january, zone).hour == 9 and local(july, zone).hour == 9


def test_sydney_spring_forward_gap() -> None:
    # 2026-10-04 02:00 AEST -> 03:00 AEDT (16:00 UTC on the 3rd).
    s = Schedule("weekly", byweekday=("sunday",), hour=2, minute=30, timezone="Australia/Sydney")
    assert s.next_after(utc(2026, 10, 1)) == utc(2026, 10, 3, 16)


def test_after_may_be_in_any_zone() -> None:
    s = Schedule("daily", timezone="Europe/London")
    a = datetime(2026, 1, 15, 10, tzinfo=ZoneInfo("Asia/Tokyo"))  # 01:00 UTC
    assert s.next_after(a) == utc(2026, 1, 15, 9)


def test_occurrences_are_strictly_after() -> None:
    s = Schedule("daily", timezone="UTC")
    assert s.next_after(utc(2026, 1, 15, 9)) == utc(2026, 1, 16, 9)
    assert s.next_after(utc(2026, 1, 15, 8, 59, 59)) == utc(2026, 1, 15, 9)


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        Schedule("daily").next_after(datetime(2026, 1, 1))


# -- monthly and yearly -----------------------------------------------------------------------------------


def test_first_monday_of_the_month() -> None:
    s = Schedule("monthly", byweekday=("monday",), bysetpos=1, timezone="Europe/Paris")
    occ = s.occurrences(utc(2026, 1, 1), 4)
    assert [o.date() for o in occ] == [date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2), date(2026, 4, 6)]
    assert [local(o, "Europe/Paris").hour for o in occ] == [9, 9, 9, 9]


def test_last_friday_of_the_month() -> None:
    s = Schedule("monthly", byweekday=("friday",), bysetpos=-1, hour=17, minute=30, timezone="UTC")
    occ = s.occurrences(utc(2026, 1, 1), 3)
    assert occ == [utc(2026, 1, 30, 17, 30), utc(2026, 2, 27, 17, 30), utc(2026, 3, 27, 17, 30)]


def test_last_weekday_of_the_month() -> None:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday")
    s = Schedule("monthly", byweekday=days, bysetpos=-1, timezone="UTC")
    # 2026-05-31 is a Sunday, so May's last weekday is Friday the 29th.
    assert [o.date() for o in s.occurrences(utc(2026, 4, 1), 2)] == [date(2026, 4, 30), date(2026, 5, 29)]


def test_monthly_on_the_31st_skips_short_months() -> None:
    s = Schedule("monthly", bymonthday=31, timezone="UTC")
    occ = s.occurrences(utc(2026, 1, 1), 4)
    assert [o.date() for o in occ] == [date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31), date(2026, 7, 31)]
    assert s.summary() == "every month on the 31st (skipping months without a 31st) at 09:00 (UTC)"


def test_monthly_last_day() -> None:
    s = Schedule("monthly", bymonthday=-1, timezone="UTC")
    assert [o.date() for o in s.occurrences(utc(2026, 1, 1), 3)] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]


def test_monthly_defaults_to_the_start_day_or_the_first() -> None:
    assert Schedule("monthly").next_after(utc(2026, 1, 2)) == utc(2026, 2, 1, 9)
    s = Schedule("monthly", start=date(2026, 1, 20))
    assert s.next_after(utc(2026, 1, 1)) == utc(2026, 1, 20, 9)


def test_every_three_months_keeps_its_phase_from_start() -> None:
    s = Schedule("monthly", interval=3, bymonthday=15, start=date(2020, 2, 1))
    occ = s.occurrences(utc(2026, 1, 1), 3)
    assert [o.date() for o in occ] == [date(2026, 2, 15), date(2026, 5, 15), date(2026, 8, 15)]


def test_yearly_on_the_start_date_and_first_monday_of_the_year() -> None:
    s = Schedule("yearly", start=date(2024, 3, 15), timezone="UTC")
    assert [o.date() for o in s.occurrences(utc(2024, 1, 1), 2)] == [date(2024, 3, 15), date(2025, 3, 15)]
    first = Schedule("yearly", byweekday=("monday",), bysetpos=1, timezone="UTC")
    assert [o.date() for o in first.occurrences(utc(2026, 1, 1), 2)] == [date(2026, 1, 5), date(2027, 1, 4)]


def test_yearly_on_february_29_only_in_leap_years() -> None:
    s = Schedule("yearly", start=date(2024, 2, 29))
    assert [o.year for o in s.occurrences(utc(2024, 3, 1), 2)] == [2028, 2032]
    assert "only in leap years" in s.summary()


# -- weekly phase, count, until ---------------------------------------------------------------------------


def test_every_two_weeks_is_anchored_on_start() -> None:
    s = Schedule(
        "weekly", interval=2, byweekday=("monday", "thursday"), timezone="Europe/London", start=date(2026, 3, 16)
    )
    occ = s.occurrences(utc(2026, 3, 1), 5)
    assert [o.date() for o in occ] == [
        date(2026, 3, 16),
        date(2026, 3, 19),
        date(2026, 3, 30),
        date(2026, 4, 2),
        date(2026, 4, 13),
    ]


def test_every_two_weeks_without_start_is_stable() -> None:
    s = Schedule("weekly", interval=2, byweekday=("monday",))
    a = s.occurrences(utc(2026, 1, 1), 3)
    b = s.occurrences(utc(2026, 1, 10), 2)
    assert a[:2] == b
    assert (a[1] - a[0]) == timedelta(weeks=2)
    # 2000-01-03 is the anchor: 2026-01-05 is 1357 weeks later, an odd number, so not in phase.
    assert a[0].date() == date(2026, 1, 12)


def test_count_is_counted_from_start_in_local_terms() -> None:
    s = Schedule("daily", timezone="Europe/Berlin", start=date(2026, 3, 27), count=5)
    occ = s.occurrences(utc(2026, 1, 1), 10)
    assert len(occ) == 5
    assert occ[0] == utc(2026, 3, 27, 8) and occ[-1] == utc(2026, 3, 31, 7)
    assert s.next_after(occ[-1]) is None
    assert s.occurrences(occ[2], 10) == occ[3:]


def test_until_is_an_inclusive_local_date() -> None:
    s = Schedule("daily", hour=23, minute=30, timezone="America/New_York", until=date(2026, 1, 31))
    occ = s.occurrences(utc(2026, 1, 29, 12), 10)
    # 23:30 New York on the 31st is 04:30 UTC on February 1st, still included.
    assert occ == [utc(2026, 1, 30, 4, 30), utc(2026, 1, 31, 4, 30), utc(2026, 2, 1, 4, 30)]
    assert s.next_after(occ[-1]) is None


def test_start_is_the_first_possible_day() -> None:
    s = Schedule("daily", start=date(2026, 6, 1))
    assert s.next_after(utc(2020, 1, 1)) == utc(2026, 6, 1, 9)


def test_next_after_far_from_start_does_not_walk_from_the_start() -> None:
    s = Schedule("daily", timezone="Europe/Berlin", start=date(2006, 1, 1))
    first = clock.perf_counter()
    for day in range(200):
        s.next_after(utc(2026, 1, 1) + timedelta(days=day))
    elapsed = clock.perf_counter() - first
    assert s.next_after(utc(2026, 5, 1, 12)) == utc(2026, 5, 2, 7)
    # Walking 20 years of days 200 times would take seconds; jumping near the bound takes milliseconds.
    assert elapsed < 0.5


def test_far_future_and_far_past() -> None:
    s = Schedule("weekly", byweekday=("friday",), timezone="Europe/London")
    assert s.next_after(utc(2059, 12, 25)) == utc(2059, 12, 26, 9)
    assert s.next_after(utc(1990, 7, 1)) == utc(1990, 7, 6, 8)  # BST in 1990
    assert Schedule("daily").next_after(utc(9999, 12, 31, 12)) is None


# -- summaries --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (Schedule("daily"), "every day at 09:00 (UTC)"),
        (Schedule("daily", interval=3, hour=7, minute=5), "every 3 days at 07:05 (UTC)"),
        (
            Schedule("weekly", interval=2, byweekday=("thursday", "monday"), timezone="Europe/London"),
            "every 2 weeks on Monday and Thursday at 09:00 (Europe/London)",
        ),
        (
            Schedule(
                "weekly",
                byweekday=("monday", "tuesday", "wednesday", "thursday", "friday"),
                hour=17,
                minute=30,
                timezone="America/New_York",
            ),
            "every weekday at 17:30 (America/New_York)",
        ),
        (Schedule("weekly"), "every Monday at 09:00 (UTC)"),
        (Schedule("weekly", start=date(2026, 3, 18)), "every Wednesday at 09:00 (UTC)"),
        (Schedule("weekly", byweekday=("saturday", "sunday")), "every Saturday and Sunday at 09:00 (UTC)"),
        (
            Schedule("weekly", byweekday=("monday", "wednesday", "friday")),
            "every Monday, Wednesday and Friday at 09:00 (UTC)",
        ),
        (Schedule("daily", byweekday=("monday", "friday")), "every Monday and Friday at 09:00 (UTC)"),
        (
            Schedule("monthly", byweekday=("monday",), bysetpos=1, timezone="Europe/Berlin"),
            "every month on the first Monday at 09:00 (Europe/Berlin)",
        ),
        (
            Schedule("monthly", byweekday=("friday",), bysetpos=-1),
            "every month on the last Friday at 09:00 (UTC)",
        ),
        (Schedule("monthly", interval=3, bymonthday=15), "every 3 months on the 15th at 09:00 (UTC)"),
        (Schedule("monthly"), "every month on the 1st at 09:00 (UTC)"),
        (Schedule("monthly", bymonthday=-1), "every month on the last day at 09:00 (UTC)"),
        (Schedule("yearly", start=date(2026, 3, 15)), "every year on March 15 at 09:00 (UTC)"),
        (
            Schedule("yearly", byweekday=("monday",), bysetpos=1),
            "every year on the first Monday of the year at 09:00 (UTC)",
        ),
        (Schedule("daily", start=date(2026, 1, 1), count=5), "every day at 09:00 (UTC), 5 times"),
        (Schedule("daily", start=date(2026, 1, 1), count=1), "every day at 09:00 (UTC), once"),
        (Schedule("daily", until=date(2027, 1, 31)), "every day at 09:00 (UTC), until 2027-01-31"),
    ],
)
def test_summary(schedule: Schedule, text: str) -> None:
    assert schedule.summary() == text


# -- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"frequency": "fortnightly"}, '"fortnightly" is not a frequency'),
        ({"frequency": "daily", "hour": 25}, "hour must be from 0 to 23"),
        ({"frequency": "daily", "minute": 60}, "minute must be from 0 to 59"),
        ({"frequency": "daily", "interval": 0}, "interval must be a whole number"),
        ({"frequency": "daily", "interval": 367}, "interval must be a whole number"),
        ({"frequency": "daily", "timezone": "Mars/Olympus"}, '"Mars/Olympus" is not a time zone'),
        ({"frequency": "daily", "timezone": "Europe/Londn"}, 'Did you mean "Europe/London"'),
        ({"frequency": "daily", "timezone": "europe/london"}, 'exactly as "Europe/London"'),
        ({"frequency": "weekly", "byweekday": ("funday",)}, '"funday" is not a day of the week'),
        ({"frequency": "monthly", "byweekday": ("monday",), "bysetpos": 7}, "Position 7 is not supported"),
        ({"frequency": "weekly", "byweekday": ("monday",), "bysetpos": 1}, "needs a monthly or yearly"),
        ({"frequency": "monthly", "bysetpos": 1}, "needs a day to count"),
        ({"frequency": "monthly", "bymonthday": 32}, "day of the month must be from 1 to 31"),
        ({"frequency": "weekly", "bymonthday": 3}, "needs a monthly or yearly"),
        ({"frequency": "monthly", "bymonthday": 3, "byweekday": ("monday",)}, "not both"),
        ({"frequency": "daily", "count": 3}, "counted from a start date"),
        ({"frequency": "daily", "count": 0, "start": date(2026, 1, 1)}, "number of deliveries"),
        (
            {"frequency": "daily", "count": 3, "start": date(2026, 1, 1), "until": date(2026, 2, 1)},
            "not both",
        ),
        ({"frequency": "daily", "start": date(2026, 2, 1), "until": date(2026, 1, 1)}, "before the start"),
        (
            {"frequency": "monthly", "bymonthday": 31, "interval": 12, "start": date(2026, 6, 1)},
            "never reaches a 31st",
        ),
        ({"frequency": "yearly", "bymonthday": 30, "start": date(2026, 2, 1)}, "February has no 30th"),
        ({"frequency": "yearly", "interval": 4, "start": date(2025, 2, 1), "bymonthday": 29}, "February"),
    ],
)
def test_validate_names_the_bad_field(kwargs: dict, words: str) -> None:
    s = Schedule(**kwargs)
    with pytest.raises(ScheduleError, match=words):
        s.validate()
    with pytest.raises(ScheduleError):
        s.next_after(utc(2026, 1, 1))


def test_canonical_timezone() -> None:
    assert canonical_timezone("europe/london") == "Europe/London"
    assert canonical_timezone(" UTC ") == "UTC"
    for bad in ("", "../etc/passwd", "America", None):
        with pytest.raises(ScheduleError):
            canonical_timezone(bad)


def test_weekday_names_are_normalized() -> None:
    s = Schedule("weekly", byweekday=["Thursday", "monday", "thursday"])  # type: ignore[arg-type]
    assert s.byweekday == ("monday", "thursday")
    assert s == Schedule("weekly", byweekday=("monday", "thursday"))
    assert hash(s) == hash(Schedule("weekly", byweekday=("monday", "thursday")))


# -- storage ----------------------------------------------------------------------------------------------


def test_fields_round_trip() -> None:
    s = Schedule(
        "monthly",
        interval=2,
        byweekday=("friday",),
        bysetpos=-1,
        hour=17,
        minute=30,
        timezone="Europe/London",
        start=date(2026, 3, 20),
        until=date(2027, 1, 31),
    )
    fields = s.to_fields()
    assert fields == {
        "frequency": "monthly",
        "interval": 2,
        "byweekday": ["friday"],
        "bysetpos": -1,
        "bymonthday": None,
        "hour": 17,
        "minute": 30,
        "timezone": "Europe/London",
        "start_date": date(2026, 3, 20),
        "until_date": date(2027, 1, 31),
        "count": None,
    }
    assert Schedule.from_fields(fields) == s


def test_from_fields_accepts_api_shapes_and_validates() -> None:
    s = Schedule.from_fields(
        {"frequency": "weekly", "byweekday": "monday,thursday", "hour": "17", "start_date": "2026-03-20"}
    )
    assert s == Schedule("weekly", byweekday=("monday", "thursday"), hour=17, start=date(2026, 3, 20))
    with pytest.raises(ScheduleError, match="start_date must be a date"):
        Schedule.from_fields({"frequency": "daily", "start_date": "tomorrow"})
    with pytest.raises(ScheduleError, match="hour must be a whole number"):
        Schedule.from_fields({"frequency": "daily", "hour": "nine"})
    with pytest.raises(ScheduleError, match="hour must be from 0 to 23"):
        Schedule.from_fields({"frequency": "daily", "hour": 24})
    with pytest.raises(ScheduleError, match="needs a frequency"):
        Schedule.from_fields({})

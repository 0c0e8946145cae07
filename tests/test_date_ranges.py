"""Date ranges of subscriptions: phrases, PostHog's relative strings, labels, a range inside a schedule phrase."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.date_ranges import (
    MAX_YEARS_BACK,
    DateRange,
    DateRangeError,
    parse_date_range,
    resolve_date,
    split_date_range,
)
from core.schedule_phrases import parse_schedule
from posthog_api import describe_date_range


@pytest.mark.parametrize(
    ("phrase", "date_from", "date_to", "label"),
    [
        ("last 7 days", "-7d", None, "Last 7 days"),
        ("the last 7 days", "-7d", None, "Last 7 days"),
        ("Last Seven Days.", "-7d", None, "Last 7 days"),
        ("past 30 days", "-30d", None, "Last 30 days"),
        ("30d", "-30d", None, "Last 30 days"),
        ("-30d", "-30d", None, "Last 30 days"),
        ("90 days", "-90d", None, "Last 90 days"),
        ("last 3 months", "-3m", None, "Last 3 months"),
        ("last 12 months", "-12m", None, "Last 12 months"),
        ("last 2 weeks", "-2w", None, "Last 2 weeks"),
        ("last 24 hours", "-24h", None, "Last 24 hours"),
        ("last 2 quarters", "-2q", None, "Last 2 quarters"),
        ("last 5 years", "-5y", None, "Last 5 years"),
        ("today", "dStart", None, "Today"),
        ("yesterday", "-1dStart", "-1dEnd", "Yesterday"),
        ("this week", "wStart", None, "Week to date"),
        ("last week", "-1wStart", "-1wEnd", "Previous week"),
        ("the previous week", "-1wStart", "-1wEnd", "Previous week"),
        ("this month", "mStart", None, "Month to date"),
        ("last month", "-1mStart", "-1mEnd", "Previous month"),
        ("the last month", "-1mStart", "-1mEnd", "Previous month"),
        ("year to date", "yStart", None, "Year to date"),
        ("this year", "yStart", None, "Year to date"),
        ("past week", "-7d", None, "Last 7 days"),
        ("past year", "-12m", None, "Last 12 months"),
    ],
)
def test_phrases_become_posthog_relative_dates(phrase: str, date_from: str, date_to: str | None, label: str) -> None:
    date_range = parse_date_range(phrase)
    assert (date_range.date_from, date_range.date_to, date_range.label) == (date_from, date_to, label)
    assert str(date_range) == label
    # The label is what the images say: posthog_api words the same strings the same way.
    assert describe_date_range(date_from, date_to) == label


@pytest.mark.parametrize(
    ("phrase", "words"),
    [
        ("fortnight", '"fortnight" isn\'t a date range'),
        ("last 7 fortnights", '"last 7 fortnights" isn\'t a date range'),
        ("", "Say which period to show"),
        ("last 0 days", "empty period"),
        ("last 10 years", "at most 5 years"),
        ("last 61 months", "at most 5 years"),
        ("all time", "at most 5 years"),
        ("last year", '"last 12 months" or "year to date"'),
        ("last quarter", '"last 3 months"'),
        ("last day", '"yesterday"'),
    ],
)
def test_phrases_that_are_no_usable_range_say_why(phrase: str, words: str) -> None:
    with pytest.raises(DateRangeError) as raised:
        parse_date_range(phrase)
    assert words in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_errors_give_examples() -> None:
    with pytest.raises(DateRangeError, match=r'e\.g\.|Try "last 7 days"'):
        parse_date_range("someday")


def test_stored_fields_give_the_same_range_back() -> None:
    for phrase in ("last 7 days", "yesterday", "last month", "this week", "30d"):
        date_range = parse_date_range(phrase)
        fields = date_range.to_fields()
        assert set(fields) == {"date_from", "date_to"}
        assert DateRange.from_fields(fields) == date_range
    assert DateRange.from_fields({"date_from": None, "date_to": None}) is None
    assert DateRange.from_fields({"date_from": "", "date_to": "-1dEnd"}) is None
    assert DateRange("-7d") == DateRange("-7d", None, "Last 7 days")
    assert hash(DateRange("-7d")) == hash(parse_date_range("last 7 days"))


def test_filters_override_keeps_a_null_end() -> None:
    assert parse_date_range("last 7 days").filters_override() == {"date_from": "-7d", "date_to": None}
    assert parse_date_range("yesterday").filters_override() == {"date_from": "-1dStart", "date_to": "-1dEnd"}


def test_bounds_are_the_calendar_days_covered() -> None:
    wednesday = date(2026, 11, 25)
    assert parse_date_range("last 7 days").bounds(wednesday) == (date(2026, 11, 18), wednesday)
    assert parse_date_range("yesterday").bounds(wednesday) == (date(2026, 11, 24), date(2026, 11, 24))
    assert parse_date_range("today").bounds(wednesday) == (wednesday, wednesday)
    assert parse_date_range("last month").bounds(wednesday) == (date(2026, 10, 1), date(2026, 10, 31))
    assert parse_date_range("this month").bounds(wednesday) == (date(2026, 11, 1), wednesday)
    assert parse_date_range("year to date").bounds(wednesday) == (date(2026, 1, 1), wednesday)
    assert parse_date_range("last 3 months").bounds(wednesday) == (date(2026, 8, 25), wednesday)
    # Weeks start on Sunday, PostHog's default; a project may start them on Monday.
    assert parse_date_range("this week").bounds(wednesday) == (date(2026, 11, 22), wednesday)
    assert parse_date_range("this week").bounds(wednesday, week_start=0) == (date(2026, 11, 23), wednesday)
    assert parse_date_range("last week").bounds(wednesday) == (date(2026, 11, 15), date(2026, 11, 21))
    assert parse_date_range("last month").bounds(date(2024, 3, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert resolve_date("2024-02-03", wednesday) == date(2024, 2, 3)
    with pytest.raises(DateRangeError):
        resolve_date("someday", wednesday)


# --- in a schedule phrase ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "schedule", "date_from"),
    [
        ("weekly over the last 7 days", "weekly", "-7d"),
        ("daily at 9 for the last month", "daily at 9", "-1mStart"),
        ("weekly over the last 7 days at 9am", "weekly at 9am", "-7d"),
        ("Weekly, over the last 7 days, at 9am", "Weekly, at 9am", "-7d"),
        ("every 2 weeks on monday at 17:30 covering last week", "every 2 weeks on monday at 17:30", "-1wStart"),
        ("monthly on the 1st for last month", "monthly on the 1st", "-1mStart"),
        ("daily over yesterday", "daily", "-1dStart"),
        ("weekly over 30d", "weekly", "-30d"),
    ],
)
def test_a_range_is_taken_out_of_a_schedule_phrase(text: str, schedule: str, date_from: str) -> None:
    rest, date_range = split_date_range(text)
    assert rest == schedule
    assert date_range is not None and date_range.date_from == date_from
    parse_schedule(rest, "UTC")  # what is left is a schedule


@pytest.mark.parametrize(
    "text",
    [
        "weekly",
        "monthly on the last friday",
        "monthly on the last day",
        "weekly for 5 times",
        "weekly starting 2027-01-04",
        "every 2 weeks on monday at 17:30",
    ],
)
def test_a_schedule_without_a_range_comes_back_unchanged(text: str) -> None:
    assert split_date_range(text) == (text, None)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("weekly this week", 'Say "over" before the date range: "weekly over this week"'),
        ("daily last 7 days", 'Say "over" before the date range: "daily over last 7 days"'),
        ("weekly over fortnights", 'after "over" I expected a date range'),
        ("weekly for", '"for" needs a date range'),
        ("weekly over the last 10 years", "at most 5 years"),
        ("weekly over last year", '"last 12 months"'),
        ("weekly over the last 7 days for this month", "Give one date range, not 2"),
    ],
)
def test_a_schedule_phrase_with_a_bad_range_says_why(text: str, words: str) -> None:
    with pytest.raises(DateRangeError) as raised:
        split_date_range(text)
    assert words in str(raised.value)


# --- properties --------------------------------------------------------------------------------------------

_UNITS = {"day": ("d", 1), "week": ("w", 7), "month": ("m", 31), "year": ("y", 366)}


@settings(max_examples=150, deadline=None)
@given(count=st.integers(min_value=1, max_value=2000), unit=st.sampled_from(sorted(_UNITS)))
def test_last_n_units_is_minus_n_or_refused_beyond_five_years(count: int, unit: str) -> None:
    code, days = _UNITS[unit]
    phrase = f"last {count} {unit}{'s' if count > 1 else ''}"
    try:
        date_range = parse_date_range(phrase)
    except DateRangeError as exc:
        assert f"at most {MAX_YEARS_BACK} years" in str(exc)
        assert count * days > 365 * MAX_YEARS_BACK
        return
    assert date_range.date_from == f"-{count}{code}" and date_range.date_to is None
    assert date_range.label == describe_date_range(date_range.date_from)
    assert DateRange.from_fields(date_range.to_fields()) == date_range
    today = date(2026, 2, 28)
    first, last = date_range.bounds(today)
    assert last == today and today - timedelta(days=366 * MAX_YEARS_BACK) <= first < today


_PHRASES = ["last 7 days", "yesterday", "last month", "this week", "30d", "the last 3 months", "year to date"]
_SCHEDULES = ["weekly", "daily at 9", "monthly on the last friday", "every 2 weeks on monday at 17:30"]


@settings(max_examples=60, deadline=None)
@given(
    schedule=st.sampled_from(_SCHEDULES),
    phrase=st.sampled_from(_PHRASES),
    introducer=st.sampled_from(["over", "for", "covering"]),
)
def test_any_schedule_with_any_introduced_range_splits_back_into_both(
    schedule: str, phrase: str, introducer: str
) -> None:
    rest, date_range = split_date_range(f"{schedule} {introducer} {phrase}")
    assert rest == schedule
    assert date_range == parse_date_range(phrase)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_a_date_range_error(text: str) -> None:
    try:
        date_range = parse_date_range(text)
    except DateRangeError as exc:
        assert str(exc)
        return
    assert date_range.label and date_range.date_from

"""Properties of schedule evaluation across every IANA zone, 1990-2060, checked against zoneinfo directly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.schedules import WEEKDAYS, Schedule, ScheduleError

ZONES = sorted(available_timezones())
ONE_SECOND = timedelta(seconds=1)
# Zones that changed their clocks in some sampled year, so that clock-change tests rarely draw a blank.
CHANGING_ZONES = [
    name
    for name in ZONES
    if any(
        datetime(year, 1, 1, tzinfo=ZoneInfo(name)).utcoffset()
        != datetime(year, 7, 1, tzinfo=ZoneInfo(name)).utcoffset()
        for year in (1995, 2010, 2026, 2050)
    )
]


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def exists(local: datetime, zone: ZoneInfo) -> bool:
    for fold in (0, 1):
        instant = local.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if wall(instant, zone) == local:
            return True
    return False


def nominal_date(s: Schedule, occ: datetime) -> date:
    """The local date an occurrence stands for, checking the wall-time rules on the way."""
    zone = ZoneInfo(s.timezone)
    shown = occ.astimezone(zone)
    here = shown.replace(tzinfo=None)
    assert shown.fold == 0, "an ambiguous wall time must take its first instant"
    if (here.hour, here.minute, here.second) == (s.hour, s.minute, 0):
        return here.date()
    # Otherwise the wall time did not exist and this is the moment the clocks jumped past it.
    for day in (here.date(), here.date() - timedelta(days=1)):
        target = datetime.combine(day, time(s.hour, s.minute))
        if not exists(target, zone) and wall(occ - ONE_SECOND, zone) < target < here:
            return day
    raise AssertionError(f"{occ} ({here} local) is not {s.hour:02d}:{s.minute:02d} nor a clock jump past it")


def check(s: Schedule, after: datetime, n: int) -> list[datetime]:
    occ = s.occurrences(after, n)
    assert all(o.tzinfo is UTC for o in occ)
    assert all(o > after for o in occ)
    assert all(a < b for a, b in zip(occ, occ[1:], strict=False)), "strictly increasing"
    if s.count is None and s.until is None:
        assert len(occ) == n
    for i, o in enumerate(occ):
        day = nominal_date(s, o)
        if s.byweekday:
            assert WEEKDAYS[day.weekday()] in s.byweekday
        if s.bymonthday is not None and s.byweekday == ():
            last = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
            assert day.day == (last if s.bymonthday == -1 else s.bymonthday)
        if s.bysetpos is not None and len(s.byweekday) == 1:
            if s.bysetpos > 0 and s.frequency == "monthly":
                assert (day.day - 1) // 7 == s.bysetpos - 1
            elif s.frequency == "monthly":
                assert (day + timedelta(days=7)).month != day.month
        if s.start is not None:
            assert day >= s.start
        if s.until is not None:
            assert day <= s.until
        following = occ[i + 1] if i + 1 < len(occ) else None
        if following is not None:
            assert s.next_after(o) == following
    return occ


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    frequency = draw(st.sampled_from(["daily", "weekly", "monthly", "yearly"]))
    days: tuple[str, ...] = ()
    setpos = monthday = None
    if frequency == "weekly" or (frequency == "daily" and draw(st.booleans())):
        days = tuple(draw(st.sets(st.sampled_from(WEEKDAYS), max_size=7)))
    elif frequency in ("monthly", "yearly"):
        kind = draw(st.sampled_from(["position", "monthday", "default"]))
        if kind == "position":
            days = tuple(draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1, max_size=2)))
            setpos = draw(st.sampled_from([1, 2, 3, 4, -1]))
        elif kind == "monthday" and frequency == "monthly":
            monthday = draw(st.sampled_from([1, 15, 28, 29, 30, 31, -1]))
    start = draw(st.none() | st.dates(date(1990, 1, 1), date(2060, 12, 31)))
    until = count = None
    if start is not None:
        end = draw(st.sampled_from(["none", "count", "until"]))
        if end == "count":
            count = draw(st.integers(1, 40))
        elif end == "until":
            until = start + timedelta(days=draw(st.integers(0, 3000)))
    return Schedule(
        frequency,
        interval=draw(st.sampled_from([1, 1, 2, 3, 5])),
        byweekday=days,
        bysetpos=setpos,
        bymonthday=monthday,
        hour=draw(st.integers(0, 23)),
        minute=draw(st.sampled_from([0, 15, 30, 45, 59])),
        timezone=draw(st.sampled_from(ZONES)),
        start=start,
        until=until,
        count=count,
    )


AFTER = st.datetimes(datetime(1990, 1, 1), datetime(2060, 12, 31)).map(lambda d: d.replace(tzinfo=UTC))


@settings(max_examples=200, deadline=None)
@given(schedules(), AFTER, st.integers(1, 8))
def test_occurrence_properties(s: Schedule, after: datetime, n: int) -> None:
    try:
        s.validate()
    except ScheduleError:
        assume(False)
    check(s, after, n)


@settings(max_examples=100, deadline=None)
@given(schedules(), AFTER, st.integers(1, 120))
def test_the_answer_does_not_depend_on_where_evaluation_starts(s: Schedule, after: datetime, days: int) -> None:
    """next_after jumps close to its bound instead of walking from the start; jumping from an earlier bound
    must give the same occurrences."""
    try:
        s.validate()
    except ScheduleError:
        assume(False)
    near = s.occurrences(after, 3)
    far = [o for o in s.occurrences(after - timedelta(days=days), 130) if o > after]
    if len(far) >= 3:
        assert far[:3] == near


def first_transition(zone: ZoneInfo, year: int) -> tuple[datetime, timedelta, timedelta] | None:
    """The first UTC offset change in `year` (instant, offset before, offset after), to the second."""
    day = datetime(year, 1, 1, tzinfo=UTC)
    before = day.astimezone(zone).utcoffset()
    for _ in range(366):
        nxt = day + timedelta(days=1)
        if nxt.astimezone(zone).utcoffset() != before:
            lo, hi = day, nxt
            while hi - lo > ONE_SECOND:
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(zone).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            after = hi.astimezone(zone).utcoffset()
            assert before is not None and after is not None
            return hi, before, after
        day = nxt
    return None


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CHANGING_ZONES), st.integers(1990, 2060), st.floats(0, 1, exclude_max=True), st.booleans())
def test_clock_changes(zone_name: str, year: int, where: float, weekly: bool) -> None:
    """Schedules timed inside a gap or an overlap, around the clock change itself."""
    zone = ZoneInfo(zone_name)
    found = first_transition(zone, year)
    assume(found is not None)
    assert found is not None
    instant, before, after = found
    change = abs(after - before)
    assume(instant.second == 0 and change.seconds % 60 == 0)
    # Wall times that are skipped (gap) or repeated (overlap) by this change.
    if after > before:
        first_affected = (instant + before).replace(tzinfo=None)
    else:
        first_affected = (instant + after).replace(tzinfo=None)
    target = first_affected + timedelta(minutes=int(where * change.total_seconds() // 60))
    day_name = WEEKDAYS[target.weekday()]
    s = Schedule(
        "weekly" if weekly else "daily",
        byweekday=(day_name,) if weekly else (),
        hour=target.hour,
        minute=target.minute,
        timezone=zone_name,
    )
    occ = check(s, instant - timedelta(days=3), 6 if weekly else 5)
    on_the_day = [o for o in occ if nominal_date(s, o) == target.date()]
    assert len(on_the_day) == 1
    (o,) = on_the_day
    if after > before:  # skipped: the moment of the jump
        assert o == instant
    else:  # repeated: the first of the two
        assert o == (target - before).replace(tzinfo=UTC)

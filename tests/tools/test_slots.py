"""Availability arithmetic: free starts, the reason a time is not free, the nearest alternatives."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.tools.ro_time import BUCHAREST
from voxgate.tools.slots import DaySchedule, SlotRules, free_slots, suggest, why_unavailable

MON = date(2025, 6, 2)
NINE_TO_FIVE = ((time(9), time(17)),)
EARLIER = datetime(2025, 6, 1, 12, tzinfo=BUCHAREST)  # the day before: nothing is in the past yet
HALF_HOUR = SlotRules(duration=timedelta(minutes=30), step=timedelta(minutes=30))
HOUR = SlotRules(duration=timedelta(hours=1), step=timedelta(minutes=30))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUCHAREST)


def clock(slots: list[datetime]) -> list[str]:
    return [s.strftime("%H:%M") for s in slots]


def test_an_empty_day_is_all_free() -> None:
    slots = free_slots(DaySchedule(MON, NINE_TO_FIVE), HALF_HOUR, EARLIER)
    assert len(slots) == 16
    assert clock(slots)[:3] == ["09:00", "09:30", "10:00"] and clock(slots)[-1] == "16:30"
    assert all(s.tzinfo is BUCHAREST for s in slots)


def test_bookings_block_overlapping_starts_but_touching_is_fine() -> None:
    day = DaySchedule(MON, NINE_TO_FIVE, busy=[(at(MON, 10), at(MON, 11))])
    assert clock(free_slots(day, HALF_HOUR, EARLIER))[:4] == ["09:00", "09:30", "11:00", "11:30"]
    # An hour-long service cannot start at 09:30: it would run into the 10:00 booking.
    assert clock(free_slots(day, HOUR, EARLIER))[:3] == ["09:00", "11:00", "11:30"]
    assert clock(free_slots(day, HOUR, EARLIER))[-1] == "16:00"


def test_bookings_in_any_zone_are_compared_as_instants() -> None:
    utc_booking = (
        datetime(2025, 6, 2, 7, tzinfo=UTC),
        datetime(2025, 6, 2, 8, tzinfo=UTC),
    )  # 10:00-11:00 local
    day = DaySchedule(MON, NINE_TO_FIVE, busy=[utc_booking])
    assert "10:00" not in clock(free_slots(day, HALF_HOUR, EARLIER))


def test_the_past_and_the_notice_period_are_excluded() -> None:
    day = DaySchedule(MON, NINE_TO_FIVE)
    now = at(MON, 10, 7)
    assert clock(free_slots(day, HALF_HOUR, now))[0] == "10:30"
    notice = SlotRules(
        duration=timedelta(minutes=30), step=timedelta(minutes=30), min_notice=timedelta(hours=2)
    )
    assert clock(free_slots(day, notice, now))[0] == "12:30"
    assert free_slots(day, HALF_HOUR, at(MON, 18)) == []


def test_closed_days_lunch_breaks_and_services_too_long() -> None:
    assert free_slots(DaySchedule(MON), HALF_HOUR, EARLIER) == []
    split = DaySchedule(MON, ((time(9), time(12)), (time(13), time(15))))
    assert clock(free_slots(split, HOUR, EARLIER)) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "13:00",
        "13:30",
        "14:00",
    ]
    long_service = SlotRules(duration=timedelta(hours=9))
    assert free_slots(DaySchedule(MON, NINE_TO_FIVE), long_service, EARLIER) == []


def test_the_grid_starts_at_opening_time() -> None:
    day = DaySchedule(MON, ((time(9, 10), time(10, 30)),))
    rules = SlotRules(duration=timedelta(minutes=20), step=timedelta(minutes=15))
    assert clock(free_slots(day, rules, EARLIER)) == ["09:10", "09:25", "09:40", "09:55", "10:10"]


def test_hours_past_midnight() -> None:
    bar = DaySchedule(MON, ((time(22), time(2)),))
    slots = free_slots(bar, HOUR, EARLIER)
    assert clock(slots) == ["22:00", "22:30", "23:00", "23:30", "00:00", "00:30", "01:00"]
    assert slots[-1].date() == MON + timedelta(days=1)


def test_rules_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SlotRules(duration=timedelta(0))
    with pytest.raises(ValueError):
        SlotRules(duration=timedelta(minutes=30), step=timedelta(minutes=-15))


# -- daylight saving time in Europe/Bucharest ---------------------------------------------------------
SPRING = date(2025, 3, 30)  # 03:00 EET -> 04:00 EEST
AUTUMN = date(2025, 10, 26)  # 04:00 EEST -> 03:00 EET
HOURLY = SlotRules(duration=timedelta(hours=1), step=timedelta(hours=1))
LONG_AGO = datetime(2025, 1, 1, tzinfo=BUCHAREST)


def test_spring_forward_skips_the_missing_hour() -> None:
    night = DaySchedule(SPRING, ((time(0), time(6)),))
    slots = free_slots(night, HOURLY, LONG_AGO)
    assert clock(slots) == ["00:00", "01:00", "02:00", "04:00", "05:00"]  # five real hours
    assert [s.utcoffset() for s in slots] == [timedelta(hours=2)] * 3 + [timedelta(hours=3)] * 2
    around_the_clock = DaySchedule(SPRING, ((time(0), time(0)),))
    assert len(free_slots(around_the_clock, HOURLY, LONG_AGO)) == 23


def test_fall_back_repeats_the_hour_with_each_offset() -> None:
    night = DaySchedule(AUTUMN, ((time(2), time(5)),))
    slots = free_slots(night, HOURLY, LONG_AGO)
    assert clock(slots) == ["02:00", "03:00", "03:00", "04:00"]  # four real hours
    assert [s.utcoffset() for s in slots] == [timedelta(hours=3)] * 2 + [timedelta(hours=2)] * 2
    around_the_clock = DaySchedule(AUTUMN, ((time(0), time(0)),))
    assert len(free_slots(around_the_clock, HOURLY, LONG_AGO)) == 25


def test_a_salon_day_on_dst_days_is_unaffected() -> None:
    salon = ((time(9), time(19)),)
    for day in (SPRING, AUTUMN):
        slots = free_slots(DaySchedule(day, salon), HOURLY, LONG_AGO)
        assert clock(slots) == [f"{h:02d}:00" for h in range(9, 19)]


def test_a_booking_across_the_spring_gap() -> None:
    # Booked 02:30-04:30 local: one real hour (00:30-01:30 UTC).
    booking = (datetime(2025, 3, 30, 2, 30, tzinfo=BUCHAREST), datetime(2025, 3, 30, 4, 30, tzinfo=BUCHAREST))
    assert booking[1] - booking[0] == timedelta(hours=2)  # naive arithmetic on the wall clock...
    assert booking[1].astimezone(UTC) - booking[0].astimezone(UTC) == timedelta(hours=1)  # ...real time
    night = DaySchedule(SPRING, ((time(0), time(6)),), busy=[booking])
    assert clock(free_slots(night, HOURLY, LONG_AGO)) == ["00:00", "01:00", "05:00"]


# -- suggestions --------------------------------------------------------------------------------------
def week(busy: list[tuple[datetime, datetime]] | None = None) -> list[DaySchedule]:
    """Mon-Fri 9-17, closed at the weekend, starting on MON."""
    days = []
    for offset in range(14):
        day = MON + timedelta(days=offset)
        hours = NINE_TO_FIVE if day.weekday() < 5 else ()
        days.append(DaySchedule(day, hours, [b for b in busy or [] if b[0].date() == day]))
    return days


def test_a_free_time_is_simply_available() -> None:
    result = suggest(at(MON, 10), week(), HALF_HOUR, EARLIER)
    assert result.available and result.reason is None and result.alternatives == ()


def test_a_free_time_off_the_grid_is_available_too() -> None:
    assert suggest(at(MON, 10, 10), week(), HALF_HOUR, EARLIER).available


def test_a_taken_time_gets_the_nearest_ones_on_the_same_day() -> None:
    busy = [(at(MON, 10), at(MON, 11))]
    result = suggest(at(MON, 10), week(busy), HALF_HOUR, EARLIER)
    assert not result.available and result.reason == "taken"
    # 09:30 is 30 minutes away; 09:00 and 11:00 are both 60 minutes away (the earlier first).
    assert clock(list(result.alternatives)) == ["09:30", "09:00", "11:00"]
    assert all(a.date() == MON for a in result.alternatives)


def test_a_full_day_moves_on_to_the_next_open_days_near_the_same_time() -> None:
    friday = MON + timedelta(days=4)
    busy = [(at(friday, 9), at(friday, 16, 30))]
    result = suggest(at(friday, 10), week(busy), HALF_HOUR, EARLIER, limit=4)
    assert result.reason == "taken"
    # 16:30 is left on Friday; the weekend is closed; Monday offers the times nearest 10:00.
    assert [a.strftime("%a %H:%M") for a in result.alternatives] == [
        "Fri 16:30",
        "Mon 10:00",
        "Mon 09:30",
        "Mon 10:30",
    ]


def test_reasons() -> None:
    days = week()
    saturday = MON + timedelta(days=5)
    assert suggest(at(saturday, 10), days, HALF_HOUR, EARLIER).reason == "closed"
    assert suggest(at(MON, 8), days, HALF_HOUR, EARLIER).reason == "outside_hours"
    assert suggest(at(MON, 16, 45), days, HALF_HOUR, EARLIER).reason == "outside_hours"  # would end 17:15
    past = suggest(at(MON, 9), days, HALF_HOUR, at(MON, 12))
    assert past.reason == "past"
    assert clock(list(past.alternatives)) == ["12:00", "12:30", "13:00"]  # nothing before now


def test_a_closed_day_suggests_the_next_open_one() -> None:
    saturday = MON + timedelta(days=5)
    result = suggest(at(saturday, 11), week(), HALF_HOUR, EARLIER, limit=2)
    assert [a.strftime("%a %H:%M") for a in result.alternatives] == ["Mon 11:00", "Mon 10:30"]


def test_days_may_come_from_a_callable_and_the_search_is_bounded() -> None:
    asked: list[date] = []

    def schedule(day: date) -> DaySchedule | None:
        asked.append(day)
        return DaySchedule(day, NINE_TO_FIVE) if day == MON else None

    full = [(at(MON, 9), at(MON, 17))]

    def full_monday(day: date) -> DaySchedule | None:
        return DaySchedule(day, NINE_TO_FIVE, full) if day == MON else schedule(day)

    result = suggest(at(MON, 10), full_monday, HALF_HOUR, EARLIER, max_days=5)
    assert result.reason == "taken" and result.alternatives == ()
    assert asked == [MON + timedelta(days=n) for n in range(1, 6)]


def test_the_limit_caps_alternatives() -> None:
    busy = [(at(MON, 10), at(MON, 11))]
    assert len(suggest(at(MON, 10), week(busy), HALF_HOUR, EARLIER, limit=1).alternatives) == 1
    assert len(suggest(at(MON, 10), week(busy), HALF_HOUR, EARLIER, limit=20).alternatives) == 20


# -- properties ---------------------------------------------------------------------------------------
bookings = st.lists(
    st.tuples(st.integers(8 * 4, 18 * 4), st.integers(1, 12)).map(
        lambda q: (
            at(MON, 0) + timedelta(minutes=15 * q[0]),
            at(MON, 0) + timedelta(minutes=15 * (q[0] + q[1])),
        )
    ),
    max_size=6,
)


@given(
    busy=bookings,
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    step=st.sampled_from([15, 30]),
    now_minutes=st.integers(0, 24 * 60),
)
def test_free_slots_are_exactly_the_grid_starts_that_fit(
    busy: list[tuple[datetime, datetime]], duration: int, step: int, now_minutes: int
) -> None:
    rules = SlotRules(duration=timedelta(minutes=duration), step=timedelta(minutes=step))
    now = at(MON, 0) + timedelta(minutes=now_minutes)
    day = DaySchedule(MON, NINE_TO_FIVE, busy)
    slots = free_slots(day, rules, now)
    grid = [at(MON, 9) + n * rules.step for n in range(8 * 60 // step)]
    assert slots == [g for g in grid if why_unavailable(g, day, rules, now) is None]
    for start in slots:
        assert start >= now
        assert at(MON, 9) <= start and start + rules.duration <= at(MON, 17)
        assert not any(start < b_end and b_start < start + rules.duration for b_start, b_end in busy)


@given(busy=bookings, hour=st.integers(7, 18), minute=st.sampled_from([0, 15, 30, 45]))
def test_every_alternative_is_bookable_and_the_first_day_comes_first(
    busy: list[tuple[datetime, datetime]], hour: int, minute: int
) -> None:
    days = week(busy)
    result = suggest(at(MON, hour, minute), days, HOUR, EARLIER, limit=5)
    by_day = {s.day: s for s in days}
    for alternative in result.alternatives:
        assert why_unavailable(alternative, by_day[alternative.date()], HOUR, EARLIER) is None
    assert [a.date() for a in result.alternatives] == sorted(a.date() for a in result.alternatives)
    assert result.available == (result.reason is None)

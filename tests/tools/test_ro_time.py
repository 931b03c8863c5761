"""Dates and times as Romanian and English callers say them, relative to a given moment in Bucharest."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from voxgate.tools.ro_time import (
    BUCHAREST,
    local_datetime,
    local_today,
    normalize,
    parse_date,
    parse_date_time,
    parse_time,
)

# Wednesday 26 March 2025, 09:00 in Bucharest (the Sunday after is the spring DST change).
NOW = datetime(2025, 3, 26, 9, 0, tzinfo=BUCHAREST)
WED = date(2025, 3, 26)


def d(text: str, now: datetime = NOW) -> date | None:
    return parse_date(text, now).value


def t(text: str) -> time | None:
    return parse_time(text).value


# -- normalisation ------------------------------------------------------------------------------------
def test_normalize_strips_diacritics_in_both_spellings_and_reads_number_words() -> None:
    assert normalize("Mâine, la ZECE și jumătate!") == "maine la 10 si jumatate"
    assert normalize("poimâine la unsprezece fără un sfert") == "poimaine la 11 fara un sfert"
    assert normalize("ora douăzeci și unu") == "ora 21"
    assert normalize("şapte şi ţinem") == "7 si tinem"  # legacy cedilla ş/ţ
    assert normalize("twenty-five past 3 p.m.") == "25 past 3 pm"
    assert normalize("the 5th of March") == "the 5 of march"


# -- dates --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("azi", WED),
        ("astăzi", WED),
        ("today", WED),
        ("diseară", WED),
        ("mâine", date(2025, 3, 27)),
        ("maine", date(2025, 3, 27)),
        ("MÂINE dimineață", date(2025, 3, 27)),
        ("tomorrow", date(2025, 3, 27)),
        ("poimâine", date(2025, 3, 28)),
        ("poimaine", date(2025, 3, 28)),
        ("the day after tomorrow", date(2025, 3, 28)),
        ("răspoimâine", date(2025, 3, 29)),
        ("peste 3 zile", date(2025, 3, 29)),
        ("peste o săptămână", date(2025, 4, 2)),
        ("peste două săptămâni", date(2025, 4, 9)),
        ("in 10 days", date(2025, 4, 5)),
        ("pe 5 martie", date(2026, 3, 5)),  # already past this year: next year's
        ("pe 28 martie", date(2025, 3, 28)),
        ("pe 26 martie", WED),
        ("5 aprilie 2027", date(2027, 4, 5)),
        ("pe întâi mai", date(2025, 5, 1)),
        ("pe cinci iunie", date(2025, 6, 5)),
        ("1 decembrie", date(2025, 12, 1)),
        ("march 28th", date(2025, 3, 28)),
        ("on the 2nd of April", date(2025, 4, 2)),
        ("5.03", date(2026, 3, 5)),
        ("28.03", date(2025, 3, 28)),
        ("28/3", date(2025, 3, 28)),
        ("05.03.2026", date(2026, 3, 5)),
        ("5.3.26", date(2026, 3, 5)),
        ("05-03-2026", date(2026, 3, 5)),
        ("2026-03-05", date(2026, 3, 5)),
        ("2026-03-05T10:30:00+02:00", date(2026, 3, 5)),
        ("pe 30", date(2025, 3, 30)),
        ("pe 20", date(2025, 4, 20)),  # the 20th already passed this month
        ("on the 31st", date(2025, 3, 31)),
        ("vreau o programare pentru mâine", date(2025, 3, 27)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert d(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("luni", date(2025, 3, 31)),
        ("lunea", date(2025, 3, 31)),
        ("marți", date(2025, 4, 1)),
        ("marti", date(2025, 4, 1)),
        ("miercuri", date(2025, 4, 2)),  # said on a Wednesday: next week's
        ("joi", date(2025, 3, 27)),
        ("joia", date(2025, 3, 27)),
        ("vineri", date(2025, 3, 28)),
        ("sâmbătă", date(2025, 3, 29)),
        ("sambata", date(2025, 3, 29)),
        ("duminică", date(2025, 3, 30)),
        ("duminica", date(2025, 3, 30)),
        ("Thursday", date(2025, 3, 27)),
        ("on friday", date(2025, 3, 28)),
        # The same weekday in the following Monday-Sunday week:
        ("lunea viitoare", date(2025, 3, 31)),
        ("joia viitoare", date(2025, 4, 3)),
        ("vinerea următoare", date(2025, 4, 4)),
        ("vineri săptămâna viitoare", date(2025, 4, 4)),
        ("next thursday", date(2025, 4, 3)),
        ("next week on tuesday", date(2025, 4, 1)),
    ],
)
def test_weekdays(text: str, expected: date) -> None:
    assert d(text) == expected


@given(today=st.dates(date(2024, 1, 1), date(2030, 12, 31)), weekday=st.integers(0, 6))
def test_weekday_rules_hold_every_day(today: date, weekday: int) -> None:
    names = ["luni", "marți", "miercuri", "joi", "vineri", "sâmbătă", "duminică"]
    now = datetime.combine(today, time(12), tzinfo=BUCHAREST)
    plain, following = d(names[weekday], now), d(names[weekday] + " viitoare", now)
    assert plain is not None and following is not None
    assert plain.weekday() == weekday == following.weekday()
    assert 1 <= (plain - today).days <= 7
    assert following.isocalendar()[:2] == (today + timedelta(weeks=1)).isocalendar()[:2]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("cât mai repede", "not_understood"),
        ("peste 2 luni", "not_understood"),  # "luni" here is "months", not Monday
        ("31 februarie", "invalid_date"),
        ("29.02", "invalid_date"),  # neither 2025 nor 2026 has one
        ("30.02.2028", "invalid_date"),
        ("2025-13-01", "invalid_date"),
        ("10.30", "invalid_date"),  # day first: there is no month 30
        ("la 10.30", "not_understood"),  # a time, not a date
    ],
)
def test_dates_not_understood(text: str, reason: str) -> None:
    result = parse_date(text, NOW)
    assert result.value is None and result.reason == reason and not result.ok


def test_today_is_read_in_bucharest() -> None:
    late_utc = datetime(2025, 3, 26, 23, 30, tzinfo=UTC)  # already 01:30 on the 27th in Bucharest
    assert local_today(late_utc) == date(2025, 3, 27)
    assert d("azi", late_utc) == date(2025, 3, 27)
    assert d("mâine", late_utc) == date(2025, 3, 28)
    assert d("azi", datetime(2025, 3, 26, 23, 30)) == WED  # naive: taken as local already


def test_leap_day_without_a_year_is_the_next_one_within_a_year() -> None:
    assert d("29 februarie", datetime(2027, 6, 1, tzinfo=BUCHAREST)) == date(2028, 2, 29)


dates = st.dates(date(2000, 1, 1), date(2099, 12, 31))
RO_MONTHS = (
    "ianuarie", "februarie", "martie", "aprilie", "mai", "iunie",
    "iulie", "august", "septembrie", "octombrie", "noiembrie", "decembrie",
)  # fmt: skip


@given(dates)
def test_numeric_dates_with_year_round_trip(day: date) -> None:
    for written in (
        day.isoformat(),
        f"{day.day}.{day.month}.{day.year}",
        f"{day.day:02d}.{day.month:02d}.{day.year}",
        f"{day.day}/{day.month}/{day.year}",
        f"{day.day:02d}.{day.month:02d}.{day.year % 100:02d}",
        f"pe {day.day} {RO_MONTHS[day.month - 1]} {day.year}",
    ):
        assert d(written) == day, written


@given(dates, st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)))
def test_numeric_dates_without_year_are_the_next_occurrence(day: date, naive_now: datetime) -> None:
    assume(not (day.month == 2 and day.day == 29))
    now = naive_now.replace(tzinfo=BUCHAREST)
    today = local_today(now)
    found = d(f"{day.day}.{day.month:02d}", now)
    assert found is not None and (found.month, found.day) == (day.month, day.day)
    assert today <= found < today + timedelta(days=366)


# -- times --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("la 10", time(10)),
        ("la ora 10", time(10)),
        ("ora 10", time(10)),
        ("10", time(10)),
        ("pe la 11", time(11)),
        ("la 10h", time(10)),
        ("10:30", time(10, 30)),
        ("10.30", time(10, 30)),
        ("10h30", time(10, 30)),
        ("10:30:00", time(10, 30)),
        ("10 30", time(10, 30)),
        ("10 și jumătate", time(10, 30)),
        ("la 10 si jumatate", time(10, 30)),
        ("zece și jumătate", time(10, 30)),
        ("zece și un sfert", time(10, 15)),
        ("zece și trei sferturi", time(10, 45)),
        ("zece și douăzeci", time(10, 20)),
        ("zece și douăzeci și cinci de minute", time(10, 25)),
        ("zece și cinci", time(10, 5)),
        ("unsprezece fără un sfert", time(10, 45)),
        ("unsprezece fără zece", time(10, 50)),
        ("ora douăsprezece", time(12)),
        ("ora paisprezece", time(14)),
        ("la ora 14:30", time(14, 30)),
        ("după-amiază la 3", time(15)),
        ("după amiaza la 3", time(15)),
        ("la 3 după-amiază", time(15)),
        ("seara la 7", time(19)),
        ("la 7 seara", time(19)),
        ("3 pm", time(15)),
        ("3pm", time(15)),
        ("3:30 p.m.", time(15, 30)),
        ("12 pm", time(12)),
        ("12 am", time(0)),
        ("9 am", time(9)),
        ("at 10 o'clock", time(10)),
        ("half past ten", time(10, 30)),
        ("a quarter past ten", time(10, 15)),
        ("quarter to eleven", time(10, 45)),
        ("ten thirty", time(10, 30)),
        ("la prânz", time(12)),
        ("noon", time(12)),
        ("midnight", time(0)),
        ("între 10 și 12", time(10)),
        ("2026-03-05T10:30:00+02:00", time(10, 30)),
        ("mâine la 10", time(10)),
    ],
)
def test_times(text: str, expected: time) -> None:
    assert t(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("la 3", time(15)),  # a spoken 1-7 o'clock is the afternoon...
        ("la unu", time(13)),
        ("la două și jumătate", time(14, 30)),
        ("la 7", time(19)),
        ("la 8", time(8)),  # ...from 8 on, as said
        ("la 3 dimineața", time(3)),  # unless the caller says otherwise
        ("la 7 am", time(7)),
        ("3:00", time(3)),  # clock notation is taken as written
        ("03:30", time(3, 30)),
    ],
)
def test_daytime_reading_of_spoken_hours(text: str, expected: time) -> None:
    assert t(text) == expected


def test_daytime_reading_can_be_turned_off() -> None:
    assert parse_time("la 3", assume_daytime=False).value == time(3)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("când aveți loc", "not_understood"),
        ("după-amiază", "not_understood"),  # a part of the day is not a time
        ("24:00", "invalid_time"),
        ("25:00", "invalid_time"),
        ("10:75", "invalid_time"),
        ("la 31", "invalid_time"),
    ],
)
def test_times_not_understood(text: str, reason: str) -> None:
    result = parse_time(text)
    assert result.value is None and result.reason == reason


@given(st.integers(0, 23), st.integers(0, 59))
def test_clock_notation_round_trips(hour: int, minute: int) -> None:
    for written in (
        f"{hour}:{minute:02d}",
        f"{hour:02d}:{minute:02d}",
        f"{hour}.{minute:02d}",
        f"{hour}h{minute:02d}",
    ):
        assert t(written) == time(hour, minute), written


_UNITS = ["", "unu", "două", "trei", "patru", "cinci", "șase", "șapte", "opt", "nouă"]
_TEENS = [
    "zece",
    "unsprezece",
    "douăsprezece",
    "treisprezece",
    "paisprezece",
    "cincisprezece",
    "șaisprezece",
    "șaptesprezece",
    "optsprezece",
    "nouăsprezece",
]
_TENS = {2: "douăzeci", 3: "treizeci", 4: "patruzeci", 5: "cincizeci"}


def words(n: int) -> str:
    """A number from 1 to 59 in Romanian words."""
    if n < 10:
        return _UNITS[n]
    if n < 20:
        return _TEENS[n - 10]
    tens, units = divmod(n, 10)
    return _TENS[tens] + (f" și {_UNITS[units]}" if units else "")


@given(hour=st.integers(8, 19), minute=st.integers(0, 59), twelve_hour=st.booleans())
def test_spoken_romanian_times_round_trip(hour: int, minute: int, twelve_hour: bool) -> None:
    def say(h: int) -> str:
        # After noon people say "trei" for 15:00; the daytime reading brings it back.
        return words(h - 12) if twelve_hour and 13 <= h <= 19 else words(h)

    if minute == 0:
        spoken = f"la ora {say(hour)}"
    elif minute == 30:
        spoken = f"{say(hour)} și jumătate"
    elif minute == 15:
        spoken = f"la {say(hour)} și un sfert"
    elif minute >= 40 and hour + 1 <= 19:
        spoken = f"{say(hour + 1)} fără {'un sfert' if minute == 45 else words(60 - minute)}"
    else:
        spoken = f"{say(hour)} și {words(minute)} minute"
    assert t(spoken) == time(hour, minute), spoken


# -- both ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mâine la 10", datetime(2025, 3, 27, 10, tzinfo=BUCHAREST)),
        ("poimâine la zece și jumătate", datetime(2025, 3, 28, 10, 30, tzinfo=BUCHAREST)),
        ("luni la 3 după-amiază", datetime(2025, 3, 31, 15, tzinfo=BUCHAREST)),
        ("pe 5 martie la ora 14:30", datetime(2026, 3, 5, 14, 30, tzinfo=BUCHAREST)),
        ("5.03 la 10.30", datetime(2026, 3, 5, 10, 30, tzinfo=BUCHAREST)),
        ("pe 12 la 10", datetime(2025, 4, 12, 10, tzinfo=BUCHAREST)),
        ("next monday at half past three", datetime(2025, 3, 31, 15, 30, tzinfo=BUCHAREST)),
        (
            "Vreau o programare pentru tuns mâine la 10, mă numesc Ana Pop, 0722 123 456",
            datetime(2025, 3, 27, 10, tzinfo=BUCHAREST),
        ),
    ],
)
def test_date_and_time_together(text: str, expected: datetime) -> None:
    found = parse_date_time(text, NOW)
    at = found.at()
    assert at == expected and at is not None
    assert at.utcoffset() == expected.utcoffset()  # 31 March is already summer time (+03:00)


def test_date_and_time_each_may_be_missing() -> None:
    only_day = parse_date_time("mâine", NOW)
    assert only_day.date.value == date(2025, 3, 27) and only_day.time.reason == "not_understood"
    assert only_day.at() is None
    only_time = parse_date_time("la zece", NOW)
    assert only_time.date.reason == "not_understood" and only_time.time.value == time(10)
    assert parse_date_time("", NOW).date.reason == "empty"


# -- wall clock to instants ---------------------------------------------------------------------------
def test_local_datetime_across_dst_changes() -> None:
    # 30 March 2025: 03:00 EET jumps to 04:00 EEST; 03:30 does not exist and moves on by the gap.
    skipped = local_datetime(date(2025, 3, 30), time(3, 30))
    assert (skipped.hour, skipped.minute, skipped.utcoffset()) == (4, 30, timedelta(hours=3))
    assert local_datetime(date(2025, 3, 30), time(2, 59)).utcoffset() == timedelta(hours=2)
    # 26 October 2025: 04:00 EEST falls back to 03:00 EET; 03:30 happens twice, the first one is taken.
    repeated = local_datetime(date(2025, 10, 26), time(3, 30))
    assert repeated.utcoffset() == timedelta(hours=3)
    assert local_datetime(date(2025, 10, 26), time(4, 30)).utcoffset() == timedelta(hours=2)

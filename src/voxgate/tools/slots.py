"""Free appointment slots: pure arithmetic over opening hours, bookings and the current moment.

Opening hours are wall-clock times in the business's zone (Europe/Bucharest); bookings and results are
aware datetimes. Slots are counted in real time from the opening instant, so a DST change day gets the
hours it really has: on the last Sunday of March, 09:00-19:00 is nine hours long, and on a 24-hour
schedule the skipped 03:xx never appears while the repeated one appears twice, once per offset.

Nothing here reads a clock or a database: the store loads the days, the tool passes ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from voxgate.tools.ro_time import BUCHAREST, local_datetime

Interval = tuple[datetime, datetime]
"""A busy period ``[start, end)``; touching intervals do not overlap."""


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """One day's opening hours (empty: closed) and the bookings that fall on it."""

    day: date
    hours: Sequence[tuple[time, time]] = ()
    """Wall-clock ``(open, close)`` pairs; several for a lunch break; ``close <= open`` runs past midnight."""
    busy: Sequence[Interval] = ()

    @property
    def closed(self) -> bool:
        return not self.hours


@dataclass(frozen=True, slots=True)
class SlotRules:
    duration: timedelta
    step: timedelta = timedelta(minutes=15)
    min_notice: timedelta = timedelta(0)
    """How far ahead of ``now`` the earliest bookable start lies."""
    tz: ZoneInfo = field(default=BUCHAREST)

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0) or self.step <= timedelta(0):
            raise ValueError("duration and step must be positive")


def opening_intervals(schedule: DaySchedule, tz: ZoneInfo = BUCHAREST) -> list[Interval]:
    """The day's opening hours as aware ``[open, close)`` instants."""
    intervals = []
    for opens, closes in schedule.hours:
        start = local_datetime(schedule.day, opens, tz)
        end_day = schedule.day if closes > opens else schedule.day + timedelta(days=1)
        intervals.append((start, local_datetime(end_day, closes, tz)))
    return intervals


def _overlaps(start: datetime, end: datetime, busy: Iterable[Interval]) -> bool:
    return any(start < b_end and b_start < end for b_start, b_end in busy)


def free_slots(schedule: DaySchedule, rules: SlotRules, now: datetime) -> list[datetime]:
    """Every start time on the step grid (from each opening) where the service fits and nothing overlaps."""
    earliest = now + rules.min_notice
    slots: list[datetime] = []
    for opens, closes in opening_intervals(schedule, rules.tz):
        # Step in UTC, where every hour is sixty minutes, then show each start on the local clock.
        start = opens.astimezone(UTC)
        closes_utc = closes.astimezone(UTC)
        while start + rules.duration <= closes_utc:
            end = start + rules.duration
            if start >= earliest and not _overlaps(start, end, schedule.busy):
                slots.append(start.astimezone(rules.tz))
            start += rules.step
    return slots


Unavailable = Literal["past", "closed", "outside_hours", "taken"]


def why_unavailable(
    start: datetime, schedule: DaySchedule, rules: SlotRules, now: datetime
) -> Unavailable | None:
    """``None`` when the service can start at ``start`` (any minute, not only on the grid); else why not."""
    if start < now + rules.min_notice:
        return "past"
    if schedule.closed:
        return "closed"
    end = start + rules.duration
    if not any(opens <= start and end <= closes for opens, closes in opening_intervals(schedule, rules.tz)):
        return "outside_hours"
    if _overlaps(start, end, schedule.busy):
        return "taken"
    return None


@dataclass(frozen=True, slots=True)
class Availability:
    requested: datetime
    available: bool
    reason: Unavailable | None
    """Why the requested time cannot be booked, when it cannot."""
    alternatives: tuple[datetime, ...]
    """The nearest free starts: the requested day first, by distance; then the following open days."""


Days = Callable[[date], DaySchedule | None] | Iterable[DaySchedule]


def _lookup(days: Days) -> Callable[[date], DaySchedule | None]:
    if callable(days):
        return days
    by_day = {schedule.day: schedule for schedule in days}
    return by_day.get


def _nearest(slots: Iterable[datetime], target: datetime, count: int) -> list[datetime]:
    return sorted(slots, key=lambda s: (abs(s - target), s))[:count]


def suggest(
    requested: datetime,
    days: Days,
    rules: SlotRules,
    now: datetime,
    *,
    limit: int = 3,
    max_days: int = 14,
) -> Availability:
    """Whether ``requested`` is free and, if not, up to ``limit`` nearest alternatives.

    ``days`` gives each date's schedule: a callable (``None`` or no hours: closed) or the schedules of
    the days loaded (a missing day counts as closed). On the requested day, alternatives are ordered
    by distance from the requested time (earlier first on a tie); on the following days, up to
    ``max_days`` ahead, by distance from the same wall-clock time, as someone who asked for 10:00 most
    likely wants a morning again. Only future days are searched, never earlier ones.
    """
    schedule_for = _lookup(days)
    local = requested.astimezone(rules.tz)
    day = local.date()
    today = schedule_for(day) or DaySchedule(day)
    reason = why_unavailable(requested, today, rules, now)
    if reason is None:
        return Availability(requested, True, None, ())

    found: list[datetime] = []
    same_day = [s for s in free_slots(today, rules, now) if s != requested]
    found.extend(_nearest(same_day, requested, limit))
    wall = local.time().replace(tzinfo=None)
    for offset in range(1, max_days + 1):
        if len(found) >= limit:
            break
        later = day + timedelta(days=offset)
        schedule = schedule_for(later)
        if schedule is None or schedule.closed:
            continue
        target = local_datetime(later, wall, rules.tz)
        found.extend(_nearest(free_slots(schedule, rules, now), target, limit - len(found)))
    return Availability(requested, False, reason, tuple(found))

"""The salon's calendar on the database: services, opening hours, clients and appointments.

The voice tools and the admin API book through this module, so both refuse the same things for the
same reasons (:class:`SalonError`). Nothing here commits: the caller owns the transaction (one per
tool call or request), so a refusal raised half-way, after a new client was added say, leaves
nothing behind once the caller's transaction rolls back.

Free times are computed from the opening hours and the booked appointments (``tools.slots``);
what makes a double booking impossible is the database (``store.booking``). The busy intervals are
widened to the 15-minute blocks the database reserves, so a time offered as free is one the
database will accept.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.business import BusinessInfo
from voxgate.store.booking import SLOT, SlotTaken, book_appointment, booked_between, slot_starts
from voxgate.store.models import Appointment, AppointmentSource, BusinessHours, Client, Service
from voxgate.tools.names import match_names
from voxgate.tools.phones import InvalidPhoneNumber, normalize_phone
from voxgate.tools.ro_time import local_datetime, local_today
from voxgate.tools.slots import DaySchedule, SlotRules, free_slots, suggest, why_unavailable

SEARCH_DAYS: Final = 14
"""How far ahead alternatives are looked for."""
ALTERNATIVES: Final = 3
MAX_NAME: Final = 200

SalonErrorCode = Literal[
    "unknown_service",
    "ambiguous_service",
    "missing_service",
    "invalid_name",
    "invalid_phone",
    "past",
    "closed",
    "outside_hours",
    "taken",
]
DayState = Literal["open", "closed", "full", "past"]


class SalonError(Exception):
    """A booking or lookup the salon refuses; ``message`` is fit for a model or an API client."""

    def __init__(
        self,
        code: SalonErrorCode,
        message: str,
        *,
        alternatives: Sequence[datetime] = (),
        options: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code: SalonErrorCode = code
        self.message = message
        self.alternatives = tuple(alternatives)
        """The nearest free starts, when the refusal is about the time."""
        self.options = tuple(options)
        """The service names to choose from, when the service was unknown or ambiguous."""


# -- services ------------------------------------------------------------------------------------
async def active_services(db: AsyncSession, business_id: int) -> list[Service]:
    query = select(Service).where(Service.business_id == business_id, Service.active.is_(True))
    return list(await db.scalars(query.order_by(Service.id)))


async def find_service(
    db: AsyncSession, business_id: int, *, service_id: int | None = None, name: str | None = None
) -> Service:
    """An active service of the business, by id or by the name the caller used."""
    if service_id is not None:
        service = await db.scalar(
            select(Service).where(
                Service.id == service_id, Service.business_id == business_id, Service.active.is_(True)
            )
        )
        if service is None:
            names = [s.name for s in await active_services(db, business_id)]
            raise SalonError(
                "unknown_service",
                f"There is no service with id {service_id}. The services are: {', '.join(names)}.",
                options=names,
            )
        return service
    if not name or not name.strip():
        raise SalonError("missing_service", "Say which service: give service_id or the service's name.")
    services = await active_services(db, business_id)
    found = match_names(name, services, lambda s: s.name)
    if len(found) == 1:
        return found[0]
    if not found:
        names = [s.name for s in services]
        raise SalonError(
            "unknown_service",
            f"There is no service called {name!r}. The services are: {', '.join(names)}.",
            options=names,
        )
    names = [s.name for s in found]
    raise SalonError(
        "ambiguous_service",
        f"Several services match {name!r}: {', '.join(names)}. Ask the caller which one.",
        options=names,
    )


# -- the calendar --------------------------------------------------------------------------------
def rules_for(service: Service, business: BusinessInfo) -> SlotRules:
    return SlotRules(duration=timedelta(minutes=service.duration_min), step=SLOT, tz=business.tz)


def _blocks(appointment: Appointment) -> tuple[datetime, datetime]:
    """What an appointment keeps busy: the whole 15-minute blocks the database reserves for it."""
    blocks = slot_starts(appointment.start_at, appointment.end_at)
    return blocks[0], blocks[-1] + SLOT


async def opening_hours(db: AsyncSession, business_id: int) -> list[BusinessHours]:
    query = select(BusinessHours).where(BusinessHours.business_id == business_id)
    return list(await db.scalars(query.order_by(BusinessHours.weekday, BusinessHours.opens)))


async def load_calendar(
    db: AsyncSession, business: BusinessInfo, first: date, count: int = SEARCH_DAYS + 1
) -> dict[date, DaySchedule]:
    """Each day's opening hours and busy times, for ``count`` days from ``first`` (two queries)."""
    tz = business.tz
    by_weekday: dict[int, list[tuple[time, time]]] = {}
    for row in await opening_hours(db, business.id):
        by_weekday.setdefault(row.weekday, []).append((row.opens, row.closes))
    start = local_datetime(first, time(0), tz)
    end = local_datetime(first + timedelta(days=count), time(0), tz)
    busy = [_blocks(a) for a in await booked_between(db, business.id, start, end)]
    calendar: dict[date, DaySchedule] = {}
    for offset in range(count):
        day = first + timedelta(days=offset)
        day_start = local_datetime(day, time(0), tz)
        day_end = local_datetime(day + timedelta(days=1), time(0), tz)
        calendar[day] = DaySchedule(
            day,
            hours=tuple(by_weekday.get(day.weekday(), ())),
            busy=tuple((s, e) for s, e in busy if s < day_end and e > day_start),
        )
    return calendar


@dataclass(frozen=True, slots=True)
class DayAvailability:
    """What a day looks like for one service, and, when a time was asked for, whether it is free."""

    service: Service
    day: date
    state: DayState
    free: tuple[datetime, ...]
    """Every free start that day (on the 15-minute grid)."""
    requested: datetime | None = None
    available: bool = False
    """The requested time is free; without one, some time that day is."""
    reason: Literal["past", "closed", "outside_hours", "taken", "full"] | None = None
    alternatives: tuple[datetime, ...] = ()
    hours: Sequence[tuple[time, time]] = ()


def _earliest(
    calendar: dict[date, DaySchedule], after: date, rules: SlotRules, now: datetime, limit: int
) -> tuple[datetime, ...]:
    found: list[datetime] = []
    for day in sorted(d for d in calendar if d > after):
        found.extend(free_slots(calendar[day], rules, now)[: limit - len(found)])
        if len(found) >= limit:
            break
    return tuple(found)


async def nearest_free(
    db: AsyncSession, business: BusinessInfo, service: Service, wanted: datetime, now: datetime
) -> tuple[datetime, ...]:
    """The free starts nearest ``wanted``: that day first, then the following open days.

    A time in the past is looked for at the same time of day from today on: whoever asked for last
    Tuesday at 10 most likely wants a morning again.
    """
    tz = business.tz
    local = wanted.astimezone(tz)
    today = local_today(now, tz)
    if local.date() < today:
        local = local_datetime(today, local.time(), tz)
    calendar = await load_calendar(db, business, local.date())
    rules = rules_for(service, business)
    found = suggest(local, calendar.get, rules, now, limit=ALTERNATIVES, max_days=SEARCH_DAYS)
    if found.available:  # only when moved to today: that time itself is free, and what is around it
        free = free_slots(calendar[local.date()], rules, now)
        return tuple(sorted(free, key=lambda s: (abs(s - local), s))[:ALTERNATIVES]) or (local,)
    return found.alternatives


async def availability(
    db: AsyncSession,
    business: BusinessInfo,
    service: Service,
    day: date,
    at: time | None,
    now: datetime,
) -> DayAvailability:
    """Free times for ``service`` on ``day``; with ``at``, whether that time is free and, if not, the
    nearest free times (that day first, then the following open days)."""
    tz = business.tz
    today = local_today(now, tz)
    calendar = await load_calendar(db, business, day)
    rules = rules_for(service, business)
    schedule = calendar[day]
    free = tuple(free_slots(schedule, rules, now))
    state: DayState = "past" if day < today else "closed" if schedule.closed else "open" if free else "full"
    if at is not None:
        requested = local_datetime(day, at, tz)
        reason = why_unavailable(requested, schedule, rules, now)
        alternatives = await nearest_free(db, business, service, requested, now) if reason else ()
        return DayAvailability(
            service, day, state, free, requested, reason is None, reason, alternatives, schedule.hours
        )
    if free:
        return DayAvailability(service, day, state, free, None, True, None, (), schedule.hours)
    # Nothing that day: the earliest free times after it (from today on, for a day in the past).
    if day < today:
        calendar = await load_calendar(db, business, today)
    after = max(day, today - timedelta(days=1))
    alternatives = _earliest(calendar, after, rules, now, ALTERNATIVES)
    reason_day: Literal["past", "closed", "full"] = (
        "past" if state == "past" else "closed" if state == "closed" else "full"
    )
    return DayAvailability(service, day, state, free, None, False, reason_day, alternatives, schedule.hours)


# -- clients -------------------------------------------------------------------------------------
def client_phone(raw: str) -> str:
    """The E.164 form of a caller's number; ``SalonError`` when it is not a phone number."""
    try:
        return normalize_phone(raw)
    except InvalidPhoneNumber as exc:
        raise SalonError("invalid_phone", exc.message) from None


async def find_client(db: AsyncSession, business_id: int, phone_e164: str) -> Client | None:
    return await db.scalar(
        select(Client).where(Client.business_id == business_id, Client.phone == phone_e164)
    )


async def client_for(db: AsyncSession, business_id: int, name: str, phone_e164: str) -> tuple[Client, bool]:
    """The client with this phone number, added when new; ``(client, created)``."""
    existing = await find_client(db, business_id, phone_e164)
    if existing is not None:
        return existing, False
    client = Client(business_id=business_id, name=name, phone=phone_e164)
    try:
        async with db.begin_nested():
            db.add(client)
            await db.flush()
    except IntegrityError:
        # A concurrent booking added the same client first (PostgreSQL; SQLite serialises writers).
        existing = await find_client(db, business_id, phone_e164)
        if existing is None:
            raise
        return existing, False
    return client, True


async def upcoming_appointments(
    db: AsyncSession, business_id: int, client_id: int, now: datetime, limit: int = 5
) -> list[tuple[Appointment, Service]]:
    rows = await db.execute(
        select(Appointment, Service)
        .join(Service, Service.id == Appointment.service_id)
        .where(
            Appointment.business_id == business_id,
            Appointment.client_id == client_id,
            Appointment.status == "booked",
            Appointment.start_at >= now,
        )
        .order_by(Appointment.start_at)
        .limit(limit)
    )
    return [(appointment, service) for appointment, service in rows]


# -- booking -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Booked:
    appointment: Appointment
    service: Service
    client: Client
    new_client: bool


def _refusal(
    reason: str, start: datetime, business: BusinessInfo, service: Service, hours: Sequence[tuple[time, time]]
) -> str:
    local = start.astimezone(business.tz)
    when = f"{local:%Y-%m-%d %H:%M}"
    if reason == "past":
        return f"{when} has already passed."
    if reason == "closed":
        return f"The salon is closed on {local:%A} {local:%Y-%m-%d}."
    if reason == "outside_hours":
        opening = ", ".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in hours)
        return (
            f"{service.name} takes {service.duration_min} minutes and does not fit at {local:%H:%M}: "
            f"that day the salon is open {opening}."
        )
    return f"{when} is already booked."


def checked_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME:
        raise SalonError("invalid_name", f"A client's name is 1 to {MAX_NAME} characters.")
    # Control characters are never part of a name (and PostgreSQL refuses NUL in text).
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise SalonError("invalid_name", "A client's name cannot contain control characters.")
    return name


async def book(
    db: AsyncSession,
    business: BusinessInfo,
    *,
    service: Service,
    start: datetime,
    client_name: str,
    client_phone_raw: str,
    source: AppointmentSource,
    now: datetime,
    session_id: str | None = None,
) -> Booked:
    """Book ``service`` at ``start`` for the client (added when new); raises ``SalonError``."""
    name = checked_name(client_name)
    phone = client_phone(client_phone_raw)
    day = start.astimezone(business.tz).date()
    rules = rules_for(service, business)
    calendar = await load_calendar(db, business, day)
    reason = why_unavailable(start, calendar[day], rules, now)
    if reason is not None:
        raise SalonError(
            reason,
            _refusal(reason, start, business, service, calendar[day].hours),
            alternatives=await nearest_free(db, business, service, start, now),
        )
    client, created = await client_for(db, business.id, name, phone)
    try:
        appointment = await book_appointment(
            db,
            business_id=business.id,
            service_id=service.id,
            client_id=client.id,
            start_at=start,
            end_at=start + rules.duration,
            source=source,
            session_id=session_id,
        )
    except SlotTaken:
        # Booked by someone else between our read and our write: the database refused the second one.
        raise SalonError(
            "taken",
            _refusal("taken", start, business, service, ()),
            alternatives=await nearest_free(db, business, service, start, now),
        ) from None
    return Booked(appointment, service, client, created)

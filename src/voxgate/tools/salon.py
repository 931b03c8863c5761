"""The salon receptionist's tools: services, free times, clients and bookings, on the database.

Dates and times come as the caller said them or as the model normalised them: "2030-03-05",
"mâine", "luni", "poimâine la 10"; "10:30", "la 10", "zece și jumătate" (``tools.ro_time``), read
in the salon's time zone against the injected clock. Answers give dates as ISO and times as the
salon's wall clock (``HH:MM``), with the weekday in the salon's language.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from datetime import time as Time
from typing import Annotated, Any, Final

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.business import BusinessInfo
from voxgate.store import salon
from voxgate.store.models import Service
from voxgate.tools.registry import ToolContext, ToolError, ToolRegistry
from voxgate.tools.ro_time import local_datetime, parse_date_time, parse_time
from voxgate.tools.storage import OUTCOME_STATE_KEY, business_of, transaction

WEEKDAYS: Final[dict[str, tuple[str, ...]]] = {
    "ro": ("luni", "marți", "miercuri", "joi", "vineri", "sâmbătă", "duminică"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
FILLERS: Final[dict[str, dict[str, str]]] = {
    "services": {"ro": "Un moment, mă uit la servicii.", "en": "One moment, let me look at our services."},
    "schedule": {"ro": "Un moment, verific programul.", "en": "One moment, let me check the schedule."},
    "client": {"ro": "Un moment, vă caut în agendă.", "en": "One moment, let me look you up."},
    "booking": {"ro": "Un moment, fac programarea.", "en": "One moment, I am booking that for you."},
}

DayText = Annotated[str, Field(min_length=1, max_length=100)]
TimeText = Annotated[str, Field(min_length=1, max_length=60)]
PhoneText = Annotated[str, Field(min_length=3, max_length=40)]
NameText = Annotated[str, Field(min_length=1, max_length=200)]
ServiceRef = Annotated[str, Field(min_length=1, max_length=200)]


def weekday(day: Date, language: str) -> str:
    return WEEKDAYS.get(language, WEEKDAYS["en"])[day.weekday()]


def _when(moment: datetime, business: BusinessInfo) -> dict[str, Any]:
    local = moment.astimezone(business.tz)
    return {
        "date": local.date().isoformat(),
        "weekday": weekday(local.date(), business.language),
        "time": f"{local:%H:%M}",
        "start": local.isoformat(),
    }


def _refused(exc: salon.SalonError, business: BusinessInfo) -> ToolError:
    details: dict[str, Any] = {}
    message = exc.message
    if exc.alternatives:
        details["alternatives"] = [_when(a, business) for a in exc.alternatives]
        message += " Offer the caller the alternatives."
    if exc.options:
        details["options"] = list(exc.options)
    return ToolError(message, exc.code, **details)


def _parse_day(text: str, ctx: ToolContext, business: BusinessInfo) -> tuple[Date, Time | None]:
    """The day in ``text`` and, when it also names one, the time ("mâine la 10")."""
    found = parse_date_time(text, ctx.now(), tz=business.tz)
    if found.date.value is None:
        raise ToolError(
            f"Could not read a date from {text!r}. Pass YYYY-MM-DD or the caller's words, "
            "like 'mâine', 'luni' or '5 martie'.",
            "invalid_date",
        )
    return found.date.value, found.time.value


def _parse_time(text: str) -> Time:
    found = parse_time(text)
    if found.value is None:
        raise ToolError(
            f"Could not read a time from {text!r}. Pass HH:MM or the caller's words, like 'la 10'.",
            "invalid_time",
        )
    return found.value


async def _service(db: AsyncSession, business: BusinessInfo, service: str) -> Service:
    """The service by name (as listed, or as the caller said it) or by id ("3")."""
    text = service.strip()
    by_id = int(text) if text.isdigit() and len(text) <= 9 else None
    try:
        return await salon.find_service(db, business.id, service_id=by_id, name=None if by_id else text)
    except salon.SalonError as exc:
        raise _refused(exc, business) from None


def _service_fields(service: Service) -> dict[str, Any]:
    return {
        "service_id": service.id,
        "service": service.name,
        "duration_min": service.duration_min,
        "price": float(service.price),
    }


def register(registry: ToolRegistry) -> None:
    @registry.tool(client_callable=True, filler=FILLERS["services"])
    async def get_available_services(ctx: ToolContext) -> dict[str, Any]:
        """List the salon's services with their id, category, duration in minutes and price in lei."""
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "salon")
            services = await salon.active_services(db, business.id)
        return {
            "salon": business.name,
            "currency": "RON",
            "services": [
                {
                    "id": s.id,
                    "name": s.name,
                    "category": s.category,
                    "duration_min": s.duration_min,
                    "price": float(s.price),
                }
                for s in services
            ],
        }

    @registry.tool(filler=FILLERS["schedule"])
    async def check_appointment_availability(
        ctx: ToolContext,
        service: ServiceRef,
        date: DayText,
        preferred_time: TimeText | None = None,
    ) -> dict[str, Any]:
        """Check when a service can be booked on a day: the free times, or whether the preferred time
        is free and, if it is not, the nearest free alternatives. Call it before booking.

        Args:
            service: The service's name as get_available_services lists it (e.g. "Tuns"), or its id.
            date: The day, as YYYY-MM-DD or as the caller said it ("mâine", "luni", "5 martie").
            preferred_time: The time the caller wants, as HH:MM or as said ("la 10", "zece și jumătate").
        """
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "salon")
            chosen = await _service(db, business, service)
            day, said_time = _parse_day(date, ctx, business)
            at = _parse_time(preferred_time) if preferred_time else said_time
            found = await salon.availability(db, business, chosen, day, at, ctx.now())
        out: dict[str, Any] = {
            **_service_fields(chosen),
            "date": day.isoformat(),
            "weekday": weekday(day, business.language),
        }
        if found.requested is not None:
            out["requested_time"] = f"{found.requested.astimezone(business.tz):%H:%M}"
        out["available"] = found.available
        if found.hours:
            out["opening_hours"] = ", ".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in found.hours)
        if not found.available:
            out["reason"] = found.reason
        if found.requested is None and found.free:
            out["free_times"] = [f"{s.astimezone(business.tz):%H:%M}" for s in found.free]
        if found.alternatives:
            out["alternatives"] = [_when(a, business) for a in found.alternatives]
        return out

    @registry.tool(filler=FILLERS["client"])
    async def find_existing_client(ctx: ToolContext, phone: PhoneText) -> dict[str, Any]:
        """Look a client up by phone number, with their upcoming appointments.

        Args:
            phone: The caller's phone number, in any usual form ("0722 123 456", "+40722123456").
        """
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "salon")
            try:
                e164 = salon.client_phone(phone)
            except salon.SalonError as exc:
                raise _refused(exc, business) from None
            client = await salon.find_client(db, business.id, e164)
            if client is None:
                return {"found": False, "phone": e164}
            upcoming = await salon.upcoming_appointments(db, business.id, client.id, ctx.now())
        return {
            "found": True,
            "client_id": client.id,
            "client_name": client.name,
            "phone": client.phone,
            "upcoming_appointments": [
                {
                    "appointment_id": a.id,
                    "service_id": s.id,
                    "service": s.name,
                    **_when(a.start_at, business),
                }
                for a, s in upcoming
            ],
        }

    @registry.tool(filler=FILLERS["booking"])
    async def create_voice_appointment(
        ctx: ToolContext,
        service: ServiceRef,
        date: DayText,
        time: TimeText,
        client_name: NameText,
        phone: PhoneText,
    ) -> dict[str, Any]:
        """Book an appointment once you have the service, the day, the time, the client's name and phone
        number. A new client is added. Refused for a past time, a closed day, outside opening hours
        or a time already booked; the error then lists the nearest free alternatives.

        Args:
            service: The service's name as get_available_services lists it (e.g. "Tuns"), or its id.
            date: The day, as YYYY-MM-DD or as the caller said it ("mâine", "luni").
            time: The start time, as HH:MM or as said ("la 10", "zece și jumătate").
            client_name: The client's full name.
            phone: The client's phone number.
        """
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "salon")
            chosen = await _service(db, business, service)
            day, _ = _parse_day(date, ctx, business)
            start = local_datetime(day, _parse_time(time), business.tz)
            try:
                booked = await salon.book(
                    db,
                    business,
                    service=chosen,
                    start=start,
                    client_name=client_name,
                    client_phone_raw=phone,
                    source="voice",
                    now=ctx.now(),
                    session_id=ctx.session_id,
                )
            except salon.SalonError as exc:
                raise _refused(exc, business) from None
        ctx.state[OUTCOME_STATE_KEY] = "booked"
        when = _when(booked.appointment.start_at, business)
        return {
            "booked": True,
            "appointment_id": booked.appointment.id,
            "service": chosen.name,
            "weekday": when["weekday"],
            "date": when["date"],
            "time": when["time"],
            "client_name": booked.client.name,
            "price": float(chosen.price),
            "end_time": f"{booked.appointment.end_at.astimezone(business.tz):%H:%M}",
            "service_id": chosen.id,
            "duration_min": chosen.duration_min,
            "phone": booked.client.phone,
            "client_id": booked.client.id,
            "new_client": booked.new_client,
            "start": when["start"],
        }

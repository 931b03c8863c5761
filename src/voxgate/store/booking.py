"""Appointments that cannot overlap: the database refuses a double booking, whoever races.

An appointment occupies one ``appointment_slots`` row per 15-minute block it touches, unique per
(business, resource, slot start), inserted in the same transaction as the appointment. Two bookings of
one time therefore cannot both commit, on SQLite or PostgreSQL, however they interleave; the loser gets
``SlotTaken`` (an ``IntegrityError``). A read-before-write availability check is still useful to offer
alternatives, but it is not what keeps the calendar consistent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.store.models import DEFAULT_RESOURCE, Appointment, AppointmentSlot, AppointmentSource

SLOT: Final = timedelta(minutes=15)
SLOT_UNIQUE_CONSTRAINT: Final = "uq_appointment_slots_business_id_resource_slot_start"


class SlotTaken(IntegrityError):
    """The requested time overlaps an appointment already booked for that business and resource."""


def slot_starts(start: datetime, end: datetime) -> list[datetime]:
    """The starts (UTC) of the 15-minute blocks that ``[start, end)`` touches.

    Blocks are aligned to the quarter hour, so an appointment at 10:10 occupies the 10:00 block.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("appointment times must be timezone-aware")
    # Compare in UTC: aware datetimes sharing a zone compare by wall clock, which lies across DST.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ValueError("an appointment must end after it starts")
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    current = midnight + SLOT * ((start - midnight) // SLOT)
    slots = []
    while current < end:
        slots.append(current)
        current += SLOT
    return slots


def _is_slot_conflict(exc: IntegrityError) -> bool:
    message = str(exc.orig)
    # PostgreSQL names the constraint; SQLite names the table and columns.
    return SLOT_UNIQUE_CONSTRAINT in message or "UNIQUE constraint failed: appointment_slots." in message


async def book_appointment(
    db: AsyncSession,
    *,
    business_id: int,
    service_id: int,
    client_id: int,
    start_at: datetime,
    end_at: datetime,
    source: AppointmentSource,
    session_id: str | None = None,
    resource: str = DEFAULT_RESOURCE,
) -> Appointment:
    """Add an appointment and its slots; raises ``SlotTaken`` when the time is no longer free.

    Runs in a savepoint, so after ``SlotTaken`` the caller's transaction is still usable (to look up
    alternatives, say). The caller commits.
    """
    appointment = Appointment(
        business_id=business_id,
        service_id=service_id,
        client_id=client_id,
        resource=resource,
        start_at=start_at,
        end_at=end_at,
        status="booked",
        source=source,
        session_id=session_id,
        slots=[
            AppointmentSlot(business_id=business_id, resource=resource, slot_start=slot)
            for slot in slot_starts(start_at, end_at)
        ],
    )
    try:
        async with db.begin_nested():
            db.add(appointment)
            await db.flush()
    except IntegrityError as exc:
        if _is_slot_conflict(exc):
            raise SlotTaken(exc.statement, exc.params, exc.orig or exc) from exc
        raise
    return appointment


async def cancel_appointment(db: AsyncSession, appointment_id: int) -> bool:
    """Cancel an appointment and free its time; ``False`` when there is no such booked appointment."""
    appointment = await db.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None or appointment.status != "booked":
        return False
    appointment.status = "cancelled"
    await db.execute(delete(AppointmentSlot).where(AppointmentSlot.appointment_id == appointment_id))
    await db.flush()
    return True


async def booked_between(
    db: AsyncSession, business_id: int, start: datetime, end: datetime, resource: str = DEFAULT_RESOURCE
) -> list[Appointment]:
    """Booked appointments overlapping ``[start, end)``, by start time (for availability answers)."""
    result = await db.scalars(
        select(Appointment)
        .where(
            Appointment.business_id == business_id,
            Appointment.resource == resource,
            Appointment.status == "booked",
            Appointment.start_at < end,
            Appointment.end_at > start,
        )
        .order_by(Appointment.start_at)
    )
    return list(result)

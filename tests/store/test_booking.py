"""Double bookings are impossible: the database refuses them, even when 20 callers race for a slot."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.booking import (
    SLOT,
    SlotTaken,
    book_appointment,
    booked_between,
    cancel_appointment,
    slot_starts,
)
from voxgate.store.models import Appointment, AppointmentSlot, Business, Client, MenuItem, Service

BUCHAREST = ZoneInfo("Europe/Bucharest")
DAY = datetime(2030, 3, 4, tzinfo=BUCHAREST)  # a Monday


@dataclass
class Salon:
    business_id: int
    service_id: int
    client_id: int


@pytest.fixture
async def salon(sessions: async_sessionmaker[AsyncSession]) -> Salon:
    async with sessions() as db, db.begin():
        business = Business(slug="salon", kind="salon", name="Salon Ana", language="ro")
        db.add(business)
        await db.flush()
        service = Service(
            business_id=business.id, name="Tuns", category="păr", duration_min=30, price=Decimal("80")
        )
        client = Client(business_id=business.id, name="Ana Pop", phone="+40722123456")
        db.add_all([service, client])
        await db.flush()
        return Salon(business.id, service.id, client.id)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


async def _book(db: AsyncSession, salon: Salon, start: datetime, minutes: int = 30) -> Appointment:
    return await book_appointment(
        db,
        business_id=salon.business_id,
        service_id=salon.service_id,
        client_id=salon.client_id,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        source="voice",
    )


async def test_twenty_concurrent_overlapping_bookings_one_wins(
    sessions: async_sessionmaker[AsyncSession], salon: Salon
) -> None:
    # Starts from 09:50 to 10:09, 30 minutes each: every one of them needs the 10:00 block.
    starts = [at(9, 50) + timedelta(minutes=k) for k in range(20)]
    barrier = asyncio.Barrier(len(starts))

    async def attempt(start: datetime) -> int:
        async with sessions() as db:
            await barrier.wait()  # all sessions ready before anyone writes
            async with db.begin():
                appointment = await _book(db, salon, start)
            return appointment.id

    results = await asyncio.gather(*(attempt(start) for start in starts), return_exceptions=True)

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if not isinstance(r, int)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert all(isinstance(r, SlotTaken) and isinstance(r, IntegrityError) for r in losers), losers
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Appointment)) == 1
        slots = (await db.scalars(select(AppointmentSlot.appointment_id))).all()
        assert set(slots) == {winners[0]}


async def test_adjacent_appointments_fit_and_cancelling_frees_the_time(
    sessions: async_sessionmaker[AsyncSession], salon: Salon
) -> None:
    async with sessions() as db, db.begin():
        first = await _book(db, salon, at(10))
        await _book(db, salon, at(10, 30))  # starts when the first ends
    async with sessions() as db, db.begin():
        with pytest.raises(SlotTaken):
            await _book(db, salon, at(10, 15))
        # The savepoint rolled back alone: this transaction is still usable.
        assert len(await booked_between(db, salon.business_id, at(9), at(12))) == 2
        assert await cancel_appointment(db, first.id)
        assert not await cancel_appointment(db, first.id)  # already cancelled
    async with sessions() as db, db.begin():
        again = await _book(db, salon, at(10))
    async with sessions() as db:
        booked = await booked_between(db, salon.business_id, at(9), at(12))
        assert [a.id for a in booked] == [again.id, booked[1].id]
        assert [a.start_at for a in booked] == [at(10), at(10, 30)]
        cancelled = await db.get(Appointment, first.id)
        assert cancelled is not None and cancelled.status == "cancelled"


async def test_other_resources_and_businesses_do_not_collide(
    sessions: async_sessionmaker[AsyncSession], salon: Salon
) -> None:
    async with sessions() as db, db.begin():
        await _book(db, salon, at(11))
        await book_appointment(
            db,
            business_id=salon.business_id,
            service_id=salon.service_id,
            client_id=salon.client_id,
            start_at=at(11),
            end_at=at(11, 30),
            source="admin",
            resource="chair-2",
        )


async def test_stock_cannot_go_negative(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db, db.begin():
        bar = Business(slug="bar", kind="bar", name="Bar")
        db.add(bar)
        await db.flush()
        beer = MenuItem(business_id=bar.id, name="Beer", price=Decimal("12.50"), alcoholic=True, stock=1)
        db.add(beer)
    with pytest.raises(IntegrityError):
        async with sessions() as db, db.begin():
            await db.execute(update(MenuItem).values(stock=MenuItem.stock - 2))
    async with sessions() as db:
        item = await db.scalar(select(MenuItem))
        assert item is not None and item.stock == 1 and item.price == Decimal("12.50")


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2040, 1, 1),
        timezones=st.sampled_from([UTC, BUCHAREST]),
    ),
    minutes=st.integers(min_value=1, max_value=600),
)
def test_slots_cover_the_appointment_exactly(start: datetime, minutes: int) -> None:
    end = start.astimezone(UTC) + timedelta(minutes=minutes)  # elapsed time, whatever DST does
    slots = slot_starts(start, end)
    assert slots[0] <= start < slots[0] + SLOT
    assert slots[-1] < end <= slots[-1] + SLOT
    assert all(b - a == SLOT for a, b in pairwise(slots))
    assert all(s.tzinfo is UTC and s.minute % 15 == 0 and s.second == 0 and s.microsecond == 0 for s in slots)


def test_slots_refuse_naive_and_empty_intervals() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slot_starts(datetime(2030, 1, 1, 10), datetime(2030, 1, 1, 11))
    with pytest.raises(ValueError, match="end after"):
        slot_starts(at(10), at(10))
    # 03:00 to 04:00 on the night clocks spring forward is no time at all.
    with pytest.raises(ValueError, match="end after"):
        slot_starts(datetime(2030, 3, 31, 3, tzinfo=BUCHAREST), datetime(2030, 3, 31, 4, tzinfo=BUCHAREST))

"""The demo bar and salon load idempotently, and a session's business is found by slug, number or kind."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_testkit import started

from voxgate.business import resolve_business
from voxgate.store.demo import BELLA, BLUE_NOTE, is_empty, load_demo
from voxgate.store.models import Business, BusinessHours, MenuItem, Service, Session
from voxgate.tools.phones import normalize_phone


async def _count(sessions: async_sessionmaker[AsyncSession], table: type) -> int:
    async with sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(table)) or 0)


async def test_demo_data_loads_once_and_keeps_later_changes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert await is_empty(sessions)
    first = await load_demo(sessions)
    assert first.businesses == ["blue-note", "bella"] and first.changed
    counts = {t: await _count(sessions, t) for t in (Business, BusinessHours, MenuItem, Service)}
    assert counts == {Business: 2, BusinessHours: 13, MenuItem: 8, Service: 5}

    async with sessions() as db, db.begin():
        await db.execute(
            update(MenuItem).where(MenuItem.name == "Mojito").values(price=Decimal("35"), stock=3)
        )
        await db.execute(MenuItem.__table__.delete().where(MenuItem.name == "Lemonade"))
    again = await load_demo(sessions)
    assert again.businesses == [] and again.rows == 1  # only the missing Lemonade
    async with sessions() as db:
        mojito = await db.scalar(select(MenuItem).where(MenuItem.name == "Mojito"))
        assert mojito is not None and (mojito.price, mojito.stock) == (Decimal("35.00"), 3)
    assert not (await load_demo(sessions)).changed
    assert not await is_empty(sessions)


async def test_the_demo_salon_is_romanian_and_open_monday_to_saturday(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await load_demo(sessions)
    async with sessions() as db:
        bella = await db.scalar(select(Business).where(Business.slug == "bella"))
        assert bella is not None
        assert (bella.kind, bella.language, bella.timezone) == ("salon", "ro", "Europe/Bucharest")
        assert bella.phone_number == normalize_phone(BELLA.phone_number)
        weekdays = set(
            await db.scalars(select(BusinessHours.weekday).where(BusinessHours.business_id == bella.id))
        )
        assert weekdays == {0, 1, 2, 3, 4, 5}
        alcoholic = set(await db.scalars(select(MenuItem.name).where(MenuItem.alcoholic.is_(True))))
        assert "Mojito" in alcoholic and "Lemonade" not in alcoholic


async def test_a_database_with_conversations_is_not_empty(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db, db.begin():
        record = started("vgs_1")
        db.add(Session(id=record.session_id, channel="web", agent="bartender", started_at=record.started_at))
    assert not await is_empty(sessions)


async def test_resolve_business_by_slug_number_or_kind(sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await resolve_business(sessions, slug="bella") is None
    await load_demo(sessions)
    bella = await resolve_business(sessions, slug="bella")
    assert (
        bella is not None
        and bella.kind == "salon"
        and bella.agent == "salon"
        and bella.tz.key == BELLA.timezone
    )
    assert await resolve_business(sessions, slug="BELLA ") == bella
    # The number a caller dialled, in any spelling.
    assert await resolve_business(sessions, phone="021 312 3456") == bella
    assert await resolve_business(sessions, phone=BLUE_NOTE.phone_number) == await resolve_business(
        sessions, slug="blue-note"
    )
    assert await resolve_business(sessions, phone="+40 21 999 9999") is None
    assert await resolve_business(sessions, phone="not a number") is None
    # Alone, a kind means the first business of that kind; with a slug it must agree.
    bar = await resolve_business(sessions, kind="bar")
    assert bar is not None and bar.slug == "blue-note" and bar.agent == "bartender"
    assert await resolve_business(sessions, slug="bella", kind="bar") is None
    assert await resolve_business(sessions) is not None
    for hostile in ("", "bella'; --", "x\x00", "a" * 65):
        assert await resolve_business(sessions, slug=hostile) is None
    assert await resolve_business(None, slug="bella") is None

"""Event rows skip SQLAlchemy's parameter processing: they must read back as the ORM would store them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voxgate.store import models
from voxgate.store.apply import EVENT_ROWS_PER_STATEMENT, apply_records
from voxgate.store.records import EventRecord, SessionStarted

BUCHAREST = timezone(timedelta(hours=2))


async def test_event_rows_read_back_exactly(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    start = datetime(2030, 1, 7, 12, 0, 0, 1, tzinfo=UTC)
    events = [
        EventRecord(
            session_id="s",
            seq=n,
            direction="in" if n % 2 else "out",
            type="response.output_text.delta" if n else "x" * 200,
            payload={"type": "t", "n": n, "text": "ăîșț €", "nested": {"1": [1, 2.5, None, True]}},
            # Every other time given in another zone: stored as the same instant in UTC.
            at=(start + timedelta(seconds=n)).astimezone(BUCHAREST if n % 2 else UTC),
        )
        for n in range(EVENT_ROWS_PER_STATEMENT + 3)
    ]
    async with engine.begin() as conn:
        await apply_records(
            conn, [SessionStarted(session_id="s", channel="web", agent="a", started_at=start)]
        )
        await apply_records(conn, events)
        await apply_records(conn, events[:5])  # written again (a replay): nothing changes
    async with sessions() as db:
        rows = list(await db.scalars(select(models.Event).order_by(models.Event.seq)))
        # The times sort and compare as times in SQL too (SQLite compares the stored text).
        later = await db.scalars(
            select(models.Event.seq).where(models.Event.at > start + timedelta(seconds=200))
        )
        assert sorted(later) == list(range(201, len(events)))
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert (row.session_id, row.seq, row.direction) == (event.session_id, event.seq, event.direction)
        assert row.type == event.type[:96]
        assert row.payload == event.payload
        assert row.at == event.at and row.at.tzinfo is not None


async def test_a_naive_event_time_is_refused(engine: AsyncEngine) -> None:
    naive = EventRecord(session_id="s", seq=0, direction="in", type="t", payload={}, at=datetime(2030, 1, 7))
    with pytest.raises(ValueError, match="naive datetime"):
        async with engine.begin() as conn:
            await apply_records(conn, [naive])

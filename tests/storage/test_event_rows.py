"""Event blocks skip SQLAlchemy's parameter processing: they must read back as the ORM would store them,
through the API's reader and through the ``events`` view that unpacks them for SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voxgate.store.apply import apply_records
from voxgate.store.queries import session_events
from voxgate.store.records import EventBlock, EventRecord, SessionStarted

BUCHAREST = timezone(timedelta(hours=2))
START = datetime(2030, 1, 7, 12, 0, 0, 1, tzinfo=UTC)


def entry(seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "direction": "in" if seq % 2 else "out",
        "type": "response.output_text.delta",
        "at": START + timedelta(seconds=seq),
        "payload": {"type": "t", "n": seq, "text": "ăîșț €", "nested": {"1": [1, 2.5, None, True]}},
    }


def block(first: int, last: int) -> EventBlock:
    entries = [entry(seq) for seq in range(first, last + 1)]
    # A block's time given in another zone is stored as the same instant in UTC.
    return EventBlock(
        session_id="s",
        first_seq=first,
        last_seq=last,
        at=START.astimezone(BUCHAREST),
        events_json=orjson.dumps(entries),
    )


async def test_blocks_read_back_in_seq_order_page_by_page(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    blocks = [block(n * 10, n * 10 + 9) for n in range(60)]
    async with engine.begin() as conn:
        await apply_records(
            conn, [SessionStarted(session_id="s", channel="web", agent="a", started_at=START)]
        )
        await apply_records(conn, blocks[::-1])  # inserted out of order
        await apply_records(conn, blocks[:5])  # written again (a replay): nothing changes
    async with sessions() as db:
        everything = await session_events(db, "s", limit=10_000)
        page = await session_events(db, "s", after_seq=95, limit=250)
    assert [e.seq for e in everything] == list(range(600))
    assert [e.seq for e in page] == list(range(96, 346))
    for stored in everything[:3]:
        expected = entry(stored.seq)
        assert (stored.direction, stored.type, stored.payload) == (
            expected["direction"],
            expected["type"],
            expected["payload"],
        )
        assert stored.at == expected["at"] and stored.at.tzinfo is not None


async def test_the_events_view_has_a_row_per_event(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with engine.begin() as conn:
        await apply_records(
            conn, [SessionStarted(session_id="s", channel="web", agent="a", started_at=START)]
        )
        await apply_records(conn, [block(0, 4), block(5, 9)])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT seq, direction, type FROM events WHERE seq >= 3 ORDER BY seq"))
        ).all()
        # Times compare as times: ISO text in UTC on SQLite, timestamptz on PostgreSQL.
        since = (
            "'2030-01-07T12:00:07'"
            if engine.dialect.name == "sqlite"
            else "timestamptz '2030-01-07 12:00:07+00'"
        )
        later = await conn.scalar(text(f"SELECT count(*) FROM events WHERE at > {since}"))
    assert [tuple(row) for row in rows] == [
        (n, entry(n)["direction"], entry(n)["type"]) for n in range(3, 10)
    ]
    assert later == 3  # 12:00:07.000001, :08 and :09


async def test_a_single_event_record_from_an_old_journal_is_stored_as_a_block(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    old = EventRecord(
        session_id="s",
        seq=0,
        direction="in",
        type="x" * 200,
        payload={"a": 1},
        at=START.astimezone(BUCHAREST),
    )
    async with engine.begin() as conn:
        await apply_records(
            conn, [SessionStarted(session_id="s", channel="web", agent="a", started_at=START)]
        )
        await apply_records(conn, [old, old])
    async with sessions() as db:
        (stored,) = await session_events(db, "s")
    assert (stored.seq, stored.direction, stored.type, stored.payload) == (0, "in", "x" * 96, {"a": 1})
    assert stored.at == START


async def test_a_naive_event_time_is_refused(engine: AsyncEngine) -> None:
    naive = EventRecord(session_id="s", seq=0, direction="in", type="t", payload={}, at=datetime(2030, 1, 7))
    with pytest.raises(ValueError, match="naive datetime"):
        async with engine.begin() as conn:
            await apply_records(conn, [naive])

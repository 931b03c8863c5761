"""Migrations: an empty database goes up to head and back down to empty, and the models agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, insert, inspect, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.store import migrate
from voxgate.store.engine import create_engine
from voxgate.store.models import Session, UTCDateTime, metadata
from voxgate.store.queries import session_events

T0 = datetime(2030, 1, 7, 12, 0, 0, 250_000, tzinfo=UTC)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def _diff(url: str) -> list[Any]:
    def compare(sync: Connection) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert migrate.MIGRATIONS_DIR.parent.name == "store"
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert migrate.head_revision() == "0002"


async def test_upgrade_an_empty_database_and_downgrade_to_empty(db_url: str) -> None:
    assert await migrate.current_revision(db_url) is None

    await migrate.upgrade(db_url)
    assert await migrate.current_revision(db_url) == migrate.head_revision()
    assert await _tables(db_url) == set(metadata.tables) | {"alembic_version"}

    await migrate.downgrade(db_url, "base")
    assert await migrate.current_revision(db_url) is None
    assert await _tables(db_url) == {"alembic_version"}

    # And up again: the downgrade left nothing behind that gets in the way.
    await migrate.upgrade(db_url)
    assert await migrate.current_revision(db_url) == migrate.head_revision()


async def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    await migrate.upgrade(db_url)
    await migrate.upgrade(db_url)
    assert await migrate.current_revision(db_url) == migrate.head_revision()


async def test_models_and_migrations_agree(migrated_url: str) -> None:
    assert await _diff(migrated_url) == []


async def test_events_move_into_blocks_and_back(db_url: str) -> None:
    """0002 moves the old ``events`` rows into blocks behind a view; the downgrade moves them back."""
    await migrate.upgrade(db_url, "0001")
    engine = create_engine(db_url)
    old_rows = [
        {
            "sid": sid,
            "seq": seq,
            "dir": "in" if seq % 2 else "out",
            "type": f"t{seq}",
            "payload": f'{{"n": {seq}}}',
        }
        for sid in ("a", "b")
        for seq in range(7 if sid == "a" else 3)
    ]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(Session.__table__),
                [{"id": sid, "channel": "web", "agent": "bartender", "started_at": T0} for sid in ("a", "b")],
            )
            old_events = table(
                "events",
                *(column(name) for name in ("session_id", "seq", "direction", "type", "payload")),
                column("at", UTCDateTime()),
            )
            await conn.execute(
                insert(old_events),
                [
                    {
                        "session_id": r["sid"],
                        "seq": r["seq"],
                        "direction": r["dir"],
                        "type": r["type"],
                        "payload": r["payload"],
                        "at": T0 + timedelta(seconds=r["seq"]),
                    }
                    for r in old_rows
                ],
            )
        await migrate.upgrade(db_url)
        async with engine.connect() as conn:
            blocks = (
                await conn.execute(text("SELECT session_id, first_seq, last_seq FROM event_blocks"))
            ).all()
            viewed = (
                await conn.execute(
                    text("SELECT session_id, seq, direction, type FROM events ORDER BY session_id, seq")
                )
            ).all()
        assert sorted(tuple(b) for b in blocks) == [("a", 0, 6), ("b", 0, 2)]
        assert [tuple(v) for v in viewed] == [(r["sid"], r["seq"], r["dir"], r["type"]) for r in old_rows]
        async with AsyncSession(engine) as db:
            (third,) = [e for e in await session_events(db, "a") if e.seq == 3]
        assert (third.payload, third.at) == ({"n": 3}, T0 + timedelta(seconds=3))

        await migrate.downgrade(db_url, "0001")
        await engine.dispose()  # PostgreSQL: statements cached against the view, now a table again
        async with engine.connect() as conn:
            back = (
                await conn.execute(
                    text("SELECT session_id, seq, direction, type FROM events ORDER BY session_id, seq")
                )
            ).all()
        assert [tuple(v) for v in back] == [(r["sid"], r["seq"], r["dir"], r["type"]) for r in old_rows]
        assert "event_blocks" not in await _tables(db_url)
    finally:
        await engine.dispose()

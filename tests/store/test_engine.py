"""Engines: URL handling, per-backend options, timestamps that stay timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.engine import DatabaseURLError, create_engine, normalize_url
from voxgate.store.models import Business, IdCheck, Service


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///./x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite"),
        ("sqlite://", "sqlite+aiosqlite"),
        ("postgres://u:p@db.example:5432/voxgate", "postgresql+asyncpg"),
        ("postgresql://u@db.example/voxgate", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db.example/voxgate", "postgresql+asyncpg"),
    ],
)
def test_usual_spellings_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+aiomysql://u:secret@h/db", "does not support"),
        ("not a url", "is not a database URL"),
        ("postgresql://u:secret@h", "names no database"),
        ("", "is not a database URL"),
    ],
)
def test_bad_urls_are_explained_without_the_password(url: str, says: str) -> None:
    with pytest.raises(DatabaseURLError, match=says) as info:
        create_engine(url)
    assert "secret" not in str(info.value)
    assert "sqlite+aiosqlite:///" in str(info.value)  # shows what would work


async def test_sqlite_options(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/nested/dir/x.db")  # the directory is created
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 15_000
    finally:
        await engine.dispose()


async def test_timestamps_come_back_aware_utc(sessions: async_sessionmaker[AsyncSession]) -> None:
    bucharest_summer = timezone(timedelta(hours=3))
    at = datetime(2025, 7, 1, 13, 30, tzinfo=bucharest_summer)
    async with sessions() as db, db.begin():
        db.add(IdCheck(session_id="s1", valid=True, adult=True, at=at))
    async with sessions() as db:
        stored = await db.scalar(select(IdCheck.at))
        assert stored == at
        assert stored is not None and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
        # Comparisons happen in UTC too: 10:30 UTC is the same instant.
        same = await db.scalar(
            select(IdCheck.id).where(IdCheck.at == datetime(2025, 7, 1, 10, 30, tzinfo=UTC))
        )
        assert same is not None


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with sessions() as db, db.begin():
            db.add(IdCheck(session_id="s1", valid=True, adult=True, at=datetime(2025, 7, 1, 13, 30)))


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(IntegrityError):
        async with sessions() as db, db.begin():
            db.add(Service(business_id=999, name="x", duration_min=30, price=10))
    async with sessions() as db, db.begin():
        db.add(Business(slug="b", kind="bar", name="Bar"))
    async with sessions() as db:
        business = await db.scalar(select(Business))
        assert business is not None
        assert business.timezone == "Europe/Bucharest"
        assert business.settings == {}

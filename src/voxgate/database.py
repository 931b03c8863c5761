"""The gateway's database at run time: migrate on start, a session factory for tools and queries,
and the write-behind writer for conversation records, drained on shutdown."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from voxgate.settings import ConfigError, Settings
from voxgate.store import DatabaseURLError, StoreWriter, create_engine, demo, session_factory
from voxgate.store.migrate import upgrade

log = logging.getLogger("voxgate.database")


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    writer: StoreWriter


def _engine(settings: Settings) -> AsyncEngine:
    try:
        return create_engine(settings.database_url)
    except DatabaseURLError as exc:
        raise ConfigError(f"DATABASE_URL: {exc}") from None


async def migrate(settings: Settings) -> str:
    """Bring the schema up to date (``voxgate db upgrade``, and before serving); a readable error if not."""
    engine = _engine(settings)
    try:
        await upgrade(settings.database_url)
    except (OperationalError, OSError) as exc:
        raise ConfigError(f"Cannot reach the database ({_safe(engine)}): {_reason(exc)}") from None
    finally:
        await engine.dispose()
    return _safe(engine)


async def load_demo_data(settings: Settings) -> tuple[str, demo.DemoReport]:
    """``voxgate demo-data``: bring the schema up to date, then add the demo bar and salon."""
    where = await migrate(settings)
    engine = _engine(settings)
    try:
        return where, await demo.load_demo(session_factory(engine))
    except (OperationalError, OSError) as exc:
        raise ConfigError(f"Cannot reach the database ({where}): {_reason(exc)}") from None
    finally:
        await engine.dispose()


async def open_database(settings: Settings, stack: AsyncExitStack) -> Database:
    """Connect, bring the schema up to date, start the writer; undone in reverse by ``stack``."""
    await migrate(settings)
    engine = _engine(settings)
    stack.push_async_callback(engine.dispose)
    # Batches of up to a second: a transaction costs far more than a row (several round trips to the
    # driver, each waiting its turn on the relay's busy loop), and nothing reads these records within
    # the second (the live view is fed in memory).
    writer = StoreWriter(engine, journal_path=settings.journal_path, batch_size=5000, flush_interval=1.0)
    await writer.start()
    stack.push_async_callback(_drain, writer)
    log.info(
        "database: %s (schema up to date; write-behind journal %s)", _safe(engine), settings.journal_path
    )
    sessions = session_factory(engine)
    if engine.dialect.name == "sqlite":
        await _demo_on_first_start(sessions)
    return Database(engine, sessions, writer)


async def _demo_on_first_start(sessions: async_sessionmaker[AsyncSession]) -> None:
    """An embedded database that has never held a business nor a conversation gets the demo bar and
    salon, so both agents work out of the box; a server database is left to ``voxgate demo-data``."""
    if not await demo.is_empty(sessions):
        return
    report = await demo.load_demo(sessions)
    log.info(
        "empty database: loaded the demo businesses %s (%d rows); see voxgate demo-data",
        ", ".join(report.businesses),
        report.rows,
    )


async def _drain(writer: StoreWriter) -> None:
    depth = writer.queue_depth
    await writer.stop(timeout=10.0)
    stats = writer.stats()
    log.info(
        "store writer drained %d queued record(s); %d written in all, %d spilled, %d lost",
        depth,
        stats.written,
        stats.spilled,
        stats.lost,
    )


def _safe(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _reason(exc: Any) -> str:
    original = getattr(exc, "orig", None)
    return str(original or exc).strip().splitlines()[0]

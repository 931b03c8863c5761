"""Database engines from a ``DATABASE_URL``: SQLite through aiosqlite, PostgreSQL through asyncpg.

``create_engine`` accepts the usual spellings (``sqlite:///x.db``, ``postgres://``, ``postgresql://``)
and picks the async driver; anything else is a ``DatabaseURLError`` worded for the person who set the
variable, with the password hidden.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import URL, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
EXAMPLES: Final = "sqlite+aiosqlite:///./voxgate.db or postgresql+asyncpg://user:password@host:5432/dbname"

SQLITE_BUSY_TIMEOUT_MS: Final = 15_000
POSTGRES_CONNECT_TIMEOUT_S: Final = 5.0


class DatabaseURLError(ValueError):
    """``DATABASE_URL`` is malformed or names a database voxgate does not support."""


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def normalize_url(url: str) -> URL:
    """Parse ``url`` and choose the async driver for its backend."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(
            f"DATABASE_URL {_hide_password(url)!r} is not a database URL; expected e.g. {EXAMPLES}"
        ) from None
    # Read the names from the string: asking SQLAlchemy would import the (sync) driver it names.
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "aiosqlite", "pysqlite"):
        return parsed.set(drivername=SQLITE_DRIVER)
    if backend in ("postgresql", "postgres") and driver in ("", "asyncpg", "psycopg2", "psycopg"):
        if not parsed.database:
            raise DatabaseURLError(
                f"DATABASE_URL {parsed.render_as_string()!r} names no database; expected e.g. {EXAMPLES}"
            )
        return parsed.set(drivername=POSTGRES_DRIVER)
    raise DatabaseURLError(
        f"DATABASE_URL uses {parsed.drivername!r}, which voxgate does not support; use {EXAMPLES}"
    )


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _json_dumps(value: Any) -> str:
    # orjson is several times faster than json for the event payloads the writer stores in bulk.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for ``url`` with the options its backend needs; ``options`` override them."""
    parsed = normalize_url(url)
    common: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() == "sqlite":
        memory = is_sqlite_memory(parsed)
        if not memory and parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, **(common | options))
        _configure_sqlite(engine, wal=not memory)
        return engine
    postgres: dict[str, Any] = {
        "pool_size": 10,
        "max_overflow": 20,
        # A pooled connection may have died with the server (an outage, a restart): test before use.
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        # asyncpg waits 60 s by default; an unreachable database should fail fast and be retried.
        "connect_args": {
            "timeout": POSTGRES_CONNECT_TIMEOUT_S,
            "server_settings": {"application_name": "voxgate"},
        },
    }
    return create_async_engine(parsed, **(common | postgres | options))


def _configure_sqlite(engine: AsyncEngine, *, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 driver (which does not BEGIN before a SELECT,
        # DDL or SAVEPOINT): SQLAlchemy emits BEGIN itself below, so savepoints and DDL are transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                # WAL: readers never block the writer; NORMAL sync is durable across crashes in WAL mode.
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout). A deferred transaction
        # that reads and then writes fails at once with "database is locked" when another writer
        # committed in between; with IMMEDIATE, a racing booking gets a clean IntegrityError instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """ORM sessions for tools and the API; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)

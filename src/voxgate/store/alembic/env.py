"""Alembic environment for voxgate.

Two ways in:

- ``voxgate.store.migrate`` (``voxgate db upgrade``) opens the connection itself and hands it over in
  ``config.attributes["connection"]``; this module then only runs the migrations on it.
- the ``alembic`` command line (``alembic -c src/voxgate/store/alembic.ini revision --autogenerate``)
  gets no connection: the URL comes from ``-x url=...``, then ``DATABASE_URL``, then the default.
"""

from __future__ import annotations

import asyncio
import logging.config
import os

from alembic import context
from sqlalchemy.engine import Connection

from voxgate.store.engine import create_engine
from voxgate.store.models import metadata

DEFAULT_URL = "sqlite+aiosqlite:///./voxgate.db"


def _url() -> str:
    return str(
        context.get_x_argument(as_dictionary=True).get("url")
        or context.config.attributes.get("url")
        or os.environ.get("DATABASE_URL")
        or DEFAULT_URL
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions rebuild tables in batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_url(), target_metadata=metadata, literal_binds=True, dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.config.config_file_name is not None:  # the alembic command line: log what it does
        logging.config.fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        _run_offline()
        return
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
    else:
        asyncio.run(_run_async(_url()))


_main()

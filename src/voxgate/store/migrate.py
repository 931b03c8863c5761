"""Schema migrations, run from code: ``voxgate db upgrade`` and the tests call these.

Alembic is configured programmatically with the migrations located next to this module, so an installed
package finds them wherever it lives; no ``alembic.ini`` is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from voxgate.store.engine import create_engine

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "alembic"

# Any fixed number: PostgreSQL serialises concurrent ``db upgrade`` runs (several replicas starting
# at once) on this advisory lock. SQLite needs none: BEGIN IMMEDIATE already takes the write lock.
_MIGRATION_LOCK_ID: Final = 0x766F78676174


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this version of voxgate."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (all of it by default)."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` down to ``revision`` (``"base"``: remove every table)."""
    await _run(url, lambda config: command.downgrade(config, revision))


async def current_revision(url: str) -> str | None:
    """The revision the database is at; ``None`` for an empty (never migrated) database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def _run(url: str, alembic_command: Callable[[Config], None]) -> None:
    engine = create_engine(url)
    try:
        # One transaction for the whole run: on PostgreSQL and (with our BEGIN handling) on SQLite
        # DDL is transactional, so a failed migration leaves the schema as it was.
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await connection.run_sync(_with_connection, alembic_command)
    finally:
        await engine.dispose()


def _with_connection(connection: Connection, alembic_command: Callable[[Config], None]) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection  # env.py runs on this connection instead of its own
    alembic_command(config)

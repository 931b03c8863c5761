"""Migrations: an empty database goes up to head and back down to empty, and the models agree."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from voxgate.store import migrate
from voxgate.store.engine import create_engine
from voxgate.store.models import metadata


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
    assert migrate.head_revision() == "0001"


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

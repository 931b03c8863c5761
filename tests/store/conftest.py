"""Every store test runs on SQLite (a temp file) and on PostgreSQL (a throwaway database).

PostgreSQL databases are named ``voxgate_test_<run id>_<n>``, created through the ``test`` database
(or ``VOXGATE_TEST_POSTGRES_URL``) and dropped after each test; nothing else on the server is touched.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from throwaway_pg import ThrowawayCluster

from voxgate.store import migrate
from voxgate.store.engine import create_engine, session_factory

PG_ADMIN_URL = os.environ.get(
    "VOXGATE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
RUN_ID = secrets.token_hex(4)
_database_numbers = itertools.count()


def _load_require_service() -> Callable[[str, str, int], None]:
    # The suite-wide policy lives in tests/conftest.py; load it by path, since every conftest module
    # is called "conftest".
    spec = importlib.util.spec_from_file_location(
        "voxgate_tests_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    require: Callable[[str, str, int], None] = module.require_service
    return require


require_service = _load_require_service()


def require_postgres() -> None:
    url = make_url(PG_ADMIN_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)


async def _admin(sql: str) -> list[asyncpg.Record]:
    url = make_url(PG_ADMIN_URL)
    conn = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port, database=url.database
    )
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_prefix() -> Iterator[str]:
    prefix = f"voxgate_test_{RUN_ID}"
    yield prefix

    async def drop_leftovers() -> None:
        rows = await _admin(f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}\\_%'")
        for row in rows:
            await _admin(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')

    asyncio.run(drop_leftovers())  # requested only once PostgreSQL was found reachable


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The URL of an empty database on ``backend``."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    require_postgres()
    prefix: str = request.getfixturevalue("pg_prefix")
    name = f"{prefix}_{next(_database_numbers)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def migrated_url(db_url: str) -> str:
    await migrate.upgrade(db_url)
    return db_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def pg_cluster() -> Iterator[ThrowawayCluster]:
    """A PostgreSQL server of the test's own, started; the test may stop and start it."""
    cluster = ThrowawayCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()

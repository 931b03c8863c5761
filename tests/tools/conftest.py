"""Tool tests on a real database: every one runs on SQLite and on PostgreSQL, with the demo data."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dbfixtures import backend, db_url, engine, migrated_url, pg_prefix, sessions  # noqa: F401
from voxgate.store.demo import load_demo
from voxgate.tools.defaults import default_registry
from voxgate.tools.registry import ToolRegistry


@pytest.fixture
async def demo(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:  # noqa: F811
    """The session factory of a database holding the demo bar and salon."""
    await load_demo(sessions)
    return sessions


@pytest.fixture
def registry() -> ToolRegistry:
    return default_registry()

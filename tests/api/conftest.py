"""The admin API against the real app (lifespan and all), on SQLite and on PostgreSQL.

Requests go through Starlette's TestClient, which can say where they come from: the admin routes
serve loopback clients without a key only when no admin key is configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_testkit import LOOPBACK, NOW, ClientFactory
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dbfixtures import backend, db_url, engine, migrated_url, pg_prefix, sessions  # noqa: F401
from voxgate.app import create_app
from voxgate.settings import Settings
from voxgate.store.demo import load_demo
from voxgate.transports.upstream import openai_connector


@pytest.fixture
async def demo_url(migrated_url: str, sessions: async_sessionmaker[AsyncSession]) -> str:  # noqa: F811
    """A migrated database holding the demo bar and salon (SQLite would load them by itself)."""
    await load_demo(sessions)
    return migrated_url


@pytest.fixture
def make_client(demo_url: str, tmp_path: Path) -> Iterator[ClientFactory]:
    opened: list[TestClient] = []

    def make(*, admin_key: str | None = None, client: tuple[str, int] = LOOPBACK) -> TestClient:
        settings = Settings(
            DATABASE_URL=demo_url,
            VOXGATE_JOURNAL=str(tmp_path / f"journal{len(opened)}"),
            VOXGATE_ADMIN_KEY=admin_key,
        )
        # Never dialled: the admin API has no upstream.
        connector = openai_connector(
            api_key="unused", model="gpt-realtime", base_url="http://127.0.0.1:9/v1", backend="simulator"
        )
        app = create_app(settings, connector=connector, wall_clock=lambda: NOW)
        test_client = TestClient(app, client=client, raise_server_exceptions=False)
        test_client.__enter__()  # runs the lifespan: migrate, open the database
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


@pytest.fixture
def api(make_client: ClientFactory) -> TestClient:
    """A loopback client of a gateway with no admin key."""
    return make_client()

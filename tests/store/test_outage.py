"""A real outage: our own PostgreSQL server stops in the middle of a session and comes back later.

Nothing submitted meanwhile may be lost, duplicated or reordered, whether it waited in memory or was
spilled to the journal (a tiny memory bound) and replayed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from store_testkit import ended, event, event_seqs, eventually, started
from throwaway_pg import ThrowawayCluster

from voxgate.store import migrate
from voxgate.store.engine import create_engine, session_factory
from voxgate.store.models import Session
from voxgate.store.writer import StoreWriter


@pytest.mark.parametrize("max_buffer", [10_000, 5], ids=["in-memory", "spill-to-journal"])
async def test_no_record_is_lost_across_a_database_restart(
    pg_cluster: ThrowawayCluster, tmp_path: Path, max_buffer: int
) -> None:
    await migrate.upgrade(pg_cluster.url)
    engine = create_engine(pg_cluster.url)
    sessions = session_factory(engine)
    journal = tmp_path / "voxgate.journal"
    writer = StoreWriter(
        engine,
        journal_path=journal,
        batch_size=20,
        flush_interval=0.01,
        max_buffer=max_buffer,
        retry_initial=0.05,
        retry_max=0.5,
    )
    await writer.start()
    try:
        writer.submit(started("call-1", channel="phone", agent="salon"))
        for n in range(100):
            writer.submit(event("call-1", n))
            await asyncio.sleep(0)
        await writer.flush()

        await asyncio.to_thread(pg_cluster.stop)
        for n in range(100, 400):  # the session goes on while the database is down
            writer.submit(event("call-1", n))
            await asyncio.sleep(0.001)
        writer.submit(ended("call-1"))
        await eventually(lambda: writer.stats().state == "retrying")
        if max_buffer == 5:
            await eventually(lambda: writer.stats().spilled > 0)
        assert writer.stats().written <= 101

        await asyncio.to_thread(pg_cluster.start)
        async with asyncio.timeout(120):
            await writer.flush()

        assert await event_seqs(sessions, "call-1") == list(range(400))
        async with sessions() as db:
            session = await db.scalar(select(Session))
            assert session is not None and session.ended_at is not None
        stats = writer.stats()
        assert stats.lost == 0 and stats.rejected == 0
        assert stats.written == 402
        assert stats.retries > 0
        assert stats.state == "ok"
        if max_buffer == 5:
            assert stats.spilled > 0
            assert stats.replayed == stats.spilled
            assert not journal.exists()
        else:
            assert stats.spilled == 0
    finally:
        await writer.stop()
        await engine.dispose()

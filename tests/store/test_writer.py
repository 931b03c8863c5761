"""The write-behind writer: batches, order, graceful drain, refused records, outages with a journal."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from store_testkit import (
    at,
    ended,
    event,
    event_seqs,
    eventually,
    started,
    stored_entries,
    unreachable_url,
)

from voxgate.store.apply import apply_records
from voxgate.store.engine import create_engine
from voxgate.store.models import Call, Session, Transcript
from voxgate.store.records import CallRecord, CallStatus, Record, TranscriptRecord, TranscriptTruncated
from voxgate.store.writer import StoreWriter


async def test_batches_by_size_and_keeps_submission_order(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    writer = StoreWriter(engine, batch_size=50, flush_interval=0.05)
    await writer.start()
    records: list[Record] = [started("a"), started("b"), started("c")]
    # Three sessions interleaved, as many concurrent relays would submit them.
    records += [event(sid, n) for n in range(200) for sid in ("a", "b", "c")]
    for record in records:  # no await in between: the writer sees full batches
        writer.submit(record)
    assert writer.queue_depth == len(records)
    await writer.flush()

    stats = writer.stats()
    assert stats.written == stats.submitted == len(records)
    assert stats.batches == math.ceil(len(records) / 50)
    assert (stats.queue_depth, stats.lost, stats.rejected, stats.retries) == (0, 0, 0, 0)
    for sid in ("a", "b", "c"):
        assert await event_seqs(sessions, sid) == list(range(200))
    await writer.stop()


async def test_a_trickle_is_flushed_by_the_interval(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    writer = StoreWriter(engine, batch_size=1000, flush_interval=0.01)
    await writer.start()
    writer.submit(started("a"))
    for n in range(5):
        writer.submit(event("a", n))
        await asyncio.sleep(0.02)
    await eventually(lambda: writer.stats().written == 6)  # no flush() call: the interval did it
    assert await event_seqs(sessions, "a") == list(range(5))
    await writer.stop()


async def test_stop_drains_everything_then_counts_late_records_as_lost(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    writer = StoreWriter(engine, batch_size=64, flush_interval=10.0)  # the interval alone would never fire
    await writer.start()
    writer.submit(started("a"))
    for n in range(1000):
        writer.submit(event("a", n))
        if n % 100 == 0:
            await asyncio.sleep(0)
    writer.submit(ended("a"))
    await writer.stop(timeout=60)

    assert await event_seqs(sessions, "a") == list(range(1000))
    async with sessions() as db:
        session = await db.get(Session, "a")
        assert session is not None and session.end_reason == "client_closed"
    stats = writer.stats()
    assert (stats.state, stats.queue_depth, stats.journal_depth, stats.lost) == ("stopped", 0, 0, 0)
    assert stats.written == 1002

    with caplog.at_level(logging.ERROR, logger="voxgate.store.writer"):
        writer.submit(event("a", 1000))
    assert writer.stats().lost == 1
    assert "LOST" in caplog.text


async def test_a_refused_record_is_isolated_counted_and_kept(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    journal = tmp_path / "voxgate.journal"
    writer = StoreWriter(engine, journal_path=journal, batch_size=100)
    await writer.start()
    writer.submit(started("a"))
    writer.submit(event("a", 0))
    writer.submit(event("ghost", 0))  # no such session: the foreign key refuses it
    writer.submit(event("a", 1))
    await writer.flush()
    await writer.stop()

    assert await event_seqs(sessions, "a") == [0, 1]
    stats = writer.stats()
    assert (stats.written, stats.rejected, stats.lost) == (3, 1, 0)
    dead = [orjson.loads(line) for line in (tmp_path / "voxgate.journal.rejected").read_bytes().splitlines()]
    assert len(dead) == 1
    assert dead[0]["record"]["kind"] == "EventRecord"
    assert dead[0]["record"]["data"]["session_id"] == "ghost"
    assert "IntegrityError" in dead[0]["reason"]


async def test_writing_twice_changes_nothing(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    records: list[Record] = [
        started("a", channel="phone"),
        *(event("a", n) for n in range(3)),
        TranscriptRecord(session_id="a", item_id="i1", role="user", text="hi", seq=1, at=at(1)),
        CallRecord(call_sid="CA1", session_id="a", from_number="+40722123456"),
        CallStatus(call_sid="CA1", status="ringing", at=at(0)),
        CallStatus(call_sid="CA1", status="completed", at=at(9), duration_s=9),
    ]
    for _ in range(2):  # as a replay after a lost commit acknowledgement would
        async with engine.begin() as conn:
            await apply_records(conn, records)
    assert await event_seqs(sessions, "a") == [0, 1, 2]
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Transcript)) == 1
        call = await db.scalar(select(Call))
        assert call is not None
        assert [h["status"] for h in call.status_history] == ["ringing", "completed"]
        assert (call.status, call.duration_s, call.ended_at, call.outcome) == ("completed", 9, at(9), None)


async def test_call_records_merge_and_failed_calls_get_their_outcome(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with engine.begin() as conn:
        await apply_records(
            conn,
            [
                CallStatus(call_sid="CA2", status="ringing", at=at(0)),  # before the call record: still kept
                CallRecord(call_sid="CA2", from_number="+40722000000", to_number="+40311234567"),
                CallRecord(call_sid="CA2", session_id="s9"),  # fields left None keep their value
                CallStatus(call_sid="CA2", status="no-answer", at=at(30)),
            ],
        )
    async with sessions() as db:
        call = await db.scalar(select(Call).where(Call.call_sid == "CA2"))
        assert call is not None
        assert (call.from_number, call.to_number, call.session_id) == ("+40722000000", "+40311234567", "s9")
        assert (call.status, call.outcome, call.started_at, call.ended_at) == (
            "no-answer",
            "failed",
            at(0),
            at(30),
        )


async def test_truncation_wins_over_a_late_transcript(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with engine.begin() as conn:
        await apply_records(
            conn,
            [
                started("a"),
                TranscriptRecord(
                    session_id="a", item_id="i1", role="assistant", text="Hello th", seq=1, at=at(1)
                ),
                TranscriptTruncated(
                    session_id="a", item_id="i1", text="Hello", audio_end_ms=400, seq=1, at=at(2)
                ),
                TranscriptRecord(
                    session_id="a", item_id="i1", role="assistant", text="Hello there", seq=1, at=at(3)
                ),
            ],
        )
    async with sessions() as db:
        row = await db.scalar(select(Transcript))
        assert row is not None
        assert (row.text, row.truncated, row.audio_end_ms) == ("Hello", True, 400)


async def test_unreachable_database_spills_to_the_journal_and_the_next_start_replays_it(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    journal = tmp_path / "voxgate.journal"
    down = create_engine(unreachable_url())
    writer = StoreWriter(
        down,
        journal_path=journal,
        batch_size=4,
        max_buffer=5,
        flush_interval=0.01,
        retry_initial=0.01,
        retry_max=0.05,
    )
    await writer.start()
    records: list[Record] = [started("a"), *(event("a", n) for n in range(60)), ended("a")]
    for record in records:
        writer.submit(record)
        await asyncio.sleep(0)
    await eventually(lambda: writer.stats().retries >= 2 and writer.stats().spilled > 0)
    await writer.stop(timeout=0.5)  # the database never came back: the rest goes to the journal too
    await down.dispose()

    stats = writer.stats()
    assert (stats.written, stats.lost) == (0, 0)
    assert stats.journal_depth == len(records)
    assert len(journal.read_bytes().splitlines()) == len(records)

    # Next start, database up: the journal is replayed first, in order, and removed.
    again = StoreWriter(engine, journal_path=journal, batch_size=7)
    await again.start()
    await again.flush()
    assert await event_seqs(sessions, "a") == list(range(60))
    stats = again.stats()
    assert (stats.replayed, stats.written, stats.lost, stats.journal_depth) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert not journal.exists()
    await again.stop()


async def test_without_a_journal_the_memory_bound_loses_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    down = create_engine(unreachable_url())
    writer = StoreWriter(down, max_buffer=10, batch_size=4, retry_initial=0.01, retry_max=0.05)
    await writer.start()
    with caplog.at_level(logging.ERROR, logger="voxgate.store.writer"):
        for n in range(25):
            writer.submit(event("a", n))
        assert writer.stats().lost == 15
        await writer.stop(timeout=0.2)
    await down.dispose()
    stats = writer.stats()
    assert (stats.submitted, stats.written, stats.lost) == (10, 0, 25)
    assert "LOST" in caplog.text


async def test_a_broken_journal_is_the_last_resort_and_every_loss_is_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    down = create_engine(unreachable_url())
    writer = StoreWriter(
        down,
        journal_path=not_a_directory / "voxgate.journal",  # every write to it fails
        max_buffer=5,
        batch_size=4,
        retry_initial=0.01,
        retry_max=0.05,
    )
    await writer.start()
    with caplog.at_level(logging.WARNING, logger="voxgate.store.writer"):
        for n in range(40):
            writer.submit(event("a", n))
            await asyncio.sleep(0.005)
        await writer.stop(timeout=0.2)
    await down.dispose()
    stats = writer.stats()
    assert (stats.written, stats.spilled, stats.lost) == (0, 0, 40)  # none vanished uncounted
    assert "could not spill" in caplog.text
    assert "LOST" in caplog.text


async def test_overlong_descriptive_text_is_cut_not_refused(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    odd = replace(started("a"), client_id="x" * 500, agent="y" * 100)
    async with engine.begin() as conn:
        await apply_records(conn, [odd, event("a", 0, type="t" * 300)])
    async with sessions() as db:
        session = await db.get(Session, "a")
        assert session is not None
        assert (session.client_id, session.agent) == ("x" * 128, "y" * 64)
    assert [entry["type"] for entry in await stored_entries(sessions, "a")] == ["t" * 96]

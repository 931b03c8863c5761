"""SIGTERM in the middle of a busy session: the gateway drains its queue and no event is lost.

``voxgate serve`` runs as a real process (embedded simulator, SQLite in a temp dir, JSON logs); a
client streams audio and asks for answers; SIGTERM arrives mid-stream. Afterwards the database holds
the whole session: every event numbered without a gap, everything the client received among them,
the session ended as a shutdown, and the process said it lost nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from storekit import assert_stored_as_received, eventually, relayed_count, stored_events

from realtime_testkit import Client, connect
from voxgate.bench.procs import free_port
from voxgate.store import models
from voxgate.store.engine import create_engine, session_factory
from voxgate.store.records import AUDIO_FIELDS

pytestmark = pytest.mark.timeout(120)

CHUNK = base64.b64encode(bytes(960)).decode()  # 20 ms of PCM16 24 kHz silence


async def _listening(port: int, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(60):
        while True:
            assert process.returncode is None, "voxgate exited during start-up"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return


async def _receive_all(client: Client) -> None:
    with contextlib.suppress(Exception):  # ends when the server closes the socket
        while True:
            await client.recv(timeout=30)


async def _stream(client: Client) -> int:
    """Audio every 10 ms and an answer asked for every half second, until the socket closes."""
    sent = 0
    with contextlib.suppress(Exception):
        while True:
            await client.send({"type": "input_audio_buffer.append", "audio": CHUNK})
            sent += 1
            if sent % 50 == 0:
                await client.send({"type": "response.create"})
            await asyncio.sleep(0.01)
    return sent


async def test_sigterm_mid_session_loses_no_event(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "voxgate.db"
    journal = tmp_path / "voxgate.journal"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "VOXGATE_JOURNAL": str(journal),
        "VOXGATE_BACKEND": "simulator",
        "VOXGATE_LOG_FORMAT": "json",
        "VOXGATE_LOG_LEVEL": "INFO",
        "VOXGATE_MAX_MESSAGES_PER_SECOND": "1000",
    }
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate", "serve", "--port", str(port),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    logs = asyncio.ensure_future(process.stderr.read())
    try:
        await _listening(port, process)
        client = await connect(f"ws://127.0.0.1:{port}/openai/realtime/busy?agent=bartender")
        await client.until("session.updated")
        receiver = asyncio.ensure_future(_receive_all(client))
        sender = asyncio.ensure_future(_stream(client))
        # Busy: answers are streaming back while audio streams in.
        await eventually(
            lambda: sum(e["type"] == "response.output_audio.delta" for e in client.received) >= 20
        )
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await receiver
            sent = await sender
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = (await logs).decode()
    assert code == 0, stderr[-3000:]
    assert sent > 50

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        db = session_factory(engine)
        async with db() as read:
            session = (await read.scalars(select(models.Session))).one()
        events = await stored_events(db, session.id)
    finally:
        await engine.dispose()

    assert session.ended_at is not None and session.end_reason == "gateway_shutdown"
    assert [e.seq for e in events] == list(range(len(events))), "no gap in the numbering"
    assert relayed_count(events) == session.events_in + session.events_out
    assert_stored_as_received(client.received, events)
    assert any(e.type == "response.output_audio.delta" for e in events)
    appends = sum(e.payload["chunks"] for e in events if e.type == "input_audio_buffer.append")
    assert 0 < appends <= sent
    assert all(e.type not in AUDIO_FIELDS or "audio" not in e.payload for e in events)

    # The process drained the queue before it exited: nothing lost, nothing left for a replay.
    lines = [orjson.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    drained = [line["message"] for line in lines if "store writer drained" in line["message"]]
    assert drained and drained[-1].endswith(" 0 spilled, 0 lost"), drained
    assert not journal.exists() or journal.stat().st_size == 0
    # One structured line per session start and end, with its figures.
    starts = [line for line in lines if line.get("event") == "session.started"]
    ends = [line for line in lines if line.get("event") == "session.ended"]
    assert [line["session_id"] for line in starts] == [line["session_id"] for line in ends] == [session.id]
    assert ends[0]["end_reason"] == "gateway_shutdown"
    assert ends[0]["events_in"] == session.events_in and ends[0]["events_out"] == session.events_out


def _count(client: Client, kind: str) -> int:
    return sum(event["type"] == kind for event in client.received)

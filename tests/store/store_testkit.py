"""Records as the gateway would submit them, and small helpers for the store tests."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.models import Channel, Direction, EventBlock
from voxgate.store.records import EventRecord, SessionEnded, SessionStarted

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(
    session_id: str, *, channel: Channel = "web", agent: str = "bartender", seconds: float = 0
) -> SessionStarted:
    return SessionStarted(
        session_id=session_id,
        channel=channel,
        agent=agent,
        started_at=at(seconds),
        client_id="client-1" if channel != "phone" else None,
        caller="+40722123456" if channel == "phone" else None,
        upstream_model="gpt-realtime",
        backend="simulator",
    )


def ended(session_id: str, *, seconds: float = 60, reason: str = "client_closed") -> SessionEnded:
    return SessionEnded(
        session_id=session_id, ended_at=at(seconds), end_reason=reason, events_in=1, events_out=2
    )


def event(session_id: str, seq: int, *, direction: Direction = "out", **fields: Any) -> EventRecord:
    body = {"type": "response.output_text.delta", "delta": f"word {seq}", **fields}
    return EventRecord.of(session_id, seq, direction, body, at(seq / 100))


def audio_event(session_id: str, seq: int, audio: bytes) -> EventRecord:
    body = {
        "type": "response.output_audio.delta",
        "item_id": "item_a",
        "delta": base64.b64encode(audio).decode(),
    }
    return EventRecord.of(session_id, seq, "out", body, at(seq / 100))


async def eventually(condition: Callable[[], bool], limit: float = 60.0) -> None:
    """Wait for ``condition`` (a generous limit only so that a bug fails instead of hanging)."""
    async with asyncio.timeout(limit):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def stored_entries(sessions: async_sessionmaker[AsyncSession], session_id: str) -> list[dict[str, Any]]:
    """A session's stored events, block by block in the order the blocks were inserted."""
    async with sessions() as db:
        blocks = await db.scalars(
            select(EventBlock.events).where(EventBlock.session_id == session_id).order_by(EventBlock.id)
        )
        return [entry for block in blocks for entry in block]


async def event_seqs(sessions: async_sessionmaker[AsyncSession], session_id: str) -> list[int]:
    """The seqs of a session's events in the order they were inserted."""
    return [entry["seq"] for entry in await stored_entries(sessions, session_id)]


def unreachable_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nothing_listens_here"

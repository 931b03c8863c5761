"""Helpers for the recording tests: wait for a session's records, read them back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.queries import EventEntry, session_events
from voxgate.store.records import AUDIO_FIELDS


async def eventually(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Wait for ``condition`` (the limit only turns a bug into a failure instead of a hang)."""
    async with asyncio.timeout(limit):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def settled(app_gateway: Any) -> None:
    """Every session over and every record written."""
    await eventually(lambda: not app_gateway.recording.active)
    await app_gateway.writer.flush()


async def stored_events(db: async_sessionmaker[AsyncSession], session_id: str) -> list[EventEntry]:
    """A session's stored events in seq order, as the API reads them."""
    async with db() as session:
        return await session_events(session, session_id, limit=1_000_000)


def relayed_count(events: list[EventEntry]) -> int:
    """How many relayed events the rows stand for (a run of audio chunks is one row)."""
    return sum(int(event.payload["chunks"]) if event.type in AUDIO_FIELDS else 1 for event in events)


def assert_stored_as_received(received: list[dict[str, Any]], events: list[EventEntry]) -> None:
    """Every event the client received is stored, in the order received.

    Audio deltas are stored in runs (checked by count); the rest one by one, identified by their
    ``event_id`` (or type, for the gateway's own events). The store may hold more at the end: events
    relayed after the client stopped reading.
    """
    audio = "response.output_audio.delta"
    received_other = [_key(e) for e in received if e["type"] != audio]
    stored_other = [_key(e.payload) for e in events if e.direction == "out" and e.type != audio]
    assert stored_other[: len(received_other)] == received_other
    stored_audio = sum(int(e.payload["chunks"]) for e in events if e.type == audio)
    assert stored_audio >= sum(e["type"] == audio for e in received)


def _key(event: dict[str, Any]) -> str:
    return str(event.get("event_id") or event["type"])

"""A real WebSocket client for tests: every Realtime event it receives can be checked against the SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from voxgate.protocol.realtime import validate_server_event


class Client:
    """A real WebSocket client that checks every Realtime event it receives against the SDK."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(event).decode())

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        event: dict[str, Any] = orjson.loads(raw)
        self.received.append(event)
        return event

    async def until(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """Read events until one of type ``kind`` arrives; returns it."""
        while True:
            event = await self.recv(timeout)
            if event["type"] == kind:
                return event

    async def collect_until(self, kind: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        start = len(self.received)
        await self.until(kind, timeout)
        return self.received[start:]

    def assert_all_ga_events_valid(self) -> None:
        for event in self.received:
            if event["type"].startswith(
                ("voxgate.", "connection_established", "token", "function_call_result")
            ):
                continue
            validate_server_event(event)

    async def say(self, text: str) -> None:
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        await self.send({"type": "response.create"})


async def connect(url: str, **kwargs: Any) -> Client:
    ws = await websockets.connect(url, max_size=None, **kwargs)
    return Client(ws)


def transcript_of(events: list[dict[str, Any]]) -> str:
    return "".join(
        e["delta"]
        for e in events
        if e["type"] in ("response.output_audio_transcript.delta", "response.output_text.delta")
    )

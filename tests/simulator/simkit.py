"""Helpers for the simulator tests: a real simulator on a free port, an SDK session that checks events."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from openai import AsyncOpenAI

from voxgate.protocol.audio import encode_from_pcm16
from voxgate.protocol.realtime import validate_server_event
from voxgate.serving import BackgroundServer, start_background_server
from voxgate.simulator import SimulatorOptions, create_simulator_app


@dataclass
class RunningSimulator:
    server: BackgroundServer

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def http(self) -> str:
        return f"{self.server.http_url}/v1"

    @property
    def ws(self) -> str:
        return f"{self.server.ws_url}/v1"

    def client(self, api_key: str = "test") -> AsyncOpenAI:
        return AsyncOpenAI(api_key=api_key, base_url=self.http, websocket_base_url=self.ws, max_retries=0)


@contextlib.asynccontextmanager
async def running_simulator(options: SimulatorOptions | None = None) -> AsyncIterator[RunningSimulator]:
    server = await start_background_server(create_simulator_app(options or SimulatorOptions(seed=7)))
    try:
        yield RunningSimulator(server)
    finally:
        await server.stop()


@dataclass
class Session:
    """An SDK Realtime connection that validates every server event against the SDK's GA models."""

    conn: Any
    events: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, event: dict[str, Any]) -> None:
        await self.conn.send(event)

    async def recv(self, timeout: float = 15.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.recv_bytes(), timeout)
        event: dict[str, Any] = orjson.loads(raw)
        validate_server_event(event)
        self.events.append(event)
        return event

    async def until(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        while True:
            event = await self.recv(timeout)
            if event["type"] == kind:
                return event

    async def collect(self, kind: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Events up to and including the next ``kind``."""
        start = len(self.events)
        await self.until(kind, timeout)
        return self.events[start:]

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

    async def append(self, audio: bytes, chunk: int = 1600) -> None:
        for start in range(0, len(audio), chunk):
            encoded = base64.b64encode(audio[start : start + chunk]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": encoded})


@contextlib.asynccontextmanager
async def open_session(
    simulator: RunningSimulator, *, api_key: str = "test", model: str = "gpt-realtime", **query: str
) -> AsyncIterator[Session]:
    client = simulator.client(api_key)
    async with client.realtime.connect(model=model, extra_query=query) as conn:
        yield Session(conn)


def speech_like(seconds: float, rate: int, *, seed: int = 1, level: float = 0.3) -> bytes:
    """Noise bursts shaped like syllables (4 a second), PCM16 at ``rate``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)
    voiced = np.sin(2 * np.pi * 170.0 * t) * 0.6 + rng.standard_normal(n) * 0.4
    samples = np.clip(voiced * envelope * level * 32767.0, -32768, 32767).astype("<i2")
    return samples.tobytes()


def silence(seconds: float, rate: int) -> bytes:
    return bytes(2 * int(seconds * rate))


def in_format(pcm16: bytes, fmt: str) -> bytes:
    return encode_from_pcm16(pcm16, fmt)


NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC, a Sunday


class EngineHarness:
    """Drives a ``RealtimeEngine`` as pure data; every event it emits is checked against the SDK.

    ``Work`` (speech to make or hear) is done in place, at once, and its result handed back, so
    the events read as if speech took no time."""

    def __init__(self, now: float = NOW, **config: Any) -> None:
        from voxgate.simulator.engine import EngineConfig, RealtimeEngine

        config.setdefault("seed", 1)
        self.now = now
        self.engine = RealtimeEngine(EngineConfig(**config), now)
        self.closed: tuple[int, str] | None = None
        self.started = self._events(self.engine.start(now))

    def _events(self, actions: list[Any], *, drain: bool = True) -> list[dict[str, Any]]:
        from voxgate.simulator.actions import Close, Send, Work

        out: list[dict[str, Any]] = []
        work: list[Work] = []
        for action in actions:
            if isinstance(action, Send):
                validate_server_event(action.event)
                out.append(action.event)
            elif isinstance(action, Close):
                self.closed = (action.code, action.reason)
            else:
                work.append(action)
        for job in work:
            out += self._events(self.engine.complete(job.job.run(), self.now), drain=drain)
            if drain:
                out += self._events(self.engine.drain(self.now))
        return out

    def send(self, event: dict[str, Any] | str | bytes, *, drain: bool = True) -> list[dict[str, Any]]:
        raw = event if isinstance(event, str | bytes) else orjson.dumps(event)
        events = self._events(self.engine.receive(raw, self.now), drain=drain)
        if drain:
            events += self.drain()
        return events

    def drain(self) -> list[dict[str, Any]]:
        return self._events(self.engine.drain(self.now))

    def at(self, now: float) -> list[dict[str, Any]]:
        """Move the clock to ``now`` and emit what is due."""
        self.now = now
        return self.drain()

    def say(self, text: str, **kwargs: Any) -> list[dict[str, Any]]:
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        return self.send({"type": "conversation.item.create", "item": item, **kwargs})

    def append(self, pcm_or_encoded: bytes, *, chunk: int = 960, drain: bool = True) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for start in range(0, len(pcm_or_encoded), chunk):
            encoded = base64.b64encode(pcm_or_encoded[start : start + chunk]).decode()
            events += self.send({"type": "input_audio_buffer.append", "audio": encoded}, drain=drain)
        return events

    def update(self, **session: Any) -> list[dict[str, Any]]:
        return self.send({"type": "session.update", "session": {"type": "realtime", **session}})


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def only(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [e for e in events if e["type"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {types(events)}"
    return found[0]


def errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["error"] for e in events if e["type"] == "error"]

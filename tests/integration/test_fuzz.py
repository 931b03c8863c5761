"""Hostile input: hypothesis-generated client frames never crash the session or the process.

The simulator and voxgate run on a loop in a background thread, so hypothesis can drive a real
WebSocket synchronously; after every example a probe proves the same session still answers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from voxgate.app import SIMULATOR_API_KEY, create_app
from voxgate.protocol.realtime import CLIENT_EVENT_TYPES
from voxgate.serving import BackgroundServer, start_background_server
from voxgate.settings import Settings
from voxgate.simulator import SimulatorOptions, create_simulator_app
from voxgate.transports.upstream import openai_connector


class _ServersInThread:
    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[BackgroundServer] = self._run(self._start(tmp))

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(60)

    async def _start(self, tmp: Path) -> list[BackgroundServer]:
        simulator = await start_background_server(create_simulator_app(SimulatorOptions()))
        settings = Settings(
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}",
            VOXGATE_JOURNAL=str(tmp / "fuzz.journal"),
            VOXGATE_MAX_MESSAGES_PER_SECOND=100_000,
        )
        connector = openai_connector(
            api_key=SIMULATOR_API_KEY,
            model="gpt-realtime",
            base_url=simulator.http_url + "/v1",
            websocket_base_url=simulator.ws_url + "/v1",
            backend="simulator",
        )
        gateway = await start_background_server(create_app(settings, connector=connector))
        return [simulator, gateway]

    def stop(self) -> None:
        for server in reversed(self.servers):
            self._run(server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def fuzz_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientConnection]:
    servers = _ServersInThread(tmp_path_factory.mktemp("fuzz"))
    ws = connect(f"{servers.servers[1].ws_url}/openai/realtime/fuzzer", max_size=None)
    yield ws
    ws.close()
    servers.stop()


_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_types = st.sampled_from([*sorted(CLIENT_EVENT_TYPES), "get_token", "function_call", "bogus", ""]) | st.text(
    max_size=30
)
_events = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    _types,
    st.dictionaries(
        st.sampled_from(
            [
                "event_id",
                "item",
                "session",
                "response",
                "audio",
                "item_id",
                "audio_end_ms",
                "content_index",
                "previous_item_id",
                "function_name",
                "arguments",
                "response_id",
            ]
        )
        | st.text(max_size=10),
        _json,
        max_size=5,
    ),
)
_frames = (
    _events.map(json.dumps)  # stdlib: hostile clients may send integers beyond 64 bits
    | _json.map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=200)
)
_probe_ids = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(_frames, min_size=1, max_size=8))
def test_hostile_frames_never_break_the_session(
    fuzz_session: ClientConnection, frames: list[str | bytes]
) -> None:
    for frame in frames:
        fuzz_session.send(frame)
    probe = f"probe-{next(_probe_ids)}"
    # A probe the session must answer: a deliberately invalid event whose error echoes our event_id.
    fuzz_session.send(orjson.dumps({"type": "no.such.event", "event_id": probe}).decode())
    while True:
        event = orjson.loads(fuzz_session.recv(timeout=15))
        if event.get("type") == "error" and (event.get("error") or {}).get("event_id") == probe:
            break

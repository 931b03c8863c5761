"""Upstream frames are handled in the upstream socket's callback while the session's reader waits;
what must wait (an async hook) keeps its place, so the client gets every event in the upstream's order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from realtime_testkit import connect
from voxgate.transports.ws_client import RelayClientConnection

pytestmark = pytest.mark.timeout(60)


def _upstream_socket(session: Any) -> RelayClientConnection:
    socket = session._upstream._relay  # the connection the SDK opened (voxgate.transports.upstream)
    assert isinstance(socket, RelayClientConnection)
    return socket


async def test_upstream_frames_handled_at_once_and_frames_that_wait_keep_their_order(gateway) -> None:  # type: ignore[no-untyped-def]
    app = gateway.app_gateway
    arrived: list[str] = []

    @app.chain.hook(stage="validate", direction="upstream")
    def note(message):  # type: ignore[no-untyped-def]
        arrived.append(message.data["event_id"])
        return message

    @app.chain.hook(direction="upstream", types=["response.output_audio_transcript.delta"])
    async def slow(message):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.02)  # an async hook: the frames after this one wait for it
        return message

    client = await connect(f"{gateway.ws}/openai/realtime/upstream-order?agent=bartender")
    await client.until("session.updated")
    [session] = app.sessions.values()
    socket = _upstream_socket(session)
    await client.say("Hello, are you open?")
    await client.until("response.done")

    received = [e["event_id"] for e in client.received if e["type"] != "connection_established"]
    assert len(received) > 10
    assert received == arrived[: len(received)], "every event, in the order the upstream sent it"
    assert sum(e["type"] == "response.output_audio_transcript.delta" for e in client.received) >= 2
    assert socket.handled_now >= 5  # the frames between the slow ones were handled in the callback
    await client.ws.close()

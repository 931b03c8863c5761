"""What a client's WebSocket frames become at the gateway's door, over real sockets: whole messages
are cut out by the frame splitter, and websockets still answers pings, assembles fragments and refuses
what the protocol forbids."""

from __future__ import annotations

import asyncio
import base64

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from realtime_testkit import connect
from voxgate.transports.ws_server import RelayWebSocketProtocol


def _door_protocols(gateway) -> list[RelayWebSocketProtocol]:  # type: ignore[no-untyped-def]
    connections = gateway.server.server.server_state.connections
    return [c for c in connections if isinstance(c, RelayWebSocketProtocol)]


async def test_fragments_and_pings_between_whole_messages(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/frames?agent=bartender")
    await client.until("session.updated")
    latency = await (await client.ws.ping(b"still there?"))  # websockets' parser answers it
    assert latency >= 0
    [door] = _door_protocols(gateway)
    assert door.splitter is not None and not door.splitter.stopped  # it started with the ping's bytes
    event = orjson.dumps({"type": "input_audio_buffer.clear", "event_id": "fragmented"}).decode()
    await client.ws.send(iter([event[:10], event[10:20], event[20:]]))
    assert (await client.until("input_audio_buffer.cleared"))["type"] == "input_audio_buffer.cleared"
    await client.say("Hello, are you open?")
    assert (await client.until("response.done"))["response"]["status"] == "completed"
    assert not door.splitter.stopped  # the fragments went through websockets' parser, and back
    await client.ws.close()


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/badtext")
    await client.until("session.updated")
    protocol = client.ws.protocol
    protocol.send_text(b'{"type": "\xff"}')  # a text frame whose bytes are not UTF-8
    client.ws.send_data()
    with pytest.raises(ConnectionClosed) as closed:
        await client.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007


async def test_compression_is_declined_unless_configured(make_gateway) -> None:
    default = await make_gateway()
    client = await connect(f"{default.ws}/openai/realtime/plain")  # websockets offers permessage-deflate
    await client.until("session.updated")
    assert client.ws.protocol.extensions == []
    await client.ws.close()

    compressing = await make_gateway(VOXGATE_WS_COMPRESSION=1)
    client = await connect(f"{compressing.ws}/openai/realtime/deflated")
    await client.until("session.updated")
    assert [type(e).__name__ for e in client.ws.protocol.extensions] == ["PerMessageDeflate"]
    await client.say("Hello, are you open?")
    assert (await client.until("response.done"))["response"]["status"] == "completed"
    [door] = _door_protocols(compressing)
    assert door.splitter is None  # compressed frames are websockets' to read
    await client.ws.close()


async def test_frames_handled_at_once_and_frames_that_wait_keep_their_order(gateway) -> None:
    chain = gateway.app_gateway.chain
    order: list[str] = []

    @chain.hook(direction="client", types=["input_audio_buffer.clear"])
    async def slow(message):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)  # an async hook: the frames after this one wait for it
        return message

    @chain.hook(stage="tools", direction="client")
    def note(message):  # type: ignore[no-untyped-def]
        order.append(message.data.get("event_id") or message.type)
        return message

    client = await connect(f"{gateway.ws}/openai/realtime/order")
    await client.until("session.updated")
    [door] = _door_protocols(gateway)
    audio = base64.b64encode(bytes(960)).decode()
    sent = ["a1", "a2", "clear", *(f"b{n}" for n in range(8)), "commit"]
    for event_id in sent:
        if event_id == "clear":
            event = {"type": "input_audio_buffer.clear", "event_id": event_id}
        elif event_id == "commit":
            event = {"type": "input_audio_buffer.commit", "event_id": event_id}
        else:
            event = {"type": "input_audio_buffer.append", "event_id": event_id, "audio": audio}
        await client.send(event)
    await client.until("input_audio_buffer.committed")
    assert order == sent
    assert door.handled_now >= 2  # the appends before the slow hook were handled without the reader
    await client.ws.close()

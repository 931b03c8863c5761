"""The upstream client connection's own text frames: what websockets' parser reads back, and what a
real websockets server receives from it, in order, with and without compression."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConcurrencyError, ConnectionClosed
from websockets.frames import OP_TEXT, Frame
from websockets.protocol import OPEN, SERVER, Protocol

from voxgate.transports.cork import CorkedTransport
from voxgate.transports.ws_client import MASK_POOL_KEYS, MaskKeys, RelayClientConnection, masked_text_frame


@contextlib.asynccontextmanager
async def relay_client(
    handler: Callable[[ServerConnection], Awaitable[None]], **options: Any
) -> AsyncIterator[RelayClientConnection]:
    """A ``RelayClientConnection`` (with ``options`` for ``connect``) to a real websockets server."""
    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        options.setdefault("compression", None)
        async with connect(url, create_connection=RelayClientConnection, **options) as client:
            assert isinstance(client, RelayClientConnection)
            yield client


# Either side of the two length boundaries of the frame header (126 and 65536 bytes).
LENGTHS = st.sampled_from([0, 1, 125, 126, 127, 65535, 65536, 65537]) | st.integers(0, 3000)


@given(length=LENGTHS, key=st.binary(min_size=4, max_size=4), seed=st.integers(0, 255))
def test_a_frame_reads_back_with_websockets_own_parser(length: int, key: bytes, seed: int) -> None:
    data = bytes((seed + i * 7) % 256 for i in range(length))
    server = Protocol(SERVER, state=OPEN, max_size=None)
    server.receive_data(masked_text_frame(data, key))
    [frame] = server.events_received()
    assert isinstance(frame, Frame)
    assert (frame.opcode, frame.fin, frame.data) == (OP_TEXT, True, data)
    assert server.parser_exc is None


def test_masking_keys_differ_and_the_pool_refills() -> None:
    keys = MaskKeys()
    taken = [keys.take() for _ in range(2 * MASK_POOL_KEYS + 3)]
    assert all(len(key) == 4 for key in taken)
    # 2051 draws from 2**32 values: a repeat is a one-in-a-thousand event, never a handful of them.
    assert len(set(taken)) >= len(taken) - 2


async def _send_through_real_server(compression: str | None) -> None:
    received: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            assert isinstance(message, str)
            received.append(message)

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=compression) as server:
        port = server.sockets[0].getsockname()[1]
        messages = ["", "hello", "é" * 63, "x" * 126, "y" * 70_000, '{"type":"input_audio_buffer.append"}']
        async with connect(
            f"ws://127.0.0.1:{port}",
            create_connection=RelayClientConnection,
            compression=compression,
            max_size=None,
        ) as client:
            assert isinstance(client, RelayClientConnection)
            assert bool(client.protocol.extensions) == (compression is not None)
            for message in messages:
                assert client.send_text_now(message.encode())
            for _ in range(200):
                if len(received) == len(messages):
                    break
                await asyncio.sleep(0.01)
        assert received == messages


async def test_a_real_server_receives_every_frame_in_order() -> None:
    await _send_through_real_server(None)


async def test_with_compression_negotiated_websockets_writes_the_frames() -> None:
    await _send_through_real_server("deflate")


async def test_frames_waiting_to_be_read_are_counted_and_a_flush_sends_at_once() -> None:
    received: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        for index in range(3):
            await ws.send(f"event {index}")
        async for message in ws:
            assert isinstance(message, str)
            received.append(message)

    async with relay_client(handler) as client:
        for _ in range(200):
            if client.pending_frames() == 3:
                break
            await asyncio.sleep(0.01)
        assert client.pending_frames() == 3
        assert await client.recv() == "event 0"
        assert client.pending_frames() == 2
        transport = client.transport
        assert isinstance(transport, CorkedTransport)
        before = transport.flushes
        assert client.send_text_now(b"answer")
        assert transport.get_write_buffer_size() > 0  # held until the end of the turn...
        client.flush_now()  # ...unless flushed
        assert transport.flushes == before + 1 and transport.get_write_buffer_size() == 0
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received == ["answer"]


async def test_messages_pings_fragments_and_the_close_arrive_as_websockets_delivers_them() -> None:
    sent: list[str | bytes] = ["first", b"\x00\x01binary", "x" * 70_000]
    fragmented = ["frag", "ment", "ed"]
    pong: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        for message in sent:
            await ws.send(message)
        await ws.send(iter(fragmented))  # one message in three frames: websockets' parser assembles it
        pong.append(await (await ws.ping(b"are you there")))  # the client answers with a pong
        await ws.send("after the ping")
        await ws.recv()
        await ws.close(4000, "done")

    async with relay_client(handler, max_size=None) as client:
        received = [await client.recv() for _ in range(len(sent) + 2)]
        assert client.splitting  # the whole messages were cut out by the splitter
        assert client.send_text_now(b"read them all")
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
    assert received == [*sent, "fragmented", "after the ping"]
    close = closed.value.rcvd
    assert close is not None and (close.code, close.reason) == (4000, "done")
    assert len(pong) == 1


async def test_reading_pauses_while_messages_wait_and_nothing_is_lost() -> None:
    count = 300

    async def handler(ws: ServerConnection) -> None:
        for index in range(count):
            await ws.send(f"event {index}")
        await ws.wait_closed()

    async with relay_client(handler, max_queue=16) as client:
        for _ in range(200):
            if client.pending_frames() > 16:
                break
            await asyncio.sleep(0.01)
        assert client.pending_frames() > 16
        transport = client.transport
        assert not transport.is_reading()  # above the high-water mark: websockets' own limit
        received = [await client.recv(decode=False) for _ in range(count)]
        assert transport.is_reading()
    assert received == [f"event {index}".encode() for index in range(count)]


async def test_a_second_reader_and_invalid_utf8_get_websockets_answers() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the client's go-ahead, once its second reader was refused
        ws.protocol.send_text(b'{"type": "\xff"}')  # a text frame whose bytes are not UTF-8
        ws.send_data()
        await ws.wait_closed()

    async with relay_client(handler) as client:
        first = asyncio.create_task(client.recv())
        await asyncio.sleep(0.05)
        with pytest.raises(ConcurrencyError):
            await client.recv()
        assert client.send_text_now(b"go on")
        with pytest.raises(ConnectionClosed) as closed:
            await first  # decoding the text frame fails: the connection is closed with 1007
    assert closed.value.sent is not None and closed.value.sent.code == 1007


async def test_a_handler_takes_messages_in_the_callback_and_what_waits_keeps_its_place() -> None:
    """While ``recv`` waits with nothing queued, text messages go to the handler in the socket's
    callback; what the handler leaves is returned by ``recv`` in the message's place, and the messages
    behind it are queued, so the reader sees everything in order."""
    batches: dict[str, list[str | bytes]] = {
        "go1": ["a", "b", "wait", "c", b"\x01binary", "d"],
        "go2": ["boom"],
        "go3": ["e"],
    }
    handled: list[str] = []
    finished: list[str] = []
    after_calls = 0

    async def finish(message: str) -> None:
        await asyncio.sleep(0.05)  # the rest of the batch arrives meanwhile, and is queued
        finished.append(message)

    def handle(message: bytes) -> Awaitable[None] | None:
        text = message.decode()
        handled.append(text)
        if text == "wait":
            return finish(text)
        if text == "boom":
            raise RuntimeError("a hook failed")
        return None

    def after() -> None:
        nonlocal after_calls
        after_calls += 1

    async def handler(ws: ServerConnection) -> None:
        async for go in ws:
            for message in batches[str(go)]:
                await ws.send(message)

    async with relay_client(handler) as client:
        client.set_handler(handle, after)

        async def read_after(go: bytes) -> object:
            reading = asyncio.create_task(client.recv(decode=False))
            await asyncio.sleep(0.01)  # the reader waits with nothing queued
            assert client.send_text_now(go)
            return await reading

        rest = await read_after(b"go1")
        assert handled == ["a", "b", "wait"], "handled in the callback until one had to wait"
        assert not finished
        await rest  # type: ignore[misc]
        assert finished == ["wait"]
        queued = [await client.recv(decode=False) for _ in range(3)]
        assert queued == [b"c", b"\x01binary", b"d"], "queued behind what waited; binary is never handled"
        failed = await read_after(b"go2")
        with pytest.raises(RuntimeError, match="a hook failed"):
            await failed  # type: ignore[misc]
        again = asyncio.create_task(read_after(b"go3"))
        for _ in range(100):
            if handled[-1] == "e":
                break
            await asyncio.sleep(0.01)
        assert not again.done(), "handled entirely in the callback: the reader still waits"
        again.cancel()
        client.set_handler(None)
    assert handled == ["a", "b", "wait", "boom", "e"]
    assert client.handled_now == 5
    assert after_calls >= 3

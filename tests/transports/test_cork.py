"""The corked transport: the writes of one loop turn leave as one socket write, in order."""

from __future__ import annotations

import asyncio
import socket

from voxgate.transports.cork import CorkedTransport


async def _pair() -> tuple[CorkedTransport, socket.socket]:
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    theirs.setblocking(False)
    return CorkedTransport(transport, loop), theirs  # type: ignore[arg-type]


async def _read_all(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < size:
        data += await asyncio.wait_for(loop.sock_recv(sock, 65536), 5)
    return data


async def test_writes_of_one_turn_become_one_flush_in_order() -> None:
    corked, peer = await _pair()
    frames = [f"frame {index};".encode() for index in range(20)]
    for frame in frames:
        corked.write(frame)
    assert corked.get_write_buffer_size() == sum(len(f) for f in frames)  # held, and seen as buffered
    assert corked.flushes == 0
    await asyncio.sleep(0)  # the next turn of the loop
    assert corked.flushes == 1
    assert await _read_all(peer, sum(len(f) for f in frames)) == b"".join(frames)
    corked.write(b"later")
    await asyncio.sleep(0)
    assert corked.flushes == 2
    assert await _read_all(peer, 5) == b"later"
    corked.close()
    peer.close()


async def test_close_sends_what_was_written_and_abort_drops_it() -> None:
    corked, peer = await _pair()
    corked.write(b"last words")
    corked.close()  # before the loop turned: still delivered
    assert await _read_all(peer, 10) == b"last words"
    peer.close()

    corked, peer = await _pair()
    corked.write(b"never sent")
    corked.abort()
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    assert await asyncio.wait_for(loop.sock_recv(peer, 100), 5) == b""  # closed, nothing before it
    assert corked.flushes == 0
    peer.close()


async def test_writes_after_the_transport_closed_are_ignored() -> None:
    corked, peer = await _pair()
    corked.close()
    corked.write(b"too late")
    await asyncio.sleep(0)
    assert corked.flushes == 0 and corked.get_write_buffer_size() == 0
    peer.close()


async def test_a_flush_sends_at_once_and_the_end_of_the_turn_adds_nothing() -> None:
    corked, peer = await _pair()
    corked.write(b"first;")
    corked.write(b"second;")
    corked.flush()  # a relay with nothing more to forward: no waiting for the end of the turn
    assert corked.flushes == 1 and corked.get_write_buffer_size() == 0
    assert peer.recv(100) == b"first;second;"  # already in the socket, before the loop ran again
    await asyncio.sleep(0)
    assert corked.flushes == 1, "the scheduled end-of-turn flush found nothing left"
    corked.write(b"third;")
    await asyncio.sleep(0)
    assert corked.flushes == 2
    assert await _read_all(peer, 6) == b"third;"
    corked.close()
    peer.close()

"""The websockets client connection the SDK opens for voxgate's upstream, tuned for relaying.

The SDK opens the socket (``websocket_connection_options`` reach ``websockets.connect``, and
``create_connection`` picks this class), so URL, headers and authentication stay the SDK's. What it
changes on top of websockets' own connection:

- Writes go through a ``CorkedTransport``: frames written during one loop turn leave in one ``send()``,
  or at once on ``flush_now`` (the relay calls it when ``pending_frames`` says nothing more waits).
- ``send_text_now`` writes a text frame synchronously. ``Connection.send`` enters an async context
  manager, checks the state and awaits a drain for every frame, which costs as much as the frame's
  system call; a relay sending whole frames from one task needs only the checks that matter here.
  It answers ``False`` when the connection is not open or its write buffer is full, and the caller
  then awaits the ordinary ``send`` (which waits for the buffer and raises the close).
- Its frames are masked with keys cut from a pool of ``os.urandom`` bytes. A client must mask every
  frame with an unpredictable key (RFC 6455, 10.3); websockets asks the kernel for four random bytes
  per frame, a ``getrandom`` system call each time. The pool asks once per ``MASK_POOL_KEYS`` frames,
  from the same source.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Final, cast

from websockets.asyncio.client import ClientConnection
from websockets.frames import OP_TEXT
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # a websockets build without its C extension
    from websockets.utils import apply_mask

from voxgate.transports.cork import CorkedTransport

MASK_POOL_KEYS: Final = 1024
_FIN_TEXT: Final = 0x80 | OP_TEXT
_MASKED: Final = 0x80


class MaskKeys:
    """Four-byte masking keys from the operating system's random source, fetched in bulk."""

    __slots__ = ("_at", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def take(self) -> bytes:
        at = self._at
        if at >= len(self._pool):
            self._pool, at = os.urandom(4 * MASK_POOL_KEYS), 0
        self._at = at + 4
        return self._pool[at : at + 4]


def masked_text_frame(data: bytes, key: bytes) -> bytes:
    """One unfragmented client text frame: header, masking key, masked payload (RFC 6455, 5.2)."""
    length = len(data)
    if length < 126:
        head = struct.pack("!BB", _FIN_TEXT, _MASKED | length)
    elif length < 65536:
        head = struct.pack("!BBH", _FIN_TEXT, _MASKED | 126, length)
    else:
        head = struct.pack("!BBQ", _FIN_TEXT, _MASKED | 127, length)
    return head + key + apply_mask(data, key)


class RelayClientConnection(ClientConnection):
    _masks = MaskKeys()  # one pool for every connection of the process

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(CorkedTransport(cast(asyncio.Transport, transport), self.loop))

    def flush_now(self) -> None:
        """Send the frames written so far in this loop turn now, instead of at the turn's end."""
        cast(CorkedTransport, self.transport).flush()

    def pending_frames(self) -> int:
        """Frames parsed from what the socket delivered that no ``recv`` has taken yet."""
        return len(self.recv_messages.frames)

    def send_text_now(self, data: bytes) -> bool:
        protocol = self.protocol
        if protocol.state is not State.OPEN or self.paused or self.fragmented_send_waiter is not None:
            return False
        if protocol.extensions or protocol.expect_continuation_frame:
            protocol.send_text(data)  # an extension (compression) rewrites frames: websockets' own path
            self.send_data()
            return True
        self.send_data()  # anything websockets queued (a pong) goes first
        self.transport.write(masked_text_frame(data, self._masks.take()))
        return True

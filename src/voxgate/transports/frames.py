"""Whole WebSocket messages cut straight out of the bytes a socket delivers, for the relay's hot path.

websockets parses every frame with a stack of generators (the protocol's parser, the frame parser,
a stream reader), and the relay receives about a hundred frames per session-second. Nearly all of
them are the simplest kind: one unfragmented text frame, no extension bits. ``FrameSplitter`` cuts
those out (and unmasks them, on the server side) in a few operations. Every other frame is handed to
websockets' own parser unchanged, so pings, closing, fragmented messages and every protocol error keep
websockets' behaviour and its answers.

The two parsers must never disagree about where a frame starts. The splitter's buffer always begins at
a frame boundary and it hands websockets only whole frames, so websockets' parser is at a boundary
whenever the splitter reads. The splitter starts only once websockets' parser is seen at a boundary
(``at_frame_boundary``), and it stops for good, handing over everything from there on, at anything
out of the ordinary: a close frame, a malformed or oversize header, a broken fragment sequence.
"""

from __future__ import annotations

import struct
from typing import Any, Final

try:
    from websockets.speedups import apply_mask
except ImportError:  # a websockets build without its C extension
    from websockets.utils import apply_mask

PASS: Final = -1
"""The opcode given to bytes that websockets' parser must read (a whole frame, or everything once stopped)."""

_OP_CONT: Final = 0x0
_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2
_OP_CLOSE: Final = 0x8
_OP_PING: Final = 0x9
_OP_PONG: Final = 0xA
_FIN: Final = 0x80
_MASK_BIT: Final = 0x80
_FIN_TEXT: Final = _FIN | _OP_TEXT


def text_frame_head(length: int, *, masked: bool) -> bytes:
    """The header of one unfragmented text frame carrying ``length`` bytes (RFC 6455, 5.2); a masked
    frame's four-byte key follows it."""
    mask = _MASK_BIT if masked else 0
    if length < 126:
        return bytes((_FIN_TEXT, mask | length))
    if length < 65536:
        return struct.pack("!BBH", _FIN_TEXT, mask | 126, length)
    return struct.pack("!BBQ", _FIN_TEXT, mask | 127, length)


class FrameSplitter:
    """Splits received bytes into whole unfragmented data messages and frames for websockets.

    ``masked``: the frames must be masked (a server reading a client) or must not be (a client).
    ``max_size``: the connection's message size limit; a larger frame goes to websockets, which refuses it.
    """

    __slots__ = ("_buffer", "_fragmented", "_masked", "_max_size", "stopped")

    def __init__(self, *, masked: bool, max_size: int | None) -> None:
        self._buffer = b""
        self._masked = masked
        self._max_size = max_size
        self._fragmented = False
        self.stopped = False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The messages and frames completed by ``data``, in order: ``(opcode, payload)`` for a whole text
        (1) or binary (2) message, ``(PASS, raw frame bytes)`` for what websockets must parse."""
        if self.stopped:
            return [(PASS, data)]
        buffer = self._buffer + data if self._buffer else data
        end = len(buffer)
        out: list[tuple[int, bytes]] = []
        at = 0
        while end - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if end - at < 4:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 4], "big")
                head = 4
            elif length == 127:
                if end - at < 10:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 10], "big")
                head = 10
            masked = second & _MASK_BIT
            if masked:
                head += 4
            if self._max_size is not None and length > self._max_size:
                return self._stop(out, buffer, at)  # websockets refuses it on the header alone (1009)
            stop = at + head + length
            if stop > end:
                break
            opcode = first & 0x0F
            if (masked != 0) is not self._masked or first & 0x70:
                return self._stop(out, buffer, at)  # a protocol error: websockets closes with 1002
            if first & _FIN and opcode in (_OP_TEXT, _OP_BINARY) and not self._fragmented:
                payload = buffer[at + head : stop]
                if masked:
                    payload = apply_mask(payload, buffer[at + head - 4 : at + head])
                out.append((opcode, payload))
            elif opcode in (_OP_PING, _OP_PONG):
                out.append((PASS, buffer[at:stop]))
            elif opcode in (_OP_TEXT, _OP_BINARY) and not self._fragmented:
                self._fragmented = True  # the first fragment of a message: websockets assembles it
                out.append((PASS, buffer[at:stop]))
            elif opcode == _OP_CONT and self._fragmented:
                self._fragmented = not first & _FIN
                out.append((PASS, buffer[at:stop]))
            else:
                return self._stop(out, buffer, at)  # a close frame, or a broken sequence: websockets' part
            at = stop
        self._buffer = buffer[at:] if at < end else b""
        return out

    def _stop(self, out: list[tuple[int, bytes]], buffer: bytes, at: int) -> list[tuple[int, bytes]]:
        self.stopped = True
        self._buffer = b""
        out.append((PASS, buffer[at:]))
        return out

    def take_rest(self) -> bytes:
        """Stop, and return the bytes held back (the start of an incomplete frame)."""
        self.stopped = True
        rest, self._buffer = self._buffer, b""
        return rest


def at_frame_boundary(protocol: Any) -> bool:
    """Whether a websockets sans-I/O protocol has no part of a frame read: its buffer is empty and its
    parser waits for the first byte of the next frame (not for the rest of a header it consumed)."""
    if protocol.reader.buffer:
        return False
    waiting = protocol.parser
    while getattr(waiting, "gi_yieldfrom", None) is not None:
        waiting = waiting.gi_yieldfrom
    code = getattr(waiting, "gi_code", None)
    return code is not None and code.co_name == "at_eof"

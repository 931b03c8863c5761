"""A transport wrapper that turns every write of one event-loop turn into a single socket write.

A relay writes in bursts: one read from the upstream often holds a dozen audio deltas, and a client's
audio frame and the event after it tend to arrive together. asyncio's transports try ``send()`` at once
for each ``write()``, so a burst of frames costs a system call per frame. Here writes are collected
and handed to the real transport once, at the start of the loop's next turn (``call_soon``): the same
bytes in the same order, with one ``send()`` per socket per turn and no timer (nothing waits longer
than the rest of the current turn).

Flow control stays the real transport's: its buffer size (plus what is held here) is what protocols
see, and its ``pause_writing`` / ``resume_writing`` calls reach the protocol unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CorkedTransport(asyncio.Transport):
    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []
        self._pending_size = 0
        self._scheduled = False
        self.flushes = 0
        """How many socket writes the held frames became (the benchmark and the tests read it)."""

    # -- writing --------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._transport.is_closing():
            return
        self._pending.append(data)
        self._pending_size += len(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._end_of_turn)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _end_of_turn(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Hand what is held to the real transport now (the end of the turn does it anyway).

        Called by a relay with nothing more to forward for the moment; when it finds nothing held,
        it returns at once, so calling it after every message costs next to nothing.
        """
        if not self._pending:
            return
        pending, self._pending, self._pending_size = self._pending, [], 0
        if self._transport.is_closing():
            return
        self.flushes += 1
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    # -- closing: what was written before close() still goes out; abort() drops it -------------------
    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_size = [], 0
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    # -- everything else is the real transport's ----------------------------------------------------
    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

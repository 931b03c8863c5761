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
- Whole unfragmented messages are cut out of the received bytes by a ``FrameSplitter`` and wait in the
  connection's own inbox for ``recv``; websockets' parser reads every other frame (pings, close,
  fragments, errors), and the messages it assembles join the same inbox in order.
- ``set_handler`` installs a function that handles a text message in the socket's own callback while
  ``recv`` waits with nothing queued: the reader's task then wakes only for what had to wait (which
  ``recv`` returns as an awaitable, in its place among the messages).
- Its frames are masked with keys cut from a pool of ``os.urandom`` bytes. A client must mask every
  frame with an unpredictable key (RFC 6455, 10.3); websockets asks the kernel for four random bytes
  per frame, a ``getrandom`` system call each time. The pool asks once per ``MASK_POOL_KEYS`` frames,
  from the same source.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, cast

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConcurrencyError
from websockets.frames import DATA_OPCODES, OP_CONT, OP_TEXT, CloseCode, Frame
from websockets.protocol import Event, State

try:
    from websockets.speedups import apply_mask
except ImportError:  # a websockets build without its C extension
    from websockets.utils import apply_mask

from voxgate.transports.cork import CorkedTransport
from voxgate.transports.frames import PASS, FrameSplitter, at_frame_boundary, text_frame_head
from voxgate.transports.handle_now import HandleNow, take_now

MASK_POOL_KEYS: Final = 1024


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
    return text_frame_head(len(data), masked=True) + key + apply_mask(data, key)


class RelayClientConnection(ClientConnection):
    _masks = MaskKeys()  # one pool for every connection of the process

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(CorkedTransport(cast(asyncio.Transport, transport), self.loop))
        self._splitter: FrameSplitter | None = None
        # (message, sent as text), or (what the handler left of a message, None)
        self._inbox: deque[tuple[Any, bool | None]] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._inbox_ended = False
        self._fragments: list[bytes] = []
        self._fragments_text = False
        # websockets' own flow control: stop reading above ``high`` waiting messages, resume at ``low``.
        high, low = self.max_queue
        self._high = high
        self._low = low if low is not None else (high // 4 if high is not None else None)
        self._reading_paused = False
        self._handle_now: HandleNow[bytes] | None = None
        self._after_handled: Callable[[], None] | None = None
        self._handled = False  # during data_received: a message was handled there
        self.handled_now = 0
        """Messages the handler took in the socket's callback (the tests read it)."""

    def set_handler(self, handle: HandleNow[bytes] | None, after: Callable[[], None] | None = None) -> None:
        """While ``recv`` waits with nothing queued, give each text message to ``handle`` at once, in
        the socket's callback. What it returns (an awaitable: the part that must wait) is queued, and
        ``recv`` returns it in the message's place, so that the reader finishes it before the next
        message; messages stay in order and are handled one at a time. ``after`` is called once per
        received chunk in which something was handled."""
        self._handle_now = handle
        self._after_handled = after

    def flush_now(self) -> None:
        """Send the frames written so far in this loop turn now, instead of at the turn's end."""
        cast(CorkedTransport, self.transport).flush()

    @property
    def splitting(self) -> bool:
        """Whether whole messages are being cut out by the splitter (websockets' parser reads the rest)."""
        return self._splitter is not None and not self._splitter.stopped

    def pending_frames(self) -> int:
        """Messages received that no ``recv`` has taken yet."""
        return len(self._inbox)

    # -- receiving ---------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self._receive(data)
        if self._handled:
            self._handled = False
            after = self._after_handled
            if after is not None:
                after()

    def _receive(self, data: bytes) -> None:
        splitter = self._splitter
        if splitter is None:
            protocol = self.protocol
            if protocol.state is not State.OPEN or protocol.extensions or not at_frame_boundary(protocol):
                super().data_received(data)
                return
            splitter = self._splitter = FrameSplitter(masked=False, max_size=protocol.max_size)
        elif self.protocol.state is not State.OPEN and not splitter.stopped:
            data = splitter.take_rest() + data  # closing: websockets reads the rest, as it reads a close
        for opcode, payload in splitter.feed(data):
            if opcode == PASS:
                super().data_received(payload)
            else:
                self._put(payload, opcode == OP_TEXT)

    def process_event(self, event: Event) -> None:
        # Data frames websockets parsed (before the splitter started, or fragments) join the inbox.
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            if event.opcode is not OP_CONT:
                self._fragments_text = event.opcode is OP_TEXT
            self._fragments.append(bytes(event.data))
            if event.fin:
                fragments, self._fragments = self._fragments, []
                self._put(fragments[0] if len(fragments) == 1 else b"".join(fragments), self._fragments_text)
            return
        super().process_event(event)

    def _put(self, message: bytes, text: bool) -> None:
        waiter = self._inbox_waiter
        handle = self._handle_now
        if handle is not None and text and waiter is not None and not self._inbox and not waiter.done():
            self.handled_now += 1
            self._handled = True
            rest = take_now(handle, message, self.loop)
            if rest is None:
                return
            self._inbox.append((rest, None))
            waiter.set_result(None)
            return
        self._inbox.append((message, text))
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._high is not None and len(self._inbox) > self._high and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    async def recv(self, decode: bool | None = None) -> Any:
        """The next message, as websockets' ``recv`` returns it; raises ``ConnectionClosed`` at the end."""
        inbox = self._inbox
        while not inbox:
            if self._inbox_ended:
                await asyncio.shield(self.connection_lost_waiter)
                raise self.protocol.close_exc from self.recv_exc
            if self._inbox_waiter is not None:
                raise ConcurrencyError("cannot call recv while another coroutine is already running recv")
            waiter = self._inbox_waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._inbox_waiter = None
        message, text = inbox.popleft()
        if text is None:
            return message  # what the handler left of a message (``set_handler``)
        if self._reading_paused and self._low is not None and len(inbox) <= self._low:
            self._reading_paused = False
            self.transport.resume_reading()
        if not (text if decode is None else decode):
            return message
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            async with self.send_context():
                self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            await asyncio.shield(self.connection_lost_waiter)
            raise self.protocol.close_exc from self.recv_exc

    async def recv_streaming(self, decode: bool | None = None) -> AsyncIterator[Any]:
        """Messages are whole in the inbox: the next one, as a single piece."""
        yield await self.recv(decode)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._inbox_ended = True
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- sending -------------------------------------------------------------------------------------
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

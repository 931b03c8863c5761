"""uvicorn's sans-I/O WebSocket protocol, tuned for a relay that forwards every frame it receives.

Five changes, each keeping the protocol's behaviour towards the peer and the ASGI app:

- Writes go through a ``CorkedTransport``: the frames written during one loop turn leave in one
  ``send()``.
- Reading is paused only when the app falls ``RECEIVE_HIGH_WATER`` messages behind. uvicorn pauses and
  resumes the socket around every single message, two ``epoll_ctl`` calls per frame; at 50 audio
  frames a second per client that is most of what receiving costs.
- Whole unfragmented messages are cut out of the received bytes by a ``FrameSplitter``; websockets'
  parser reads every other frame (pings, close, fragments, errors).
- Received messages wait in a queue made for one reader (``_ReceiveQueue``).
- The ASGI scope carries an extension, ``voxgate.relay``, whose ``send_text`` writes a text frame
  synchronously, without the ASGI message round trip. It answers ``False`` whenever the ordinary path
  must be used (handshake not done, closing, or the write buffer is full and the sender must wait), so
  the app falls back to ``websocket.send_text`` and its flow control. Its ``receive`` is the
  protocol's own ASGI ``receive``: a task that reads frames with it wakes two coroutines per frame,
  not the twenty of the middleware stack an ASGI handler runs under. Its ``flush`` sends what the
  cork holds at once: a relay calls it when it has nothing more to forward for the moment, which
  its ``backlog`` (messages received and not yet read) tells it on the receiving side. Its
  ``set_handler`` installs a function that handles a message in the protocol's own callback while
  the reader waits with nothing queued (``RelayWebSocketProtocol._deliver``): the reader's task then
  wakes only for what had to wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final, cast

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request
from websockets.protocol import State

from voxgate.transports.cork import CorkedTransport
from voxgate.transports.frames import PASS, FrameSplitter, at_frame_boundary, text_frame_head
from voxgate.transports.handle_now import HandleNow, take_now

RELAY_EXTENSION: Final = "voxgate.relay"
RECEIVE_HIGH_WATER: Final = 64
_OP_BINARY: Final = 2

SendText = Callable[[bytes], bool]
Flush = Callable[[], None]
Backlog = Callable[[], int]
Receive = Callable[[], Awaitable[Any]]
SetHandler = Callable[[HandleNow[str | bytes] | None], None]


class _ReceiveQueue(asyncio.Queue[Any]):
    """The protocol's queue of ASGI receive events, for one reader.

    ``asyncio.Queue`` also tracks unfinished tasks and putters, and looks its loop up (a ``getpid``
    system call) every time the reader waits; a relay's queue is filled by the protocol and read by
    one task, once per frame.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def reader_waits(self) -> bool:
        """Nothing is queued and the reader waits for the next item (it is not busy with the last one)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._items

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class RelayWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages = _ReceiveQueue(self.loop)
        self.queue = self.messages  # uvicorn's name for it; typed there as a plain asyncio.Queue
        self.splitter: FrameSplitter | None = None
        """Cuts whole messages out of what the socket delivers, once the connection is open."""
        self.handle_now: HandleNow[str | bytes] | None = None
        """Set by the app (``set_handler`` in the relay extension): see ``_deliver``."""
        self.handled_now = 0
        """Messages ``handle_now`` took (the tests read it)."""

    def data_received(self, data: bytes) -> None:
        splitter = self.splitter
        if splitter is None:
            if not self._can_split():
                super().data_received(data)
                return
            splitter = self.splitter = FrameSplitter(masked=True, max_size=self.conn.max_size)
        elif self.conn.state is not State.OPEN and not splitter.stopped:
            data = splitter.take_rest() + data  # closing: websockets reads the rest, as it reads a close
        for opcode, payload in splitter.feed(data):
            if opcode == PASS:
                super().data_received(payload)
            elif self.close_sent:
                pass  # past ``websocket.close``: uvicorn discards messages too, and keeps reading
            elif opcode == _OP_BINARY:
                self._deliver(payload, "bytes")
            else:
                try:
                    text = payload.decode()
                except UnicodeDecodeError:  # uvicorn's own path, with its answer (close 1007)
                    self.frames = [payload]
                    self.curr_msg_data_type = "text"
                    self.send_receive_event_to_app()
                    continue
                self._deliver(text, "text")

    def _deliver(self, message: str | bytes, key: str) -> None:
        """A whole message: handled at once by the app's ``handle_now`` when its reader waits with
        nothing queued, else queued for the reader. Whatever ``handle_now`` could not finish without
        waiting is queued instead, as an awaitable the reader awaits before reading anything after it.
        So messages are handled one at a time and in order, most of them without waking a task."""
        handle = self.handle_now
        if handle is None or not self.messages.reader_waits():
            self._queue_message({"type": "websocket.receive", key: message})
            return
        self.handled_now += 1
        rest = take_now(handle, message, self.loop)
        if rest is not None:
            self._queue_message(rest)

    def _queue_message(self, message: Any) -> None:
        queue = self.messages
        queue.put_nowait(message)
        if not self.read_paused and queue.qsize() >= RECEIVE_HIGH_WATER:
            self.read_paused = True
            self.transport.pause_reading()

    def _can_split(self) -> bool:
        conn = self.conn
        return conn.state is State.OPEN and not conn.extensions and at_frame_boundary(conn)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(CorkedTransport(cast(asyncio.Transport, transport), self.loop))

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The app's task is created but has not run yet: the scope can still be extended.
        if self.response.status_code == 101:
            extensions = cast(dict[str, Any], self.scope["extensions"])
            extensions[RELAY_EXTENSION] = {
                "send_text": self.send_text_now,
                "receive": self.receive,
                "flush": cast(CorkedTransport, self.transport).flush,
                "backlog": self.queue.qsize,
                "set_handler": self._set_handler,
            }

    def _set_handler(self, handler: HandleNow[str | bytes] | None) -> None:
        self.handle_now = handler

    def send_receive_event_to_app(self) -> None:
        paused = self.read_paused
        self.read_paused = True  # the parent pauses after every message unless it believes it already did
        super().send_receive_event_to_app()
        self.read_paused = paused
        if not paused and not self.close_sent and self.queue.qsize() >= RECEIVE_HIGH_WATER:
            self.read_paused = True
            self.transport.pause_reading()

    def send_text_now(self, data: bytes) -> bool:
        """Write one text frame now; ``False`` if the ASGI ``websocket.send`` path must be used instead."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        conn = self.conn
        if conn.state is State.OPEN and not conn.extensions and not conn.expect_continuation_frame:
            for chunk in conn.data_to_send():  # anything websockets queued (a pong) goes first
                self.transport.write(chunk)
            self.transport.write(text_frame_head(len(data), masked=False))
            self.transport.write(data)
            return True
        try:
            conn.send_text(data)  # an extension (compression) rewrites frames: websockets' own path
        except InvalidState:
            return False
        for chunk in conn.data_to_send():
            self.transport.write(chunk)
        return True


def _relay_extension(scope: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``voxgate.relay`` extension of a connection served by ``RelayWebSocketProtocol``, if it is one."""
    extension: Mapping[str, Any] | None = (scope.get("extensions") or {}).get(RELAY_EXTENSION)
    return extension


def relay_sender(scope: Mapping[str, Any]) -> SendText | None:
    """The synchronous text sender, on a relay connection."""
    extension = _relay_extension(scope)
    return cast(SendText, extension["send_text"]) if extension else None


def relay_flusher(scope: Mapping[str, Any]) -> Flush | None:
    """The cork's flush, on a relay connection."""
    extension = _relay_extension(scope)
    return cast(Flush, extension["flush"]) if extension else None


def relay_backlog(scope: Mapping[str, Any]) -> Backlog | None:
    """How many received messages wait to be read, on a relay connection."""
    extension = _relay_extension(scope)
    return cast(Backlog, extension["backlog"]) if extension else None


def relay_handler_setter(scope: Mapping[str, Any]) -> SetHandler | None:
    """Where a relay app installs its ``handle_now``, on a relay connection."""
    extension = _relay_extension(scope)
    return cast(SetHandler, extension["set_handler"]) if extension else None


def frame_receiver(websocket: WebSocket) -> Receive:
    """The protocol's own ASGI ``receive`` on a relay connection, else Starlette's."""
    extension = _relay_extension(websocket.scope)
    return cast(Receive, extension["receive"]) if extension else websocket.receive


async def read_in_own_task(reader: Coroutine[Any, Any, None]) -> None:
    """Run a door's frame-reading loop as a task of its own and wait for it to end.

    An ASGI handler runs under the whole middleware stack: every time it is resumed, so is each
    coroutine above it, for every frame. The reader's task resumes only itself and ``receive``. It
    ends when the socket does; it is cancelled only if the handler itself is.
    """
    task = asyncio.create_task(reader)
    try:
        await asyncio.shield(task)
    finally:
        task.cancel()

"""One gateway session: a client socket, its upstream Realtime connection, and the relay between them.

Every frame goes through the interception chain. The pure parts (conversation state, tool
bookkeeping, dialect translation, validation) live in ``voxgate.protocol``; this module awaits
sockets, starts tool tasks and reconnects the upstream.

Failure answers:
- a bad client frame gets a Realtime ``error`` event and the session stays open;
- the upstream unreachable at connect: ``error`` ``upstream_unavailable`` then close 1011;
- the upstream dropping mid-session: reconnect with backoff, restore the session and replay the
  conversation, then ``voxgate.upstream.reconnected`` (custom-event doors only); client frames
  sent meanwhile are queued, not lost;
- the client leaving: the upstream is closed at once (sessions are billed while open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from voxgate.agents.profiles import GREETING_PREFIX, AgentProfile
from voxgate.chain import HookResult, InterceptionChain, Message, Reply
from voxgate.protocol import dialect
from voxgate.protocol.append_batch import AppendBatch
from voxgate.protocol.conversation import GATEWAY_EVENT_PREFIX, Conversation, RunTool, SendUpstream
from voxgate.protocol.realtime import JSON, ProtocolError, decode_json_object, dumps, error_event, new_id
from voxgate.transports.handle_now import finish
from voxgate.transports.upstream import (
    UpstreamClosed,
    UpstreamConnection,
    UpstreamConnector,
    UpstreamUnavailable,
)

log = logging.getLogger("voxgate.session")

Channel = Literal["web", "sdk", "phone"]


class ClientPort(Protocol):
    """The client side of a session, whatever the transport.

    ``deliver`` gets every event meant for the client: upstream events that passed the chain (with
    their raw frame when unchanged, so it can be forwarded untouched) and the gateway's own events.
    A WebSocket client serialises (or translates) it; a phone call feeds its playout state machine.
    """

    async def deliver(self, event: JSON, raw: str | bytes | None) -> None: ...
    def deliver_now(self, event: JSON, raw: str | bytes | None) -> Awaitable[None] | None:
        """``deliver`` as far as it goes without waiting; the rest comes back to be awaited."""
        ...

    def flush(self) -> None:
        """Send what was delivered so far now: the session has nothing more to forward for the moment."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


class SessionObserver(Protocol):
    """Told what the chain does not see: the gateway's own events, relay timing, upstream changes.

    ``voxgate.recording.Recorder`` is the observer; every method returns at once (no awaiting).
    """

    def gateway_event(self, session: GatewaySession, to_upstream: bool, event: JSON) -> None: ...
    def relayed(self, session: GatewaySession, seconds: float) -> None: ...
    def upstream(
        self,
        session: GatewaySession,
        change: Literal["connected", "connect_failed", "reconnected", "reconnect_failed", "lost"],
    ) -> None: ...


class ToolRunner(Protocol):
    """Runs server-side tools for a session (``voxgate.tools``)."""

    async def run(self, session: GatewaySession, call: RunTool) -> str: ...


@dataclass(slots=True)
class SessionLimits:
    max_messages_per_second: float = 200.0
    max_session_seconds: float = 3600.0
    reconnect_attempts: int = 4
    reconnect_initial_delay: float = 0.25
    reconnect_max_delay: float = 4.0
    max_queued_while_reconnecting: int = 2000
    append_batch_seconds: float = 0.0
    """Hold client audio appends this long and send them upstream as one (0: forward each at once)."""


@dataclass(slots=True)
class SessionStats:
    started_at: float
    frames_in: int = 0
    frames_out: int = 0
    errors_sent: int = 0
    dropped_by_hooks: int = 0
    upstream_reconnects: int = 0
    tool_calls: int = 0


class _TokenBucket:
    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class GatewaySession:
    def __init__(
        self,
        *,
        client_id: str,
        channel: Channel,
        profile: AgentProfile,
        client: ClientPort,
        connector: UpstreamConnector,
        chain: InterceptionChain,
        tools: ToolRunner,
        server_tools: frozenset[str],
        initial_session: JSON,
        beta: bool = False,
        custom_events: bool = True,
        limits: SessionLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        business_id: int | None = None,
    ) -> None:
        self.id = new_id("vgs_", 16)
        self.client_id = client_id
        self.channel = channel
        self.profile = profile
        self.client = client
        self.connector = connector
        self.chain = chain
        self.tools = tools
        self.beta = beta
        self.custom_events = custom_events
        self.limits = limits or SessionLimits()
        self.clock = clock
        self.business_id = business_id
        self.conversation = Conversation(server_tools=server_tools)
        self.stats = SessionStats(started_at=clock())
        self.state: dict[str, Any] = {}  # per-session scratch for hooks and tools
        self._initial_session = initial_session
        self._upstream: UpstreamConnection | None = None
        self._reconnecting = False
        self._upstream_written = False  # since the last flush_upstream
        self._queued: deque[str] = deque()
        self._suppress_items: set[str] = set()
        self._suppress_session_events = 0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._bucket = _TokenBucket(self.limits.max_messages_per_second, clock)
        self._appends = AppendBatch()
        self._append_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.observer: SessionObserver | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        """How the session was first closed (for the record of its end)."""

    # -- life cycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect upstream and apply the agent profile; raises UpstreamUnavailable."""
        try:
            self._upstream = await self.connector.connect()
        except UpstreamUnavailable:
            if self.observer is not None:
                self.observer.upstream(self, "connect_failed")
            raise
        if self.observer is not None:
            self.observer.upstream(self, "connected")
        await self._send_upstream_event(
            {
                "type": "session.update",
                "event_id": self.conversation.next_event_id("profile"),
                "session": self._initial_session,
            }
        )

    async def greet(self) -> None:
        """Have the agent speak first (phone calls)."""
        await self._send_upstream_event(
            {
                "type": "response.create",
                "event_id": self.conversation.next_event_id("greeting"),
                "response": self.profile.greeting_response(),
            }
        )

    async def say_out_of_band(self, line: str) -> None:
        """Speak a line outside the conversation (a filler while a slow tool runs)."""
        await self._send_upstream_event(
            {
                "type": "response.create",
                "event_id": self.conversation.next_event_id("filler"),
                "response": {
                    "conversation": "none",
                    "instructions": f'{GREETING_PREFIX}{line}"',
                    "metadata": {"voxgate": "filler"},
                },
            }
        )

    async def run_upstream(self) -> None:
        """Relay upstream events to the client until either side ends.

        While this task waits for a frame, the upstream socket's callback handles the frames that
        arrive (``take_upstream_frame``), so the task wakes only for what had to wait: an async hook,
        a client socket that must drain.
        """
        handled_by: UpstreamConnection | None = None
        try:
            while not self._closing:
                upstream = self._upstream
                if upstream is None:
                    return
                if upstream is not handled_by:  # the first connection, or a reconnect's
                    if handled_by is not None:
                        handled_by.set_handler(None)
                    handled_by = upstream
                    upstream.set_handler(self._take_upstream_now, self._flush_client_now)
                try:
                    raw = await upstream.recv_or_rest()
                except UpstreamClosed as exc:
                    if self._closing:
                        return
                    if exc.retryable and await self._reconnect(exc):
                        continue
                    await self._fail(f"upstream_closed: {exc.code} {exc.reason}".strip(), exc)
                    return
                if isinstance(raw, bytes):
                    await self.handle_upstream_frame(raw)
                else:
                    await raw  # what the socket's callback left of a frame: finished before the next
                self._flush_client_now()
        finally:
            if handled_by is not None:
                handled_by.set_handler(None)

    def _take_upstream_now(self, raw: bytes) -> Awaitable[None] | None:
        if self._closing:
            return None  # the reader has stopped: the frame would not have been read
        return self.take_upstream_frame(raw)

    def _flush_client_now(self) -> None:
        upstream = self._upstream
        if upstream is not None and not upstream.pending():
            # What was delivered leaves now. The transports hold writes until the end of the loop
            # turn, which batches a read of many frames into one send; but when many sessions'
            # frames arrive in the same turn, the first session's would wait for every other
            # session's processing.
            self.client.flush()

    def flush_upstream(self) -> None:
        """The client has nothing more queued: what was sent upstream for it leaves now (see
        ``run_upstream`` for the other direction). Called after every client message, so it does
        nothing unless something was written since the last time (audio is mostly held back)."""
        if self._upstream_written:
            self._upstream_written = False
            upstream = self._upstream
            if upstream is not None:
                upstream.flush()

    async def run_session_timer(self) -> None:
        await asyncio.sleep(self.limits.max_session_seconds)
        if self._closing:
            return
        await self.send_to_client(
            error_event(
                "session_expired",
                f"The session reached its {self.limits.max_session_seconds:g} s limit.",
                error_type="invalid_request_error",
            )
        )
        await self.close(1000, "session length limit reached")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closing:
            return
        self._closing = True
        self.close_code, self.close_reason = code, reason
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        if self._appends and self._upstream is not None and not self._reconnecting:
            with contextlib.suppress(UpstreamClosed):  # audio the client sent before it left still goes
                await self._flush_appends()
        if self._append_timer is not None:
            self._append_timer.cancel()
        upstream, self._upstream = self._upstream, None
        if upstream is not None:
            await upstream.close()
        with contextlib.suppress(Exception):  # the client may already be gone; closing is best effort
            await self.client.close(code, reason)

    @property
    def closed(self) -> bool:
        return self._closing

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        # Looked up once: on CPython 3.11 every lookup of the running loop is a getpid() system call,
        # and the relay path needs the loop several times per frame.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task of this session: ``close()`` cancels it."""
        task: asyncio.Task[None] = self._event_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- client -> upstream -------------------------------------------------------------------
    # Each step answers what is left to do as an awaitable, or None when it is all done: a relay door
    # handles most client frames at once, in its socket's callback, without a task or a coroutine
    # (``take_client_frame``), and awaits the rest before the next frame.
    async def handle_client_frame(self, frame: str | bytes) -> None:
        await finish(self.take_client_frame(frame))

    def take_client_frame(self, frame: str | bytes) -> Awaitable[None] | None:
        """Handle a client frame as far as it goes without waiting; the rest comes back to be awaited
        before the next frame (an error to send, an async hook, a socket that must drain first)."""
        self.stats.frames_in += 1
        raw: str | bytes | None = frame
        if not self._bucket.take():
            return self.send_error(
                ProtocolError(
                    "rate_limit_exceeded",
                    f"More than {self.limits.max_messages_per_second:g} messages per second; this one was "
                    "not delivered. Slow down or batch audio into larger appends.",
                )
            )
        try:
            data = decode_json_object(frame)
        except ProtocolError as exc:
            return self.send_error(exc)
        if self.beta and data["type"] not in ("get_token", "function_call"):
            try:
                data = dialect.beta_client_to_ga(data)
            except ProtocolError as exc:
                return self.send_error(exc)
            raw = None  # translated: the raw frame no longer matches
        return self.take_client_event(data, raw)

    async def submit_client_event(self, data: JSON, raw: str | bytes | None = None) -> None:
        """A client event (from the socket, or made by a transport like the phone bridge): chain, forward."""
        await finish(self.take_client_event(data, raw))

    def take_client_event(self, data: JSON, raw: str | bytes | None = None) -> Awaitable[None] | None:
        result = self.chain.run_now(Message("client", data, self, raw))
        if result is None or isinstance(result, Message | Reply):
            return self._take_chain_result(result)
        return self._finish_client_event(result)

    async def _finish_client_event(self, pending: Awaitable[HookResult]) -> None:
        await finish(self._take_chain_result(await pending))

    def _take_chain_result(self, result: HookResult) -> Awaitable[None] | None:
        if isinstance(result, Reply):
            return self._send_replies(result.events)
        if result is None:
            self.stats.dropped_by_hooks += 1
            return None
        if result.type == "session.update":
            self.conversation.note_session_update(result.data.get("session") or {})
        elif result.type == "input_audio_buffer.append" and self.limits.append_batch_seconds > 0:
            audio = result.data.get("audio")
            if isinstance(audio, str):
                return self._take_append(audio, result.data.get("event_id"))
        return self._take_forward(result.raw if isinstance(result.raw, str) else dumps(result.data))

    async def _send_replies(self, events: Sequence[JSON]) -> None:
        for event in events:
            await self.send_to_client(event)

    def _take_append(self, audio: str, event_id: str | None) -> Awaitable[None] | None:
        now = self.clock()
        self._appends.add(audio, event_id, now)
        if self._appends.full or now - self._appends.started_at >= self.limits.append_batch_seconds:
            return self._take_held_appends()
        if self._append_timer is None:
            self._append_timer = self._event_loop().call_later(
                self.limits.append_batch_seconds, self._on_append_timer
            )
        return None

    def _on_append_timer(self) -> None:
        # The window is over before more audio came: send what is held, at once when the socket takes
        # it (the usual case: no task to start), else from a task that waits for the socket.
        self._append_timer = None
        if not self._appends or self._closing:
            return
        rest = self._take_upstream_text(self._appends.take())
        if rest is not None:
            self.spawn(rest)

    def _take_held_appends(self) -> Awaitable[None] | None:
        if self._append_timer is not None:
            self._append_timer.cancel()
            self._append_timer = None
        if not self._appends:
            return None
        return self._take_upstream_text(self._appends.take())

    async def _flush_appends(self) -> None:
        await finish(self._take_held_appends())

    def _take_forward(self, text: str) -> Awaitable[None] | None:
        if self._appends:  # held audio goes first: nothing overtakes what the client sent before it
            held = self._take_held_appends()
            if held is not None:
                return self._send_after(held, text)
        return self._take_upstream_text(text)

    async def _send_after(self, first: Awaitable[None], text: str) -> None:
        await first
        await self._send_upstream_text(text)

    async def _forward_upstream(self, text: str) -> None:
        await finish(self._take_forward(text))

    def _take_upstream_text(self, text: str) -> Awaitable[None] | None:
        """Write ``text`` upstream now if the socket takes it, else the coroutine that will (which also
        queues it while reconnecting)."""
        upstream = self._upstream
        if not self._reconnecting and upstream is not None and upstream.send_now(text):
            self._upstream_written = True
            return None
        return self._send_upstream_text(text)

    async def _send_upstream_text(self, text: str) -> None:
        if self._reconnecting:
            if len(self._queued) >= self.limits.max_queued_while_reconnecting:
                await self.send_error(
                    ProtocolError(
                        "upstream_reconnecting",
                        "The upstream is reconnecting and the queue is full; this message was not delivered.",
                        error_type="server_error",
                    )
                )
                return
            self._queued.append(text)
            return
        upstream = self._upstream
        if upstream is None:
            return
        self._upstream_written = True
        try:
            await upstream.send(text)
        except UpstreamClosed:
            # The receive loop sees the same close and reconnects; keep the message for the replay.
            self._queued.append(text)

    async def _send_upstream_event(self, event: JSON) -> None:
        if event["type"] == "session.update":
            self.conversation.note_session_update(event["session"])
        if self.observer is not None:
            self.observer.gateway_event(self, True, event)
        await self._forward_upstream(dumps(event))

    # -- upstream -> client -------------------------------------------------------------------
    async def handle_upstream_frame(self, raw: bytes) -> None:
        await finish(self.take_upstream_frame(raw))

    def take_upstream_frame(self, raw: bytes) -> Awaitable[None] | None:
        """Handle an upstream frame as far as it goes without waiting; the rest comes back to be
        awaited before the next frame (an async hook, a hook's reply, a client socket that must drain)."""
        received = self.clock()
        try:
            data = decode_json_object(raw)
        except ProtocolError:
            log.warning("session %s: upstream sent a frame that is not a JSON event; ignored", self.id)
            return None
        if self._suppressed(data):
            self.conversation.on_server_event(data)
            return None
        if self._is_own_harmless_error(data):
            log.info(
                "session %s: upstream declined %s (%s)",
                self.id,
                data["error"].get("event_id"),
                data["error"].get("code"),
            )
            return None
        result = self.chain.run_now(Message("upstream", data, self, raw))
        if result is None or isinstance(result, Message | Reply):
            return self._take_upstream_result(result, received)
        return self._finish_upstream_frame(result, received)

    async def _finish_upstream_frame(self, pending: Awaitable[HookResult], received: float) -> None:
        await finish(self._take_upstream_result(await pending, received))

    def _take_upstream_result(self, result: HookResult, received: float) -> Awaitable[None] | None:
        if isinstance(result, Reply):
            return self._send_upstream_events(result.events)
        if result is None:
            self.stats.dropped_by_hooks += 1
            return None
        rest = self._take_deliver(result.data, result.raw)
        if rest is not None:
            return self._observe_relayed_after(rest, received)
        if self.observer is not None:
            self.observer.relayed(self, self.clock() - received)
        return None

    async def _observe_relayed_after(self, delivery: Awaitable[None], received: float) -> None:
        await delivery
        if self.observer is not None:
            self.observer.relayed(self, self.clock() - received)

    async def _send_upstream_events(self, events: Sequence[JSON]) -> None:
        for event in events:
            await self._send_upstream_event(event)

    def _suppressed(self, data: JSON) -> bool:
        """Echoes of a reconnect's replay: the client saw these already."""
        kind = data["type"]
        if self._suppress_session_events and kind in ("session.created", "session.updated"):
            self._suppress_session_events -= 1
            return True
        if self._suppress_items and kind in ("conversation.item.added", "conversation.item.done"):
            item_id = data.get("item", {}).get("id")
            if item_id in self._suppress_items:
                if kind == "conversation.item.done":
                    self._suppress_items.discard(item_id)
                return True
        return False

    @staticmethod
    def _is_own_harmless_error(data: JSON) -> bool:
        # A continuation racing a VAD-created response is expected (protocol-reference 8.3).
        if data["type"] != "error":
            return False
        error = data.get("error") or {}
        event_id = error.get("event_id") or ""
        return event_id.startswith(GATEWAY_EVENT_PREFIX) and error.get("code") in (
            "conversation_already_has_active_response",
            "response_cancel_not_active",
        )

    async def send_to_client(self, event: JSON) -> None:
        self._observe_own(event)
        await self._deliver(event, None)

    async def send_custom(self, event: JSON) -> None:
        """A voxgate event beside the Realtime protocol (not sent on the drop-in door)."""
        if self.custom_events:
            self._observe_own(event)
            await self._deliver(event, None)

    async def send_error(self, error: ProtocolError) -> None:
        self.stats.errors_sent += 1
        event = error.to_event()
        self._observe_own(event)
        await self._deliver(event, None)

    def _observe_own(self, event: JSON) -> None:
        """An event the gateway itself sends the client (the chain saw only upstream ones)."""
        if self.observer is not None and not self._closing:
            self.observer.gateway_event(self, False, event)

    async def _deliver(self, event: JSON, raw: str | bytes | None) -> None:
        await finish(self._take_deliver(event, raw))

    def _take_deliver(self, event: JSON, raw: str | bytes | None) -> Awaitable[None] | None:
        if self._closing:
            return None
        self.stats.frames_out += 1
        return self.client.deliver_now(event, raw)

    # -- tools ----------------------------------------------------------------------------------
    def execute(self, actions: list[RunTool | SendUpstream]) -> None:
        for action in actions:
            if isinstance(action, RunTool):
                self.stats.tool_calls += 1
                self.spawn(self._run_tool(action))
            else:
                self.spawn(self._send_upstream_event(action.event))

    async def _run_tool(self, call: RunTool) -> None:
        output = await self.tools.run(self, call)
        for action in self.conversation.on_tool_output(call.response_id, call.call_id, output):
            if isinstance(action, SendUpstream):
                await self._send_upstream_event(action.event)

    # -- upstream failures ------------------------------------------------------------------------
    async def _reconnect(self, cause: UpstreamClosed) -> bool:
        self._reconnecting = True
        lost_response = self.conversation.forget_in_flight()
        delay = self.limits.reconnect_initial_delay
        log.warning("session %s: upstream dropped (%s %s); reconnecting", self.id, cause.code, cause.reason)
        for attempt in range(1, self.limits.reconnect_attempts + 1):
            await asyncio.sleep(delay)
            if self._closing:
                return False
            try:
                upstream = await self.connector.connect()
            except UpstreamUnavailable as exc:
                if self.observer is not None:
                    self.observer.upstream(self, "reconnect_failed")
                log.warning("session %s: reconnect attempt %d failed: %s", self.id, attempt, exc)
                delay = min(delay * 2, self.limits.reconnect_max_delay)
                continue
            self._upstream = upstream
            replay = self.conversation.replay_events()
            self._suppress_session_events = 1 + sum(1 for e in replay if e["type"] == "session.update")
            self._suppress_items = {
                e["item"]["id"] for e in replay if e["type"] == "conversation.item.create"
            }
            try:
                for event in replay:
                    await upstream.send(dumps(event))
                while self._queued:
                    await upstream.send(self._queued[0])
                    self._queued.popleft()
            except UpstreamClosed:
                continue
            self._reconnecting = False
            self.stats.upstream_reconnects += 1
            if self.observer is not None:
                self.observer.upstream(self, "reconnected")
            log.info(
                "session %s: upstream restored after %d attempt(s), %d items replayed",
                self.id,
                attempt,
                len(self._suppress_items),
            )
            await self.send_custom(
                {
                    "type": "voxgate.upstream.reconnected",
                    "attempts": attempt,
                    "close_code": cause.code,
                    "replayed_items": len(self._suppress_items),
                    "interrupted_response_id": lost_response,
                }
            )
            return True
        self._reconnecting = False
        return False

    async def _fail(self, reason: str, cause: Exception | None = None) -> None:
        log.warning("session %s: ending, %s", self.id, reason)
        if self.observer is not None:
            self.observer.upstream(self, "lost")
        unsent = len(self._queued)
        message = "The upstream Realtime connection was lost and could not be restored."
        if unsent:
            message += f" {unsent} message(s) sent meanwhile were not delivered."
        await self.send_to_client(error_event("upstream_unavailable", message, error_type="server_error"))
        await self.close(1011, reason[:120])

    def summary(self) -> JSON:
        return {
            "session_id": self.id,
            "client_id": self.client_id,
            "channel": self.channel,
            "agent": self.profile.name,
            "dialect": "beta" if self.beta else "ga",
            "upstream_session_id": self.conversation.upstream_session_id,
            "age_seconds": round(self.clock() - self.stats.started_at, 3),
            "frames_in": self.stats.frames_in,
            "frames_out": self.stats.frames_out,
            "items": len(self.conversation.items),
            "responses": self.conversation.responses_seen,
            "tool_calls": self.stats.tool_calls,
            "upstream_reconnects": self.stats.upstream_reconnects,
            "reconnecting": self._reconnecting,
        }

"""One phone call's I/O: the Twilio Media Stream socket, the ``PhoneCall`` state machine, the session.

``PhoneBridge`` is the session's ``ClientPort``: upstream events the session delivers go into
``PhoneCall.on_upstream_event``; Twilio messages into ``PhoneCall.on_twilio_message``; both hand
back actions that are carried out here (``SendToTwilio`` on the socket, ``SendUpstream`` through the
session's chain, ``HangUp``, ``Metric`` into the call record). It is also the ``PhoneControl`` the
phone tools use.

Ordering: the state machine assumes the Twilio messages it produced reach Twilio in the order it
produced them (a ``clear`` must follow the media it discards). Each batch of Twilio messages is sent
under one lock taken without yielding right after the batch was produced, so batches from the
upstream task, the Twilio reader and the timer never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voxgate.protocol.calls import EndReason
from voxgate.protocol.phone import (
    HangUp,
    Metric,
    PhoneAction,
    PhoneCall,
    PhoneConfig,
    PhoneError,
    SendToTwilio,
)
from voxgate.protocol.realtime import JSON
from voxgate.protocol.twilio import (
    Connected,
    Start,
    Stop,
    TwilioProtocolError,
    UnknownTwilioEvent,
    parse_message,
)
from voxgate.protocol.twiml import line, spoken_twiml
from voxgate.tools.phone_tools import PHONE_STATE_KEY
from voxgate.transports.bridge import GatewaySession
from voxgate.transports.handle_now import finish
from voxgate.transports.twilio_rest import TwilioRestError
from voxgate.transports.upstream import UpstreamUnavailable
from voxgate.transports.ws_server import (
    Backlog,
    Flush,
    Receive,
    SendText,
    frame_receiver,
    read_in_own_task,
    relay_backlog,
    relay_flusher,
    relay_sender,
)

if TYPE_CHECKING:
    from voxgate.transports.phone_line import PhoneLine

log = logging.getLogger("voxgate.phone")

TICK_S: Final = 0.5  # timers (hang-up deadline, DTMF collection) need no finer resolution
OUTCOME_STATE_KEY: Final = "call_outcome"
"""A business tool sets ``ctx.state["call_outcome"]`` (``booked``, ``ordered``) for the call record."""
_NOTED: Final = frozenset(
    {
        "response.output_audio_transcript.done",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.truncated",
        "error",
    }
)


class PhoneBridge:
    def __init__(self, line: PhoneLine, call_sid: str, business: str, config: PhoneConfig) -> None:
        self.line = line
        self.call_sid = call_sid
        self.business = business
        self.phone = PhoneCall(config)
        self.session: GatewaySession | None = None
        self.websocket: WebSocket | None = None
        self._send_now: SendText | None = None
        self._flush: Flush | None = None
        self.clock = line.gateway.clock
        self._twilio_lock = asyncio.Lock()
        self._socket_open = False
        self._end_reason: EndReason | None = None
        self._transfer_to: str | None = None
        self._started_at = 0.0
        self._greeted = False
        self._finished = False

    # -- the stream ------------------------------------------------------------------------------
    async def run(self, websocket: WebSocket, connected: Connected | None, start: Start) -> None:
        """Serve the stream until Twilio stops it, the agent hangs up or the upstream fails."""
        session = self.session
        assert session is not None, "open_bridge sets the session"
        self.websocket = websocket
        self._send_now = relay_sender(websocket.scope)
        self._flush = relay_flusher(websocket.scope)
        self._socket_open = True
        self._started_at = self.clock()
        session.state[PHONE_STATE_KEY] = self
        try:
            if connected is not None:
                self.phone.on_twilio_message(connected, self._started_at)
            self.phone.on_twilio_message(start, self._started_at)
        except PhoneError as exc:
            log.warning("call %s: refusing the stream: %s", self.call_sid, exc)
            self._set_end("stream_refused")
            await self._finish()
            return
        self.line.calls.stream_started(
            self.call_sid,
            at=self.line.gateway.wall_clock(),
            stream_sid=start.stream_sid,
            session_id=session.id,
        )
        log.info("call %s: stream %s started (session %s)", self.call_sid, start.stream_sid, session.id)
        session.spawn(session.run_upstream())
        session.spawn(session.run_session_timer())
        session.spawn(self._tick())
        try:
            await session.greet()
            await read_in_own_task(
                self._read_frames(frame_receiver(websocket), relay_backlog(websocket.scope))
            )
        finally:
            await self._finish()

    async def _read_frames(self, receive: Receive, backlog: Backlog | None) -> None:
        phone = self.phone
        session = self.session
        assert session is not None
        while not session.closed:
            try:
                message = await receive()
            except (WebSocketDisconnect, RuntimeError):
                break
            if message["type"] == "websocket.disconnect":
                break
            frame = message.get("text") or message.get("bytes")
            if not frame:
                continue
            try:
                parsed = parse_message(frame)
            except UnknownTwilioEvent:
                continue  # newer Twilio events: not ours to handle
            except TwilioProtocolError as exc:
                log.warning("call %s: ignoring a malformed Twilio message: %s", self.call_sid, exc)
                continue
            if isinstance(parsed, Stop):
                # The caller hung up (or the call moved on): close the upstream at once, it is billed.
                self._set_end("caller_hung_up")
                phone.on_twilio_message(parsed, self.clock())
                break
            try:
                actions = phone.on_twilio_message(parsed, self.clock())
            except PhoneError as exc:  # e.g. a second 'start': Twilio never does it; ignore the message
                log.warning("call %s: ignoring a Twilio message: %s", self.call_sid, exc)
                continue
            if actions:
                await self._execute(actions)
            if backlog is not None and not backlog():
                session.flush_upstream()
        self._socket_open = False

    async def _tick(self) -> None:
        session = self.session
        while session is not None and not session.closed:
            await asyncio.sleep(TICK_S)
            actions = self.phone.tick(self.clock())
            if actions:
                await self._execute(actions)

    # -- ClientPort --------------------------------------------------------------------------------
    def flush(self) -> None:
        if self._flush is not None and self._socket_open:
            self._flush()

    async def deliver(self, event: JSON, raw: str | bytes | None) -> None:
        await finish(self.deliver_now(event, raw))

    def deliver_now(self, event: JSON, raw: str | bytes | None) -> Awaitable[None] | None:
        kind = event["type"]
        if kind in _NOTED:
            self._note(kind, event)
        if self.websocket is None:
            return None
        try:
            actions = self.phone.on_upstream_event(event, self.clock())
        except PhoneError as exc:
            log.error("call %s: the upstream broke the phone protocol: %s", self.call_sid, exc)
            self._set_end("upstream_failed")
            return self._stop("upstream protocol error")
        if not actions:
            return None
        send_now = self._send_now
        if send_now is None or not self._greeted or not self._socket_open or self._twilio_lock.locked():
            return self._execute(actions)
        # The commonest case, media and marks for Twilio: written now when the socket takes them.
        for sent, action in enumerate(actions):
            if not isinstance(action, SendToTwilio) or not send_now(action.text.encode()):
                return self._execute(actions[sent:])
        return None

    async def close(self, code: int, reason: str) -> None:
        if self.websocket is None:
            return  # no stream yet: whoever closes the session says how the call ended
        if code == 1011:
            self._set_end("upstream_failed")
        elif code == 1001:
            self._set_end("gateway_shutdown")
        await self._close_socket(reason)

    # -- PhoneControl (for the phone tools) ----------------------------------------------------------
    @property
    def can_transfer(self) -> bool:
        return bool(self.line.settings.transfer_number)

    async def end_call(self, reason: str | None) -> None:
        log.info("call %s: the agent ends the call (%s)", self.call_sid, reason or "no reason given")
        await self._execute(self.phone.request_hangup(self.clock(), "end_call", after_next_response=True))

    async def transfer(self, reason: str | None) -> None:
        self._transfer_to = self.line.settings.transfer_number
        log.info("call %s: transfer to a human requested (%s)", self.call_sid, reason or "no reason given")
        await self._execute(self.phone.request_hangup(self.clock(), "transfer", after_next_response=True))

    # -- actions -----------------------------------------------------------------------------------
    async def _execute(self, actions: list[PhoneAction]) -> None:
        texts = [a.text for a in actions if isinstance(a, SendToTwilio)]
        if texts:
            await self._send_twilio(texts)
        if len(texts) == len(actions):
            return
        session = self.session
        assert session is not None
        for action in actions:
            if isinstance(action, SendToTwilio):
                continue
            if isinstance(action, Metric):
                self._metric(action)
            elif isinstance(action, HangUp):
                await self._hang_up(action.reason)
            else:
                await session.submit_client_event(action.event)

    async def _send_twilio(self, texts: list[str]) -> None:
        async with self._twilio_lock:
            websocket = self.websocket
            if websocket is None or not self._socket_open:
                return
            if not self._greeted:
                self._greeted = True
                self._record_greeting_latency()
            send_now = self._send_now
            try:
                for text in texts:
                    if send_now is None or not send_now(text.encode()):
                        await websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._socket_open = False

    async def _hang_up(self, reason: str) -> None:
        transfer = reason.startswith("transfer") and self._transfer_to is not None
        record = self.line.calls.get(self.call_sid)
        if record is not None and transfer:
            record.transfer_to = self._transfer_to
        self._set_end("transferred" if transfer else "agent_ended")
        rest = self.line.rest
        if rest is not None:
            try:
                if transfer:
                    assert self._transfer_to is not None
                    language = self.session.profile.language if self.session else "ro"
                    await rest.redirect(
                        self.call_sid,
                        spoken_twiml(line(language, "transfer"), language, dial=self._transfer_to),
                    )
                else:
                    await rest.hang_up(self.call_sid)
            except TwilioRestError as exc:
                # Closing the stream still works: Twilio then asks the "what next" endpoint.
                log.warning("call %s: %s; ending through the stream instead", self.call_sid, exc)
        await self._stop(reason)

    async def _stop(self, reason: str) -> None:
        session = self.session
        if session is not None and not session.closed:
            await session.close(1000, reason)
        else:
            await self._close_socket(reason)

    async def _close_socket(self, reason: str) -> None:
        websocket = self.websocket
        if websocket is None or not self._socket_open:
            return
        self._socket_open = False
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError):
                await websocket.close(1000, reason[:120])

    # -- the call record ---------------------------------------------------------------------------
    def _set_end(self, reason: EndReason) -> None:
        """Say how the call ends, in the record too, before the socket closes: Twilio's "what next"
        request follows the close at once and reads it."""
        if self._end_reason is None:
            self._end_reason = reason
        record = self.line.calls.get(self.call_sid)
        if record is not None and record.end_reason is None:
            record.end_reason = self._end_reason

    def _record_greeting_latency(self) -> None:
        record = self.line.calls.get(self.call_sid)
        if record is not None and record.greeting_latency_ms is None:
            record.greeting_latency_ms = (self.clock() - self._started_at) * 1000.0

    def _metric(self, metric: Metric) -> None:
        record = self.line.calls.get(self.call_sid)
        if record is None:
            return
        if metric.name == "turn_latency_ms":
            record.turn_latencies_ms.append(metric.value)
        elif metric.name == "barge_in_heard_ms":
            at_ms = round((self.clock() - self._started_at) * 1000.0, 1)
            record.barge_ins.append({"at_ms": at_ms, "heard_ms": metric.value})

    def _note(self, kind: str, event: JSON) -> None:
        record = self.line.calls.get(self.call_sid)
        if record is None:
            return
        if kind == "response.output_audio_transcript.done":
            record.transcript.append(
                {"role": "assistant", "item_id": event.get("item_id"), "text": event.get("transcript", "")}
            )
        elif kind == "conversation.item.input_audio_transcription.completed":
            record.transcript.append(
                {"role": "caller", "item_id": event.get("item_id"), "text": event.get("transcript", "")}
            )
        elif kind == "conversation.item.truncated":
            record.truncations.append(
                {"item_id": event.get("item_id"), "audio_end_ms": event.get("audio_end_ms")}
            )
            for entry in record.transcript:
                if entry.get("item_id") == event.get("item_id"):
                    entry["interrupted_at_ms"] = event.get("audio_end_ms")
        else:
            error = event.get("error") or {}
            record.upstream_errors.append({"code": error.get("code"), "message": error.get("message")})
            if error.get("code") == "upstream_unavailable":
                self._set_end("upstream_failed")

    async def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        session = self.session
        outcome: Any = None
        if session is not None:
            outcome = session.state.get(OUTCOME_STATE_KEY)
            if not session.closed:
                await session.close(1000, "call ended")
            self.line.gateway.end_session(session)
        await self._close_socket("call ended")
        record = self.line.calls.get(self.call_sid)
        if record is not None:
            record.digits = self.phone.digits
            record.stats = {**asdict(self.phone.stats), **(session.summary() if session else {})}
        ended = self.line.calls.finish(
            self.call_sid,
            at=self.line.gateway.wall_clock(),
            end_reason=self._end_reason or "caller_hung_up",
            outcome=outcome if isinstance(outcome, str) else None,
        )
        if ended is not None:
            log.info(
                "call %s ended: %s after %ss, %d turns",
                self.call_sid,
                ended.end_reason,
                ended.duration_s,
                len(ended.turn_latencies_ms),
            )

    async def abandon(self, end_reason: EndReason) -> None:
        """The stream never came (or will not): close the session and finish the record."""
        self._set_end(end_reason)
        await self._finish()


async def open_or_fail(line: PhoneLine, call_sid: str, business: str) -> PhoneBridge | None:
    """A bridge for a stream whose webhook session is gone (timed out, or served by another worker)."""
    profile = line.profile(business)
    if profile is None:
        return None
    try:
        return await line.open_bridge(call_sid, profile, business)
    except UpstreamUnavailable as exc:
        log.warning("call %s: upstream unavailable at stream start: %s", call_sid, exc)
        return None

"""Play Twilio for one call: signed webhook, TwiML, signed Media Stream, real-time audio, marks, clear.

What Twilio does, step by step (protocol-reference 15-18):

1. ``POST`` the voice webhook (the form fields of 15.1), signed with ``X-Twilio-Signature``;
2. read the TwiML; for ``<Connect><Stream>`` open the WebSocket with a signed upgrade;
3. send ``connected`` and ``start`` (with the ``<Parameter>``s), then a 20 ms mu-law ``media`` frame
   every 20 ms, speech or silence, with Twilio's chunk/timestamp/sequence numbering;
4. play what the gateway sends in real time: echo each ``mark`` once the audio before it has
   played, and on ``clear`` drop the queue and echo every pending mark;
5. hang up with ``stop`` (or, when the gateway closes the stream, fetch the ``<Connect action>`` URL
   like Twilio does and read what comes next); report the call status callbacks.

:func:`place_call` returns everything observed; :mod:`voxgate.caller.report` prints it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voxgate.caller.playout import Playout
from voxgate.caller.turns import HangUpNow, Script, SendDigits, StartSpeaking, Turn, TurnTaker
from voxgate.caller.twiml import Twiml, parse_twiml
from voxgate.protocol.twilio import b64encode
from voxgate.transports.twilio_auth import SIGNATURE_HEADER, TwilioSigner

FRAME_MS: Final = 20
FRAME_BYTES: Final = 160
SILENCE: Final = b"\xff" * FRAME_BYTES


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(slots=True)
class CallSpec:
    webhook_url: str
    """The voice webhook exactly as Twilio requests it (the URL is part of the signature)."""
    auth_token: str
    from_number: str = "+40722000111"
    to_number: str = "+40311000222"
    call_sid: str = field(default_factory=lambda: new_sid("CA"))
    account_sid: str = field(default_factory=lambda: new_sid("AC"))
    direction: str = "inbound"
    status_callback_url: str | None = None
    """Where call status callbacks go; by default ``/api/twilio/status`` beside the webhook."""
    admin_key: str | None = None
    """To read the call record (``GET /api/calls/{sid}``) for the transcript; loopback needs none."""

    def sibling(self, path: str) -> str:
        parts = urlsplit(self.webhook_url)
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True, slots=True)
class Event:
    at_ms: float
    what: str
    detail: str = ""


@dataclass(slots=True)
class BargeIn:
    at_ms: float
    agent_played_ms: float
    """Agent audio the caller had heard in the reply being interrupted."""
    marks_before: list[str]
    """Marks echoed (played) before the barge-in, oldest first."""
    clear_at_ms: float | None = None
    marks_cleared: list[str] = field(default_factory=list)
    """Marks echoed because the ``clear`` discarded their audio."""


@dataclass(slots=True)
class CallResult:
    spec: CallSpec
    twiml: Twiml | None = None
    twiml_text: str = ""
    webhook_status: int | None = None
    stream_sid: str | None = None
    timeline: list[Event] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    greeting_latency_ms: float | None = None
    barge_ins: list[BargeIn] = field(default_factory=list)
    echoed_marks: list[tuple[float, str]] = field(default_factory=list)
    agent_audio: bytearray = field(default_factory=bytearray)
    """What the caller heard, on the call's real-time timeline (silence where nothing played)."""
    received_bytes: int = 0
    played_bytes: int = 0
    cleared_bytes: int = 0
    protocol_errors: list[str] = field(default_factory=list)
    ended_by: str = ""
    close_code: int | None = None
    after: Twiml | None = None
    """What the ``<Connect action>`` answered when the gateway ended the stream."""
    record: dict[str, Any] | None = None
    """The gateway's call record, when it could be read."""
    duration_s: float = 0.0


class _Stream:
    """The Media Stream side of the call: sending frames, receiving and playing the agent's audio."""

    def __init__(self, ws: ClientConnection, result: CallResult, stream_sid: str, record: bool) -> None:
        self.ws = ws
        self.result = result
        self.stream_sid = stream_sid
        self.record = record
        self.playout = Playout()
        self.sequence = 1  # 'start' is 1
        self.chunk = 0
        self.t0 = 0.0
        self.clock: Callable[[], float] = time.monotonic
        self.turns: TurnTaker | None = None
        self.media_head = (
            '{"event":"media","streamSid":' + orjson.dumps(stream_sid).decode() + ',"sequenceNumber":"'
        )

    def now_ms(self) -> float:
        return (self.clock() - self.t0) * 1000.0

    async def send(self, message: dict[str, Any]) -> None:
        self.sequence += 1
        message["sequenceNumber"] = str(self.sequence)
        await self.ws.send(orjson.dumps(message).decode())

    async def send_media(self, frame: bytes) -> None:
        self.sequence += 1
        self.chunk += 1
        timestamp = (self.chunk - 1) * FRAME_MS
        await self.ws.send(
            f'{self.media_head}{self.sequence}","media":{{"track":"inbound","chunk":"{self.chunk}",'
            f'"timestamp":"{timestamp}","payload":"{b64encode(frame)}"}}}}'
        )

    async def echo(self, name: str) -> None:
        self.result.echoed_marks.append((self.now_ms(), name))
        await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def receive(self) -> None:
        result = self.result
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                try:
                    message = orjson.loads(raw)
                    kind = message["event"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    result.protocol_errors.append(f"not a Media Streams message: {str(raw)[:80]}")
                    continue
                if message.get("streamSid") != self.stream_sid:
                    result.protocol_errors.append(f"{kind} with streamSid {message.get('streamSid')!r}")
                    continue
                if kind == "media":
                    payload = (message.get("media") or {}).get("payload")
                    try:
                        if not isinstance(payload, str):
                            raise ValueError("no payload")
                        audio = base64.b64decode(payload, validate=True)
                    except ValueError:
                        result.protocol_errors.append("media without a valid base64 payload")
                        continue
                    self.playout.media(audio)
                    if self.turns is not None:
                        self.turns.agent_audio_arrived(self.now_ms())
                elif kind == "mark":
                    name = (message.get("mark") or {}).get("name")
                    if not isinstance(name, str) or not name:
                        result.protocol_errors.append("mark without mark.name")
                        continue
                    self.playout.mark(name)
                elif kind == "clear":
                    await self._clear()
                else:
                    result.protocol_errors.append(f"unknown event {kind!r}")

    async def _clear(self) -> None:
        now = self.now_ms()
        queued = self.playout.queued_bytes
        marks = self.playout.clear()
        self.result.cleared_bytes += queued
        self.result.timeline.append(Event(now, "clear", f"{queued / 8:.0f} ms of queued agent audio dropped"))
        barge = self.result.barge_ins[-1] if self.result.barge_ins else None
        if barge is not None and barge.clear_at_ms is None:
            barge.clear_at_ms = now
            barge.marks_cleared = list(marks)
        for name in marks:
            await self.echo(name)


def _form(spec: CallSpec, status: str, **extra: str) -> dict[str, str]:
    form = {
        "AccountSid": spec.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": spec.call_sid,
        "CallStatus": status,
        "Called": spec.to_number,
        "Caller": spec.from_number,
        "Direction": spec.direction,
        "From": spec.from_number,
        "To": spec.to_number,
    }
    form.update(extra)
    return form


async def _post_signed(
    http: httpx.AsyncClient, signer: TwilioSigner, url: str, form: dict[str, str]
) -> httpx.Response:
    return await http.post(url, data=form, headers={SIGNATURE_HEADER: signer.sign(url, form)})


async def place_call(
    spec: CallSpec,
    script: Script,
    *,
    record: bool = True,
    max_call_s: float = 180.0,
    on_event: Callable[[Event], None] | None = None,
) -> CallResult:
    """Run one call to the end; never raises for what the gateway does (it is all in the result)."""
    signer = TwilioSigner(spec.auth_token)
    result = CallResult(spec)
    status_url = spec.status_callback_url or spec.sibling("/api/twilio/status")
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=20.0) as http:
        response = await _post_signed(http, signer, spec.webhook_url, _form(spec, "ringing"))
        result.webhook_status = response.status_code
        if response.status_code != 200:
            result.ended_by = f"webhook answered HTTP {response.status_code}"
            return result
        result.twiml_text = response.text
        result.twiml = parse_twiml(response.text)
        stream = result.twiml.stream
        sequence = 0
        if stream is None:
            result.ended_by = "TwiML without a stream: " + ", ".join(result.twiml.verbs)
        else:
            await _post_status(http, signer, status_url, spec, "in-progress", sequence)
            sequence += 1
            await _run_stream(
                spec, script, stream.url, stream.parameters, signer, result, record, max_call_s, on_event
            )
            if result.ended_by == "gateway closed the stream" and stream.action:
                answer = await _post_signed(http, signer, stream.action, _form(spec, "in-progress"))
                if answer.status_code == 200:
                    result.after = parse_twiml(answer.text)
        result.duration_s = time.monotonic() - started
        await _post_status(
            http, signer, status_url, spec, "completed", sequence, CallDuration=str(round(result.duration_s))
        )
        result.record = await _read_record(http, spec)
    return result


async def _post_status(
    http: httpx.AsyncClient,
    signer: TwilioSigner,
    url: str,
    spec: CallSpec,
    status: str,
    sequence: int,
    **extra: str,
) -> None:
    form = _form(spec, status, CallbackSource="call-progress-events", SequenceNumber=str(sequence), **extra)
    with contextlib.suppress(httpx.HTTPError):
        await _post_signed(http, signer, url, form)


async def _read_record(http: httpx.AsyncClient, spec: CallSpec) -> dict[str, Any] | None:
    headers = {"Authorization": f"Bearer {spec.admin_key}"} if spec.admin_key else {}
    try:
        response = await http.get(spec.sibling(f"/api/calls/{spec.call_sid}"), headers=headers)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    data: dict[str, Any] = response.json()
    return data


async def _run_stream(
    spec: CallSpec,
    script: Script,
    url: str,
    parameters: dict[str, str],
    signer: TwilioSigner,
    result: CallResult,
    record: bool,
    max_call_s: float,
    on_event: Callable[[Event], None] | None,
) -> None:
    headers = {SIGNATURE_HEADER: signer.sign(url, {})}
    try:
        ws = await connect(url, additional_headers=headers, max_size=None, compression=None, open_timeout=20)
    except InvalidStatus as exc:
        result.ended_by = f"stream refused: HTTP {exc.response.status_code}"
        return
    except OSError as exc:
        result.ended_by = f"stream unreachable: {exc}"
        return
    stream_sid = new_sid("MZ")
    result.stream_sid = stream_sid
    call = _Stream(ws, result, stream_sid, record)

    def note(what: str, detail: str = "") -> None:
        event = Event(call.now_ms(), what, detail)
        result.timeline.append(event)
        if on_event is not None:
            on_event(event)

    async with ws:
        await ws.send(orjson.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}).decode())
        call.t0 = time.monotonic()
        await ws.send(
            orjson.dumps(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "start": {
                        "accountSid": spec.account_sid,
                        "streamSid": stream_sid,
                        "callSid": spec.call_sid,
                        "tracks": ["inbound"],
                        "customParameters": parameters,
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    },
                    "streamSid": stream_sid,
                }
            ).decode()
        )
        note("start", "stream started")
        turns = TurnTaker(script)
        call.turns = turns
        receiver = asyncio.create_task(call.receive())
        try:
            await _talk(call, turns, note, max_call_s)
        finally:
            if ws.close_code is None and result.ended_by.startswith("caller"):
                with contextlib.suppress(ConnectionClosed):
                    await call.send(
                        {
                            "event": "stop",
                            "streamSid": stream_sid,
                            "stop": {"accountSid": spec.account_sid, "callSid": spec.call_sid},
                        }
                    )
                    await ws.close()
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            result.close_code = ws.close_code
    result.turns = turns.turns
    result.greeting_latency_ms = turns.greeting_ms
    result.received_bytes = call.playout.received_bytes
    result.played_bytes = call.playout.played_bytes


async def _talk(call: _Stream, turns: TurnTaker, note: Callable[[str, str], None], max_call_s: float) -> None:
    """The 20 ms loop: play, echo marks, decide, send one frame; until someone hangs up."""
    result = call.result
    speech: memoryview | None = None
    position = 0
    next_at = call.t0
    agent_was_playing = False
    while True:
        next_at += FRAME_MS / 1000.0
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if call.ws.close_code is not None or call.ws.state.name != "OPEN":
            result.ended_by = "gateway closed the stream"
            note("closed", f"the gateway closed the stream ({call.ws.close_code})")
            return
        now = call.now_ms()
        if now > max_call_s * 1000.0:
            result.ended_by = "caller gave up (time limit)"
            note("hangup", result.ended_by)
            return
        played = call.playout.advance(FRAME_MS)
        if call.record:
            result.agent_audio += played.audio + SILENCE[len(played.audio) :]
        if played.audio and not agent_was_playing:
            note("agent", "agent audio starts playing")
        agent_was_playing = bool(played.audio)
        for name in played.marks:
            await call.echo(name)
        command = turns.tick(now, len(played.audio) / 8)
        if isinstance(command, StartSpeaking):
            speech, position = memoryview(command.step.audio), 0
            turn = turns.turns[-1]
            if turn.barge_in:
                result.barge_ins.append(
                    BargeIn(now, turns.reply_heard_ms, [n for _, n in result.echoed_marks])
                )
                note("barge-in", f"caller talks over the agent after {turns.script.barge_in_at_ms:.0f} ms")
            note("caller", f"starts saying {command.step.label!r}")
        elif isinstance(command, SendDigits):
            for digit in command.digits:
                await call.send(
                    {
                        "event": "dtmf",
                        "streamSid": call.stream_sid,
                        "dtmf": {"track": "inbound_track", "digit": digit},
                    }
                )
            note("dtmf", f"caller presses {command.digits}")
        elif isinstance(command, HangUpNow):
            result.ended_by = f"caller hung up ({command.reason})"
            note("hangup", result.ended_by)
            return
        if speech is not None:
            frame = bytes(speech[position : position + FRAME_BYTES])
            position += FRAME_BYTES
            if len(frame) < FRAME_BYTES:
                frame += SILENCE[len(frame) :]
            if position >= len(speech):
                speech = None
                turns.finished_speaking(call.now_ms())
                note("caller", "stops speaking")
            await call.send_media(frame)
        else:
            await call.send_media(SILENCE)

"""The load generator of ``voxgate bench calls``: many simulated Twilio calls in one process.

Each call streams 20 ms mu-law frames at real-time pace (speech, then silence while the agent
answers, and again), plays what it receives in real time and echoes marks like Twilio, and notes
when each mark arrives. One ticker task drives every call (calls are spread over four 5 ms phases
so frames do not all leave at once), which keeps the generator itself cheap; its own lateness is
reported (``generator_lag_p99_ms``) so a saturated generator shows in the results.

Callers are independent: each waits a random think time (``THINK_MS``) before each of its turns.
With one fixed pause, every call spoke, stopped and got its answer in the same few milliseconds, turn
after turn, so the first deltas of a hundred answers reached the relay together and the delay
measured how long a burst of a hundred answers' opening events takes, not what a call is delayed by.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voxgate.caller.call import new_sid
from voxgate.caller.playout import Playout
from voxgate.caller.speech import synthesize_speech
from voxgate.caller.turns import Script, Speak, StartSpeaking, TurnTaker
from voxgate.caller.twiml import parse_twiml
from voxgate.protocol.phone import parse_mark_name
from voxgate.protocol.twilio import b64encode
from voxgate.transports.twilio_auth import SIGNATURE_HEADER, TwilioSigner

FRAME_MS: Final = 20
PHASES: Final = 4
UTTERANCE: Final = "Aș vrea o programare pentru mâine."
THINK_MS: Final = (0.0, 1500.0)
"""A caller's pause before speaking, drawn afresh for every turn."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the calls go: voxgate (signed webhook first) or the bare relay (straight to the stream)."""

    name: str
    http_url: str | None
    stream_url: str | None
    auth_token: str = ""


@dataclass(slots=True)
class CallLog:
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    """(mark name, monotonic arrival time) for marks that arrived while measuring."""
    last_mark_ms: dict[str, int] = field(default_factory=dict)
    """Per item, the furthest position a mark reported (all of the call)."""
    cleared_items: set[str] = field(default_factory=set)
    clears: int = 0
    replies: int = 0
    frames_sent: int = 0
    errors: int = 0


class LoadCall:
    def __init__(self, ws: ClientConnection, stream_sid: str, speech: Sequence[str], t0: float) -> None:
        self.ws = ws
        self.log = CallLog()
        self.playout = Playout()
        self.turns = TurnTaker(
            Script([Speak(b"", UTTERANCE)] * 10_000, reply_silence_ms=600.0, max_wait_ms=10_000.0)
        )
        self.speech = speech
        self.position = -1  # index into ``speech`` while speaking
        self.speak_at: float | None = None  # the think time of a turn runs until then
        self.measuring = False
        self.t0 = t0
        self.sequence = 1
        self.chunk = 0
        sid = orjson.dumps(stream_sid).decode()
        self.media_head = '{"event":"media","streamSid":' + sid + ',"sequenceNumber":"'
        self.mark_head = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":'
        self.last_item: str | None = None

    async def receive(self) -> None:
        log = self.log
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                message = orjson.loads(raw)
                event = message.get("event")
                if event == "media":
                    self.playout.media(_decode(message["media"]["payload"]))
                elif event == "mark":
                    name = message["mark"]["name"]
                    self.playout.mark(name)
                    if self.measuring:
                        log.arrivals.append((name, time.monotonic()))
                    parsed = parse_mark_name(name)
                    if parsed is not None:
                        item, ms = parsed[0], parsed[1]
                        log.last_mark_ms[item] = max(log.last_mark_ms.get(item, 0), ms)
                        self.last_item = item
                elif event == "clear":
                    log.clears += 1
                    if self.last_item is not None and not self.playout.idle:
                        log.cleared_items.add(self.last_item)  # audio of it was discarded
                    for name in self.playout.clear():
                        await self._echo(name)
                else:
                    log.errors += 1

    async def _echo(self, name: str) -> None:
        self.sequence += 1
        await self.ws.send(
            self.mark_head + orjson.dumps(name).decode() + '},"sequenceNumber":"' + str(self.sequence) + '"}'
        )

    async def tick(self, now: float) -> None:
        played = self.playout.advance(FRAME_MS)
        for name in played.marks:
            await self._echo(name)
        now_ms = (now - self.t0) * 1000.0
        command = self.turns.tick(now_ms, len(played.audio) / 8)
        if isinstance(command, StartSpeaking):
            self.speak_at = now + random.uniform(*THINK_MS) / 1000.0
        if self.speak_at is not None and now >= self.speak_at:
            self.speak_at = None
            self.position = 0
            self.log.replies += 1
        if self.position >= 0:
            payload = self.speech[self.position]
            self.position += 1
            if self.position >= len(self.speech):
                self.position = -1
                self.turns.finished_speaking(now_ms)
        else:
            payload = SILENCE_B64
        self.sequence += 1
        self.chunk += 1
        await self.ws.send(
            f'{self.media_head}{self.sequence}","media":{{"track":"inbound","chunk":"{self.chunk}",'
            f'"timestamp":"{(self.chunk - 1) * FRAME_MS}","payload":"{payload}"}}}}'
        )
        self.log.frames_sent += 1

    async def hang_up(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            self.sequence += 1
            await self.ws.send(orjson.dumps({"event": "stop", "sequenceNumber": str(self.sequence)}).decode())
            await self.ws.close()


SILENCE_B64: Final = b64encode(b"\xff" * 160)


def _decode(payload: str) -> bytes:
    return binascii.a2b_base64(payload)


def speech_frames() -> list[str]:
    audio = synthesize_speech(UTTERANCE, "ro")
    audio += b"\xff" * (-len(audio) % 160)
    return [b64encode(audio[i : i + 160]) for i in range(0, len(audio), 160)]


async def open_call(target: Target, http: httpx.AsyncClient, speech: Sequence[str]) -> LoadCall | None:
    """Place one call (webhook first for voxgate) and start its stream; None if it failed."""
    call_sid, stream_sid = new_sid("CA"), new_sid("MZ")
    parameters: dict[str, str] = {}
    url = target.stream_url
    headers: dict[str, str] = {}
    try:
        if target.http_url is not None:
            signer = TwilioSigner(target.auth_token)
            webhook = target.http_url + "/api/twilio/voice"
            form = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "CallStatus": "ringing",
                    "From": "+40722000111", "To": "+40311000222", "Direction": "inbound"}  # fmt: skip
            response = await http.post(
                webhook, data=form, headers={SIGNATURE_HEADER: signer.sign(webhook, form)}
            )
            stream = parse_twiml(response.text).stream
            if response.status_code != 200 or stream is None:
                return None
            url, parameters = stream.url, stream.parameters
            headers = {SIGNATURE_HEADER: signer.sign(url, {})}
        assert url is not None
        ws = await connect(url, additional_headers=headers, max_size=None, compression=None, open_timeout=30)
    except (OSError, httpx.HTTPError, ConnectionClosed, TimeoutError):
        return None
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": stream_sid,
        "start": {
            "accountSid": "AC" + "0" * 32,
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
    await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
    await ws.send(orjson.dumps(start).decode())
    return LoadCall(ws, stream_sid, speech, time.monotonic())


@dataclass(slots=True)
class LoadOutcome:
    calls: list[LoadCall]
    failed: int
    window: tuple[float, float]
    lags_ms: list[float]
    stopped_at: float


async def run_calls(
    target: Target,
    count: int,
    seconds: float,
    warmup: float,
    on_window: Callable[[str], None] | None = None,
) -> LoadOutcome:
    """Open ``count`` calls, stream for ``warmup`` + ``seconds``, hang up. Marks are logged in the window."""
    speech = speech_frames()
    async with httpx.AsyncClient(timeout=30) as http:
        opened: list[LoadCall | None] = []
        for first in range(0, count, 20):  # in waves: a connection storm is not what is measured
            wave = min(20, count - first)
            opened += await asyncio.gather(*(open_call(target, http, speech) for _ in range(wave)))
    calls = [c for c in opened if c is not None]
    receivers = [asyncio.create_task(c.receive()) for c in calls]
    lags: list[float] = []
    start = time.monotonic()
    window = (start + warmup, start + warmup + seconds)
    measuring = False
    step = FRAME_MS / 1000.0 / PHASES
    next_at = start
    tick = 0
    groups = [calls[phase::PHASES] for phase in range(PHASES)]
    while True:
        next_at += step
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.monotonic()
        if measuring:
            lags.append((now - next_at) * 1000.0)
        if not measuring and now >= window[0]:
            measuring = True
            for call in calls:
                call.measuring = True
            if on_window is not None:
                on_window("start")
        if now >= window[1]:
            break
        for call in groups[tick % PHASES]:
            with contextlib.suppress(ConnectionClosed):
                await call.tick(now)
        tick += 1
    if on_window is not None:
        on_window("end")
    for call in calls:
        call.measuring = False
    stopped_at = time.monotonic()
    await asyncio.gather(*(c.hang_up() for c in calls))
    for receiver in receivers:
        receiver.cancel()
    await asyncio.gather(*receivers, return_exceptions=True)
    return LoadOutcome(calls, count - len(calls), window, lags, stopped_at)

"""Recording conversations: the ``record`` stage of the interception chain, and the session's life.

``Recorder`` is one per gateway. It sees every event of every session, in both directions: the
chain's messages through ``hook`` (the ``record`` stage), and the gateway's own events (the profile's
``session.update``, tool outputs, ``connection_established``, errors) through the session observer
calls. Per session a ``SessionRecording`` numbers the events and turns them into store records:

- ``SessionStarted`` / ``SessionEnded`` (with the session's figures) when the session opens and ends;
- an ``EventBlock`` per session and second holding its events, each with a per-session ``seq``, audio
  payloads replaced by their size and consecutive audio chunks of a stream kept as one run
  (``voxgate.event_log``);
- ``TranscriptRecord`` per item: the user's from ``input_text`` items and input transcription, the
  assistant's from ``response.output_audio_transcript.done`` / ``response.output_text.done``;
  ``TranscriptTruncated`` when the user interrupted (the text estimated to have been heard);
- ``UsageRecord`` per ``response.done``, priced with the configured price table;
- ``ToolCallRecord`` per tool run (from ``Gateway.run``);
- ``RecordingRecord`` per item's WAV file when ``VOXGATE_RECORD_AUDIO`` is on.

The relay path only queues: ``hook`` puts the event and its monotonic time on its session's
``waiting`` list, and the events are recorded a batch per session every ``RECORD_INTERVAL`` (and
before anything that reads the recording: a tool call, the session's end, a live viewer's snapshot,
``seal``). Recorded one by one between the relay's own steps, an event cost two to four times what
it costs in a batch (the recording's code and the session's state are no longer in the CPU's caches
by the next event), which was most of what storage added to the relay's CPU. Records go to
``StoreWriter.submit`` (a deque append), WAV files are written in a worker thread; nothing awaits.
A hook after ``record`` that changes a message gives ``Message.replace`` a new dict (the chain's
rule), so the dict the recorder queued still holds what it saw.

Audio payloads are never copied or decoded here: an event is stripped (a shallow copy without the
base64 field) before it is kept. ``VOXGATE_REDACT`` masks personal data in what is stored and in the
live view. The live view (``voxgate.live``) gets a note per session start and end, transcript delta
and final text, tool call and usage.

With ``VOXGATE_STORE=0`` the recorder only keeps counters for metrics and logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from voxgate.audio_recording import Clip, ItemAudio, write_wav
from voxgate.call_recording import CallRecorder
from voxgate.chain import HookResult, Message
from voxgate.event_log import ChunkFacts, EventLog, SealRota, chunk_facts
from voxgate.live import LiveFeed, Note
from voxgate.metrics import EventDirection, GatewayMetrics, UpstreamChange
from voxgate.pricing import PriceTable
from voxgate.protocol.audio import BYTES_PER_MS
from voxgate.protocol.realtime import JSON
from voxgate.redact import redact_text, redact_value
from voxgate.store.records import (
    Record,
    RecordingRecord,
    SessionEnded,
    SessionStarted,
    ToolCallRecord,
    TranscriptRecord,
    TranscriptTruncated,
    UsageRecord,
)

if TYPE_CHECKING:
    from voxgate.protocol.calls import CallRegistry
    from voxgate.settings import Settings
    from voxgate.tools.registry import ToolResult
    from voxgate.transports.bridge import GatewaySession

log = logging.getLogger("voxgate.recording")
session_log = logging.getLogger("voxgate.sessions")

Submit = Callable[[Record], None]

SEAL_INTERVAL: Final = 1.0
"""Seconds between the blocks a session's events are written in (``voxgate.event_log``)."""
SEAL_GROUPS: Final = 20
"""The sessions are sealed in this many groups, a group every ``SEAL_INTERVAL / SEAL_GROUPS`` seconds."""

RECORD_INTERVAL: Final = SEAL_INTERVAL / SEAL_GROUPS
"""Seconds at most between an event and its recording (the live view's delay)."""
MAX_WAITING: Final = 256
"""Events a session may have waiting; one more and they are recorded at once."""

_monotonic = time.monotonic  # read at every event queued: a module global is the quickest lookup

Facts: TypeAlias = str | bytes | ChunkFacts | None
"""What ``take`` keeps with an event besides the event: an audio chunk's facts, or the frame it was parsed
from."""

RECENT_NOTES: Final = 40
"""Per active session, the last transcript and tool notes kept for a live view that joins late."""


class Recorder:
    def __init__(
        self,
        *,
        submit: Submit | None,
        metrics: GatewayMetrics,
        live: LiveFeed | None = None,
        prices: PriceTable | None = None,
        redact: bool = False,
        audio_dir: Path | None = None,
        wall_clock: Callable[[], datetime],
        model: str | None = None,
        backend: str | None = None,
        calls: CallRegistry | None = None,
    ) -> None:
        self.submit = submit
        self.enabled = submit is not None
        self.metrics = metrics
        self.live = live or LiveFeed()
        self.prices = prices or PriceTable()
        self.redact = redact
        self.audio_dir = audio_dir if self.enabled else None
        self.wall_clock = wall_clock
        self.model = model
        self.backend = backend
        self.calls = calls
        self.call_recorder = CallRecorder(submit, metrics)
        self.active: dict[str, SessionRecording] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._sealer: asyncio.Task[None] | None = None
        self._rota: SealRota[str] = SealRota(SEAL_GROUPS)
        self.waiting: list[SessionRecording] = []
        """The sessions with events waiting to be recorded."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        submit: Submit | None,
        metrics: GatewayMetrics,
        wall_clock: Callable[[], datetime],
        model: str | None = None,
        backend: str | None = None,
        calls: CallRegistry | None = None,
    ) -> Recorder:
        return cls(
            submit=submit if settings.store_enabled else None,
            metrics=metrics,
            prices=PriceTable(settings.prices),
            redact=settings.redact,
            audio_dir=Path(settings.recordings_dir).resolve() if settings.record_audio else None,
            wall_clock=wall_clock,
            model=model,
            backend=backend,
            calls=calls,
        )

    # -- the chain's record stage ---------------------------------------------------------------------
    def hook(self, message: Message) -> HookResult:
        recording = self.active.get(message.session.id)
        if recording is not None:
            recording.take(
                "in" if message.direction == "client" else "out", message.data, message.type, message.raw
            )
        return message

    # -- the session observer (what the chain does not see) --------------------------------------------
    def gateway_event(self, session: GatewaySession, to_upstream: bool, event: JSON) -> None:
        recording = self.active.get(session.id)
        if recording is not None:
            recording.take("in" if to_upstream else "out", event)

    def relayed(self, session: GatewaySession, seconds: float) -> None:
        self.metrics.relayed(seconds)

    def upstream(self, session: GatewaySession, change: UpstreamChange) -> None:
        self.metrics.upstream(change)
        recording = self.active.get(session.id)
        if recording is not None and change in ("connect_failed", "lost"):
            recording.end_hint = "upstream_unavailable" if change == "connect_failed" else "upstream_failed"

    # -- session life -----------------------------------------------------------------------------------
    def session_started(self, session: GatewaySession) -> None:
        recording = SessionRecording(self, session)
        self.active[session.id] = recording
        self._rota.join(session.id)
        self.metrics.session_opened(session.channel)
        recording.start()

    def session_ended(self, session: GatewaySession, reason: str | None = None) -> None:
        recording = self.active.pop(session.id, None)
        if recording is None:
            return
        self._rota.leave(session.id)
        self.metrics.session_closed(session.channel)
        recording.end(reason)

    def tool_call(self, session: GatewaySession, call_id: str | None, result: ToolResult) -> None:
        self.metrics.tool(result.name, result.duration_ms / 1000.0, result.ok)
        recording = self.active.get(session.id)
        if recording is not None:
            recording.record_waiting()
            recording.on_tool(call_id, result)

    # -- helpers for SessionRecording -------------------------------------------------------------------
    def publish(self, note: Note) -> None:
        if self.live.active:
            self.live.publish(self._masked(note) if self.redact else note)

    def _masked(self, note: Note) -> Note:
        return {
            k: redact_value(v) if k in ("text", "delta", "arguments", "result") else v
            for k, v in note.items()
        }

    def save_clip(self, clip: Clip | None) -> None:
        if clip is None or self.audio_dir is None or self.submit is None:
            return
        task = asyncio.get_running_loop().create_task(self._write_clip(self.audio_dir, clip, self.submit))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write_clip(self, directory: Path, clip: Clip, submit: Submit) -> None:
        try:
            path, duration_ms = await asyncio.to_thread(write_wav, directory, clip)
        except OSError as exc:
            log.error(
                "session %s: could not write the audio of item %s: %s", clip.session_id, clip.item_id, exc
            )
            return
        submit(
            RecordingRecord(
                session_id=clip.session_id,
                item_id=clip.item_id,
                role=clip.role,
                path=str(path),
                duration_ms=duration_ms,
                at=self.wall_clock(),
            )
        )

    def snapshot(self) -> list[Note]:
        """The active sessions, each with its recent transcript and tool notes (for a new live viewer)."""
        self.record_waiting()
        return [recording.summary(with_recent=True) for recording in self.active.values()]

    def record_waiting(self) -> None:
        """Record the events every session has waiting."""
        waiting, self.waiting = self.waiting, []
        if waiting:
            at, tick = self.wall_clock(), _monotonic()
            for recording in waiting:
                recording.record_waiting(at, tick)

    def _on_tick(self) -> None:
        self.record_waiting()
        for session_id in self._rota.due():
            recording = self.active.get(session_id)
            if recording is not None:
                recording.events.seal()

    def start(self, interval: float = SEAL_INTERVAL) -> None:
        """While storing: record the waiting events every ``interval / SEAL_GROUPS`` seconds, and hand
        each session's event block to the writer every ``interval`` seconds, the sessions in
        ``SEAL_GROUPS`` groups spread over the interval (``SealRota``)."""
        if self.enabled and self._sealer is None:
            self._sealer = asyncio.get_running_loop().create_task(
                self._seal_every(interval / SEAL_GROUPS), name="voxgate-event-blocks"
            )

    async def _seal_every(self, tick: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at = max(next_at + tick, loop.time() - tick)  # after a stall: on, without catching up
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                self._on_tick()
            except Exception:  # a bug must not stop every session's recording
                log.exception("recording: a tick failed; the next one goes on")

    def seal(self) -> None:
        """Hand every active session's waiting events to the writer now."""
        self.record_waiting()
        for recording in self.active.values():
            recording.events.seal()

    async def aclose(self) -> None:
        """At shutdown: end what is still open, and wait for the WAV files being written."""
        if self._sealer is not None:
            self._sealer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sealer
            self._sealer = None
        for recording in list(self.active.values()):
            self.session_ended(recording.session, "gateway_shutdown")
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)


class SessionRecording:
    """One session's recording state: the sequence numbers, item positions, texts and counters."""

    def __init__(self, recorder: Recorder, session: GatewaySession) -> None:
        self.recorder = recorder
        self.session = session
        self.id = session.id
        self.store = recorder.enabled
        self.submit: Submit = recorder.submit or _discard
        self.redact = recorder.redact
        self.clock = recorder.wall_clock
        self.started_at = recorder.wall_clock()
        self.model = recorder.model
        self.input_format = self.output_format = "audio/pcm"
        self.events = EventLog(session.id, self.submit, self.clock, redact=self.redact)
        self.events_in = self.events_out = 0
        self.tool_calls = self.tool_errors = self.barge_ins = 0
        self.input_tokens = self.output_tokens = 0
        self.cost_usd = 0.0
        self.end_hint: str | None = None
        self.positions: dict[str, int] = {}
        self.texts: dict[str, dict[int, str]] = {}
        self.partial: dict[str, list[str]] = {}
        self.audio_bytes: dict[str, int] = {}
        self.truncated_at: dict[str, int] = {}
        self.recent: deque[Note] = deque(maxlen=RECENT_NOTES)
        self.audio = ItemAudio(session.id) if recorder.audio_dir is not None else None
        self.caller = _caller(recorder.calls, session)
        self.waiting: list[tuple[EventDirection, JSON, str | None, float, Facts]] = []
        # Without audio files, the handlers that only feed them are left out.
        self.handlers = _HANDLERS if self.audio is not None else _HANDLERS_WITHOUT_AUDIO_FILES
        self._tick = 0.0
        """The monotonic time of the event being recorded."""

    # -- events ---------------------------------------------------------------------------------------
    def take(
        self,
        direction: EventDirection,
        event: JSON,
        kind: str | None = None,
        frame: str | bytes | None = None,
    ) -> None:
        """An event the gateway relayed or sent: queued with its time, to be recorded in a batch.

        ``kind``: the event's type when the caller has read it already (the chain's messages).
        ``frame``: the JSON text the event was parsed from, if nothing changed it since. An audio
        chunk's size and ids are read now, while the relay has the event at hand: by the batch it is
        no longer in the CPU's caches, and reading it again then cost more than all the rest of
        recording the chunk. When nothing is stored there is only counting to do, done at once.
        """
        if not self.store:
            self.on_event(direction, event, kind, 0.0)
            return
        chunk = chunk_facts(kind, event) if kind is not None else None
        facts: Facts = frame if chunk is None else chunk
        waiting = self.waiting
        waiting.append((direction, event, kind, _monotonic(), facts))
        if len(waiting) == 1:
            self.recorder.waiting.append(self)
        elif len(waiting) > MAX_WAITING:
            self.record_waiting()

    def record_waiting(self, at: datetime | None = None, tick: float | None = None) -> None:
        """Record the waiting events (``at``, ``tick``: the wall clock and the monotonic clock read
        together, when the caller has read them)."""
        waiting = self.waiting
        if not waiting:
            return
        self.waiting = []
        self.events.anchor(at, tick)
        on_event = self.on_event
        for direction, event, kind, tick, facts in waiting:
            try:
                on_event(direction, event, kind, tick, facts)
            except Exception:  # one event's bug must not cost the rest of the batch
                log.exception("session %s: recording a %s event failed", self.id, kind or event.get("type"))

    def on_event(
        self,
        direction: EventDirection,
        event: JSON,
        kind: str | None,
        tick: float,
        facts: Facts = None,
    ) -> None:
        """Record ``event``, seen at the monotonic time ``tick``; ``facts``: what ``take`` read of an
        audio chunk, or the frame the event was parsed from."""
        if kind is None:
            kind = event.get("type")
            if not isinstance(kind, str):
                kind = ""
        self.recorder.metrics.event(direction, kind)
        if direction == "in":
            self.events_in += 1
        else:
            self.events_out += 1
        if not self.store:
            if kind == "conversation.item.truncated":
                self._count_barge_in()
            elif kind == "response.done":
                self._usage(event)
            return
        self._tick = tick
        if isinstance(facts, tuple):
            size, item_id, event_id = facts
            self.events.add_chunk(direction, kind, event, tick, size, item_id, event_id)
        else:
            size = self.events.add(direction, kind, event, tick, facts)
            item_id = event.get("item_id") if size else None
        if kind == "response.output_audio.delta":  # the commonest upstream event: no table lookup
            self._on_output_audio(event, item_id, size)
            return
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(self, event)

    def position(self, item_id: str) -> int:
        found = self.positions.get(item_id)
        if found is None:
            found = self.positions[item_id] = len(self.positions)
        return found

    # The handlers: one per event type that says something about the conversation.
    def _on_session(self, event: JSON) -> None:
        config = event.get("session") or {}
        self.model = config.get("model") or self.model
        audio = config.get("audio") or {}
        self.input_format = _format_of(audio.get("input"), self.input_format)
        self.output_format = _format_of(audio.get("output"), self.output_format)

    def _on_item_seen(self, event: JSON) -> None:
        item = event.get("item") or {}
        if isinstance(item.get("id"), str):
            self.position(item["id"])

    def _on_item_done(self, event: JSON) -> None:
        self._on_item_seen(event)
        item = event.get("item") or {}
        if item.get("type") != "message" or item.get("role") not in ("user", "system"):
            return
        text = " ".join(
            part.get("text") or ""
            for part in item.get("content") or []
            if isinstance(part, dict) and part.get("type") == "input_text"
        ).strip()
        if text:
            self._transcript(item["id"], item["role"], text)

    def _on_input_committed(self, event: JSON) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            return
        position = self.position(item_id)
        if self.audio is not None:
            self.recorder.save_clip(self.audio.commit_input(item_id, self.input_format, position))

    def _on_input_cleared(self, event: JSON) -> None:
        if self.audio is not None:
            self.audio.clear_input()

    def _on_input_append(self, event: JSON) -> None:
        if self.audio is not None and isinstance(event.get("audio"), str):
            self.audio.add_input(event["audio"])

    def _on_user_transcript(self, event: JSON) -> None:
        item_id = event.get("item_id")
        if isinstance(item_id, str):
            self._transcript(item_id, "user", str(event.get("transcript") or ""))

    def _on_user_transcript_delta(self, event: JSON) -> None:
        if self.recorder.live.active:
            self._live_delta(event.get("item_id"), "user", event.get("delta"))

    def _on_output_item(self, event: JSON) -> None:
        self._on_item_seen(event)

    def _on_assistant_delta(self, event: JSON) -> None:
        item_id, delta = event.get("item_id"), event.get("delta")
        if isinstance(item_id, str) and isinstance(delta, str):
            self.partial.setdefault(item_id, []).append(delta)
            if self.recorder.live.active:
                self._live_delta(item_id, "assistant", delta)

    def _on_assistant_done(self, event: JSON) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            return
        text = event.get("transcript") if event["type"].endswith("transcript.done") else event.get("text")
        parts = self.texts.setdefault(item_id, {})
        parts[int(event.get("content_index") or 0)] = str(text or "")
        self.partial.pop(item_id, None)
        full = " ".join(parts[index] for index in sorted(parts)).strip()
        if item_id in self.truncated_at:
            # Interrupted before its transcript was complete: re-estimate what was heard.
            self._truncation(item_id, self.truncated_at[item_id])
        else:
            self._transcript(item_id, "assistant", full)

    def _on_output_audio(self, event: JSON, item_id: Any, size: int) -> None:
        """``item_id``, ``size``: the chunk's item and decoded size, as ``take`` read them."""
        if isinstance(item_id, str) and size:
            self.audio_bytes[item_id] = self.audio_bytes.get(item_id, 0) + size
            if self.audio is not None and isinstance(delta := event.get("delta"), str):
                self.audio.add_output(item_id, delta)

    def _on_output_audio_done(self, event: JSON) -> None:
        item_id = event.get("item_id")
        if self.audio is not None and isinstance(item_id, str):
            self.recorder.save_clip(
                self.audio.finish_output(item_id, self.output_format, self.position(item_id))
            )

    def _on_truncated(self, event: JSON) -> None:
        self._count_barge_in()
        item_id, end_ms = event.get("item_id"), event.get("audio_end_ms")
        if isinstance(item_id, str) and isinstance(end_ms, int):
            self.truncated_at[item_id] = end_ms
            self._truncation(item_id, end_ms)

    def _on_response_done(self, event: JSON) -> None:
        self._usage(event)

    # -- derived records --------------------------------------------------------------------------------
    def _transcript(self, item_id: str, role: str, text: str) -> None:
        if self.redact:
            text = redact_text(text)
        seq = self.position(item_id)
        self.submit(
            TranscriptRecord(
                session_id=self.id, item_id=item_id, role=_role(role), text=text, seq=seq, at=self._at()
            )
        )
        self._note({"kind": "transcript", "item_id": item_id, "role": role, "text": text, "seq": seq})

    def _truncation(self, item_id: str, audio_end_ms: int) -> None:
        heard = heard_text(
            self._assistant_text(item_id), self.audio_bytes.get(item_id, 0), audio_end_ms, self.output_format
        )
        if self.redact:
            heard = redact_text(heard)
        seq = self.position(item_id)
        self.submit(
            TranscriptTruncated(
                session_id=self.id,
                item_id=item_id,
                text=heard,
                audio_end_ms=audio_end_ms,
                seq=seq,
                at=self._at(),
            )
        )
        self._note(
            {
                "kind": "transcript",
                "item_id": item_id,
                "role": "assistant",
                "text": heard,
                "seq": seq,
                "truncated": True,
                "audio_end_ms": audio_end_ms,
            }
        )

    def _assistant_text(self, item_id: str) -> str:
        parts = self.texts.get(item_id)
        if parts:
            return " ".join(parts[index] for index in sorted(parts)).strip()
        return "".join(self.partial.get(item_id, ()))

    def _usage(self, event: JSON) -> None:
        response = event.get("response") or {}
        usage = response.get("usage")
        if not isinstance(usage, dict):
            return
        cost = self.recorder.prices.cost(self.model, usage)
        record = UsageRecord.from_usage(
            self.id, str(response.get("id") or f"seq{self.events.seq}"), usage, self._at(), cost
        )
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cost_usd += cost
        self.recorder.metrics.usage(record.input_tokens, record.output_tokens, cost)
        if self.store:
            self.submit(record)
            self.recorder.publish(
                {
                    "kind": "usage",
                    "session_id": self.id,
                    "input_tokens": self.input_tokens,
                    "output_tokens": self.output_tokens,
                    "cost_usd": round(self.cost_usd, 6),
                }
            )

    def _at(self) -> datetime:
        """The wall-clock time of the event being recorded."""
        return self.events.wall_time(self._tick) if self.store else self.clock()

    def _count_barge_in(self) -> None:
        self.barge_ins += 1
        self.recorder.metrics.barge_in(self.session.channel)

    def on_tool(self, call_id: str | None, result: ToolResult) -> None:
        self.tool_calls += 1
        if not result.ok:
            self.tool_errors += 1
        if not self.store:
            return
        arguments: Any = result.arguments
        output: Any = result.output if result.ok else None
        error = None
        if not result.ok:
            detail = result.output.get("error")
            error = (
                f"{detail.get('code')}: {detail.get('message')}" if isinstance(detail, dict) else str(detail)
            )
        if self.redact:
            arguments, output = redact_value(arguments), redact_value(output)
            error = redact_text(error) if error else error
        call_id = call_id or f"client_{self.tool_calls}"
        self.submit(
            ToolCallRecord(
                session_id=self.id,
                call_id=call_id,
                name=result.name,
                arguments=arguments,
                result=output,
                ok=result.ok,
                duration_ms=result.duration_ms,
                at=result.started_at,
                error=error,
            )
        )
        self._note(
            {
                "kind": "tool_call",
                "call_id": call_id,
                "name": result.name,
                "arguments": arguments,
                "ok": result.ok,
                "duration_ms": round(result.duration_ms, 1),
                "result": output,
                "error": error,
            }
        )

    def _note(self, note: Note) -> None:
        note["session_id"] = self.id
        self.recent.append(note)
        self.recorder.publish(note)

    def _live_delta(self, item_id: Any, role: str, delta: Any) -> None:
        if isinstance(item_id, str) and isinstance(delta, str):
            self.recorder.publish(
                {
                    "kind": "transcript.delta",
                    "session_id": self.id,
                    "item_id": item_id,
                    "role": role,
                    "delta": delta,
                }
            )

    # -- start and end ----------------------------------------------------------------------------------
    def start(self) -> None:
        session = self.session
        if self.store:
            self.submit(
                SessionStarted(
                    session_id=self.id,
                    channel=session.channel,
                    agent=session.profile.name,
                    started_at=self.started_at,
                    business_id=session.business_id,
                    client_id=None if session.channel == "phone" else session.client_id,
                    caller=self.caller,
                    upstream_model=self.model,
                    backend=self.recorder.backend,
                )
            )
        figures = self.summary()
        session_log.info(
            "session %s started: %s, agent %s, client %s",
            self.id,
            session.channel,
            session.profile.name,
            self.caller or session.client_id,
            extra={"fields": {"event": "session.started", **figures}},
        )
        self.recorder.publish({"kind": "session.started", "session": figures})

    def end(self, reason: str | None) -> None:
        self.record_waiting()
        ended_at = self.clock()
        end_reason = (
            self.end_hint
            or _call_end_reason(self.recorder.calls, self.session)
            or reason
            or _close_reason(self.session)
        )[:64]
        if self.audio is not None:
            for clip in self.audio.drain(self.output_format, self.positions):
                self.recorder.save_clip(clip)
        if self.store:
            self.events.close()
            self.submit(
                SessionEnded(
                    session_id=self.id,
                    ended_at=ended_at,
                    end_reason=end_reason,
                    events_in=self.events_in,
                    events_out=self.events_out,
                    tool_call_count=self.tool_calls,
                    barge_ins=self.barge_ins,
                    input_tokens=self.input_tokens,
                    output_tokens=self.output_tokens,
                    cost_usd=round(self.cost_usd, 6),
                )
            )
        duration = (ended_at - self.started_at).total_seconds()
        figures = {
            **self.summary(),
            "end_reason": end_reason,
            "ended_at": ended_at.isoformat(),
            "duration_s": round(duration, 3),
        }
        session_log.info(
            "session %s ended (%s) after %.1fs: %d events in, %d out, %d tool calls, %d tokens, $%.4f",
            self.id,
            end_reason,
            duration,
            self.events_in,
            self.events_out,
            self.tool_calls,
            self.input_tokens + self.output_tokens,
            self.cost_usd,
            extra={"fields": {"event": "session.ended", **figures}},
        )
        self.recorder.publish({"kind": "session.ended", "session": figures})

    def summary(self, *, with_recent: bool = False) -> Note:
        session = self.session
        figures: Note = {
            "session_id": self.id,
            "channel": session.channel,
            "agent": session.profile.name,
            "client_id": session.client_id,
            "caller": redact_text(self.caller) if self.caller and self.redact else self.caller,
            "business_id": session.business_id,
            "model": self.model,
            "started_at": self.started_at.isoformat(),
            "events_in": self.events_in,
            "events_out": self.events_out,
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "barge_ins": self.barge_ins,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }
        if with_recent:
            figures["recent"] = list(self.recent)
        return figures


def heard_text(text: str, audio_bytes: int, audio_end_ms: int, fmt: str) -> str:
    """The part of ``text`` spoken in the first ``audio_end_ms`` of its audio, cut at a word boundary.

    The transcript and the audio are generated together, so the share of the audio played is taken
    as the share of the text heard: an estimate (the Realtime API drops the unheard transcript, so
    there is nothing more exact to store).
    """
    total_ms = audio_bytes / BYTES_PER_MS.get(fmt, BYTES_PER_MS["audio/pcm"])
    if total_ms <= 0 or audio_end_ms >= total_ms:
        return text
    cut = int(len(text) * max(audio_end_ms, 0) / total_ms)
    if cut < len(text) and not text[cut].isspace():
        space = text.rfind(" ", 0, cut)
        cut = space if space > 0 else cut
    return text[:cut].rstrip()


def _discard(record: Record) -> None:
    return None


def _format_of(part: Any, default: str) -> str:
    fmt = part.get("format") if isinstance(part, dict) else None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    return kind if isinstance(kind, str) and kind in BYTES_PER_MS else default


def _role(role: str) -> Any:
    return role if role in ("user", "assistant", "system") else "user"


def _call_sid(session: GatewaySession) -> str | None:
    # The phone line names a call's session client "call_<CallSid>" (voxgate.transports.phone_line).
    return session.client_id.removeprefix("call_") if session.channel == "phone" else None


def _caller(calls: CallRegistry | None, session: GatewaySession) -> str | None:
    sid = _call_sid(session)
    call = calls.get(sid) if calls is not None and sid else None
    return call.from_number if call is not None else None


def _call_end_reason(calls: CallRegistry | None, session: GatewaySession) -> str | None:
    sid = _call_sid(session)
    call = calls.get(sid) if calls is not None and sid else None
    return call.end_reason if call is not None else None


def _close_reason(session: GatewaySession) -> str:
    code = getattr(session, "close_code", None)
    if code == 1001:
        return "gateway_shutdown"
    if code == 1011:
        return "upstream_failed"
    reason = getattr(session, "close_reason", None)
    return reason or "closed"


_Handler = Callable[[SessionRecording, JSON], None]
_HANDLERS: Final[dict[str, _Handler]] = {
    "session.created": SessionRecording._on_session,
    "session.updated": SessionRecording._on_session,
    "conversation.item.added": SessionRecording._on_item_seen,
    "conversation.item.done": SessionRecording._on_item_done,
    "input_audio_buffer.append": SessionRecording._on_input_append,
    "input_audio_buffer.committed": SessionRecording._on_input_committed,
    "input_audio_buffer.cleared": SessionRecording._on_input_cleared,
    "conversation.item.input_audio_transcription.delta": SessionRecording._on_user_transcript_delta,
    "conversation.item.input_audio_transcription.completed": SessionRecording._on_user_transcript,
    "response.output_item.added": SessionRecording._on_output_item,
    "response.output_audio_transcript.delta": SessionRecording._on_assistant_delta,
    "response.output_text.delta": SessionRecording._on_assistant_delta,
    "response.output_audio_transcript.done": SessionRecording._on_assistant_done,
    "response.output_text.done": SessionRecording._on_assistant_done,
    "response.output_audio.done": SessionRecording._on_output_audio_done,
    "conversation.item.truncated": SessionRecording._on_truncated,
    "response.done": SessionRecording._on_response_done,
}
_AUDIO_FILE_HANDLERS: Final = frozenset({"input_audio_buffer.append", "input_audio_buffer.cleared"})
_HANDLERS_WITHOUT_AUDIO_FILES: Final[dict[str, _Handler]] = {
    kind: handler for kind, handler in _HANDLERS.items() if kind not in _AUDIO_FILE_HANDLERS
}

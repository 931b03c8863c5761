"""The per-connection Realtime protocol state machine of the simulator. Pure: no I/O, no clock.

Feed it what happens and the current time, act on what it returns::

    engine = RealtimeEngine(EngineConfig(model="gpt-realtime"), now)
    actions = engine.start(now)                  # session.created
    actions = engine.receive(frame, now)         # a client event (raw JSON text)
    actions = engine.advance(now)                # response steps that are due
    actions = engine.complete(result, now)       # a Work action's job is done
    engine.next_deadline()                       # when advance() has something to do next

Actions are ``Send(event)``, ``Close(code, reason)`` and ``Work(job)`` (``actions.py``). Everything
the protocol says about one connection lives here: the session, the conversation items, the input
audio buffer and its VAD, the responses in flight (at most one in the default conversation),
truncation, usage and rate limits. Replies come from the injected ``Brain``.

Speech is work for someone else (``work.py``): a response's audio is asked for with a
``SpeechJob`` once the brain has decided, and its steps start when the audio comes back; user
audio is heard with a ``HearingJob``, and a response that needs those words waits for them (it
has been created; it decides when they arrive). The engine never calls the synthesizer or the
recogniser itself, so the I/O layer can run them off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Literal

from voxgate.protocol.audio import duration_ms
from voxgate.protocol.realtime import (
    JSON,
    ProtocolError,
    decode_json_object,
    error_event,
    unknown_fields,
    validate_client_event,
)
from voxgate.simulator.accounting import InputUsage, input_usage, rate_limits, transcription_usage
from voxgate.simulator.actions import Action, Close, Send
from voxgate.simulator.brain import Brain, BrainInput
from voxgate.simulator.client_items import (
    apply_truncate,
    as_context_piece,
    as_turn,
    check_truncate,
    client_item,
    without_item_references,
)
from voxgate.simulator.hearing import PlaceholderRecognizer, Recognizer
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.input_audio import InputAudio
from voxgate.simulator.items import ItemStore, StoredItem
from voxgate.simulator.planner import Chunk, Draft, DraftMessage, draft_reply, plan_reply, split_words
from voxgate.simulator.responses import Pacing, ResponseRun
from voxgate.simulator.scenario import Scenario, ScenarioRunner
from voxgate.simulator.session_config import (
    DEFAULT_MODEL,
    SESSION_SECONDS,
    ResponseConfig,
    apply_session_update,
    default_session,
    response_config,
)
from voxgate.simulator.turns import Reply
from voxgate.simulator.vad import VadEvent
from voxgate.simulator.voice import Synthesizer, synthetic_voice
from voxgate.simulator.work import Heard, HearingJob, JobResult, SpeechJob, Spoken, Work

MIN_COMMIT_MS: Final = 100.0
STEP_BUDGET: Final = 256


@dataclass(slots=True)
class EngineConfig:
    model: str = DEFAULT_MODEL
    pace: Literal["fast", "realtime"] = "fast"
    session_defaults: JSON | None = None  # a client secret's session: the connection's starting point
    scenarios: Sequence[Scenario] = ()
    synthesizer_for: Callable[[str], Synthesizer] = synthetic_voice
    """Put into each ``SpeechJob``; the engine itself never calls it."""
    recognizer: Recognizer = field(default_factory=PlaceholderRecognizer)
    """Put into each ``HearingJob`` (after the scenarios' scripted transcripts run out)."""
    timezone: tzinfo = UTC
    session_seconds: float = SESSION_SECONDS
    realtime_lead_ms: float = 200.0
    seed: int | None = None


@dataclass(slots=True)
class _Deciding:
    """A response waiting for its context's audio to be heard before the brain decides."""

    run: ResponseRun
    params: JSON | None
    context: list[StoredItem]


@dataclass(slots=True)
class _Speaking:
    """A decided response waiting for its audio."""

    run: ResponseRun
    drafts: list[Draft]
    reply: Reply
    usage: InputUsage


@dataclass(slots=True)
class _Listening:
    stored: StoredItem
    transcribe: bool  # send the input_audio_transcription events when heard


class RealtimeEngine:
    def __init__(self, config: EngineConfig, now: float) -> None:
        self.config = config
        self.ids = IdFactory(config.seed)
        self.created_at = now
        self.expires_at = int(now + config.session_seconds)
        self.session = self._initial_session()
        self.conversation_id = self.ids("conv_")
        self.store = ItemStore()
        self.runs: list[ResponseRun] = []
        self.active: ResponseRun | None = None  # the default-conversation response in flight
        self.voice_locked = False
        self.closed = False
        self.responses_created = 0
        self.tokens_used = 0
        self.idle_at: float | None = None
        self._previous_input: InputUsage | None = None
        self.brain = Brain(ScenarioRunner(config.scenarios))
        self._jobs = 0
        self._deciding: list[_Deciding] = []
        self._speaking: dict[int, _Speaking] = {}
        self._listening: dict[int, _Listening] = {}
        audio_in = self.session["audio"]["input"]
        self.input = InputAudio(str(audio_in["format"]["type"]), audio_in["turn_detection"])

    def _initial_session(self) -> JSON:
        session_id = self.ids("sess_")
        defaults = self.config.session_defaults
        if defaults is None:
            return default_session(session_id=session_id, model=self.config.model, expires_at=self.expires_at)
        session = copy.deepcopy(defaults)
        session.update(id=session_id, expires_at=self.expires_at, object="realtime.session")
        session.setdefault("model", self.config.model)
        return session

    @property
    def session_id(self) -> str:
        return str(self.session["id"])

    # -- entry points --------------------------------------------------------------------------
    def start(self, now: float) -> list[Action]:
        return [self._send("session.created", session=copy.deepcopy(self.session))]

    def receive(self, raw: str | bytes, now: float) -> list[Action]:
        """One client frame; protocol errors come back as ``error`` events, the session goes on."""
        if self.closed:
            return []
        event_id: str | None = None
        try:
            data = decode_json_object(raw)
            event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
            references = without_item_references(data)
            model = validate_client_event(data)
            unknown = unknown_fields(model)
            if unknown:
                raise ProtocolError(
                    "unknown_parameter", f"Unknown parameter: '{unknown[0]}'.", param=unknown[0]
                )
            if references is not None:
                data["response"]["input"] = references
            return self._dispatch(data, now)
        except ProtocolError as exc:
            if exc.event_id is None and event_id is not None:
                exc = dataclasses.replace(exc, event_id=event_id)
            return [Send(exc.to_event())]

    def advance(self, now: float, budget: int = STEP_BUDGET) -> list[Action]:
        """Emit what is due at ``now``: response steps, idle timeouts, the end of the session."""
        if self.closed:
            return []
        if now >= self.expires_at:
            self.closed = True
            return [
                Send(error_event("session_expired", "Your session hit the maximum duration of 60 minutes.")),
                Close(1000, "session_expired"),
            ]
        actions: list[Action] = []
        if self.idle_at is not None and now >= self.idle_at:
            actions.extend(self._idle_timeout(now))
        for run in list(self.runs):
            if len(actions) >= budget:
                break
            produced = run.advance(now, budget - len(actions))
            actions.extend(produced)
            if run.emitted_audio:
                self.voice_locked = True
            if any(isinstance(a, Close) for a in produced):
                self.closed = True
                return actions
            if run.finished:
                actions.extend(self._after_run(run, now))
        return actions

    def drain(self, now: float) -> list[Action]:
        """Everything due at ``now`` (in fast pace: whole responses)."""
        actions: list[Action] = []
        while not self.closed and (deadline := self.next_deadline()) is not None and deadline <= now:
            step = self.advance(now)
            if not step:
                break
            actions.extend(step)
        return actions

    def complete(self, result: JobResult, now: float) -> list[Action]:
        """A ``Work`` job's result: heard words go to their item, audio to its response."""
        if self.closed:
            return []
        if isinstance(result, Heard):
            return self._heard(result, now)
        return self._spoken(result, now)

    @property
    def working(self) -> int:
        """Jobs handed out and not completed yet."""
        return len(self._speaking) + len(self._listening)

    def next_deadline(self) -> float | None:
        if self.closed:
            return None
        times = [t for t in (r.next_due() for r in self.runs) if t is not None]
        if self.idle_at is not None:
            times.append(self.idle_at)
        times.append(float(self.expires_at))
        return min(times)

    def inject_error(
        self, code: str, message: str, *, error_type: str = "server_error", param: str | None = None
    ) -> list[Action]:
        """A test hook: an ``error`` event out of the blue."""
        return [Send(error_event(code, message, param=param, error_type=error_type))]

    def summary(self) -> JSON:
        return {
            "id": self.session_id,
            "model": self.session.get("model"),
            "created_at": int(self.created_at),
            "expires_at": self.expires_at,
            "items": len(self.store),
            "responses": self.responses_created,
            "active_response_id": self.active.id if self.active else None,
            "input_audio_ms": round(self.input.clock_ms),
            "scenarios": self.brain.scenarios.names,
            "jobs_in_progress": self.working,
            "closed": self.closed,
        }

    # -- dispatch ------------------------------------------------------------------------------
    def _dispatch(self, data: JSON, now: float) -> list[Action]:
        kind = data["type"]
        if kind == "session.update":
            return self._session_update(data["session"])
        if kind == "input_audio_buffer.append":
            return self._append(data["audio"], now)
        if kind == "input_audio_buffer.commit":
            return self._commit_manual()
        if kind == "input_audio_buffer.clear":
            self.input.clear()
            return [self._send("input_audio_buffer.cleared")]
        if kind == "conversation.item.create":
            return self._create_item(data["item"], data.get("previous_item_id"))
        if kind == "conversation.item.delete":
            self._existing(data["item_id"])
            self.store.delete(data["item_id"])
            return [self._send("conversation.item.deleted", item_id=data["item_id"])]
        if kind == "conversation.item.retrieve":
            stored = self._existing(data["item_id"])
            return [self._send("conversation.item.retrieved", item=stored.with_audio())]
        if kind == "conversation.item.truncate":
            return self._truncate(data["item_id"], int(data["content_index"]), int(data["audio_end_ms"]), now)
        if kind == "response.create":
            return self._create_response(data.get("response"), now)
        if kind == "response.cancel":
            return self._cancel(data.get("response_id"), now)
        raise ProtocolError(
            "invalid_value",
            "output_audio_buffer.clear is only supported on WebRTC and SIP sessions.",
            param="type",
        )

    def _send(self, kind: str, **fields: Any) -> Send:
        return Send({"type": kind, "event_id": self.ids("event_"), **fields})

    def _existing(self, item_id: str, param: str = "item_id") -> StoredItem:
        stored = self.store.get(item_id)
        if stored is None:
            raise ProtocolError("item_not_found", f"Item with item_id '{item_id}' not found.", param=param)
        return stored

    # -- session -------------------------------------------------------------------------------
    def _session_update(self, update: JSON) -> list[Action]:
        before = self.session["audio"]["input"]
        session = apply_session_update(self.session, update, voice_locked=self.voice_locked)
        after = session["audio"]["input"]
        self.session = session
        if after["format"] != before["format"] or after["turn_detection"] != before["turn_detection"]:
            self.input.configure(str(after["format"]["type"]), after["turn_detection"])
        return [self._send("session.updated", session=copy.deepcopy(session))]

    @property
    def _turn_detection(self) -> JSON | None:
        value = self.session["audio"]["input"]["turn_detection"]
        return value if isinstance(value, dict) else None

    # -- input audio ---------------------------------------------------------------------------
    def _append(self, audio: str, now: float) -> list[Action]:
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("invalid_value", "The audio is not valid base64.", param="audio") from None
        actions: list[Action] = []
        for event in self.input.append(data):
            actions.extend(self._vad_event(event, now))
        return actions

    def _vad_event(self, event: VadEvent, now: float) -> list[Action]:
        detection = self._turn_detection or {}
        if event.kind == "start":
            start = max(
                self.input.buffer_start_ms, event.at_ms - int(detection.get("prefix_padding_ms", 300))
            )
            self.input.drop_before(start)
            item_id = self.ids("item_")
            self.input.speech_item_id = item_id
            self.idle_at = None
            actions: list[Action] = [
                self._send("input_audio_buffer.speech_started", audio_start_ms=int(start), item_id=item_id)
            ]
            if detection.get("interrupt_response", True) and self.active is not None:
                actions.extend(self._cancel_run(self.active, "turn_detected", now))
            return actions
        item_id = self.input.speech_item_id or self.ids("item_")
        self.input.speech_item_id = None
        actions = [
            self._send("input_audio_buffer.speech_stopped", audio_end_ms=int(event.at_ms), item_id=item_id)
        ]
        actions.extend(self._commit(item_id, self.input.take(event.at_ms)))
        if detection.get("create_response", True) and self.active is None:
            actions.extend(self._create_response(None, now))
        return actions

    def _commit_manual(self) -> list[Action]:
        buffered = self.input.buffered_ms
        if buffered < MIN_COMMIT_MS:
            raise ProtocolError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered:.2f}ms of audio.",
            )
        item_id = self.input.speech_item_id or self.ids("item_")
        self.input.speech_item_id = None
        return self._commit(item_id, self.input.take())

    def _commit(
        self, item_id: str, audio: bytes, *, heard: str | Literal[False] | None = False
    ) -> list[Action]:
        fmt = self.input.format
        item: JSON = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        stored = StoredItem(item, bytearray(audio), fmt, duration_ms(len(audio), fmt))
        previous = self.store.insert(stored)
        actions: list[Action] = [
            self._send("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous),
            self._send("conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)),
            self._send("conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)),
        ]
        transcribe = bool(self.session["audio"]["input"].get("transcription"))
        if heard is False:
            actions.extend(self._listen(stored, transcribe=transcribe))
        else:
            stored.heard = heard
            if transcribe:
                actions.extend(self._transcription(stored))
        return actions

    def _listen(self, stored: StoredItem, *, transcribe: bool) -> list[Action]:
        """Hear the item's audio: a scenario's next scripted transcript, else a ``HearingJob``."""
        scripted = self.brain.scenarios.next_transcript()
        if scripted is not None:
            stored.heard = scripted
            return self._transcription(stored) if transcribe else []
        transcription = self.session["audio"]["input"].get("transcription") or {}
        job = HearingJob(
            self._next_job(),
            self.config.recognizer,
            bytes(stored.audio),
            stored.audio_format,
            transcription.get("language"),
        )
        stored.listening = True
        self._listening[job.job_id] = _Listening(stored, transcribe)
        return [Work(job)]

    def _heard(self, result: Heard, now: float) -> list[Action]:
        listening = self._listening.pop(result.job_id, None)
        if listening is None:
            return []
        stored = listening.stored
        stored.heard = result.text
        stored.listening = False
        stored.listened = True
        actions: list[Action] = []
        if listening.transcribe and stored.id in self.store:
            actions.extend(self._transcription(stored))
        actions.extend(self._decide_ready(now))
        return actions

    def _next_job(self) -> int:
        self._jobs += 1
        return self._jobs

    def _transcription(self, stored: StoredItem) -> list[Action]:
        if stored.heard is None:
            error = {
                "type": "transcription_error",
                "code": "audio_unintelligible",
                "message": "Transcription failed for this audio.",
                "param": None,
            }
            return [
                self._send(
                    "conversation.item.input_audio_transcription.failed",
                    item_id=stored.id,
                    content_index=0,
                    error=error,
                )
            ]
        heard = stored.heard
        actions: list[Action] = [
            self._send(
                "conversation.item.input_audio_transcription.delta",
                item_id=stored.id,
                content_index=0,
                delta=piece,
            )
            for piece in split_words(heard)
        ]
        usage = transcription_usage(stored.audio_ms, heard)
        actions.append(
            self._send(
                "conversation.item.input_audio_transcription.completed",
                item_id=stored.id,
                content_index=0,
                transcript=heard,
                usage=usage,
            )
        )
        stored.item["content"][0]["transcript"] = heard
        return actions

    def _idle_timeout(self, now: float) -> list[Action]:
        self.idle_at = None
        item_id = self.ids("item_")
        start, end = self.input.buffer_start_ms, self.input.clock_ms
        actions: list[Action] = [
            self._send(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=int(start),
                audio_end_ms=int(end),
                item_id=item_id,
            )
        ]
        self.input.speech_item_id = None
        actions.extend(self._commit(item_id, self.input.take(), heard=""))
        if self.active is None:
            actions.extend(self._create_response(None, now))
        return actions

    # -- items -----------------------------------------------------------------------------------
    def _create_item(self, item: JSON, previous_item_id: str | None) -> list[Action]:
        if previous_item_id not in (None, "root") and previous_item_id not in self.store:
            raise ProtocolError(
                "item_not_found",
                f"Error adding item: the previous item with id '{previous_item_id}' does not exist.",
                param="previous_item_id",
            )
        stored = self._new_item(item)
        if stored.id in self.store:
            raise ProtocolError(
                "invalid_value", f"Item with id '{stored.id}' already exists.", param="item.id"
            )
        previous = self.store.insert(stored, previous_item_id)
        return [
            self._send("conversation.item.added", previous_item_id=previous, item=copy.deepcopy(stored.item)),
            self._send("conversation.item.done", previous_item_id=previous, item=copy.deepcopy(stored.item)),
            *self._listen_if_needed(stored),
        ]

    def _new_item(self, item: JSON, *, param: str = "item") -> StoredItem:
        return client_item(item, ids=self.ids, store=self.store, audio_format=self.input.format, param=param)

    def _listen_if_needed(self, stored: StoredItem) -> list[Action]:
        """A client's audio item without a transcript is heard, once (no transcription events for it).

        Audio a response produced is never heard: its words are known (``words``), and hearing it again
        at every later response cost the recogniser a decode per item and response.
        """
        if (
            stored.audio
            and stored.response_id is None
            and stored.heard is None
            and not (stored.listening or stored.listened)
        ):
            return self._listen(stored, transcribe=False)
        return []

    def _truncate(self, item_id: str, content_index: int, audio_end_ms: int, now: float) -> list[Action]:
        stored = self._existing(item_id)
        check_truncate(stored, content_index, audio_end_ms)
        actions: list[Action] = []
        run = next((r for r in self.runs if r.id == stored.response_id and not r.finished), None)
        if run is not None:  # still being generated: stop it where the listener stopped hearing it
            actions.extend(self._cancel_run(run, "client_cancelled", now))
        apply_truncate(stored, content_index, audio_end_ms)
        truncated = {"item_id": item_id, "content_index": content_index, "audio_end_ms": audio_end_ms}
        actions.append(self._send("conversation.item.truncated", **truncated))
        return actions

    # -- responses -------------------------------------------------------------------------------
    def _create_response(self, params: JSON | None, now: float) -> list[Action]:
        config = response_config(self.session, params)
        in_conversation = config.conversation == "auto"
        if in_conversation and self.active is not None:
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        context = self._context(config.input)
        run = ResponseRun(
            response_id=self.ids("resp_"),
            config=config,
            conversation_id=self.conversation_id if in_conversation else None,
            store=self.store if in_conversation else None,
            ids=self.ids,
            created_at=now,
        )
        self.responses_created += 1
        self.runs.append(run)
        if in_conversation:
            self.active = run
            self.idle_at = None
        actions: list[Action] = [Send(run.created_event())]
        for stored in context:
            actions.extend(self._listen_if_needed(stored))
        self._deciding.append(_Deciding(run, params, context))
        actions.extend(self._decide_ready(now))
        return actions

    def _decide_ready(self, now: float) -> list[Action]:
        """Decide every waiting response whose context has been heard, in the order they came."""
        actions: list[Action] = []
        for waiting in list(self._deciding):
            if waiting.run.finished:
                self._deciding.remove(waiting)
            elif not any(s.listening for s in waiting.context):
                self._deciding.remove(waiting)
                actions.extend(self._decide(waiting, now))
        return actions

    def _decide(self, waiting: _Deciding, now: float) -> list[Action]:
        run, context = waiting.run, waiting.context
        config = run.config
        reply = self.brain.decide(
            BrainInput(
                turns=[as_turn(s) for s in context],
                instructions=config.instructions,
                tools=config.tools,
                tool_choice=config.tool_choice,
                response_instructions=(waiting.params or {}).get("instructions"),
                today=datetime.fromtimestamp(now, self.config.timezone).date(),
            )
        )
        usage = self._input_usage(context, config, cache=run.conversation_id is not None)
        drafts = draft_reply(reply, ids=self.ids, max_output_tokens=config.max_output_tokens)
        actions: list[Action] = []
        if reply.error is not None:
            error = reply.error
            actions.append(
                Send(
                    error_event(
                        str(error.get("code", "server_error")),
                        str(error.get("message", "Injected error.")),
                        param=error.get("param"),
                        error_type=str(error.get("type", "server_error")),
                    )
                )
            )
        messages = tuple(d.texts for d in drafts if isinstance(d, DraftMessage))
        if config.audio and reply.fail is None and any(messages):
            job = SpeechJob(
                self._next_job(),
                self.config.synthesizer_for(config.voice),
                reply.language,
                config.format_type,
                messages,
            )
            self._speaking[job.job_id] = _Speaking(run, drafts, reply, usage)
            actions.append(Work(job))
            return actions
        spoken = tuple(() for _ in messages) if config.audio else None
        self._begin(_Speaking(run, drafts, reply, usage), spoken, now)
        return actions

    def _spoken(self, result: Spoken, now: float) -> list[Action]:
        speaking = self._speaking.pop(result.job_id, None)
        if speaking is None or speaking.run.finished:
            return []  # cancelled while its audio was being made
        if result.failed:
            failure: JSON = {
                "type": "server_error",
                "code": "speech_synthesis_failed",
                "message": "The simulator could not synthesise the audio of this response.",
            }
            speaking = _Speaking(
                speaking.run,
                speaking.drafts,
                dataclasses.replace(speaking.reply, fail=failure),
                speaking.usage,
            )
        self._begin(speaking, result.messages, now)
        return []

    def _begin(self, speaking: _Speaking, spoken: Sequence[Sequence[Chunk]] | None, now: float) -> None:
        run, reply = speaking.run, speaking.reply
        plan = plan_reply(speaking.drafts, spoken, max_output_tokens=run.config.max_output_tokens)
        run.begin(
            plan,
            started_at=now,
            pacing=Pacing(
                self.config.pace == "realtime", self.config.realtime_lead_ms, float(reply.delay_ms)
            ),
            input_usage=speaking.usage,
            failure=reply.fail,
            drop=reply.drop,
        )

    def _context(self, explicit: list[JSON] | None) -> list[StoredItem]:
        if explicit is None:
            return self.store.all()
        context: list[StoredItem] = []
        for index, item in enumerate(explicit):
            if item.get("type") == "item_reference":
                context.append(self._existing(str(item.get("id")), param=f"response.input[{index}].id"))
            else:
                context.append(self._new_item(item, param=f"response.input[{index}]"))
        return context

    def _input_usage(self, context: list[StoredItem], config: ResponseConfig, *, cache: bool) -> InputUsage:
        pieces = [as_context_piece(s) for s in context]
        usage = input_usage(pieces, config.instructions, config.tools)
        if not cache:
            return usage
        usage = usage.cached_after(self._previous_input)
        self._previous_input = usage
        return usage

    def _cancel(self, response_id: str | None, now: float) -> list[Action]:
        if response_id is not None:
            run = next((r for r in self.runs if r.id == response_id and not r.finished), None)
        else:
            run = self.active
        if run is None:
            raise ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        return self._cancel_run(run, "client_cancelled", now)

    def _cancel_run(
        self, run: ResponseRun, reason: Literal["turn_detected", "client_cancelled"], now: float
    ) -> list[Action]:
        return [*run.cancel(reason), *self._after_run(run, now)]

    def _after_run(self, run: ResponseRun, now: float) -> list[Action]:
        if run in self.runs:
            self.runs.remove(run)
        if run.emitted_audio:
            self.voice_locked = True
        if run is self.active:
            self.active = None
            detection = self._turn_detection or {}
            idle_ms = detection.get("idle_timeout_ms") if detection.get("type") == "server_vad" else None
            if idle_ms:
                played_until = run.started_at + (run.pacing.delay_ms + run.audio_ms_sent) / 1000.0
                self.idle_at = max(now, played_until) + idle_ms / 1000.0
        usage = run.usage or {}
        self.tokens_used += int(usage.get("total_tokens", 0))
        limits = rate_limits(self.responses_created, self.tokens_used)
        return [self._send("rate_limits.updated", rate_limits=limits)]

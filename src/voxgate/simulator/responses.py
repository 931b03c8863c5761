"""One response in flight: the section 8.2 / 8.3 event skeleton, emitted step by step.

A ``ResponseRun`` expands its plan into a queue of small steps (item added, part added, one
transcript delta, one audio delta, ...). Each step has a due time: at once in ``fast`` pace, at its
playback position in ``realtime`` pace. ``advance(now)`` emits what is due; ``cancel(reason)``
closes whatever is open with its ``.done`` events and ends the response as ``cancelled``.
"""

from __future__ import annotations

import base64
import copy
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from voxgate.protocol.audio import bytes_for_ms, duration_ms
from voxgate.protocol.realtime import JSON
from voxgate.simulator.accounting import (
    OUTPUT_AUDIO_TOKENS_PER_SECOND,
    InputUsage,
    audio_tokens,
    output_usage,
    text_tokens,
)
from voxgate.simulator.actions import Action, Close, Send
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.items import ItemStore, StoredItem, Words
from voxgate.simulator.planner import CallOut, MessageOut, Output, Plan
from voxgate.simulator.session_config import ResponseConfig
from voxgate.simulator.turns import Drop

MAX_DELTA_MS: Final = 200.0

OpKind = Literal[
    "item_added",
    "part_added",
    "text",
    "audio",
    "part_done",
    "args_delta",
    "args_done",
    "item_done",
    "close",
    "done",
]


@dataclass(frozen=True, slots=True)
class Op:
    kind: OpKind
    due_ms: float  # playback position (ms of this response's audio) the step belongs to
    index: int = 0
    chunk: int = 0
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Pacing:
    realtime: bool = False
    lead_ms: float = 200.0
    delay_ms: float = 0.0


class ResponseRun:
    """A response from ``response.created`` on. Until ``begin(plan)`` it is waiting (for the caller's
    audio to be heard, or for its speech): nothing is due, and a cancel ends it with no output."""

    def __init__(
        self,
        *,
        response_id: str,
        config: ResponseConfig,
        conversation_id: str | None,
        store: ItemStore | None,
        ids: IdFactory,
        created_at: float,
    ) -> None:
        self.id = response_id
        self.config = config
        self.conversation_id = conversation_id
        self.outputs: list[Output] = []
        self.store = store
        self._ids = ids
        self.started_at = created_at
        self.pacing = Pacing()
        self.input_usage = InputUsage(0, 0)
        self.failure: JSON | None = None
        self.incomplete = False
        self.planned = False
        self.status = "in_progress"
        self.finished = False
        self.emitted_audio = False
        self.audio_ms_sent = 0.0
        self.usage: JSON | None = None
        self._started: list[int] = []
        self._closed: set[int] = set()
        self._completed: set[int] = set()
        self._ops: deque[Op] = deque()
        self._drop: Drop | None = None

    def begin(
        self,
        plan: Plan,
        *,
        started_at: float,
        pacing: Pacing,
        input_usage: InputUsage,
        failure: JSON | None = None,
        drop: Drop | None = None,
    ) -> None:
        """The plan is ready: its steps fall due from ``started_at`` on."""
        self.outputs = [] if failure else plan.outputs
        self.started_at = started_at
        self.pacing = pacing
        self.input_usage = input_usage
        self.failure = failure
        self.incomplete = plan.incomplete and not failure
        self.planned = True
        self._drop = drop
        self._ops = deque(self._build_ops(drop))

    # -- planning ---------------------------------------------------------------------------
    def _build_ops(self, drop: Drop | None) -> list[Op]:
        ops: list[Op] = []
        at = 0.0
        fmt = self.config.format_type
        step = bytes_for_ms(MAX_DELTA_MS, fmt)
        for index, output in enumerate(self.outputs):
            ops.append(Op("item_added", at, index))
            if isinstance(output, MessageOut):
                ops.append(Op("part_added", at, index))
                for number, chunk in enumerate(output.chunks):
                    ops.append(Op("text", at, index, number))
                    for start in range(0, len(chunk.audio), step):
                        end = min(len(chunk.audio), start + step)
                        ops.append(Op("audio", at + duration_ms(start, fmt), index, number, start, end))
                    at += chunk.audio_ms
                ops.append(Op("part_done", at, index))
            else:
                for number in range(len(output.pieces)):
                    ops.append(Op("args_delta", at, index, number))
                ops.append(Op("args_done", at, index))
            ops.append(Op("item_done", at, index))
        ops.append(Op("done", at))
        if drop is not None:
            position = drop.after_ms or 0.0
            where = next(
                (i for i, op in enumerate(ops) if op.due_ms >= position and op.kind != "item_added"), None
            )
            if drop.after_ms is None or where is None:
                where = 0 if drop.after_ms is None else len(ops) - 1
            ops.insert(where, Op("close", position))
        return ops

    @property
    def total_audio_ms(self) -> float:
        return sum(c.audio_ms for o in self.outputs if isinstance(o, MessageOut) for c in o.chunks)

    # -- timing ---------------------------------------------------------------------------------
    def _due(self, op: Op) -> float:
        at = self.started_at + self.pacing.delay_ms / 1000.0
        if self.pacing.realtime:
            at += max(0.0, op.due_ms - self.pacing.lead_ms) / 1000.0
        return at

    def next_due(self) -> float | None:
        if self.finished or not self._ops:
            return None
        return self._due(self._ops[0])

    # -- events ----------------------------------------------------------------------------------
    def created_event(self) -> JSON:
        return {"type": "response.created", "event_id": self._ids("event_"), "response": self._response()}

    def advance(self, now: float, budget: int) -> list[Action]:
        actions: list[Action] = []
        while self._ops and not self.finished and len(actions) < budget and self._due(self._ops[0]) <= now:
            actions.extend(self._run(self._ops.popleft()))
        return actions

    def cancel(self, reason: Literal["turn_detected", "client_cancelled"]) -> list[Action]:
        """End the response now: close what is open, then ``response.done`` as cancelled."""
        self._ops.clear()
        actions: list[Action] = []
        for index in self._started:
            if index in self._closed:
                continue
            output = self.outputs[index]
            if isinstance(output, MessageOut) and output.part_open:
                actions.extend(self._part_done(index, output))
            if isinstance(output, CallOut):
                actions.extend(self._args_done(index, output))
            actions.extend(self._item_done(index, complete=False))
        self.status = "cancelled"
        actions.extend(self._done({"type": "cancelled", "reason": reason}))
        return actions

    def _run(self, op: Op) -> list[Action]:
        if op.kind == "done":
            return self._finish()
        if op.kind == "close":
            self.finished = True
            assert self._drop is not None
            return [Close(self._drop.code, self._drop.reason)]
        output = self.outputs[op.index]
        if op.kind == "item_added":
            return self._item_added(op.index, output)
        if op.kind == "item_done":
            return self._item_done(op.index, complete=not output.cut)
        if isinstance(output, MessageOut):
            if op.kind == "part_added":
                output.part_open = True
                part: JSON = (
                    {"type": "audio", "transcript": ""} if self.config.audio else {"type": "text", "text": ""}
                )
                return [self._send("response.content_part.added", op.index, output.item_id, part=part)]
            if op.kind == "text":
                return self._text(op, output)
            if op.kind == "audio":
                return self._audio(op, output)
            return self._part_done(op.index, output)
        if op.kind == "args_delta":
            piece = output.pieces[op.chunk]
            output.sent += piece
            return [self._call_event("response.function_call_arguments.delta", op.index, output, delta=piece)]
        return self._args_done(op.index, output)

    def _locator(self, index: int, item_id: str) -> JSON:
        return {"response_id": self.id, "item_id": item_id, "output_index": index}

    def _send(self, kind: str, index: int, item_id: str, **fields: object) -> Send:
        event: JSON = {"type": kind, "event_id": self._ids("event_"), **self._locator(index, item_id)}
        event["content_index"] = 0
        event.update(fields)
        return Send(event)

    def _call_event(self, kind: str, index: int, call: CallOut, **fields: object) -> Send:
        event: JSON = {"type": kind, "event_id": self._ids("event_"), **self._locator(index, call.item_id)}
        event["call_id"] = call.call_id
        event.update(fields)
        return Send(event)

    def _item(self, index: int, status: str) -> JSON:
        output = self.outputs[index]
        if isinstance(output, CallOut):
            arguments = "" if status == "in_progress" else output.sent
            return {
                "id": output.item_id,
                "object": "realtime.item",
                "type": "function_call",
                "status": status,
                "name": output.name,
                "call_id": output.call_id,
                "arguments": arguments,
            }
        content: list[JSON] = []
        if status != "in_progress" and (output.chunks or output.text):
            content = [
                {"type": "output_audio", "transcript": output.text}
                if self.config.audio
                else {"type": "output_text", "text": output.text}
            ]
        return {
            "id": output.item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def _item_added(self, index: int, output: Output) -> list[Action]:
        self._started.append(index)
        item = self._item(index, "in_progress")
        actions: list[Action] = [
            Send(
                {
                    "type": "response.output_item.added",
                    "event_id": self._ids("event_"),
                    "response_id": self.id,
                    "output_index": index,
                    "item": item,
                }
            )
        ]
        if self.store is not None:
            stored = StoredItem(
                copy.deepcopy(item), audio_format=self.config.format_type, response_id=self.id
            )
            previous = self.store.insert(stored)
            actions.append(
                Send(
                    {
                        "type": "conversation.item.added",
                        "event_id": self._ids("event_"),
                        "previous_item_id": previous,
                        "item": item,
                    }
                )
            )
        return actions

    def _stored(self, item_id: str) -> StoredItem | None:
        return self.store.get(item_id) if self.store is not None else None

    def _text(self, op: Op, output: MessageOut) -> list[Action]:
        chunk = output.chunks[op.chunk]
        output.text += chunk.text
        stored = self._stored(output.item_id)
        if stored is not None and self.config.audio:
            start = output.audio_ms
            spans = chunk.words or (Words(chunk.text, 0.0, chunk.audio_ms),)
            stored.words.extend(Words(w.text, start + w.start_ms, start + w.end_ms) for w in spans)
        kind = "response.output_audio_transcript.delta" if self.config.audio else "response.output_text.delta"
        return [self._send(kind, op.index, output.item_id, delta=chunk.text)]

    def _audio(self, op: Op, output: MessageOut) -> list[Action]:
        data = output.chunks[op.chunk].audio[op.start : op.end]
        ms = duration_ms(len(data), self.config.format_type)
        output.audio_ms += ms
        self.audio_ms_sent += ms
        self.emitted_audio = True
        stored = self._stored(output.item_id)
        if stored is not None:
            stored.audio.extend(data)
            stored.audio_ms += ms
        delta = base64.b64encode(data).decode()
        return [self._send("response.output_audio.delta", op.index, output.item_id, delta=delta)]

    def _part_done(self, index: int, output: MessageOut) -> list[Action]:
        output.part_open = False
        if self.config.audio:
            return [
                self._send("response.output_audio.done", index, output.item_id),
                self._send(
                    "response.output_audio_transcript.done", index, output.item_id, transcript=output.text
                ),
                self._send(
                    "response.content_part.done",
                    index,
                    output.item_id,
                    part={"type": "audio", "transcript": output.text},
                ),
            ]
        return [
            self._send("response.output_text.done", index, output.item_id, text=output.text),
            self._send(
                "response.content_part.done",
                index,
                output.item_id,
                part={"type": "text", "text": output.text},
            ),
        ]

    def _args_done(self, index: int, call: CallOut) -> list[Action]:
        return [
            self._call_event(
                "response.function_call_arguments.done", index, call, name=call.name, arguments=call.sent
            )
        ]

    def _item_done(self, index: int, *, complete: bool) -> list[Action]:
        self._closed.add(index)
        if complete:
            self._completed.add(index)
        item = self._item(index, "completed" if complete else "incomplete")
        actions: list[Action] = [
            Send(
                {
                    "type": "response.output_item.done",
                    "event_id": self._ids("event_"),
                    "response_id": self.id,
                    "output_index": index,
                    "item": item,
                }
            )
        ]
        stored = self._stored(str(item["id"]))
        if stored is not None and self.store is not None:
            stored.item = copy.deepcopy(item)
            actions.append(
                Send(
                    {
                        "type": "conversation.item.done",
                        "event_id": self._ids("event_"),
                        "previous_item_id": self.store.previous_of(stored.id),
                        "item": item,
                    }
                )
            )
        return actions

    def _finish(self) -> list[Action]:
        if self.failure is not None:
            self.status = "failed"
            error = {
                "type": self.failure.get("type", "server_error"),
                "code": self.failure.get("code"),
                "message": self.failure.get("message", "The response failed."),
            }
            return self._done({"type": "failed", "error": error})
        if self.incomplete:
            self.status = "incomplete"
            return self._done({"type": "incomplete", "reason": "max_output_tokens"})
        self.status = "completed"
        return self._done(None)

    def _done(self, details: JSON | None) -> list[Action]:
        self.finished = True
        self.usage = self._usage()
        response = self._response()
        response["status_details"] = details
        response["output"] = [self._final_item(i) for i in self._started]
        response["usage"] = self.usage
        return [Send({"type": "response.done", "event_id": self._ids("event_"), "response": response})]

    def _final_item(self, index: int) -> JSON:
        return self._item(index, "completed" if index in self._completed else "incomplete")

    def _response(self) -> JSON:
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": None,
            "output": [],
            "conversation_id": self.conversation_id,
            "output_modalities": list(self.config.output_modalities),
            "max_output_tokens": self.config.max_output_tokens,
            "audio": {"output": {"format": dict(self.config.output_format), "voice": self.config.voice}},
            "usage": None,
            "metadata": self.config.metadata,
        }

    def _usage(self) -> JSON:
        text_out = 0
        for index in self._started:
            output = self.outputs[index]
            if isinstance(output, MessageOut):
                text_out += text_tokens(output.text)
            else:
                text_out += text_tokens(output.name + output.sent)
        audio_out = (
            audio_tokens(self.audio_ms_sent, OUTPUT_AUDIO_TOKENS_PER_SECOND) if self.config.audio else 0
        )
        return output_usage(self.input_usage, text_out, audio_out)

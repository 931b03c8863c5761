"""What the gateway hands to the write-behind writer: small immutable records, one per fact.

Every record carries its own timestamp (from the session's injected clock) and has a natural key in the
database (an event is session + seq, a transcript session + item, ...), so writing one twice, as a
replay after an outage may, changes nothing.

Records also travel through the spill journal, one JSON object per line: ``to_json`` / ``from_json``.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeAlias

import orjson

from voxgate.store.models import CallOutcome, Channel, Direction, Role

log = logging.getLogger("voxgate.recording")

TYPE_LENGTH: Final = 96
"""Stored event types are cut to this length (a type comes from the client and can be anything)."""

# The fields that carry base64 audio, per event type (GA and beta names). Stored events keep the rest
# of the event and the decoded size in ``audio_bytes``; the audio itself is recorded per item as WAV.
AUDIO_FIELDS: Final[dict[str, str]] = {
    "input_audio_buffer.append": "audio",
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
}


def base64_size(data: str) -> int:
    """The decoded size of base64 text, without decoding it (nor copying it: audio chunks are large)."""
    size = len(data)
    if size < 2:
        return 0
    # One-character indexing and == are the cheapest test there is (it runs for every audio chunk).
    return (size - (data[-1] == "=") - (data[-2] == "=")) * 3 // 4


def strip_audio(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` fit for storage: an audio payload is replaced by its size in bytes."""
    payload = dict(event)
    audio_field = AUDIO_FIELDS.get(str(payload.get("type", "")))
    if audio_field is not None and isinstance(payload.get(audio_field), str):
        payload["audio_bytes"] = base64_size(payload.pop(audio_field))
    return payload


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted:
    session_id: str
    channel: Channel
    agent: str
    started_at: datetime
    business_id: int | None = None
    client_id: str | None = None
    caller: str | None = None
    upstream_model: str | None = None
    backend: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded:
    session_id: str
    ended_at: datetime
    end_reason: str
    events_in: int = 0
    events_out: int = 0
    tool_call_count: int = 0
    barge_ins: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One relayed message. Build it with ``EventRecord.of`` so that audio is stripped."""

    session_id: str
    seq: int
    direction: Direction
    type: str
    payload: dict[str, Any]
    at: datetime

    @classmethod
    def of(
        cls, session_id: str, seq: int, direction: Direction, event: Mapping[str, Any], at: datetime
    ) -> EventRecord:
        return cls(
            session_id=session_id,
            seq=seq,
            direction=direction,
            type=str(event.get("type", "")),
            payload=strip_audio(event),
            at=at,
        )


def event_entry(seq: int, direction: Direction, kind: str, at: datetime, payload: dict[str, Any]) -> bytes:
    """One event of an ``EventBlock``, as JSON."""
    entry = {"seq": seq, "direction": direction, "type": kind[:TYPE_LENGTH], "at": at, "payload": payload}
    try:
        return orjson.dumps(entry)
    except TypeError:
        pass
    try:  # a hook put a non-string key into the event; the option costs a third more
        return orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        # Parsed JSON that JSON encoding refuses: nested deeper than 255 levels (a client may send
        # that inside any object the protocol leaves open). The event keeps its place and says why.
        log.warning("event %d (%s) is stored without its payload: %s", seq, kind[:TYPE_LENGTH], exc)
        event_id = payload.get("event_id")
        entry["payload"] = {
            "type": kind[:TYPE_LENGTH],
            **({"event_id": event_id} if isinstance(event_id, str) else {}),
            "not_recorded": f"the payload cannot be stored as JSON: {exc}",
        }
        return orjson.dumps(entry)


MAX_SPLICED_NESTING: Final = 255
"""orjson writes JSON nested this deep at most: a frame that might nest deeper is re-encoded instead."""


def spliced_entry(seq: int, direction: Direction, kind: str, at: datetime, frame: bytes) -> bytes | None:
    """``event_entry`` with the event's payload taken verbatim from ``frame``, the JSON object it was
    parsed from; ``None`` when the frame could nest deeper than the stored events are read back."""
    if frame.count(b"{") + frame.count(b"[") > MAX_SPLICED_NESTING:
        return None
    head = orjson.dumps({"seq": seq, "direction": direction, "type": kind[:TYPE_LENGTH], "at": at})
    return b"".join((head[:-1], b',"payload":', frame, b"}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EventBlock:
    """Consecutive relayed messages of a session, ``first_seq`` to ``last_seq`` (``voxgate.event_log``).

    ``events_json`` is a JSON array (UTF-8) of ``event_entry`` per message in seq order, audio
    stripped; ``at`` is the first one's time. The recorder submits these; ``EventRecord`` (one
    message) remains a record kind so that a journal spilled by an earlier version still replays.
    """

    session_id: str
    first_seq: int
    last_seq: int
    at: datetime
    events_json: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptRecord:
    """The text of a conversation item; ``seq`` is the item's position in the conversation.

    Written again for the same item, it replaces the text, unless the item was truncated meanwhile
    (what the caller heard stays the record).
    """

    session_id: str
    item_id: str
    role: Role
    text: str
    seq: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptTruncated:
    """The assistant was interrupted: ``text`` is what was played up to ``audio_end_ms``."""

    session_id: str
    item_id: str
    text: str
    audio_end_ms: int
    seq: int
    at: datetime
    role: Role = "assistant"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallRecord:
    session_id: str
    call_id: str
    name: str
    arguments: Any
    result: Any
    ok: bool
    duration_ms: float
    at: datetime
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRecord:
    session_id: str
    response_id: str
    at: datetime
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def from_usage(
        cls, session_id: str, response_id: str, usage: Mapping[str, Any], at: datetime, cost_usd: float = 0.0
    ) -> UsageRecord:
        """From the ``usage`` object of a Realtime ``response.done`` (missing parts count as 0)."""
        inp: Mapping[str, Any] = usage.get("input_token_details") or {}
        out: Mapping[str, Any] = usage.get("output_token_details") or {}
        return cls(
            session_id=session_id,
            response_id=response_id,
            at=at,
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cached_tokens=int(inp.get("cached_tokens") or 0),
            input_text_tokens=int(inp.get("text_tokens") or 0),
            input_audio_tokens=int(inp.get("audio_tokens") or 0),
            output_text_tokens=int(out.get("text_tokens") or 0),
            output_audio_tokens=int(out.get("audio_tokens") or 0),
            cost_usd=cost_usd,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """What is known about a phone call; fields left ``None`` keep their stored value."""

    call_sid: str
    session_id: str | None = None
    business_id: int | None = None
    from_number: str | None = None
    to_number: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: int | None = None
    outcome: CallOutcome | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStatus:
    """One status callback from Twilio, appended to the call's status history."""

    call_sid: str
    status: str
    at: datetime
    duration_s: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingRecord:
    session_id: str
    item_id: str
    path: str
    at: datetime
    role: str | None = None
    duration_ms: int | None = None


Record: TypeAlias = (
    SessionStarted
    | SessionEnded
    | EventRecord
    | EventBlock
    | TranscriptRecord
    | TranscriptTruncated
    | ToolCallRecord
    | UsageRecord
    | CallRecord
    | CallStatus
    | RecordingRecord
)

RECORD_TYPES: Final[dict[str, type[Record]]] = {
    cls.__name__: cls
    for cls in (
        SessionStarted,
        SessionEnded,
        EventRecord,
        EventBlock,
        TranscriptRecord,
        TranscriptTruncated,
        ToolCallRecord,
        UsageRecord,
        CallRecord,
        CallStatus,
        RecordingRecord,
    )
}


class RecordDecodeError(ValueError):
    """A journal line that is not a record (e.g. cut short by a crash)."""


def to_json(record: Record) -> bytes:
    """One journal line, newline included."""
    data: Any = record
    if isinstance(record, EventBlock):  # its events are JSON already: embedded, not re-encoded
        data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
        data["events_json"] = orjson.Fragment(record.events_json)
    body = {"kind": type(record).__name__, "data": data}
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def from_json(line: bytes) -> Record:
    try:
        body = orjson.loads(line)
        cls = RECORD_TYPES[body["kind"]]
        data: dict[str, Any] = body["data"]
        for name in _DATETIME_FIELDS[body["kind"]]:
            if data.get(name) is not None:
                data[name] = datetime.fromisoformat(data[name])
        if cls is EventBlock:
            data["events_json"] = orjson.dumps(data["events_json"])
        return cls(**data)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RecordDecodeError(f"not a journal record: {line[:200]!r} ({exc})") from exc


def _datetime_field_names(cls: type[Record]) -> tuple[str, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if hints[f.name] is datetime or datetime in typing.get_args(hints[f.name])
    )


_DATETIME_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    name: _datetime_field_names(cls) for name, cls in RECORD_TYPES.items()
}

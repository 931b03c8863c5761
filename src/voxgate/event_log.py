"""A session's events as store records: numbered in order, audio stripped, audio chunks coalesced.

Every event the gateway relays gets a per-session ``seq`` and becomes an ``EventRecord`` whose payload is
the event without its base64 audio. Audio chunks (``input_audio_buffer.append``,
``response.output_audio.delta``) arrive 25 to 50 times a second per direction; storing each as a row
would make the database the most expensive part of the relay. Consecutive chunks of the same stream
(same direction, type and item) are therefore kept as one *run*: a single record with the first
chunk's metadata and ``seq``, plus ``chunks`` (how many events), ``audio_bytes`` (their decoded size in
all), ``last_at`` and, when the chunks had them, their ``event_ids``. A run ends at the next event in
its direction, after ``MAX_RUN_CHUNKS`` chunks, or when the session ends. So no event goes unaccounted
(the ``chunks`` of a session's rows add up to its relayed events), and ``seq`` orders everything, with
one approximation: events in the *other* direction that arrived while a run was open are numbered
after the run's first chunk.

Nothing here awaits or copies audio: a run keeps counts, and records go to the writer's ``submit``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from voxgate.redact import redact_payload
from voxgate.store.models import Direction
from voxgate.store.records import AUDIO_FIELDS, EventRecord, Record, base64_size, strip_audio

MAX_RUN_CHUNKS: Final = 50
"""About a second of 20 ms frames per row."""

# Events whose ``item`` may carry base64 audio inside its content parts (a client may create an item
# from recorded audio): stripped like the audio events are.
ITEM_EVENTS: Final = frozenset(
    {
        "conversation.item.create",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.created",
    }
)


def strip_item_audio(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the audio of its item's content parts replaced by their size (copies only then)."""
    item = payload.get("item")
    content = item.get("content") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(content, list):
        return payload
    if not any(isinstance(part, dict) and isinstance(part.get("audio"), str) for part in content):
        return payload
    parts = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("audio"), str):
            part = {k: v for k, v in part.items() if k != "audio"} | {
                "audio_bytes": base64_size(part["audio"])
            }
        parts.append(part)
    return {**payload, "item": {**item, "content": parts}}


class _Run:
    __slots__ = (
        "audio_bytes",
        "chunks",
        "event_ids",
        "first_at",
        "item_id",
        "kind",
        "last_at",
        "meta",
        "seq",
    )

    def __init__(
        self, seq: int, kind: str, item_id: Any, meta: dict[str, Any], size: int, at: datetime
    ) -> None:
        self.seq = seq
        self.kind = kind
        self.item_id = item_id
        self.meta = meta
        self.chunks = 1
        self.audio_bytes = size
        self.first_at = self.last_at = at
        event_id = meta.get("event_id")
        self.event_ids: list[Any] = [event_id] if event_id is not None else []


class EventLog:
    def __init__(
        self,
        session_id: str,
        submit: Callable[[Record], None],
        clock: Callable[[], datetime],
        *,
        redact: bool = False,
    ) -> None:
        self.session_id = session_id
        self.submit = submit
        self.clock = clock
        self.redact = redact
        self.seq = 0
        self._runs: dict[Direction, _Run | None] = {"in": None, "out": None}

    def add(self, direction: Direction, kind: str, event: dict[str, Any]) -> None:
        run = self._runs[direction]
        audio_field = AUDIO_FIELDS.get(kind)
        if audio_field is not None:
            chunk = event.get(audio_field)
            size = base64_size(chunk) if isinstance(chunk, str) else 0
            item_id = event.get("item_id")
            if (
                run is not None
                and run.kind == kind
                and run.item_id == item_id
                and run.chunks < MAX_RUN_CHUNKS
            ):
                run.chunks += 1
                run.audio_bytes += size
                run.last_at = self.clock()
                event_id = event.get("event_id")
                if event_id is not None:
                    run.event_ids.append(event_id)
                return
            if run is not None:
                self._close(direction, run)
            meta = {k: v for k, v in event.items() if k != audio_field}
            self._runs[direction] = _Run(self._next(), kind, item_id, meta, size, self.clock())
            return
        if run is not None:
            self._close(direction, run)
        payload = strip_audio(event)
        if kind in ITEM_EVENTS:
            payload = strip_item_audio(payload)
        if self.redact:
            payload = redact_payload(payload)
        self.submit(
            EventRecord(
                session_id=self.session_id,
                seq=self._next(),
                direction=direction,
                type=kind,
                payload=payload,
                at=self.clock(),
            )
        )

    def close(self) -> None:
        """Submit the runs still open (the session ended)."""
        for direction, run in list(self._runs.items()):
            if run is not None:
                self._close(direction, run)

    def _next(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    def _close(self, direction: Direction, run: _Run) -> None:
        self._runs[direction] = None
        payload = dict(run.meta)
        payload["audio_bytes"] = run.audio_bytes
        payload["chunks"] = run.chunks
        if run.chunks > 1:
            payload["last_at"] = run.last_at.isoformat()
            if run.event_ids:
                payload["event_ids"] = run.event_ids
        self.submit(
            EventRecord(
                session_id=self.session_id,
                seq=run.seq,
                direction=direction,
                type=run.kind,
                payload=payload,
                at=run.first_at,
            )
        )

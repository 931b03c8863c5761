"""A session's events as store records: numbered in order, audio stripped, audio chunks coalesced,
written in blocks.

Every event the gateway relays gets a per-session ``seq`` and becomes an entry
``{"seq", "direction", "type", "at", "payload"}`` whose payload is the event without its base64 audio.
When the recorder has the JSON text an event was parsed from and nothing changed the event since, the
payload is that text, spliced into the entry as it is: encoding the event again would only give the
same JSON, at a cost (the text is re-encoded when it may nest deeper than the read path decodes).

Audio chunks (``input_audio_buffer.append``, ``response.output_audio.delta``) arrive 25 to 50 times a
second per direction, so the chunks of one stream (same direction, type and item) are kept as one *run*:
a single entry with the first chunk's metadata and ``seq``, plus ``chunks`` (how many events),
``audio_bytes`` (their decoded size in all), ``last_at`` and, when the chunks had them, their
``event_ids``. A run ends at a chunk of another stream in its direction, after ``MAX_RUN_CHUNKS``
chunks, or when the block it belongs to is sealed. Other events of its direction do not end it: each
gets its own entry and ``seq`` as usual, and the run notes where it came, ``interleaved``: a list of
``[seq, chunks before it]``. (A client's commit or clear between its appends, a transcript delta between
audio deltas: ending the run there made up to ten entries a second out of one.) So no event goes
unaccounted (the ``chunks`` of a session's entries add up to its relayed events), and the order of the
events of a direction can be rebuilt exactly; between the directions, ``seq`` orders the entries, with
one approximation: events in the *other* direction that arrived while a run was open are numbered after
the run's first chunk.

Entries are handed to the writer as an ``EventBlock`` of consecutive seq: when ``seal`` is called (the
recorder does it once a second for every session, the sessions spread over the second by
``SealRota``), when ``MAX_BLOCK_EVENTS`` entries are waiting, and when the session ends. A database
row per event would make storage the most expensive part of the relay (each row costs the writer
several microseconds of driver and index work); a row per block costs about that once a second.

An event's ``at`` is its monotonic tick (when the gateway saw it; the recorder logs events in batches,
``voxgate.recording``) placed on the wall clock read at the last ``anchor``.

Nothing here awaits or copies audio: a run keeps counts, and records go to the writer's ``submit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeAlias, TypeVar

from voxgate.redact import redact_payload
from voxgate.store.models import Direction
from voxgate.store.records import AUDIO_FIELDS, EventBlock, Record, base64_size, event_entry, spliced_entry

MAX_RUN_CHUNKS: Final = 50
"""About a second of 20 ms frames per entry."""
MAX_BLOCK_EVENTS: Final = 500
"""Entries per block at most; a busy session's second seldom holds more than a hundred."""

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


ChunkFacts: TypeAlias = tuple[int, Any, Any]
"""What is read of an audio chunk: its decoded size, ``item_id`` and ``event_id``."""


def chunk_facts(kind: str, event: dict[str, Any]) -> ChunkFacts | None:
    """The facts of ``event`` if it is an audio chunk (its type one of ``AUDIO_FIELDS``), else ``None``."""
    audio_field = AUDIO_FIELDS.get(kind)
    if audio_field is None:
        return None
    chunk = event.get(audio_field)
    return (base64_size(chunk) if isinstance(chunk, str) else 0, event.get("item_id"), event.get("event_id"))


K = TypeVar("K", bound=Hashable)


class _Run:
    """An open run of audio chunks; it becomes its entry when the block is sealed."""

    __slots__ = (
        "audio_bytes",
        "chunks",
        "direction",
        "event_ids",
        "first_at",
        "first_tick",
        "interleaved",
        "item_id",
        "kind",
        "last_tick",
        "meta",
        "seq",
    )

    def __init__(
        self,
        seq: int,
        direction: Direction,
        kind: str,
        item_id: Any,
        meta: dict[str, Any],
        size: int,
        at: datetime,
        tick: float,
    ) -> None:
        self.seq = seq
        self.direction = direction
        self.kind = kind
        self.item_id = item_id
        self.meta = meta
        self.chunks = 1
        self.audio_bytes = size
        self.first_at = at
        # Later chunks keep only their monotonic tick (50 of them a second): the last chunk's time is
        # worked out when the entry is made.
        self.first_tick = self.last_tick = tick
        event_id = meta.get("event_id")
        self.event_ids: list[Any] = [event_id] if event_id is not None else []
        self.interleaved: list[tuple[int, int]] | None = None
        """(seq, chunks before it) of each other event of the run's direction that came while it was open."""

    def let_in(self, seq: int) -> None:
        """Another event of the run's direction, numbered ``seq``, came between two of its chunks."""
        if self.interleaved is None:
            self.interleaved = [(seq, self.chunks)]
        else:
            self.interleaved.append((seq, self.chunks))

    def entry(self) -> bytes:
        payload = self.meta  # the run's own copy of its first chunk's fields
        payload["audio_bytes"] = self.audio_bytes
        payload["chunks"] = self.chunks
        if self.chunks > 1:
            payload["last_at"] = self.first_at + timedelta(seconds=self.last_tick - self.first_tick)
            if self.event_ids:
                payload["event_ids"] = self.event_ids
            if self.interleaved is not None:
                payload["interleaved"] = self.interleaved
        return event_entry(self.seq, self.direction, self.kind, self.first_at, payload)


class EventLog:
    def __init__(
        self,
        session_id: str,
        submit: Callable[[Record], None],
        clock: Callable[[], datetime],
        *,
        redact: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_id = session_id
        self.submit = submit
        self.clock = clock
        self.monotonic = monotonic
        self.redact = redact
        self.seq = 0
        self._anchor_at = clock()
        self._anchor_tick = monotonic()
        self._runs: dict[Direction, _Run | None] = {"in": None, "out": None}
        # Entries are JSON as soon as they are made: bytes are invisible to the garbage collector, while
        # a second of events kept as dicts would be collected again and again before it is written.
        self._pending: list[bytes | _Run] = []
        self._block_start = 0
        self._block_at: datetime | None = None

    def anchor(self, at: datetime | None = None, tick: float | None = None) -> None:
        """Place the monotonic clock on the wall clock again: ``at`` is the wall-clock time of the
        monotonic ``tick`` (both read now when not given; the recorder reads them once for all its
        sessions). Event times are worked out from their ticks, one wall-clock reading per batch of
        events instead of one per event; anchoring again keeps them in step with a wall clock that was
        adjusted."""
        self._anchor_at = self.clock() if at is None else at
        self._anchor_tick = self.monotonic() if tick is None else tick

    def wall_time(self, tick: float) -> datetime:
        """The wall-clock time of the monotonic ``tick``."""
        return self._anchor_at + timedelta(seconds=tick - self._anchor_tick)

    def add(
        self,
        direction: Direction,
        kind: str,
        event: dict[str, Any],
        tick: float | None = None,
        frame: str | bytes | None = None,
    ) -> int:
        """Log ``event``, seen at the monotonic time ``tick`` (now when not given). ``frame``: the JSON
        text the event was parsed from, when nothing changed it since; its payload is then stored as
        received instead of encoded again. For an audio chunk, answers its decoded size in bytes
        (else 0)."""
        facts = chunk_facts(kind, event)
        if facts is not None:
            size, item_id, event_id = facts
            self.add_chunk(direction, kind, event, tick, size, item_id, event_id)
            return size
        if tick is None:
            tick = self.monotonic()
        run = self._runs[direction]
        if run is not None:
            run.let_in(self.seq)
        at = self.wall_time(tick)
        payload = event
        if kind in ITEM_EVENTS:
            payload = strip_item_audio(payload)
        if self.redact:
            payload = redact_payload(payload)
        elif frame is not None and payload is event:
            text = frame if isinstance(frame, bytes) else frame.encode()
            entry = spliced_entry(self.seq, direction, kind, at, text)
            if entry is not None:
                self._next()
                self._keep(entry, at)
                return 0
        self._keep(event_entry(self._next(), direction, kind, at, payload), at)
        return 0

    def add_chunk(
        self,
        direction: Direction,
        kind: str,
        event: dict[str, Any],
        tick: float | None,
        size: int,
        item_id: Any,
        event_id: Any,
    ) -> None:
        """Log the audio chunk ``event`` (its type one of ``AUDIO_FIELDS``) from what the caller read of
        it: its decoded ``size``, ``item_id`` and ``event_id``. Read when the chunk arrived, they spare
        the log a second look at an event the relay has long moved on from (and that a cache no longer
        holds); the event itself is read only to start a run."""
        if tick is None:
            tick = self.monotonic()
        run = self._runs[direction]
        if run is not None and run.kind == kind and run.item_id == item_id and run.chunks < MAX_RUN_CHUNKS:
            run.chunks += 1
            run.audio_bytes += size
            run.last_tick = tick
            if event_id is not None:
                run.event_ids.append(event_id)
            return
        audio_field = AUDIO_FIELDS[kind]
        meta = {k: v for k, v in event.items() if k != audio_field}
        at = self.wall_time(tick)
        run = self._runs[direction] = _Run(self._next(), direction, kind, item_id, meta, size, at, tick)
        self._keep(run, at)

    def seal(self) -> None:
        """Hand what is waiting to the writer as one block (open runs end here)."""
        pending = self._pending
        if not pending or self._block_at is None:
            return
        self._pending = []
        self._runs = {"in": None, "out": None}
        entries = b",".join([item.entry() if isinstance(item, _Run) else item for item in pending])
        first_seq, self._block_start = self._block_start, self.seq
        self.submit(
            EventBlock(
                session_id=self.session_id,
                first_seq=first_seq,
                last_seq=self.seq - 1,
                at=self._block_at,
                events_json=b"[" + entries + b"]",
            )
        )

    def close(self) -> None:
        """The session ended: hand over everything still waiting."""
        self.seal()

    def _next(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    def _keep(self, entry: bytes | _Run, at: datetime) -> None:
        if not self._pending:
            self._block_at = at
        self._pending.append(entry)
        if len(self._pending) >= MAX_BLOCK_EVENTS:
            self.seal()


class SealRota(Generic[K]):
    """Which sessions to seal at each tick: every session once per ``groups`` ticks, a group per tick.

    Sealing builds a block's JSON on the event loop. All sessions at once, once a second, held the
    loop for about 10 ms at 100 sessions, which the relay's p99 round trip showed; one group per tick
    spreads that over the second. A new session joins the smallest group, so the groups stay even as
    sessions come and go.
    """

    def __init__(self, groups: int) -> None:
        self._groups: list[dict[K, None]] = [{} for _ in range(max(1, groups))]
        self._where: dict[K, dict[K, None]] = {}
        self._next = 0

    def join(self, key: K) -> None:
        group = min(self._groups, key=len)
        group[key] = None
        self._where[key] = group

    def leave(self, key: K) -> None:
        group = self._where.pop(key, None)
        if group is not None:
            del group[key]

    def due(self) -> list[K]:
        """The group whose turn it is (then the next one's, at the next call)."""
        group = self._groups[self._next]
        self._next = (self._next + 1) % len(self._groups)
        return list(group)

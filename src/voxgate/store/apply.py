"""How each record becomes SQL, inside a transaction the writer opens.

Every statement is idempotent (insert-or-ignore on the record's natural key, or an upsert), so a batch
written twice — a commit whose acknowledgement was lost, a journal replayed after a crash — leaves the
database as if it had been written once. Records are applied in the order given; consecutive records of
the frequent kinds (events, transcripts, tool calls, usage) share one multi-row statement.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Table, false, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from voxgate.store.models import Call, Recording, Session, ToolCall, Transcript, Usage
from voxgate.store.records import (
    CallRecord,
    CallStatus,
    EventBlock,
    EventRecord,
    Record,
    RecordingRecord,
    SessionEnded,
    SessionStarted,
    ToolCallRecord,
    TranscriptRecord,
    TranscriptTruncated,
    UsageRecord,
    event_entry,
)

# Twilio's final call statuses, and those among them that mean nobody was served.
FINAL_CALL_STATUSES: Final = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
FAILED_CALL_STATUSES: Final = frozenset({"busy", "failed", "no-answer", "canceled"})

_MICRO: Final = Decimal("0.000001")

Upsert = postgresql.Insert | sqlite.Insert


def _insert(conn: AsyncConnection, table: Any) -> Upsert:
    """``INSERT`` with ``ON CONFLICT`` support: both dialects spell it the same way in SQLAlchemy."""
    target: Table = table.__table__
    if conn.dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)


_STATEMENTS: dict[tuple[str, str, Hashable], Any] = {}


def _statement(
    conn: AsyncConnection, table: Any, build: Callable[[Upsert], Any], variant: Hashable = None
) -> Any:
    """The upsert ``build`` makes from an ``INSERT`` into ``table``, made once per dialect and variant.

    Statements are immutable and carry no values (the rows are the execution's parameters), so one
    serves every batch. Built afresh, an upsert costs more than its rows (``excluded`` copies every
    column of the table) and leaves reference cycles that the garbage collector must find, on the
    event loop the relay shares.
    """
    key = (conn.dialect.name, table.__tablename__, variant if variant is not None else build.__name__)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build(_insert(conn, table))
    return stmt


def _clip(value: str | None, column: ColumnElement[Any]) -> str | None:
    """Cut descriptive text to its column: one odd client id must not cost a session all its records.

    (Keys are never cut: a key that does not fit is a bug, and the record is refused and kept.)
    """
    length = getattr(column.type, "length", None)
    return value[:length] if value is not None and length and len(value) > length else value


ROWS_PER_STATEMENT: Final = 100
"""Rows handed to the driver at once. Preparing a multi-row statement's parameters runs on the event
loop, which the relay shares; in slices, the relay gets the loop back between them."""


async def _execute_many(conn: AsyncConnection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        await conn.execute(stmt, rows[start : start + ROWS_PER_STATEMENT])


def _usd(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_MICRO)


# Kinds that only insert-or-ignore rows under their own natural key: once their session row exists,
# their order relative to each other and to other kinds changes nothing, so a batch writes each of
# them in one statement. (A statement costs far more than a row: with the kinds interleaved, as a live
# session produces them, grouping only consecutive records meant several statements per batch.)
_ORDER_FREE: Final[tuple[type[Record], ...]] = (
    EventRecord,
    EventBlock,
    UsageRecord,
    ToolCallRecord,
    RecordingRecord,
)


async def apply_records(conn: AsyncConnection, records: Sequence[Record]) -> None:
    """Write ``records`` on ``conn`` (the caller owns the transaction), with the effect of their order.

    Sessions are created first and ended last; the order-free kinds are written one statement per
    kind; the rest (transcripts and truncations, calls and their statuses) in their given order.
    """
    started: list[Record] = []
    free: dict[type[Record], list[Record]] = {}
    ordered: list[Record] = []
    ended: list[Record] = []
    for record in records:
        kind = type(record)
        if kind is SessionStarted:
            started.append(record)
        elif kind is SessionEnded:
            ended.append(record)
        elif kind in _ORDER_FREE:
            free.setdefault(kind, []).append(record)
        else:
            ordered.append(record)
    if started:
        await _sessions_started(conn, started)  # type: ignore[arg-type]
    for kind, group in free.items():
        await _HANDLERS[kind](conn, group)
    for kind, run in itertools.groupby(ordered, key=type):
        await _HANDLERS[kind](conn, list(run))
    if ended:
        await _sessions_ended(conn, ended)  # type: ignore[arg-type]


async def _sessions_started(conn: AsyncConnection, records: list[SessionStarted]) -> None:
    sessions = Session.__table__
    rows = [
        {
            "id": r.session_id,
            "channel": r.channel,
            "agent": _clip(r.agent, sessions.c.agent),
            "business_id": r.business_id,
            "client_id": _clip(r.client_id, sessions.c.client_id),
            "caller": _clip(r.caller, sessions.c.caller),
            "started_at": r.started_at,
            "upstream_model": _clip(r.upstream_model, sessions.c.upstream_model),
            "backend": _clip(r.backend, sessions.c.backend),
        }
        for r in records
    ]
    await conn.execute(_statement(conn, Session, _id_is_key), rows)


async def _sessions_ended(conn: AsyncConnection, records: list[SessionEnded]) -> None:
    for r in records:
        await conn.execute(
            update(Session)
            .where(Session.id == r.session_id)
            .values(
                ended_at=r.ended_at,
                end_reason=_clip(r.end_reason, Session.__table__.c.end_reason),
                events_in=r.events_in,
                events_out=r.events_out,
                tool_call_count=r.tool_call_count,
                barge_ins=r.barge_ins,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                cost_usd=_usd(r.cost_usd),
            )
        )


# Event blocks are most of what the writer writes (one per active session and second), so they skip
# SQLAlchemy's per-row parameter processing: the values are prepared here exactly as the column types
# would store them (JSON text; on SQLite the naive-UTC text of ``UTCDateTime``, on PostgreSQL an aware
# datetime) and handed to the driver's executemany. The other tables go through the ORM types.
_BLOCK_COLUMNS: Final = '"session_id", "first_seq", "last_seq", "at", "events"'
_BLOCK_CONFLICT: Final = 'ON CONFLICT ("session_id", "first_seq") DO NOTHING'
_BLOCK_SQL: Final = {
    dialect: f'INSERT INTO "event_blocks" ({_BLOCK_COLUMNS}) VALUES ({marks}) {_BLOCK_CONFLICT}'
    for dialect, marks in (("sqlite", "?, ?, ?, ?, ?"), ("postgresql", "$1, $2, $3, $4, $5"))
}
BLOCK_ROWS_PER_STATEMENT: Final = 500
"""Every statement costs a round trip to the driver's thread, which waits its turn on a busy loop."""


def _sqlite_time(value: datetime) -> str:
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")  # as UTCDateTime does
    return value.astimezone(UTC)


def _block_time(value: datetime, sqlite_text: bool) -> datetime | str:
    value = _utc(value)
    return _sqlite_time(value) if sqlite_text else value


def _single(r: EventRecord) -> EventBlock:
    """A one-event record (a journal line from an earlier version) as a block of one."""
    events = b"[" + event_entry(r.seq, r.direction, r.type, _utc(r.at), r.payload) + b"]"
    return EventBlock(session_id=r.session_id, first_seq=r.seq, last_seq=r.seq, at=r.at, events_json=events)


async def _event_records(conn: AsyncConnection, records: list[EventRecord]) -> None:
    await _event_blocks(conn, [_single(r) for r in records])


async def _event_blocks(conn: AsyncConnection, records: list[EventBlock]) -> None:
    dialect = conn.dialect.name
    sqlite_text = dialect == "sqlite"
    rows = [
        (
            r.session_id,
            r.first_seq,
            r.last_seq,
            _block_time(r.at, sqlite_text),
            r.events_json.decode(),
        )
        for r in records
    ]
    sql = _BLOCK_SQL[dialect]
    for start in range(0, len(rows), BLOCK_ROWS_PER_STATEMENT):
        await conn.exec_driver_sql(sql, rows[start : start + BLOCK_ROWS_PER_STATEMENT])


async def _transcripts(conn: AsyncConnection, records: list[TranscriptRecord]) -> None:
    rows = [
        {
            "session_id": r.session_id,
            "item_id": r.item_id,
            "role": r.role,
            "text": r.text,
            "seq": r.seq,
            "truncated": False,
            "at": r.at,
        }
        for r in records
    ]
    await _execute_many(conn, _statement(conn, Transcript, _transcript_upsert), rows)


def _transcript_upsert(ins: Upsert) -> Any:
    # A later transcript of the same item replaces the text, but never what a truncation recorded.
    return ins.on_conflict_do_update(
        index_elements=["session_id", "item_id"],
        set_={"text": ins.excluded.text, "at": ins.excluded.at},
        where=Transcript.truncated == false(),
    )


def _truncation_upsert(ins: Upsert) -> Any:
    return ins.on_conflict_do_update(
        index_elements=["session_id", "item_id"],
        set_={"text": ins.excluded.text, "truncated": true(), "audio_end_ms": ins.excluded.audio_end_ms},
    )


async def _truncations(conn: AsyncConnection, records: list[TranscriptTruncated]) -> None:
    stmt = _statement(conn, Transcript, _truncation_upsert)
    for r in records:
        await conn.execute(
            stmt,
            {
                "session_id": r.session_id,
                "item_id": r.item_id,
                "role": r.role,
                "text": r.text,
                "seq": r.seq,
                "truncated": True,
                "audio_end_ms": r.audio_end_ms,
                "at": r.at,
            },
        )


async def _tool_calls(conn: AsyncConnection, records: list[ToolCallRecord]) -> None:
    rows = [
        {
            "session_id": r.session_id,
            "call_id": r.call_id,
            "name": r.name,
            "arguments": r.arguments,
            "result": r.result,
            "ok": r.ok,
            "error": r.error,
            "duration_ms": Decimal(repr(float(r.duration_ms))).quantize(Decimal("0.001")),
            "at": r.at,
        }
        for r in records
    ]
    await _execute_many(conn, _statement(conn, ToolCall, _session_and_call_id_are_key), rows)


async def _usage(conn: AsyncConnection, records: list[UsageRecord]) -> None:
    rows = [
        {
            "session_id": r.session_id,
            "response_id": r.response_id,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cached_tokens": r.cached_tokens,
            "input_text_tokens": r.input_text_tokens,
            "input_audio_tokens": r.input_audio_tokens,
            "output_text_tokens": r.output_text_tokens,
            "output_audio_tokens": r.output_audio_tokens,
            "cost_usd": _usd(r.cost_usd),
            "at": r.at,
        }
        for r in records
    ]
    await _execute_many(conn, _statement(conn, Usage, _session_and_response_id_are_key), rows)


_CALL_FIELDS: Final = (
    "session_id",
    "business_id",
    "from_number",
    "to_number",
    "status",
    "started_at",
    "ended_at",
    "duration_s",
    "outcome",
)


def _call_merge(known: tuple[str, ...]) -> Callable[[Upsert], Any]:
    """Merge a call record: the ``known`` fields replace the stored values; the others stay."""

    def build(ins: Upsert) -> Any:
        if not known:
            return ins.on_conflict_do_nothing(index_elements=["call_sid"])
        merged = {name: func.coalesce(ins.excluded[name], Call.__table__.c[name]) for name in known}
        return ins.on_conflict_do_update(index_elements=["call_sid"], set_=merged)

    return build


async def _calls(conn: AsyncConnection, records: list[CallRecord]) -> None:
    for r in records:
        values = {name: getattr(r, name) for name in _CALL_FIELDS}
        for name in ("from_number", "to_number", "status"):
            values[name] = _clip(values[name], Call.__table__.c[name])
        known = tuple(name for name, value in values.items() if value is not None)
        stmt = _statement(conn, Call, _call_merge(known), variant=("merge", known))
        await conn.execute(stmt, {"call_sid": r.call_sid, "status_history": [], **values})


async def _call_statuses(conn: AsyncConnection, records: list[CallStatus]) -> None:
    for r in records:
        await conn.execute(
            _statement(conn, Call, _call_sid_is_key), {"call_sid": r.call_sid, "status_history": []}
        )
        # FOR UPDATE (PostgreSQL; SQLite already holds the write lock): another gateway process may
        # append to the same history.
        row = (
            await conn.execute(
                select(Call.status_history, Call.started_at, Call.ended_at, Call.outcome)
                .where(Call.call_sid == r.call_sid)
                .with_for_update()
            )
        ).one()
        entry = {"status": r.status, "at": r.at.isoformat(), **r.details}
        history = list(row.status_history or [])
        if entry in history:  # a replay: this report is already there
            continue
        values: dict[str, Any] = {
            "status": _clip(r.status, Call.__table__.c.status),
            "status_history": [*history, entry],
        }
        if row.started_at is None:
            values["started_at"] = r.at
        if r.duration_s is not None:
            values["duration_s"] = r.duration_s
        if r.status in FINAL_CALL_STATUSES and row.ended_at is None:
            values["ended_at"] = r.at
        if r.status in FAILED_CALL_STATUSES and row.outcome is None:
            values["outcome"] = "failed"
        await conn.execute(update(Call).where(Call.call_sid == r.call_sid).values(**values))


async def _recordings(conn: AsyncConnection, records: list[RecordingRecord]) -> None:
    rows = [
        {
            "session_id": r.session_id,
            "item_id": r.item_id,
            "role": _clip(r.role, Recording.__table__.c.role),
            "path": r.path,
            "duration_ms": r.duration_ms,
            "at": r.at,
        }
        for r in records
    ]
    await _execute_many(conn, _statement(conn, Recording, _session_and_item_id_are_key), rows)


def _id_is_key(ins: Upsert) -> Any:
    return ins.on_conflict_do_nothing(index_elements=["id"])


def _call_sid_is_key(ins: Upsert) -> Any:
    return ins.on_conflict_do_nothing(index_elements=["call_sid"])


def _session_and_call_id_are_key(ins: Upsert) -> Any:
    return ins.on_conflict_do_nothing(index_elements=["session_id", "call_id"])


def _session_and_response_id_are_key(ins: Upsert) -> Any:
    return ins.on_conflict_do_nothing(index_elements=["session_id", "response_id"])


def _session_and_item_id_are_key(ins: Upsert) -> Any:
    return ins.on_conflict_do_nothing(index_elements=["session_id", "item_id"])


Handler = Callable[[AsyncConnection, list[Any]], Awaitable[None]]

_HANDLERS: Final[dict[type[Record], Handler]] = {
    SessionStarted: _sessions_started,
    SessionEnded: _sessions_ended,
    EventRecord: _event_records,
    EventBlock: _event_blocks,
    TranscriptRecord: _transcripts,
    TranscriptTruncated: _truncations,
    ToolCallRecord: _tool_calls,
    UsageRecord: _usage,
    CallRecord: _calls,
    CallStatus: _call_statuses,
    RecordingRecord: _recordings,
}

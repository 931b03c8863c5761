"""Read helpers for the REST API: sessions, their transcripts, tool calls, usage, calls and events.

Results are pydantic models, ready to be returned from a route. Reads are short transactions; the
event export opens one per chunk so that a slow download never holds the database (on SQLite a
transaction holds the write lock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Final, Generic, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store import models

T = TypeVar("T")

SessionStatus = Literal["active", "ended"]
MAX_PAGE: int = 500


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SessionSummary(_Row):
    id: str
    channel: str
    agent: str
    business_id: int | None
    client_id: str | None
    caller: str | None
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    upstream_model: str | None
    backend: str | None
    events_in: int
    events_out: int
    tool_call_count: int
    barge_ins: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """As reported when the session ended (0 while it runs); ``SessionDetail.usage_totals`` is live."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> SessionStatus:
        return "active" if self.ended_at is None else "ended"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


class TranscriptEntry(_Row):
    item_id: str
    role: str
    text: str
    seq: int
    truncated: bool
    audio_end_ms: int | None
    at: datetime


class ToolCallEntry(_Row):
    call_id: str
    name: str
    arguments: Any
    result: Any
    ok: bool
    error: str | None
    duration_ms: float
    at: datetime


class UsageEntry(_Row):
    response_id: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    input_text_tokens: int
    input_audio_tokens: int
    output_text_tokens: int
    output_audio_tokens: int
    cost_usd: float
    at: datetime


class UsageTotals(BaseModel):
    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    cost_usd: float = 0.0


class CallEntry(_Row):
    call_sid: str
    session_id: str | None
    business_id: int | None
    from_number: str | None
    to_number: str | None
    status: str | None
    status_history: list[dict[str, Any]]
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: int | None
    outcome: str | None


class RecordingEntry(_Row):
    item_id: str
    role: str | None
    path: str
    duration_ms: int | None
    at: datetime


class EventEntry(_Row):
    seq: int
    direction: str
    type: str
    payload: dict[str, Any]
    at: datetime


class SessionDetail(SessionSummary):
    transcript: list[TranscriptEntry]
    tool_calls: list[ToolCallEntry]
    usage: list[UsageEntry]
    usage_totals: UsageTotals
    call: CallEntry | None
    recordings: list[RecordingEntry]
    events: list[EventEntry]
    """The first ``events_limit`` events by seq; page on with ``session_events(after_seq=...)``."""
    events_total: int


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def list_sessions(
    db: AsyncSession,
    *,
    channel: str | None = None,
    agent: str | None = None,
    business_id: int | None = None,
    status: SessionStatus | None = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[SessionSummary]:
    """Sessions, newest first. ``started_from`` is inclusive, ``started_to`` exclusive (aware datetimes)."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    query: Select[tuple[models.Session]] = select(models.Session)
    if channel is not None:
        query = query.where(models.Session.channel == channel)
    if agent is not None:
        query = query.where(models.Session.agent == agent)
    if business_id is not None:
        query = query.where(models.Session.business_id == business_id)
    if status == "active":
        query = query.where(models.Session.ended_at.is_(None))
    elif status == "ended":
        query = query.where(models.Session.ended_at.is_not(None))
    if started_from is not None:
        query = query.where(models.Session.started_at >= started_from)
    if started_to is not None:
        query = query.where(models.Session.started_at < started_to)
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await db.scalars(
        query.order_by(models.Session.started_at.desc(), models.Session.id.desc()).limit(limit).offset(offset)
    )
    items = [SessionSummary.model_validate(row) for row in rows]
    return Page[SessionSummary](items=items, total=total, limit=limit, offset=offset)


async def get_session(db: AsyncSession, session_id: str, *, events_limit: int = 1000) -> SessionDetail | None:
    """One session with everything recorded about it; ``None`` when there is no such session."""
    session = await db.get(models.Session, session_id)
    if session is None:
        return None
    summary = SessionSummary.model_validate(session)
    transcript = await db.scalars(
        select(models.Transcript)
        .where(models.Transcript.session_id == session_id)
        .order_by(models.Transcript.seq, models.Transcript.id)
    )
    tool_calls = await db.scalars(
        select(models.ToolCall)
        .where(models.ToolCall.session_id == session_id)
        .order_by(models.ToolCall.at, models.ToolCall.id)
    )
    usage = [
        UsageEntry.model_validate(row)
        for row in await db.scalars(
            select(models.Usage)
            .where(models.Usage.session_id == session_id)
            .order_by(models.Usage.at, models.Usage.id)
        )
    ]
    call = await db.scalar(
        select(models.Call).where(models.Call.session_id == session_id).order_by(models.Call.id).limit(1)
    )
    recordings = await db.scalars(
        select(models.Recording)
        .where(models.Recording.session_id == session_id)
        .order_by(models.Recording.at)
    )
    blocks = models.EventBlock
    events_total = await db.scalar(
        select(func.sum(blocks.last_seq - blocks.first_seq + 1)).where(blocks.session_id == session_id)
    )
    return SessionDetail(
        **summary.model_dump(exclude={"status", "duration_s"}),
        transcript=[TranscriptEntry.model_validate(row) for row in transcript],
        tool_calls=[ToolCallEntry.model_validate(row) for row in tool_calls],
        usage=usage,
        usage_totals=_totals(usage),
        call=CallEntry.model_validate(call) if call is not None else None,
        recordings=[RecordingEntry.model_validate(row) for row in recordings],
        events=await session_events(db, session_id, limit=events_limit),
        events_total=events_total or 0,
    )


def _totals(usage: list[UsageEntry]) -> UsageTotals:
    totals = UsageTotals(responses=len(usage))
    for field in UsageTotals.model_fields:
        if field != "responses":
            setattr(totals, field, sum(getattr(entry, field) for entry in usage))
    totals.cost_usd = round(totals.cost_usd, 6)
    return totals


BLOCKS_PER_READ: Final = 20
"""Event blocks read per query while paging (a block holds a session's second, tens of events)."""


async def session_events(
    db: AsyncSession, session_id: str, *, after_seq: int | None = None, limit: int = 1000
) -> list[EventEntry]:
    """Events of a session in seq order, from just after ``after_seq``.

    Blocks hold disjoint seq ranges, so reading them in ``first_seq`` order reads events in seq order.
    """
    limit = max(1, limit)
    blocks = models.EventBlock
    found: list[EventEntry] = []
    after = -1 if after_seq is None else after_seq
    while len(found) < limit:
        rows = (
            await db.execute(
                select(blocks.last_seq, blocks.events)
                .where(blocks.session_id == session_id, blocks.last_seq > after)
                .order_by(blocks.first_seq)
                .limit(BLOCKS_PER_READ)
            )
        ).all()
        for last_seq, events in rows:
            found.extend(EventEntry.model_validate(event) for event in events if event["seq"] > after)
            after = last_seq
        if len(rows) < BLOCKS_PER_READ:
            break
    return found[:limit]


async def export_events_jsonl(
    sessions: async_sessionmaker[AsyncSession], session_id: str, *, chunk: int = 500
) -> AsyncIterator[bytes]:
    """A session's events as JSON lines (``{"seq", "direction", "type", "at", "payload"}``), in order.

    Reads ``chunk`` events per short transaction, so it can feed a streaming response of any length.
    """
    after: int | None = None
    while True:
        async with sessions() as db:
            events = await session_events(db, session_id, after_seq=after, limit=chunk)
        if not events:
            return
        yield b"".join(
            orjson.dumps(event.model_dump(), option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
            for event in events
        )
        after = events[-1].seq

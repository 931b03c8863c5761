"""Figures for the dashboard (``GET /api/analytics``) over a time window, in a given time zone.

Each query reads only the columns it needs for the window, and the grouping by local day and hour
happens in Python with ``zoneinfo``: SQLite has no time zones, and per day / per hour *of the
business's clock* is what a salon owner asks about. The window is bounded (``MAX_DAYS``), so the rows
read stay bounded too.

Definitions (so the numbers can be checked by hand):

- a session or call belongs to the window by its ``started_at``; usage by its ``at``; tool calls by
  their ``at``; appointments and orders by their ``created_at``;
- average duration: over the sessions (calls) in the window that have ended;
- conversion: among the calls in the window, the share that *booked* (outcome ``booked``, or an
  appointment made in the call's session) and the share that *ordered* (outcome ``ordered``, or an
  order, not cancelled, placed in the call's session);
- most requested services: appointments created in the window (any status), by service; likewise
  menu items by quantity ordered (orders not cancelled);
- tool success rate: ok calls / all calls per tool; latency p50 / p95 by nearest rank;
- tokens and cost per session: totals of the window's usage divided by the sessions in the window
  (``per_session``), and the sessions that cost most;
- barge-ins per call: the phone sessions in the window, their ``barge_ins`` summed and averaged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.store import models

MAX_DAYS: Final = 366
TOP: Final = 10


class DayCount(BaseModel):
    day: date
    sessions: int = 0
    calls: int = 0


class HourCount(BaseModel):
    hour: int
    sessions: int = 0
    calls: int = 0


class SessionFigures(BaseModel):
    total: int
    ended: int
    by_channel: dict[str, int]
    by_agent: dict[str, int]
    avg_duration_s: float | None
    avg_duration_s_by_channel: dict[str, float]


class CallFigures(BaseModel):
    total: int
    ended: int
    avg_duration_s: float | None
    outcomes: dict[str, int]
    booked: int
    ordered: int
    appointment_conversion: float | None
    order_conversion: float | None


class Ranked(BaseModel):
    name: str
    count: int


class ToolFigures(BaseModel):
    name: str
    calls: int
    ok: int
    errors: int
    success_rate: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float


class UsageDay(BaseModel):
    day: date
    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class SessionCost(BaseModel):
    session_id: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


class UsageFigures(BaseModel):
    responses: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    per_session_tokens: float | None
    per_session_cost_usd: float | None
    top_sessions: list[SessionCost]


class BargeIns(BaseModel):
    calls: int
    total: int
    per_call: float | None
    distribution: dict[int, int]
    """How many calls had 0, 1, 2, ... barge-ins."""


class Analytics(BaseModel):
    since: datetime
    until: datetime
    timezone: str
    sessions: SessionFigures
    calls: CallFigures
    per_day: list[DayCount]
    per_hour: list[HourCount]
    top_services: list[Ranked]
    top_menu_items: list[Ranked]
    tools: list[ToolFigures]
    usage: UsageFigures
    usage_per_day: list[UsageDay]
    barge_ins: BargeIns


class WindowError(ValueError):
    """The window is empty, reversed or longer than ``MAX_DAYS``."""


def window(
    *, since: date | None, until: date | None, days: int | None, tz: ZoneInfo, today: date
) -> tuple[datetime, datetime]:
    """``[since, until]`` as whole local days (``until`` inclusive), as aware UTC datetimes."""
    last = until or today
    first = since or (last - timedelta(days=(days or 30) - 1))
    if first > last:
        raise WindowError(f"the window starts ({first}) after it ends ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise WindowError(f"the window is longer than {MAX_DAYS} days")
    start = datetime.combine(first, datetime.min.time(), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
    return start, end


def _days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _rank(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    index = max(0, math.ceil(q / 100 * len(values)) - 1)
    return values[min(index, len(values) - 1)]


def _ranked(counts: Counter[str]) -> list[Ranked]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Ranked(name=name, count=count) for name, count in ordered[:TOP]]


async def analytics(
    db: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
    business_id: int | None = None,
) -> Analytics:
    """Everything the dashboard shows, for sessions and calls started in ``[since, until)``."""
    days = _days(since, until, tz)
    per_day = {day: DayCount(day=day) for day in days}
    per_hour = [HourCount(hour=hour) for hour in range(24)]

    session_query = select(
        models.Session.id,
        models.Session.channel,
        models.Session.agent,
        models.Session.started_at,
        models.Session.ended_at,
        models.Session.barge_ins,
    ).where(models.Session.started_at >= since, models.Session.started_at < until)
    if business_id is not None:
        session_query = session_query.where(models.Session.business_id == business_id)
    sessions = (await db.execute(session_query)).all()
    session_ids = {row.id for row in sessions}
    durations: list[float] = []
    by_channel_durations: dict[str, list[float]] = defaultdict(list)
    phone_barge_ins: list[int] = []
    for row in sessions:
        local = row.started_at.astimezone(tz)
        if local.date() in per_day:
            per_day[local.date()].sessions += 1
        per_hour[local.hour].sessions += 1
        if row.ended_at is not None:
            seconds = (row.ended_at - row.started_at).total_seconds()
            durations.append(seconds)
            by_channel_durations[row.channel].append(seconds)
        if row.channel == "phone":
            phone_barge_ins.append(row.barge_ins)

    session_figures = SessionFigures(
        total=len(sessions),
        ended=len(durations),
        by_channel=dict(Counter(row.channel for row in sessions)),
        by_agent=dict(Counter(row.agent for row in sessions)),
        avg_duration_s=_mean(durations),
        avg_duration_s_by_channel={
            k: v for k, v in ((c, _mean(d)) for c, d in by_channel_durations.items()) if v is not None
        },
    )
    calls = await _calls(db, since, until, tz, business_id, per_day, per_hour)
    # With a business chosen, tool calls and usage count only that business's sessions.
    only = session_ids if business_id is not None else None
    usage, usage_rows = await _usage(db, since, until, len(sessions), only)
    return Analytics(
        since=since,
        until=until,
        timezone=tz.key,
        sessions=session_figures,
        calls=calls,
        per_day=list(per_day.values()),
        per_hour=per_hour,
        top_services=await _top_services(db, since, until, business_id),
        top_menu_items=await _top_menu_items(db, since, until, business_id),
        tools=await _tools(db, since, until, only),
        usage=usage,
        usage_per_day=_usage_days(usage_rows, days, tz),
        barge_ins=BargeIns(
            calls=len(phone_barge_ins),
            total=sum(phone_barge_ins),
            per_call=_mean([float(n) for n in phone_barge_ins]),
            distribution=dict(sorted(Counter(phone_barge_ins).items())),
        ),
    )


async def _calls(
    db: AsyncSession,
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
    business_id: int | None,
    per_day: dict[date, DayCount],
    per_hour: list[HourCount],
) -> CallFigures:
    query = select(
        models.Call.session_id,
        models.Call.started_at,
        models.Call.ended_at,
        models.Call.duration_s,
        models.Call.outcome,
    ).where(models.Call.started_at >= since, models.Call.started_at < until)
    if business_id is not None:
        query = query.where(models.Call.business_id == business_id)
    rows = (await db.execute(query)).all()
    call_sessions = [row.session_id for row in rows if row.session_id]
    booked_sessions = await _sessions_with(db, models.Appointment, call_sessions)
    ordered_sessions = await _sessions_with(db, models.Order, call_sessions, exclude_status="cancelled")
    durations: list[float] = []
    booked = ordered = ended = 0
    for row in rows:
        assert row.started_at is not None
        local = row.started_at.astimezone(tz)
        if local.date() in per_day:
            per_day[local.date()].calls += 1
        per_hour[local.hour].calls += 1
        if row.ended_at is not None:
            ended += 1
            if row.duration_s is not None:
                durations.append(float(row.duration_s))
            else:
                durations.append((row.ended_at - row.started_at).total_seconds())
        booked += row.outcome == "booked" or row.session_id in booked_sessions
        ordered += row.outcome == "ordered" or row.session_id in ordered_sessions
    total = len(rows)
    return CallFigures(
        total=total,
        ended=ended,
        avg_duration_s=_mean(durations),
        outcomes=dict(Counter(row.outcome or "unknown" for row in rows)),
        booked=booked,
        ordered=ordered,
        appointment_conversion=round(booked / total, 4) if total else None,
        order_conversion=round(ordered / total, 4) if total else None,
    )


async def _sessions_with(
    db: AsyncSession,
    table: type[models.Appointment] | type[models.Order],
    session_ids: Iterable[str],
    *,
    exclude_status: str | None = None,
) -> set[str]:
    wanted = sorted(set(session_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # keep IN lists short
        query = select(table.session_id).where(table.session_id.in_(wanted[start : start + 500]))
        if exclude_status is not None:
            query = query.where(table.status != exclude_status)
        found.update(sid for sid in (await db.scalars(query)) if sid)
    return found


async def _top_services(
    db: AsyncSession, since: datetime, until: datetime, business_id: int | None
) -> list[Ranked]:
    query = (
        select(models.Service.name, func.count(models.Appointment.id))
        .join(models.Appointment, models.Appointment.service_id == models.Service.id)
        .where(models.Appointment.created_at >= since, models.Appointment.created_at < until)
        .group_by(models.Service.name)
    )
    if business_id is not None:
        query = query.where(models.Appointment.business_id == business_id)
    return _ranked(Counter({name: int(count) for name, count in (await db.execute(query)).all()}))


async def _top_menu_items(
    db: AsyncSession, since: datetime, until: datetime, business_id: int | None
) -> list[Ranked]:
    query = (
        select(models.MenuItem.name, func.sum(models.OrderLine.quantity))
        .join(models.OrderLine, models.OrderLine.menu_item_id == models.MenuItem.id)
        .join(models.Order, models.Order.id == models.OrderLine.order_id)
        .where(
            models.Order.created_at >= since,
            models.Order.created_at < until,
            models.Order.status != "cancelled",
        )
        .group_by(models.MenuItem.name)
    )
    if business_id is not None:
        query = query.where(models.Order.business_id == business_id)
    return _ranked(Counter({name: int(count or 0) for name, count in (await db.execute(query)).all()}))


async def _tools(
    db: AsyncSession, since: datetime, until: datetime, session_ids: set[str] | None
) -> list[ToolFigures]:
    query = select(
        models.ToolCall.session_id, models.ToolCall.name, models.ToolCall.ok, models.ToolCall.duration_ms
    ).where(models.ToolCall.at >= since, models.ToolCall.at < until)
    by_tool: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for row in (await db.execute(query)).all():
        if session_ids is None or row.session_id in session_ids:
            by_tool[row.name].append((bool(row.ok), float(row.duration_ms)))
    figures = []
    for name in sorted(by_tool):
        calls = by_tool[name]
        latencies = sorted(duration for _, duration in calls)
        ok = sum(1 for success, _ in calls if success)
        figures.append(
            ToolFigures(
                name=name,
                calls=len(calls),
                ok=ok,
                errors=len(calls) - ok,
                success_rate=round(ok / len(calls), 4),
                avg_ms=round(sum(latencies) / len(latencies), 3),
                p50_ms=_rank(latencies, 50),
                p95_ms=_rank(latencies, 95),
                max_ms=latencies[-1],
            )
        )
    return figures


_UsageRow = tuple[str, datetime, int, int, float]


async def _usage(
    db: AsyncSession, since: datetime, until: datetime, session_count: int, session_ids: set[str] | None
) -> tuple[UsageFigures, list[_UsageRow]]:
    query = select(
        models.Usage.session_id,
        models.Usage.at,
        models.Usage.input_tokens,
        models.Usage.output_tokens,
        models.Usage.cost_usd,
    ).where(models.Usage.at >= since, models.Usage.at < until)
    rows: list[_UsageRow] = [
        (row.session_id, row.at, row.input_tokens, row.output_tokens, float(row.cost_usd))
        for row in (await db.execute(query)).all()
        if session_ids is None or row.session_id in session_ids
    ]
    per_session: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for session_id, _, tokens_in, tokens_out, cost in rows:
        totals = per_session[session_id]
        totals[0] += tokens_in
        totals[1] += tokens_out
        totals[2] += cost
    input_tokens = sum(row[2] for row in rows)
    output_tokens = sum(row[3] for row in rows)
    cost_usd = round(sum(row[4] for row in rows), 6)
    top = sorted(per_session.items(), key=lambda item: (-item[1][2], item[0]))[:TOP]
    figures = UsageFigures(
        responses=len(rows),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd,
        per_session_tokens=round((input_tokens + output_tokens) / session_count, 3)
        if session_count
        else None,
        per_session_cost_usd=round(cost_usd / session_count, 6) if session_count else None,
        top_sessions=[
            SessionCost(
                session_id=sid, input_tokens=int(t[0]), output_tokens=int(t[1]), cost_usd=round(t[2], 6)
            )
            for sid, t in top
        ],
    )
    return figures, rows


def _usage_days(rows: list[_UsageRow], days: list[date], tz: ZoneInfo) -> list[UsageDay]:
    per_day = {day: UsageDay(day=day) for day in days}
    for _, at, tokens_in, tokens_out, cost in rows:
        entry = per_day.get(at.astimezone(tz).date())
        if entry is None:
            continue
        entry.responses += 1
        entry.input_tokens += tokens_in
        entry.output_tokens += tokens_out
        entry.cost_usd = round(entry.cost_usd + cost, 6)
    return list(per_day.values())

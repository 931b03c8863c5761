"""Stored conversations and their analytics, admin-key protected.

- ``GET /api/sessions``: filter by channel, agent, business, status and start date; paginated.
- ``GET /api/sessions/{id}``: the session with its transcript in order, tool calls, usage and cost, the
  call record, recordings and the first events.
- ``GET /api/sessions/{id}/events.jsonl``: every event, one JSON object per line, streamed.
- ``GET /api/sessions/{id}/recordings/{item_id}.wav``: an item's audio (``VOXGATE_RECORD_AUDIO``).
- ``GET /api/analytics``: the dashboard's figures over a window of local days.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.routes import AdminAuth, GatewayDep
from voxgate.store import models
from voxgate.store.analytics import Analytics, WindowError, analytics, window
from voxgate.store.models import DEFAULT_TIMEZONE
from voxgate.store.queries import (
    MAX_PAGE,
    Page,
    SessionDetail,
    SessionSummary,
    export_events_jsonl,
    get_session,
    list_sessions,
)

router = APIRouter(prefix="/api", tags=["sessions"], dependencies=[AdminAuth])

TimeZoneName = Annotated[str, Query(description="IANA time zone the dates are in", max_length=64)]


def _sessions(gateway: GatewayDep) -> async_sessionmaker[AsyncSession]:
    if gateway.db is None:
        raise HTTPException(status_code=503, detail="no database is configured")
    factory: async_sessionmaker[AsyncSession] = gateway.db
    return factory


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(status_code=422, detail=f"unknown time zone {name!r}") from None


def _local_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone)


@router.get("/sessions")
async def sessions_list(
    gateway: GatewayDep,
    channel: Literal["web", "sdk", "phone"] | None = None,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    business_id: int | None = None,
    status: Literal["active", "ended"] | None = None,
    day: Annotated[date | None, Query(alias="date", description="sessions started on this local day")] = None,
    since: Annotated[date | None, Query(description="started on or after this local day")] = None,
    until: Annotated[date | None, Query(description="started on or before this local day")] = None,
    tz: TimeZoneName = DEFAULT_TIMEZONE,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[SessionSummary]:
    """Sessions, newest first."""
    zone = _zone(tz)
    first, last = (day, day) if day is not None else (since, until)
    async with _sessions(gateway)() as db:
        return await list_sessions(
            db,
            channel=channel,
            agent=agent,
            business_id=business_id,
            status=status,
            started_from=_local_day(first, zone) if first else None,
            started_to=_local_day(last + timedelta(days=1), zone) if last else None,
            limit=limit,
            offset=offset,
        )


@router.get("/sessions/{session_id}")
async def session_detail(
    session_id: str, gateway: GatewayDep, events_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000
) -> SessionDetail:
    """One session with everything recorded about it."""
    async with _sessions(gateway)() as db:
        found = await get_session(db, session_id, events_limit=max(events_limit, 1))
    if found is None:
        raise HTTPException(status_code=404, detail=f"no session {session_id!r}")
    if events_limit == 0:
        found.events = []
    return found


@router.get("/sessions/{session_id}/events.jsonl")
async def session_events_export(session_id: str, gateway: GatewayDep) -> StreamingResponse:
    """Every event of the session in order, one JSON object per line."""
    factory = _sessions(gateway)
    async with factory() as db:
        if await db.get(models.Session, session_id) is None:
            raise HTTPException(status_code=404, detail=f"no session {session_id!r}")
    return StreamingResponse(
        export_events_jsonl(factory, session_id),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{session_id}.events.jsonl"'},
    )


@router.get("/sessions/{session_id}/recordings/{item_id}.wav")
async def session_recording(session_id: str, item_id: str, gateway: GatewayDep) -> FileResponse:
    """The audio of one item, when ``VOXGATE_RECORD_AUDIO`` kept it."""
    async with _sessions(gateway)() as db:
        path = await db.scalar(
            select(models.Recording.path).where(
                models.Recording.session_id == session_id, models.Recording.item_id == item_id
            )
        )
    if path is None or not await asyncio.to_thread(Path(path).is_file):
        raise HTTPException(status_code=404, detail=f"no recording of item {item_id!r} in {session_id!r}")
    return FileResponse(path, media_type="audio/wav", filename=f"{session_id}_{item_id}.wav")


@router.get("/analytics")
async def analytics_report(
    gateway: GatewayDep,
    since: Annotated[date | None, Query(description="first local day (default: days before until)")] = None,
    until: Annotated[date | None, Query(description="last local day, included (default: today)")] = None,
    days: Annotated[
        int | None, Query(ge=1, le=366, description="window length when since is not given")
    ] = None,
    tz: TimeZoneName = DEFAULT_TIMEZONE,
    business_id: int | None = None,
) -> Analytics:
    """Sessions and calls per day and hour, durations, conversion, services, tools, tokens, barge-ins."""
    zone = _zone(tz)
    try:
        start, end = window(
            since=since, until=until, days=days, tz=zone, today=gateway.wall_clock().astimezone(zone).date()
        )
    except WindowError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    async with _sessions(gateway)() as db:
        return await analytics(db, since=start, until=end, tz=zone, business_id=business_id)

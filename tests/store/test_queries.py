"""Read helpers: listing with filters and pages, one session in full, the events export."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from store_testkit import T0, at, audio_event, ended, event, started

from voxgate.store.apply import apply_records
from voxgate.store.queries import export_events_jsonl, get_session, list_sessions
from voxgate.store.records import (
    CallRecord,
    CallStatus,
    Record,
    RecordingRecord,
    ToolCallRecord,
    TranscriptRecord,
    TranscriptTruncated,
    UsageRecord,
)

HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
async def recorded(engine: AsyncEngine) -> None:
    records: list[Record] = [
        started("web-1", channel="web", agent="bartender"),
        ended("web-1", seconds=90),
        started("sdk-1", channel="sdk", agent="bartender", seconds=DAY),
        ended("sdk-1", seconds=DAY + 30),
        *(started(f"bulk-{n:02}", channel="web", agent="bartender", seconds=2 * DAY + n) for n in range(12)),
        started("phone-1", channel="phone", agent="salon", seconds=HOUR),  # still going
        CallRecord(
            call_sid="CA1", session_id="phone-1", from_number="+40722123456", to_number="+40311234567"
        ),
        CallStatus(call_sid="CA1", status="in-progress", at=at(HOUR)),
        *(event("phone-1", n, direction="in" if n % 2 else "out") for n in range(24)),
        audio_event("phone-1", 24, b"\x00" * 960),
        # The assistant's line is transcribed before the caller's (seq says who spoke first).
        TranscriptRecord(
            session_id="phone-1",
            item_id="i2",
            role="assistant",
            text="Vă pot programa la 10.",
            seq=2,
            at=at(HOUR + 5),
        ),
        TranscriptRecord(
            session_id="phone-1",
            item_id="i1",
            role="user",
            text="Vreau o programare mâine.",
            seq=1,
            at=at(HOUR + 6),
        ),
        TranscriptTruncated(
            session_id="phone-1", item_id="i2", text="Vă pot", audio_end_ms=700, seq=2, at=at(HOUR + 7)
        ),
        ToolCallRecord(
            session_id="phone-1",
            call_id="c1",
            name="get_available_services",
            arguments={},
            result=[{"name": "Tuns"}],
            ok=True,
            duration_ms=4.25,
            at=at(HOUR + 2),
        ),
        ToolCallRecord(
            session_id="phone-1",
            call_id="c2",
            name="create_voice_appointment",
            arguments={"start": "x"},
            result=None,
            ok=False,
            error="slot taken",
            duration_ms=11.0,
            at=at(HOUR + 3),
        ),
        UsageRecord(
            session_id="phone-1",
            response_id="r1",
            at=at(HOUR + 4),
            input_tokens=100,
            output_tokens=40,
            cost_usd=0.0021,
        ),
        UsageRecord(
            session_id="phone-1",
            response_id="r2",
            at=at(HOUR + 8),
            input_tokens=150,
            output_tokens=60,
            cost_usd=0.0034,
        ),
        RecordingRecord(
            session_id="phone-1",
            item_id="i2",
            path="recordings/phone-1/i2.wav",
            at=at(HOUR + 7),
            role="assistant",
        ),
    ]
    async with engine.begin() as conn:
        await apply_records(conn, records)


@pytest.mark.usefixtures("recorded")
async def test_list_filters_and_pages(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db:
        everything = await list_sessions(db, limit=100)
        assert everything.total == 15
        started_at = [s.started_at for s in everything.items]
        assert started_at == sorted(started_at, reverse=True)  # newest first

        phone = await list_sessions(db, channel="phone")
        assert [s.id for s in phone.items] == ["phone-1"]
        assert phone.items[0].status == "active" and phone.items[0].duration_s is None
        assert phone.items[0].caller == "+40722123456"

        assert {s.id for s in (await list_sessions(db, agent="salon")).items} == {"phone-1"}
        ended_ = await list_sessions(db, status="ended", limit=100)
        assert {s.id for s in ended_.items} == {"web-1", "sdk-1"}
        web = next(s for s in ended_.items if s.id == "web-1")
        assert web.duration_s == 90 and web.end_reason == "client_closed"
        assert (await list_sessions(db, status="active")).total == 13

        first_day = await list_sessions(db, started_from=T0, started_to=at(DAY))
        assert {s.id for s in first_day.items} == {"web-1", "phone-1"}
        assert {
            s.id for s in (await list_sessions(db, started_from=at(DAY), started_to=at(DAY + 1))).items
        } == {"sdk-1"}

        page1 = await list_sessions(db, channel="web", limit=5)
        page3 = await list_sessions(db, channel="web", limit=5, offset=10)
        assert (page1.total, len(page1.items), len(page3.items)) == (13, 5, 3)
        assert page1.items[0].id == "bulk-11" and page3.items[-1].id == "web-1"


@pytest.mark.usefixtures("recorded")
async def test_one_session_in_full(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db:
        detail = await get_session(db, "phone-1", events_limit=10)
        assert await get_session(db, "nope") is None
    assert detail is not None
    assert (detail.channel, detail.agent, detail.status) == ("phone", "salon", "active")
    assert [(t.role, t.text, t.truncated) for t in detail.transcript] == [
        ("user", "Vreau o programare mâine.", False),
        ("assistant", "Vă pot", True),
    ]
    assert [(c.name, c.ok, c.error) for c in detail.tool_calls] == [
        ("get_available_services", True, None),
        ("create_voice_appointment", False, "slot taken"),
    ]
    assert detail.tool_calls[0].duration_ms == pytest.approx(4.25)
    assert detail.usage_totals.responses == 2
    assert (detail.usage_totals.input_tokens, detail.usage_totals.output_tokens) == (250, 100)
    assert detail.usage_totals.cost_usd == pytest.approx(0.0055)
    assert detail.call is not None
    assert (detail.call.call_sid, detail.call.status) == ("CA1", "in-progress")
    assert [r.path for r in detail.recordings] == ["recordings/phone-1/i2.wav"]
    assert detail.events_total == 25
    assert [e.seq for e in detail.events] == list(range(10))
    assert detail.model_dump(mode="json")["status"] == "active"  # serialisable as an API response


@pytest.mark.usefixtures("recorded")
async def test_events_export_as_json_lines(sessions: async_sessionmaker[AsyncSession]) -> None:
    chunks = [chunk async for chunk in export_events_jsonl(sessions, "phone-1", chunk=7)]
    assert len(chunks) == 4  # 7 + 7 + 7 + 4
    lines = [orjson.loads(line) for line in b"".join(chunks).splitlines()]
    assert [line["seq"] for line in lines] == list(range(25))
    assert lines[1]["direction"] == "in" and lines[0]["direction"] == "out"
    assert lines[24]["payload"] == {
        "type": "response.output_audio.delta",
        "item_id": "item_a",
        "audio_bytes": 960,
    }
    assert lines[0]["at"].endswith("+00:00")
    assert [chunk async for chunk in export_events_jsonl(sessions, "nope")] == []

"""The live feed (server-sent events) follows a session as it happens; /metrics shows the figures."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import orjson
import pytest
from storekit import eventually, settled

from integration.conftest import Gateway
from realtime_testkit import connect

pytestmark = pytest.mark.timeout(90)

METRIC_NAMES = (
    "voxgate_active_sessions",
    "voxgate_sessions_total",
    "voxgate_events_total",
    "voxgate_relay_latency_seconds_bucket",
    "voxgate_tool_calls_total",
    "voxgate_tool_errors_total",
    "voxgate_tool_latency_seconds_bucket",
    "voxgate_upstream_connects_total",
    "voxgate_upstream_reconnects_total",
    "voxgate_upstream_failures_total",
    "voxgate_phone_turn_latency_seconds_bucket",
    "voxgate_barge_ins_total",
    "voxgate_tokens_total",
    "voxgate_cost_usd_total",
    "voxgate_store_queue_depth",
    "voxgate_store_journal_depth",
    "voxgate_store_spilled_records_total",
    "voxgate_store_lost_records_total",
    "voxgate_store_written_records_total",
)


async def read_live(response: httpx.Response, notes: list[tuple[str, Any]], stop: asyncio.Event) -> None:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            notes.append((event, orjson.loads(line[6:])))
            if event == "note" and notes[-1][1]["kind"] == "session.ended":
                stop.set()
                return


async def test_the_live_feed_shows_transcripts_and_tool_calls_as_they_happen(gateway: Gateway) -> None:
    notes: list[tuple[str, Any]] = []
    ended = asyncio.Event()
    async with (
        httpx.AsyncClient(base_url=gateway.http, timeout=30) as http,
        http.stream("GET", "/api/live") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.ensure_future(read_live(response, notes, ended))
        await eventually(lambda: bool(notes))
        assert notes[0] == ("snapshot", {"sessions": [], "recording": True})

        client = await connect(f"{gateway.ws}/openai/realtime/live-1?agent=bartender")
        await client.until("session.updated")
        await client.say("What's on the menu?")
        await client.collect_until("response.done")
        await client.collect_until("response.done")
        await client.ws.close()
        async with asyncio.timeout(20):
            await ended.wait()
        await reader

    kinds = [note["kind"] for _, note in notes[1:]]
    assert kinds[0] == "session.started" and kinds[-1] == "session.ended"
    started = notes[1][1]["session"]
    assert started["client_id"] == "live-1" and started["channel"] == "web"
    by_kind: dict[str, list[Any]] = {}
    for _, note in notes[1:]:
        by_kind.setdefault(note["kind"], []).append(note)
    question, answer = by_kind["transcript"]
    assert (question["role"], question["text"]) == ("user", "What's on the menu?")
    assert answer["role"] == "assistant" and "Mojito" in answer["text"]
    deltas = [n["delta"] for n in by_kind["transcript.delta"] if n["item_id"] == answer["item_id"]]
    assert "".join(deltas) == answer["text"], "the answer streamed in as it was spoken"
    assert kinds.index("transcript.delta") < kinds.index("session.ended")
    (tool,) = by_kind["tool_call"]
    assert tool["name"] == "get_menu" and tool["ok"] is True and tool["result"]["items"]
    assert kinds.index("tool_call") < len(kinds) - kinds[::-1].index("transcript") - 1
    assert by_kind["usage"][-1]["cost_usd"] > 0
    assert by_kind["session.ended"][0]["session"]["end_reason"] == "client_closed"


async def test_a_late_viewer_gets_the_active_sessions_with_their_recent_lines(gateway: Gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/live-2?agent=bartender")
    await client.until("session.updated")
    await client.say("Hello there, who are you?")
    await client.collect_until("response.done")
    async with (
        httpx.AsyncClient(base_url=gateway.http, timeout=30) as http,
        http.stream("GET", "/api/live") as response,
    ):
        lines = response.aiter_lines()
        assert await anext(lines) == "event: snapshot"
        snapshot = orjson.loads((await anext(lines))[6:])
    (session,) = snapshot["sessions"]
    assert session["client_id"] == "live-2"
    assert [(n["role"], n["kind"]) for n in session["recent"]] == [
        ("user", "transcript"),
        ("assistant", "transcript"),
    ]
    await client.ws.close()


async def test_metrics_expose_the_gateway_figures_after_a_session(gateway: Gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/metrics-1?agent=bartender")
    await client.until("session.updated")
    await client.say("What's on the menu?")
    await client.collect_until("response.done")
    await client.collect_until("response.done")
    await client.ws.close()
    await settled(gateway.app_gateway)
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in METRIC_NAMES:
        assert re.search(rf"^{name}[{{ ]", text, re.MULTILINE), name

    def value(sample: str) -> float:
        match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
        assert match, sample
        return float(match.group(1))

    assert value('voxgate_sessions_total{channel="web"}') == 1
    assert value('voxgate_active_sessions{channel="web"}') == 0
    assert value('voxgate_events_total{direction="out",family="audio"}') > 0
    assert value('voxgate_events_total{direction="in",family="conversation"}') == 2  # item + tool output
    assert value('voxgate_tool_calls_total{result="ok",tool="get_menu"}') == 1
    assert value('voxgate_tool_latency_seconds_count{tool="get_menu"}') == 1
    assert value('voxgate_upstream_connects_total{result="ok"}') == 1
    assert value("voxgate_relay_latency_seconds_count") > 0
    assert value('voxgate_tokens_total{kind="input"}') > 0 and value("voxgate_cost_usd_total") > 0
    assert value("voxgate_store_lost_records_total") == 0
    assert value("voxgate_store_written_records_total") > 0 and value("voxgate_store_queue_depth") == 0

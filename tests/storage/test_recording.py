"""A session through the real gateway and simulator leaves a complete, ordered record in the store."""

from __future__ import annotations

import asyncio
import base64
import wave
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from storekit import assert_stored_as_received, relayed_count, settled, stored_events

from integration.conftest import Gateway, GatewayFactory
from realtime_testkit import Client, connect, transcript_of
from voxgate.pricing import PriceTable
from voxgate.store.queries import get_session, list_sessions

pytestmark = pytest.mark.timeout(90)


async def menu_turn(client: Client) -> list[dict[str, Any]]:
    """Ask for the menu: a tool call, its output, and the spoken answer. Returns what the client got."""
    await client.until("session.updated")
    await client.say("What's on the menu?")
    await client.collect_until("response.done")
    await client.collect_until("response.done")
    return client.received


async def test_a_text_session_leaves_a_complete_ordered_record(gateway: Gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/rec-1?agent=bartender")
    received = await menu_turn(client)
    await client.ws.close()
    app = gateway.app_gateway
    await settled(app)

    (session_id,) = {e["session_id"] for e in received if e["type"] == "connection_established"}
    events = await stored_events(app.db, session_id)
    # Every event has its place: seq is 0..n-1 with no gap, in both directions.
    assert [e.seq for e in events] == list(range(len(events)))
    assert {e.direction for e in events} == {"in", "out"}
    # What the client received is stored, in the order received (audio chunks are counted in runs).
    assert_stored_as_received(received, events)
    out = [e.payload for e in events if e.direction == "out"]
    audio = "response.output_audio.delta"
    audio_received = [e for e in received if e["type"] == audio]
    audio_stored = [p for p in out if p["type"] == audio]
    assert sum(p["chunks"] for p in audio_stored) == len(audio_received)
    assert sum(p["audio_bytes"] for p in audio_stored) == sum(
        len(base64.b64decode(e["delta"])) for e in audio_received
    )
    assert all("delta" not in p for p in audio_stored), "audio itself is not stored in events"
    # What the client sent is stored as it was sent.
    sent = [e.payload for e in events if e.direction == "in"]
    assert [p["type"] for p in sent] == [
        "session.update",  # the agent profile, sent by the gateway
        "conversation.item.create",
        "response.create",
        "conversation.item.create",  # the tool output, sent by the gateway
        "response.create",  # and the continuation
    ]
    assert sent[1]["item"]["content"][0]["text"] == "What's on the menu?"

    async with app.db() as db:
        detail = await get_session(db, session_id)
    assert detail is not None
    assert detail.channel == "web" and detail.agent == "bartender" and detail.client_id == "rec-1"
    assert detail.backend == "simulator" and detail.upstream_model
    assert detail.ended_at is not None and detail.end_reason == "client_closed"
    assert detail.events_in == 5 and detail.events_in + detail.events_out == relayed_count(events)
    assert detail.events_total == len(events)

    # The transcript, in conversation order: the question, then the spoken answer.
    first = detail.transcript[0]
    assert (first.role, first.text) == ("user", "What's on the menu?")
    (answer,) = [t for t in detail.transcript if t.role == "assistant"]
    assert answer.text == transcript_of(received).strip()
    assert answer.seq > detail.transcript[0].seq and not answer.truncated

    (call,) = detail.tool_calls
    assert call.name == "get_menu" and call.ok and call.error is None
    assert call.duration_ms > 0 and call.result["items"]
    (arguments_done,) = [e for e in received if e["type"] == "response.function_call_arguments.done"]
    assert call.call_id == arguments_done["call_id"]
    assert detail.tool_call_count == 1

    # Usage from every response.done, priced with the default table.
    responses = [e["response"] for e in received if e["type"] == "response.done"]
    assert [u.response_id for u in detail.usage] == [r["id"] for r in responses]
    assert detail.usage_totals.input_tokens == sum(r["usage"]["input_tokens"] for r in responses)
    assert detail.usage_totals.output_tokens == sum(r["usage"]["output_tokens"] for r in responses)
    prices = PriceTable()
    expected = sum(prices.cost(detail.upstream_model, r["usage"]) for r in responses)
    assert detail.usage_totals.cost_usd == pytest.approx(expected, abs=1e-6)
    assert detail.cost_usd == pytest.approx(expected, abs=1e-6) and expected > 0
    assert detail.input_tokens == detail.usage_totals.input_tokens


async def test_the_api_serves_the_record(gateway: Gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/rec-api?agent=bartender")
    await menu_turn(client)
    await client.ws.close()
    await settled(gateway.app_gateway)
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        page = (await http.get("/api/sessions", params={"channel": "web", "status": "ended"})).json()
        assert page["total"] == 1 and page["items"][0]["client_id"] == "rec-api"
        session_id = page["items"][0]["id"]
        assert (await http.get("/api/sessions", params={"channel": "phone"})).json()["total"] == 0
        assert (await http.get("/api/sessions", params={"agent": "salon"})).json()["total"] == 0
        assert (await http.get("/api/sessions", params={"status": "active"})).json()["total"] == 0
        assert (await http.get("/api/sessions", params={"date": "2001-01-01"})).json()["total"] == 0
        assert (await http.get("/api/sessions", params={"limit": 0})).status_code == 422

        detail = (await http.get(f"/api/sessions/{session_id}")).json()
        assert detail["transcript"][0]["text"] == "What's on the menu?"
        assert detail["tool_calls"][0]["name"] == "get_menu"
        assert detail["usage_totals"]["responses"] == 2 and detail["cost_usd"] > 0
        assert detail["call"] is None

        export = await http.get(f"/api/sessions/{session_id}/events.jsonl")
        assert export.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) for line in export.content.splitlines()]
        assert [line["seq"] for line in lines] == list(range(detail["events_total"]))

        assert (await http.get("/api/sessions/nope")).status_code == 404
        assert (await http.get("/api/sessions/nope/events.jsonl")).status_code == 404
        assert (await http.get("/api/analytics", params={"tz": "Mars/Olympus"})).status_code == 422


async def test_the_api_needs_the_admin_key(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(VOXGATE_ADMIN_KEY="admin-secret-key")
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        for path in ("/api/sessions", "/api/sessions/x", "/api/sessions/x/events.jsonl", "/api/analytics"):
            assert (await http.get(path)).status_code == 401, path
        auth = {"Authorization": "Bearer admin-secret-key"}
        assert (await http.get("/api/sessions", headers=auth)).status_code == 200
        assert (await http.get("/api/analytics", headers=auth)).status_code == 200


async def test_a_user_interruption_keeps_what_was_heard(gateway: Gateway) -> None:
    client = await connect(f"{gateway.ws}/v1/realtime?client_id=cut")
    await client.until("session.created")
    await client.say("Hello there, who are you?")
    done = await client.until("response.done")
    (item,) = done["response"]["output"]
    await client.send(
        {"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0, "audio_end_ms": 500}
    )
    await client.until("conversation.item.truncated")
    await client.ws.close()
    app = gateway.app_gateway
    await settled(app)
    async with app.db() as db:
        (summary,) = (await list_sessions(db, channel="sdk")).items
        detail = await get_session(db, summary.id)
    assert detail is not None
    (answer,) = [t for t in detail.transcript if t.role == "assistant"]
    full = transcript_of(client.received).strip()
    assert answer.item_id == item["id"] and answer.truncated and answer.audio_end_ms == 500
    assert full.startswith(answer.text) and len(answer.text) < len(full)
    assert detail.barge_ins == 1 and detail.client_id == "cut"


async def test_audio_is_kept_per_item_as_wav(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = await make_gateway(VOXGATE_RECORD_AUDIO="1", VOXGATE_RECORDINGS_DIR=str(tmp_path / "audio"))
    client = await connect(f"{gateway.ws}/v1/realtime?client_id=wav")
    await client.until("session.created")
    quiet = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    await client.send({"type": "session.update", "session": quiet})
    await client.until("session.updated")
    second = bytes(48_000)  # one second of PCM16 24 kHz silence, in 20 ms chunks
    for start in range(0, len(second), 960):
        chunk = base64.b64encode(second[start : start + 960]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
    await client.send({"type": "input_audio_buffer.commit"})
    committed = await client.until("input_audio_buffer.committed")
    await client.say("Say something short.")
    events = await client.collect_until("response.done")
    await client.ws.close()
    app = gateway.app_gateway
    await settled(app)
    await app.recording.aclose()  # the WAV files of ended sessions are written by now
    await app.writer.flush()

    deltas = [e for e in events if e["type"] == "response.output_audio.delta"]
    answer_bytes = sum(len(base64.b64decode(e["delta"])) for e in deltas)
    answer_item = deltas[0]["item_id"]
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        (summary,) = (await http.get("/api/sessions")).json()["items"]
        detail = (await http.get(f"/api/sessions/{summary['id']}")).json()
        by_item = {r["item_id"]: r for r in detail["recordings"]}
        assert set(by_item) == {committed["item_id"], answer_item}
        user, assistant = by_item[committed["item_id"]], by_item[answer_item]
        assert user["role"] == "user" and user["duration_ms"] == 1000
        assert assistant["role"] == "assistant"
        with wave.open(assistant["path"], "rb") as wav:
            assert wav.getframerate() == 24_000 and wav.getsampwidth() == 2
            assert wav.getnframes() * 2 == answer_bytes
        served = await http.get(f"/api/sessions/{summary['id']}/recordings/{answer_item}.wav")
        assert served.status_code == 200 and served.headers["content-type"] == "audio/wav"
        assert served.content == await asyncio.to_thread(Path(assistant["path"]).read_bytes)

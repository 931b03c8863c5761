"""Events are recorded a batch per session: each with the time it was seen, the batches bounded,
nothing lost."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text as sql_text
from storekit import eventually, settled, stored_events

from integration.conftest import Gateway, GatewayFactory
from realtime_testkit import connect
from voxgate.recording import MAX_WAITING

pytestmark = pytest.mark.timeout(90)


def _session_id(received: list[dict[str, Any]]) -> str:
    (session_id,) = {e["session_id"] for e in received if e["type"] == "connection_established"}
    return str(session_id)


async def test_an_event_keeps_the_time_it_was_seen_though_recorded_later(gateway: Gateway) -> None:
    app = gateway.app_gateway
    seen: dict[str, datetime] = {}

    @app.chain.hook(direction="client", types=["conversation.item.create"])
    def hold_the_loop(message):  # type: ignore[no-untyped-def]
        seen[message.data["event_id"]] = datetime.now(UTC)
        time.sleep(0.3)  # the event is queued; nothing can record it before this returns
        return message

    client = await connect(f"{gateway.ws}/openai/realtime/times")
    await client.until("session.updated")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    await client.send({"type": "conversation.item.create", "event_id": "held", "item": item})
    await client.until("conversation.item.added")
    await client.ws.close()
    await settled(app)

    events = await stored_events(app.db, _session_id(client.received))
    (held,) = [e for e in events if e.payload.get("event_id") == "held"]
    assert abs(held.at - seen["held"]) < timedelta(milliseconds=50), "the time it was seen, not recorded"
    after = events[held.seq + 1 :]
    assert after and all(e.at >= held.at for e in after)


async def test_a_burst_is_recorded_in_bounded_batches_and_stored_whole(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(VOXGATE_MAX_MESSAGES_PER_SECOND=100_000)
    app = gateway.app_gateway
    most_waiting = 0

    @app.chain.hook(stage="tools", direction="client")
    def note_the_queue(message):  # type: ignore[no-untyped-def]
        nonlocal most_waiting
        most_waiting = max(most_waiting, len(app.recording.active[message.session.id].waiting))
        return message

    client = await connect(f"{gateway.ws}/openai/realtime/burst")
    await client.until("session.updated")
    burst = [f"clear{n}" for n in range(3 * MAX_WAITING)]
    for event_id in burst:
        await client.send({"type": "input_audio_buffer.clear", "event_id": event_id})
    for _ in burst:
        await client.until("input_audio_buffer.cleared")
    await client.ws.close()
    await settled(app)

    assert 0 < most_waiting <= MAX_WAITING
    events = await stored_events(app.db, _session_id(client.received))
    assert [e.seq for e in events] == list(range(len(events)))
    stored = [e.payload.get("event_id") for e in events if e.type == "input_audio_buffer.clear"]
    assert stored == burst


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(levels):
        value = {"next": value}
    return value


async def test_an_event_json_cannot_store_keeps_its_place_and_recording_goes_on(gateway: Gateway) -> None:
    app = gateway.app_gateway
    client = await connect(f"{gateway.ws}/openai/realtime/deep")
    await client.until("session.updated")
    [recording] = app.recording.active.values()
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    # JSON that parses, passes the gateway's validation (the SDK's models allow extra fields) and is
    # relayed, but is nested deeper than JSON encoding goes (255 levels). The upstream refuses the field.
    deep = {"type": "conversation.item.create", "event_id": "deep", "item": item, "extra": _nested(300)}
    await client.ws.send(json.dumps(deep))  # orjson, the test client's encoder, refuses it too
    refused = await client.until("error")
    assert (refused["error"]["event_id"], refused["error"]["param"]) == ("deep", "extra")
    await client.send({"type": "conversation.item.create", "event_id": "after", "item": item})
    await client.until("conversation.item.added")
    # The session's ticks go on recording (not only its end would).
    await eventually(lambda: not recording.waiting and recording.events_in >= 3, limit=5)
    await client.ws.close()
    await settled(app)

    events = await stored_events(app.db, _session_id(client.received))
    assert [e.seq for e in events] == list(range(len(events)))
    (kept,) = [e for e in events if e.payload.get("event_id") == "deep"]
    assert kept.type == "conversation.item.create"
    assert "cannot be stored as JSON" in kept.payload["not_recorded"]
    later = [e.payload.get("event_id") for e in events if e.seq > kept.seq and e.direction == "in"]
    assert later == ["after"]


async def test_a_frame_is_stored_as_the_client_sent_it_and_exported_as_json_lines(gateway: Gateway) -> None:
    app = gateway.app_gateway
    client = await connect(f"{gateway.ws}/openai/realtime/verbatim")
    await client.until("session.updated")
    text = 'Bună ziua, o programare la tuns? \u00e9\n"citat" \\ {[('
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    event = {"type": "conversation.item.create", "event_id": "verbatim", "item": item}
    frame = json.dumps(event, indent=3, ensure_ascii=True)  # escapes and new lines the relay never re-encodes
    await client.ws.send(frame)
    await client.until("conversation.item.added")
    # A number wider than 64 bits is read back as the float the gateway parsed it as, and exported.
    await client.ws.send(
        '{"type": "input_audio_buffer.clear", "event_id": "wide", "n": 123456789012345678901234567890}'
    )
    assert (await client.until("error"))["error"]["event_id"] == "wide"  # the upstream refuses the field
    await client.ws.close()
    await settled(app)

    session_id = _session_id(client.received)
    events = await stored_events(app.db, session_id)
    (stored,) = [e for e in events if e.payload.get("event_id") == "verbatim"]
    assert stored.payload == event
    async with app.db() as db:
        (block,) = (
            await db.execute(
                sql_text(
                    "SELECT CAST(events AS TEXT) FROM event_blocks"
                    " WHERE session_id = :s AND first_seq <= :q AND last_seq >= :q"
                ),
                {"s": session_id, "q": stored.seq},
            )
        ).scalars()
    assert frame in block, "the frame is stored as it came, not encoded again"
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        export = await http.get(f"/api/sessions/{session_id}/events.jsonl")
    lines = [json.loads(line) for line in export.content.splitlines()]
    assert [line["seq"] for line in lines] == [e.seq for e in events]
    assert lines[stored.seq]["payload"] == event
    (wide,) = [line for line in lines if line["payload"].get("event_id") == "wide"]
    assert wide["payload"]["n"] == 1.2345678901234568e29

"""The gateway core over real sockets: voxgate in front of the real simulator."""

from __future__ import annotations

import asyncio
import base64

import httpx
import orjson
import pytest
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed

from realtime_testkit import connect, transcript_of
from voxgate.protocol.realtime import validate_server_event


async def test_seed_door_text_turn_streams_audio_and_transcript(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/me?agent=bartender")
    first = await client.recv()
    assert first["type"] == "connection_established"
    assert first["client_id"] == "me" and first["openai_connected"] is True and first["agent"] == "bartender"
    assert (await client.recv())["type"] == "session.created"
    updated = await client.until("session.updated")
    assert "Blue Note" in updated["session"]["instructions"]
    assert [t["name"] for t in updated["session"]["tools"]] == ["get_menu", "check_id", "place_order"][
        : len(updated["session"]["tools"])
    ]
    await client.say("Hello there, who are you?")
    events = await client.collect_until("response.done")
    kinds = [e["type"] for e in events]
    assert "response.output_audio.delta" in kinds and "response.output_audio_transcript.delta" in kinds
    assert transcript_of(events).strip()
    done = events[-1]
    assert done["response"]["status"] == "completed" and done["response"]["usage"]["total_tokens"] > 0
    client.assert_all_ga_events_valid()
    await client.ws.close()


async def test_server_side_tool_call_round_trip(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/tools?agent=bartender")
    await client.until("session.updated")
    await client.say("What's on the menu?")
    events = await client.collect_until("response.done")
    call = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert call["name"] == "get_menu"
    # The gateway answers the call and asks for the continuation; the spoken reply names menu items.
    added = await client.until("conversation.item.added")
    assert added["item"]["type"] == "function_call_output" and added["item"]["call_id"] == call["call_id"]
    output = orjson.loads(added["item"]["output"])
    names = [item["name"] for item in output["items"]]
    assert names
    reply = await client.collect_until("response.done")
    spoken = transcript_of(reply)
    assert any(name in spoken for name in names), spoken
    client.assert_all_ga_events_valid()
    await client.ws.close()


async def test_official_sdk_works_through_the_dropin_door(gateway) -> None:
    sdk = AsyncOpenAI(api_key="unused-on-loopback", websocket_base_url=f"{gateway.ws}/v1")
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        first = await conn.recv()
        assert first.type == "session.created"
        await conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi!"}]}
        )
        await conn.response.create()
        seen: list[str] = []
        async for event in conn:
            seen.append(event.type)
            assert not event.type.startswith(("voxgate.", "connection_established"))
            if event.type == "response.done":
                assert event.response.status == "completed"
                break
        assert "response.output_audio_transcript.delta" in seen


async def test_fifty_concurrent_clients_each_complete_a_turn(gateway) -> None:
    async def one(index: int) -> str:
        client = await connect(f"{gateway.ws}/openai/realtime/c{index}")
        await client.until("session.updated")
        await client.say(f"Hello number {index}")
        events = await client.collect_until("response.done", timeout=30)
        client.assert_all_ga_events_valid()
        await client.ws.close()
        return str(events[-1]["response"]["status"])

    statuses = await asyncio.gather(*(one(i) for i in range(50)))
    assert statuses == ["completed"] * 50


async def test_second_connection_with_a_client_id_in_use_is_refused(gateway) -> None:
    first = await connect(f"{gateway.ws}/openai/realtime/dup")
    await first.until("session.created")
    second = await connect(f"{gateway.ws}/openai/realtime/dup")
    error = await second.recv()
    assert error["type"] == "error" and error["error"]["code"] == "client_id_in_use"
    with pytest.raises(ConnectionClosed) as closed:
        await second.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await first.say("still here?")
    assert (await first.until("response.done"))["response"]["status"] == "completed"
    await first.ws.close()


async def test_hostile_frames_get_error_events_and_the_session_survives(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/hostile")
    await client.until("session.updated")
    await client.ws.send("{not json")
    assert (await client.until("error"))["error"]["code"] == "invalid_json"
    await client.send({"type": "response.creat", "event_id": "e1"})
    error = (await client.until("error"))["error"]
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "e1")
    await client.send(
        {"type": "conversation.item.truncate", "event_id": "e2", "item_id": "x", "audio_end_ms": "a"}
    )
    error = (await client.until("error"))["error"]
    assert error["code"] == "invalid_value" and error["param"] == "audio_end_ms" and error["event_id"] == "e2"
    await client.send({"type": "session.update", "event_id": "e3"})
    error = (await client.until("error"))["error"]
    assert (error["code"], error["param"]) == ("missing_required_parameter", "session")
    await client.ws.send("[1, 2]")
    assert (await client.until("error"))["error"]["code"] == "invalid_event"
    await client.say("Are you still there?")
    assert (await client.until("response.done"))["response"]["status"] == "completed"
    await client.ws.close()


async def test_oversize_frame_closes_with_1009(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_MAX_MESSAGE_BYTES=64 * 1024)
    client = await connect(f"{gateway.ws}/openai/realtime/big")
    await client.until("session.updated")
    audio = base64.b64encode(b"\xff" * 100_000).decode()
    await client.send({"type": "input_audio_buffer.append", "audio": audio})
    with pytest.raises(ConnectionClosed) as closed:
        await client.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await asyncio.sleep(0.1)
    assert gateway.app_gateway.sessions == {}


async def test_upstream_unreachable_at_connect(make_gateway, simulator) -> None:
    gateway = await make_gateway(upstream_url="http://127.0.0.1:9")
    client = await connect(f"{gateway.ws}/openai/realtime/nowhere")
    error = await client.recv()
    assert error["type"] == "error" and error["error"]["code"] == "upstream_unavailable"
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "upstream_unavailable" in closed.value.rcvd.reason


async def test_upstream_drop_reconnects_and_replays_the_conversation(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/dropper")
    created = await client.until("session.created")
    await client.say("Remember the word pineapple.")
    await client.until("response.done")
    first_upstream = created["session"]["id"]
    async with httpx.AsyncClient(base_url=gateway.simulator.http_url) as http:
        before = (await http.get("/v1/_simulator/sessions")).json()
        items_before = next(s for s in before["sessions"] if s["id"] == first_upstream)["items"]
        assert (
            await http.post(f"/v1/_simulator/sessions/{first_upstream}/drop", json={"code": 1011})
        ).is_success
        notice = await client.until("voxgate.upstream.reconnected")
        assert notice["close_code"] == 1011 and notice["replayed_items"] == items_before
        # The replay is sent before the notice; the simulator may still be applying it.
        for _ in range(100):
            after = (await http.get("/v1/_simulator/sessions")).json()["sessions"]
            new = next(s for s in after if s["id"] != first_upstream)
            if new["items"] >= items_before:
                break
            await asyncio.sleep(0.02)
    assert first_upstream not in [s["id"] for s in after]
    assert new["items"] == items_before
    await client.say("What word did I ask you to remember?")
    events = await client.collect_until("response.done")
    assert events[-1]["response"]["status"] == "completed"
    kinds = [e["type"] for e in client.received]
    assert kinds.count("session.created") == 1  # the replay's echoes are not shown to the client
    client.assert_all_ga_events_valid()
    await client.ws.close()


async def test_client_disconnect_closes_the_upstream_at_once(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/leaver")
    await client.until("session.updated")
    async with httpx.AsyncClient(base_url=gateway.simulator.http_url) as http:
        assert len((await http.get("/v1/_simulator/sessions")).json()["sessions"]) == 1
        await client.ws.close()
        for _ in range(100):
            if not (await http.get("/v1/_simulator/sessions")).json()["sessions"]:
                break
            await asyncio.sleep(0.02)
        assert (await http.get("/v1/_simulator/sessions")).json()["sessions"] == []
    assert gateway.app_gateway.sessions == {}


async def test_session_update_policy_keeps_the_profile_instructions(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/policy")
    await client.until("session.updated")
    await client.send(
        {
            "type": "session.update",
            "event_id": "mine",
            "session": {
                "type": "realtime",
                "instructions": "You are a pirate.",
                "audio": {"output": {"speed": 1.2}},
            },
        }
    )
    notice = (await client.until("error"))["error"]
    assert notice["code"] == "parameter_not_allowed" and notice["param"] == "session.instructions"
    updated = await client.until("session.updated")
    assert "Blue Note" in updated["session"]["instructions"]
    assert updated["session"]["audio"]["output"]["speed"] == 1.2
    await client.ws.close()


async def test_custom_messages_get_token_and_client_callable_function(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/custom")
    await client.until("session.updated")
    await client.send({"type": "get_token"})
    token = await client.until("token")
    assert token["value"].startswith("ek_") and token["expires_at"] > 0
    await client.send({"type": "function_call", "function_name": "get_menu", "arguments": {}})
    result = await client.until("function_call_result")
    assert result["function_name"] == "get_menu" and result["result"]["items"]
    await client.send({"type": "function_call", "function_name": "no_such_tool", "arguments": {}})
    result = await client.until("function_call_result")
    assert "error" in result["result"]
    await client.ws.close()


async def test_dropin_door_sends_no_custom_events(gateway) -> None:
    client = await connect(f"{gateway.ws}/v1/realtime?model=gpt-realtime")
    first = await client.recv()
    assert first["type"] == "session.created"
    await client.send({"type": "get_token"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "invalid_value" and error["param"] == "type"
    await client.ws.close()


async def test_beta_dialect_is_translated_both_ways(gateway) -> None:
    client = await connect(f"{gateway.ws}/openai/realtime/old?protocol=beta")
    await client.until("session.created")
    await client.send(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text", "audio"],
                "voice": "alloy",
                "output_audio_format": "g711_ulaw",
            },
        }
    )
    await client.until("session.updated")  # the agent profile's
    updated = await client.until("session.updated")
    assert updated["session"]["output_audio_format"] == "g711_ulaw"
    await client.say("Hello from an old client")
    events = await client.collect_until("response.done")
    kinds = {e["type"] for e in events}
    assert "response.audio.delta" in kinds and "response.audio_transcript.delta" in kinds
    assert not any(k.startswith("response.output_audio") for k in kinds)
    delta = next(e for e in events if e["type"] == "response.audio.delta")
    assert len(base64.b64decode(delta["delta"])) > 0
    await client.ws.close()


async def test_every_forwarded_event_validates_against_the_sdk_union(gateway) -> None:
    client = await connect(f"{gateway.ws}/v1/realtime")
    await client.until("session.created")
    await client.say("What's on the menu?")
    await client.until("response.done")
    await client.until("response.done")
    for event in client.received:
        validate_server_event(event)
    await client.ws.close()


async def test_rate_limit_answers_with_an_error_not_silence(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_MAX_MESSAGES_PER_SECOND=5)
    client = await connect(f"{gateway.ws}/openai/realtime/fast")
    await client.until("session.updated")
    for _ in range(20):
        await client.send({"type": "input_audio_buffer.clear"})
    error = (await client.until("error"))["error"]
    assert error["code"] == "rate_limit_exceeded"
    await client.ws.close()


async def test_session_length_limit_ends_the_session(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_MAX_SESSION_SECONDS=0.5)
    client = await connect(f"{gateway.ws}/openai/realtime/short")
    error = (await client.until("error"))["error"]
    assert error["code"] == "session_expired"
    with pytest.raises(ConnectionClosed) as closed:
        await client.until("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000

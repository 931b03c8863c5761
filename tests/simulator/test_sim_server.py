"""The simulator over real sockets, driven by the official ``openai`` SDK.

Every server event a ``Session`` receives is validated against the SDK's GA server-event models.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import openai
import orjson
import pytest
import websockets
from simkit import RunningSimulator, Session, in_format, only, open_session, silence, speech_like, types
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from voxgate.simulator import PlaceholderRecognizer, SimulatorOptions

Starter = Callable[[SimulatorOptions], AbstractAsyncContextManager[RunningSimulator]]
RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
MENU_TOOL = {
    "type": "function",
    "name": "get_menu",
    "description": "List the drinks on the menu with their prices.",
    "parameters": {"type": "object", "properties": {}},
}


def utterance(fmt: str, seconds: float = 1.0, seed: int = 1) -> bytes:
    rate = RATES[fmt]
    return in_format(silence(0.4, rate) + speech_like(seconds, rate, seed=seed) + silence(0.8, rate), fmt)


async def closed_code(session: Session) -> int | None:
    """Read until the server closes; the close code it sent (None: no close frame)."""
    with pytest.raises(ConnectionClosed) as caught:
        while True:
            await session.recv()
    return caught.value.rcvd.code if caught.value.rcvd else None


async def test_text_turn(simulator: RunningSimulator) -> None:
    async with open_session(simulator) as s:
        created = await s.recv()
        assert created["type"] == "session.created"
        await s.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
        updated = await s.until("session.updated")
        assert updated["session"]["instructions"] == "Be brief."
        await s.say("Hello there")
        await s.send({"type": "response.create"})
        events = await s.collect("rate_limits.updated")
        assert types(events)[:2] == ["conversation.item.added", "conversation.item.done"]
        done = only(events, "response.done")["response"]
        assert done["status"] == "completed"
        transcript = only(events, "response.output_audio_transcript.done")["transcript"]
        assert transcript == "Hello! How can I help you today?"
        audio = b"".join(
            base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
        )
        assert len(audio) > 48 * 500 and len(audio) % 2 == 0


@pytest.mark.parametrize("fmt", ["audio/pcm", "audio/pcmu"])
async def test_audio_turn_with_server_vad(start_simulator: Starter, fmt: str) -> None:
    # noise bursts, not words: the placeholder recogniser says how long they lasted
    options = SimulatorOptions(seed=7, recognizer_factory=PlaceholderRecognizer)
    async with start_simulator(options) as simulator, open_session(simulator) as s:
        await s.recv()
        audio_format = {"type": fmt}
        session = {
            "type": "realtime",
            "audio": {
                "input": {"format": audio_format, "transcription": {"model": "gpt-4o-mini-transcribe"}},
                "output": {"format": audio_format},
            },
        }
        await s.send({"type": "session.update", "session": session})
        await s.until("session.updated")
        await s.append(utterance(fmt), chunk=RATES[fmt] // 50 * (2 if fmt == "audio/pcm" else 1))
        events = await s.collect("rate_limits.updated")
        kinds = types(events)
        assert kinds[:5] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
        ]
        assert only(events, "input_audio_buffer.speech_started")["audio_start_ms"] == 100
        assert only(events, "input_audio_buffer.speech_stopped")["audio_end_ms"] == 1900
        transcription = only(events, "conversation.item.input_audio_transcription.completed")
        assert transcription["transcript"] == "[speech 1.8 s]"
        assert transcription["item_id"] == only(events, "input_audio_buffer.committed")["item_id"]
        deltas = [base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
        assert deltas
        if fmt == "audio/pcmu":
            assert max(len(d) for d in deltas) <= 1600  # 200 ms of 8 kHz mu-law
        assert only(events, "response.done")["response"]["audio"]["output"]["format"]["type"] == fmt


async def test_function_call_round_trip(simulator: RunningSimulator) -> None:
    async with open_session(simulator) as s:
        await s.recv()
        await s.send({"type": "session.update", "session": {"type": "realtime", "tools": [MENU_TOOL]}})
        await s.until("session.updated")
        await s.say("What's on the menu tonight?")
        await s.send({"type": "response.create"})
        events = await s.collect("rate_limits.updated")
        call = only(events, "response.function_call_arguments.done")
        assert call["name"] == "get_menu" and call["arguments"] == "{}"
        assert len([e for e in events if e["type"] == "response.function_call_arguments.delta"]) >= 2
        menu = {"items": [{"name": "Mojito", "price": 32}, {"name": "Lemonade", "price": 15}]}
        await s.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": orjson.dumps(menu).decode(),
                },
            }
        )
        await s.send({"type": "response.create"})
        events = await s.collect("rate_limits.updated")
        assert only(events, "response.output_audio_transcript.done")["transcript"] == (
            "Here is what I found: Mojito, 32 lei; Lemonade, 15 lei."
        )


async def test_barge_in_and_truncate(simulator: RunningSimulator) -> None:
    async with open_session(simulator, sim_pace="realtime", sim_scenario="faults") as s:
        await s.recv()
        await s.say("simulate long reply")
        await s.send({"type": "response.create"})
        first_audio = await s.until("response.output_audio.delta")
        item_id = first_audio["item_id"]
        await s.append(utterance("audio/pcm"), chunk=960)
        started = await s.until("input_audio_buffer.speech_started")
        events = await s.collect("response.done")
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"]["reason"] == "turn_detected"
        assert only(events, "response.output_item.done")["item"]["status"] == "incomplete"
        assert started["audio_start_ms"] == 100

        await s.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 60_000,
            }
        )
        error = (await s.until("error"))["error"]
        assert error["message"].startswith("Audio content of ") and "shorter than 60000ms" in error["message"]
        await s.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 100,
            }
        )
        truncated = await s.until("conversation.item.truncated")
        assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 100)
        # the caller's own turn went on to a new response
        assert types(s.events).count("response.created") == 2


async def test_protocol_errors_keep_the_session_open(simulator: RunningSimulator) -> None:
    async with open_session(simulator) as s:
        await s.recv()
        await s.conn.send_raw("{not json")
        assert (await s.until("error"))["error"]["code"] == "invalid_json"
        await s.send({"type": "response.creat", "event_id": "bad_1"})
        error = (await s.until("error"))["error"]
        assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "type", "bad_1")
        await s.send({"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}})
        error = (await s.until("error"))["error"]
        assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")
        await s.send({"type": "response.cancel"})
        assert (await s.until("error"))["error"]["code"] == "response_cancel_not_active"
        await s.send({"type": "input_audio_buffer.commit"})
        assert (await s.until("error"))["error"]["code"] == "input_audio_buffer_commit_empty"
        await s.send({"type": "input_audio_buffer.clear"})
        await s.until("input_audio_buffer.cleared")


async def test_keys_client_secrets_and_ephemeral_tokens(start_simulator: Starter) -> None:
    async with start_simulator(SimulatorOptions(api_keys=frozenset({"sk-good"}))) as sim:
        async with open_session(sim, api_key="sk-wrong") as s:
            error = await s.recv()
            assert error["error"]["code"] == "invalid_api_key"
            assert await closed_code(s) == 3000

        client = sim.client("sk-good")
        secret = await client.realtime.client_secrets.create(
            session={
                "type": "realtime",
                "instructions": "You speak for the secret.",
                "model": "gpt-realtime-mini",
            },
            expires_after={"anchor": "created_at", "seconds": 60},
        )
        assert secret.value.startswith("ek_")
        assert secret.session.type == "realtime"
        with pytest.raises(openai.AuthenticationError):
            await sim.client("sk-wrong").realtime.client_secrets.create(session={"type": "realtime"})
        with pytest.raises(openai.AuthenticationError):
            await sim.client(secret.value).realtime.client_secrets.create(session={"type": "realtime"})
        with pytest.raises(openai.BadRequestError):
            beta_shaped: Any = {"type": "realtime", "voice": "alloy"}
            await client.realtime.client_secrets.create(session=beta_shaped)

        async with open_session(sim, api_key=secret.value) as s:
            created = await s.recv()
            assert created["session"]["instructions"] == "You speak for the secret."
            assert created["session"]["model"] == "gpt-realtime-mini"
        async with open_session(sim, api_key="ek_made_up") as s:
            assert (await s.recv())["error"]["code"] == "invalid_api_key"


async def test_browser_subprotocol_credentials(start_simulator: Starter) -> None:
    async with start_simulator(SimulatorOptions(api_keys=frozenset({"sk-good"}))) as sim:
        url = f"{sim.ws}/realtime?model=gpt-realtime&voice=alloy"
        offered = [Subprotocol("realtime"), Subprotocol("openai-insecure-api-key.sk-good")]
        async with websockets.connect(url, subprotocols=offered) as ws:
            assert ws.subprotocol == "realtime"
            assert orjson.loads(await ws.recv())["type"] == "session.created"


async def test_beta_clients_are_refused(simulator: RunningSimulator) -> None:
    client = simulator.client()
    async with client.realtime.connect(
        model="gpt-realtime", extra_headers={"OpenAI-Beta": "realtime=v1"}
    ) as conn:
        s = Session(conn)
        assert (await s.recv())["error"]["code"] == "beta_api_shape_disabled"
        assert await closed_code(s) == 3000


async def test_scenario_drop_closes_with_its_code(simulator: RunningSimulator) -> None:
    async with open_session(simulator, sim_scenario="faults") as s:
        await s.recv()
        await s.say("please simulate drop")
        await s.send({"type": "response.create"})
        assert await closed_code(s) == 1011
        assert "response.created" in types(s.events)
    async with open_session(simulator, sim_scenario="no_such_scenario") as s:
        error = (await s.recv())["error"]
        assert error["param"] == "sim_scenario"
        assert await closed_code(s) == 1008


async def test_control_api(simulator: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.http) as http:
        async with open_session(simulator) as s:
            session_id = (await s.recv())["session"]["id"]
            listed = (await http.get("/_simulator/sessions")).json()["sessions"]
            assert [x["id"] for x in listed] == [session_id]
            assert listed[0]["model"] == "gpt-realtime"

            answer = await http.post(
                f"/_simulator/sessions/{session_id}/error", json={"code": "boom", "message": "Injected."}
            )
            assert answer.status_code == 202
            error = (await s.until("error"))["error"]
            assert (error["code"], error["message"], error["type"]) == ("boom", "Injected.", "server_error")

            assert (
                await http.post(f"/_simulator/sessions/{session_id}/delay", json={"ms": 5})
            ).status_code == 202
            await s.say("still here")
            await s.until("conversation.item.done")

            assert (await http.post("/_simulator/sessions/sess_nope/drop", json={})).status_code == 404
            assert (await http.post(f"/_simulator/sessions/{session_id}/explode", json={})).status_code == 404
            await http.post(
                f"/_simulator/sessions/{session_id}/drop", json={"code": 1012, "reason": "restart"}
            )
            assert await closed_code(s) == 1012
        assert (await http.get("/_simulator/sessions")).json()["sessions"] == []


async def test_abnormal_closure(simulator: RunningSimulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.http) as http, open_session(simulator) as s:
        session_id = (await s.recv())["session"]["id"]
        await http.post(f"/_simulator/sessions/{session_id}/drop", json={"code": 1006})
        assert await closed_code(s) is None  # no close frame: the client reports 1006


async def test_every_event_type_seen_validates(start_simulator: Starter) -> None:
    """A long session touching most server events; ``Session.recv`` validates each one."""
    options = SimulatorOptions(seed=7, recognizer_factory=PlaceholderRecognizer)  # noise: no words
    async with start_simulator(options) as simulator, open_session(simulator) as s:
        await s.recv()
        session: dict[str, Any] = {
            "type": "realtime",
            "tools": [MENU_TOOL],
            "audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}},
        }
        await s.send({"type": "session.update", "session": session})
        await s.until("session.updated")
        await s.append(speech_like(0.6, 24000))
        await s.send({"type": "input_audio_buffer.commit"})
        committed = await s.until("input_audio_buffer.committed")
        await s.until("conversation.item.input_audio_transcription.completed")
        await s.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
        retrieved = await s.until("conversation.item.retrieved")
        assert len(base64.b64decode(retrieved["item"]["content"][0]["audio"])) == 48 * 600
        await s.send(
            {"type": "response.create", "response": {"output_modalities": ["text"], "conversation": "none"}}
        )
        assert (await s.until("response.done"))["response"]["conversation_id"] is None
        await s.send({"type": "conversation.item.delete", "item_id": committed["item_id"]})
        await s.until("conversation.item.deleted")
        seen = set(types(s.events))
        assert {"response.output_text.delta", "conversation.item.input_audio_transcription.delta"} <= seen

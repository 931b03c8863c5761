"""The engine as pure data: response skeletons, concurrency rules, cancel, truncate, function calls."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from simkit import NOW, EngineHarness, errors, only, types

from voxgate.protocol.audio import duration_ms

AUDIO_SKELETON_HEAD = [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "response.output_audio.delta",
]
AUDIO_SKELETON_TAIL = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "rate_limits.updated",
]

MENU_TOOL = {
    "type": "function",
    "name": "get_menu",
    "description": "List the drinks on the menu with their prices.",
    "parameters": {"type": "object", "properties": {}, "required": []},
}


def respond(sim: EngineHarness, **response: Any) -> list[dict[str, Any]]:
    event: dict[str, Any] = {"type": "response.create"}
    if response:
        event["response"] = response
    return sim.send(event)


def test_audio_response_skeleton() -> None:
    sim = EngineHarness()
    user_item = sim.say("Hello")[0]["item"]
    events = respond(sim)
    kinds = types(events)
    assert kinds[: len(AUDIO_SKELETON_HEAD)] == AUDIO_SKELETON_HEAD
    assert kinds[-len(AUDIO_SKELETON_TAIL) :] == AUDIO_SKELETON_TAIL
    middle = set(kinds[len(AUDIO_SKELETON_HEAD) : -len(AUDIO_SKELETON_TAIL)])
    assert middle == {"response.output_audio_transcript.delta", "response.output_audio.delta"}

    created = only(events, "response.created")["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    assert created["conversation_id"].startswith("conv_")
    added = only(events, "conversation.item.added")
    assert added["previous_item_id"] == user_item["id"]
    assert added["item"]["status"] == "in_progress" and added["item"]["content"] == []

    for event in events:
        if "output_index" in event:
            assert event["output_index"] == 0
        if "content_index" in event:
            assert event["content_index"] == 0

    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    transcript = only(events, "response.output_audio_transcript.done")["transcript"]
    assert transcript == deltas == "Hello! How can I help you today?"
    part = only(events, "response.content_part.done")["part"]
    assert part == {"type": "audio", "transcript": transcript}
    item = only(events, "response.output_item.done")["item"]
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_audio", "transcript": transcript}]
    assert only(events, "conversation.item.done")["item"] == item

    done = only(events, "response.done")["response"]
    assert done["status"] == "completed" and done["status_details"] is None
    assert done["output"] == [item]
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    details = usage["output_token_details"]
    assert usage["output_tokens"] == details["text_tokens"] + details["audio_tokens"] > 0
    limits = only(events, "rate_limits.updated")["rate_limits"]
    assert {r["name"] for r in limits} == {"requests", "tokens"}


def test_each_transcript_delta_is_followed_by_its_own_audio() -> None:
    sim = EngineHarness()
    events = respond(sim, instructions='Say exactly: "One two three four five six seven eight nine ten."')
    stream = [e for e in events if e["type"].endswith(".delta")]
    assert stream[0]["type"] == "response.output_audio_transcript.delta"
    groups: list[tuple[str, bytes]] = []
    for event in stream:
        if event["type"] == "response.output_audio_transcript.delta":
            groups.append((event["delta"], b""))
        else:
            text, audio = groups[-1]
            groups[-1] = (text, audio + base64.b64decode(event["delta"]))
    assert len(groups) > 2
    assert all(audio for _, audio in groups)
    # every group's audio is the synthesis of exactly its words
    voice = sim.engine.config.synthesizer_for("marin")
    for text, audio in groups:
        assert audio == voice.synthesize(text, "en")
    stored = sim.engine.store.all()[-1]
    assert stored.audio_ms == pytest.approx(sum(duration_ms(len(a), "audio/pcm") for _, a in groups))


def test_text_response_skeleton() -> None:
    sim = EngineHarness()
    sim.say("hello")
    events = respond(sim, output_modalities=["text"])
    assert types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * (len(events) - 10),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert only(events, "response.output_text.done")["text"] == text
    assert only(events, "response.content_part.added")["part"] == {"type": "text", "text": ""}
    assert only(events, "response.output_item.done")["item"]["content"] == [
        {"type": "output_text", "text": text}
    ]
    assert only(events, "response.done")["response"]["usage"]["output_token_details"]["audio_tokens"] == 0


def test_overrides_apply_to_one_response_only() -> None:
    sim = EngineHarness()
    events = respond(
        sim,
        instructions='Say exactly: "Special offer today."',
        metadata={"purpose": "greeting"},
        audio={"output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"}},
    )
    done = only(events, "response.done")["response"]
    assert done["metadata"] == {"purpose": "greeting"}
    assert done["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "cedar"}
    assert only(events, "response.output_audio_transcript.done")["transcript"] == "Special offer today."
    ulaw = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    assert sim.engine.store.all()[-1].audio_ms == pytest.approx(len(ulaw) / 8.0)

    later = respond(sim)
    response = only(later, "response.done")["response"]
    assert response["metadata"] is None
    assert response["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}


def test_one_default_response_at_a_time_but_out_of_band_may_run_alongside() -> None:
    sim = EngineHarness()
    first = sim.send({"type": "response.create"}, drain=False)
    response_id = only(first, "response.created")["response"]["id"]
    (error,) = errors(sim.send({"type": "response.create", "event_id": "again"}, drain=False))
    assert error["code"] == "conversation_already_has_active_response"
    assert error["event_id"] == "again"
    assert response_id in error["message"]

    oob = sim.send(
        {"type": "response.create", "response": {"conversation": "none", "output_modalities": ["text"]}},
        drain=False,
    )
    assert only(oob, "response.created")["response"]["conversation_id"] is None
    events = sim.drain()
    done = {e["response"]["id"]: e["response"] for e in events if e["type"] == "response.done"}
    assert {r["conversation_id"] is None for r in done.values()} == {True, False}
    default_items = {item["id"] for item in done[response_id]["output"]}
    conversation_items = {e["item"]["id"] for e in events if e["type"].startswith("conversation.item.")}
    assert conversation_items == default_items
    assert [s.id for s in sim.engine.store.all()] == list(default_items)


def test_cancel() -> None:
    sim = EngineHarness()
    (error,) = errors(sim.send({"type": "response.cancel", "event_id": "c0"}))
    assert (error["code"], error["event_id"]) == ("response_cancel_not_active", "c0")

    sim.send({"type": "response.create"}, drain=False)
    sim._events(sim.engine.advance(NOW, budget=6))  # item added, part added, a delta or two
    events = sim.send({"type": "response.cancel"})
    assert types(events) == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    done = only(events, "response.done")["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert only(events, "response.output_item.done")["item"]["status"] == "incomplete"
    assert errors(sim.send({"type": "response.cancel"}))[0]["code"] == "response_cancel_not_active"


def test_cancel_before_any_output_and_by_id() -> None:
    sim = EngineHarness()
    created = sim.send({"type": "response.create", "response": {"conversation": "none"}}, drain=False)
    response_id = created[0]["response"]["id"]
    (error,) = errors(sim.send({"type": "response.cancel"}, drain=False))  # no default response
    assert error["code"] == "response_cancel_not_active"
    events = sim.send({"type": "response.cancel", "response_id": response_id})
    assert types(events) == ["response.done", "rate_limits.updated"]
    assert events[0]["response"]["output"] == []


def test_function_call_round_trip() -> None:
    sim = EngineHarness()
    sim.update(tools=[MENU_TOOL])
    user = sim.say("What drinks are on the menu?")[0]["item"]
    events = respond(sim)
    kinds = types(events)
    assert kinds[:3] == ["response.created", "response.output_item.added", "conversation.item.added"]
    assert kinds[-5:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    assert set(kinds[3:-5]) == {"response.function_call_arguments.delta"}
    added = only(events, "response.output_item.added")["item"]
    assert added["type"] == "function_call" and added["arguments"] == "" and added["status"] == "in_progress"
    call_id = added["call_id"]
    assert call_id.startswith("call_") and len(call_id) == 21
    assert only(events, "conversation.item.added")["previous_item_id"] == user["id"]
    done = only(events, "response.function_call_arguments.done")
    assert (done["name"], done["call_id"], done["arguments"]) == ("get_menu", call_id, "{}")
    assert (
        "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta") == "{}"
    )
    assert only(events, "response.done")["response"]["output"][0]["arguments"] == "{}"

    menu = {"currency": "RON", "items": [{"name": "Mojito", "price": 32.0}, {"name": "Negroni", "price": 36}]}
    output = {"type": "function_call_output", "call_id": call_id, "output": orjson.dumps(menu).decode()}
    sim.send({"type": "conversation.item.create", "item": output})
    reply = respond(sim)
    transcript = only(reply, "response.output_audio_transcript.done")["transcript"]
    assert "Mojito, 32 lei" in transcript and "Negroni, 36 lei" in transcript


def test_arguments_stream_in_several_deltas() -> None:
    sim = EngineHarness()
    tool = {
        "type": "function",
        "name": "book_table",
        "description": "Book a table.",
        "parameters": {
            "type": "object",
            "properties": {
                "date": {"type": "string"},
                "time": {"type": "string"},
                "guests": {"type": "integer"},
            },
            "required": ["date", "time", "guests"],
        },
    }
    sim.update(tools=[tool])
    sim.say("Book a table for 4 people tomorrow at 8 pm")
    events = respond(sim)
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert len(deltas) > 1
    arguments = only(events, "response.function_call_arguments.done")["arguments"]
    assert "".join(deltas) == arguments
    assert orjson.loads(arguments) == {"date": "2025-06-16", "time": "20:00", "guests": 4}


def test_truncate() -> None:
    sim = EngineHarness()
    events = respond(sim, instructions='Say exactly: "One two three four five six seven eight nine ten."')
    item_id = only(events, "response.output_item.done")["item"]["id"]
    stored = sim.engine.store.get(item_id)
    assert stored is not None
    total = stored.audio_ms
    (error,) = errors(
        sim.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 99999,
            }
        )
    )
    assert error["type"] == "invalid_request_error"
    assert error["message"] == f"Audio content of {total:.0f}ms is already shorter than 99999ms"

    half = int(total / 2)
    (truncated,) = sim.send(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": half}
    )
    assert truncated["type"] == "conversation.item.truncated"
    assert (truncated["item_id"], truncated["content_index"], truncated["audio_end_ms"]) == (item_id, 0, half)
    heard = stored.item["content"][0]["transcript"]
    assert heard and "One two three" in heard and "ten" not in heard
    assert stored.audio_ms == half
    assert len(stored.audio) == half * 48

    user = sim.say("hi")[0]["item"]["id"]
    (error,) = errors(
        sim.send(
            {"type": "conversation.item.truncate", "item_id": user, "content_index": 0, "audio_end_ms": 0}
        )
    )
    assert error["code"] == "unsupported_content_type"
    (error,) = errors(
        sim.send(
            {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0, "audio_end_ms": 0}
        )
    )
    assert error["code"] == "item_not_found"


def test_max_output_tokens_ends_a_response_incomplete() -> None:
    sim = EngineHarness()
    events = respond(
        sim,
        instructions='Say exactly: "This sentence is long enough to run out of tokens."',
        max_output_tokens=20,
    )
    done = only(events, "response.done")["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["usage"]["output_tokens"] <= 20


def test_item_references_and_explicit_input() -> None:
    sim = EngineHarness()
    first = sim.say("Hello")[0]["item"]["id"]
    sim.say("What is on the menu?")
    events = respond(
        sim,
        conversation="none",
        output_modalities=["text"],
        input=[{"type": "item_reference", "id": first}],
    )
    assert only(events, "response.output_text.done")["text"] == "Hello! How can I help you today?"
    (error,) = errors(
        respond(sim, conversation="none", input=[{"type": "item_reference", "id": "item_gone"}])
    )
    assert error["param"] == "response.input[0].id"
    inline = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks!"}]}]
    events = respond(sim, conversation="none", output_modalities=["text"], input=inline)
    assert only(events, "response.output_text.done")["text"].startswith("You're welcome")
    assert len(sim.engine.store) == 2


def test_realtime_pace_spreads_audio_over_playback_time() -> None:
    sim = EngineHarness(pace="realtime", realtime_lead_ms=0.0)
    sim.send(
        {"type": "response.create", "response": {"instructions": 'Say exactly: "One two three four five."'}}
    )
    first = sim.drain()
    assert "response.done" not in types(first)
    deadline = sim.engine.next_deadline()
    assert deadline is not None and deadline > NOW
    later = sim.at(NOW + 30)
    assert "response.done" in types(later)


def test_scenario_hooks() -> None:
    from voxgate.simulator import shipped_scenario

    sim = EngineHarness(scenarios=[shipped_scenario("faults")])
    sim.say("please simulate error now")
    events = respond(sim)
    (error,) = errors(events)
    assert error["code"] == "server_error" and error["type"] == "server_error"
    assert only(events, "response.done")["response"]["status"] == "completed"

    sim.say("simulate failed response")
    done = only(respond(sim), "response.done")["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "server_error"

    sim.say("simulate slow reply")
    created = sim.send({"type": "response.create"})
    assert types(created) == ["response.created"]
    assert sim.engine.next_deadline() == pytest.approx(NOW + 1.5)
    assert "response.done" in types(sim.at(NOW + 1.5))

    sim.say("simulate drop mid-reply")
    events = respond(sim)
    assert sim.closed == (1011, "simulated failure mid-reply")
    assert "response.done" not in types(events)
    assert sum(1 for e in events if e["type"] == "response.output_audio.delta") > 0
    assert sim.send({"type": "response.create"}) == []

"""The engine as pure data: session lifecycle, validation errors, conversation items."""

from __future__ import annotations

import base64

import pytest
from simkit import NOW, EngineHarness, errors, only, types

from voxgate.simulator.session_config import SERVER_VAD_DEFAULTS


def test_session_created_first_with_full_defaults() -> None:
    sim = EngineHarness()
    (created,) = sim.started
    assert created["type"] == "session.created"
    session = created["session"]
    assert session["type"] == "realtime"
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_") and len(session["id"]) == 26
    assert session["expires_at"] == int(NOW) + 3600
    assert session["model"] == "gpt-realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["tools"] == [] and session["tool_choice"] == "auto"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"] == SERVER_VAD_DEFAULTS
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "marin",
        "speed": 1.0,
    }


def test_session_update_changes_only_present_fields() -> None:
    sim = EngineHarness()
    before = sim.started[0]["session"]
    (updated,) = sim.update(instructions="Be brief.", audio={"input": {"format": {"type": "audio/pcmu"}}})
    session = updated["session"]
    assert updated["type"] == "session.updated"
    assert session["instructions"] == "Be brief."
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"] == before["audio"]["output"]
    assert session["audio"]["input"]["turn_detection"] == before["audio"]["input"]["turn_detection"]
    assert session["id"] == before["id"]


def test_session_update_clearing_rules() -> None:
    sim = EngineHarness()
    tool = {
        "type": "function",
        "name": "get_menu",
        "description": "The menu.",
        "parameters": {"type": "object"},
    }
    sim.update(tools=[tool], audio={"input": {"transcription": {"model": "whisper-1"}}})
    (updated,) = sim.update(
        instructions="",
        tools=[],
        audio={"input": {"turn_detection": None, "transcription": None, "noise_reduction": None}},
    )
    session = updated["session"]
    assert session["instructions"] == ""
    assert session["tools"] == []
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["input"]["transcription"] is None


def test_partial_turn_detection_is_filled_with_defaults() -> None:
    sim = EngineHarness()
    sim.update(audio={"input": {"turn_detection": None}})
    (updated,) = sim.update(
        audio={"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}}
    )
    detection = updated["session"]["audio"]["input"]["turn_detection"]
    assert detection == {**SERVER_VAD_DEFAULTS, "silence_duration_ms": 800}


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"voice": "alloy"}, "unknown_parameter", "session.voice"),
        ({"input_audio_format": "g711_ulaw"}, "unknown_parameter", "session.input_audio_format"),
        (
            {"tools": [{"type": "function", "name": "x", "meta": 1}]},
            "unknown_parameter",
            "session.tools[0].meta",
        ),
        ({"model": "gpt-realtime-mini"}, "invalid_value", "session.model"),
        ({"output_modalities": ["text", "audio"]}, "invalid_value", "session.output_modalities"),
        ({"max_output_tokens": 99999}, "invalid_value", "session.max_output_tokens"),
        ({"audio": {"output": {"speed": 3.0}}}, "invalid_value", "session.audio.output.speed"),
    ],
)
def test_session_update_errors_name_the_field(session: dict[str, object], code: str, param: str) -> None:
    sim = EngineHarness()
    events = sim.send(
        {"type": "session.update", "event_id": "ev_1", "session": {"type": "realtime", **session}}
    )
    (error,) = errors(events)
    assert (error["code"], error["param"], error["event_id"]) == (code, param, "ev_1")
    # the session is unchanged and still open
    (updated,) = sim.update(instructions="still here")
    assert updated["session"]["instructions"] == "still here"


def test_voice_is_fixed_after_the_first_audio_output() -> None:
    sim = EngineHarness()
    (updated,) = sim.update(audio={"output": {"voice": "cedar"}})
    assert updated["session"]["audio"]["output"]["voice"] == "cedar"
    sim.send({"type": "response.create"})
    events = sim.update(audio={"output": {"voice": "alloy"}})
    (error,) = errors(events)
    assert error["code"] == "cannot_update_voice"
    assert error["param"] == "session.audio.output.voice"
    # the same voice again is not a change
    assert types(sim.update(audio={"output": {"voice": "cedar"}})) == ["session.updated"]


@pytest.mark.parametrize(
    ("raw", "code", "param", "event_id"),
    [
        ("{not json", "invalid_json", None, None),
        ("[1, 2]", "invalid_event", None, None),
        ('{"event_id": "e1"}', "invalid_event", "type", "e1"),
        ('{"type": "response.creat", "event_id": "e2"}', "invalid_value", "type", "e2"),
        (
            '{"type": "input_audio_buffer.append", "event_id": "e3"}',
            "missing_required_parameter",
            "audio",
            "e3",
        ),
        ('{"type": "response.create", "event_id": "e4", "bogus": 1}', "unknown_parameter", "bogus", "e4"),
        (
            '{"type": "input_audio_buffer.append", "audio": "!!!", "event_id": "e5"}',
            "invalid_value",
            "audio",
            "e5",
        ),
        ('{"type": "output_audio_buffer.clear", "event_id": "e6"}', "invalid_value", "type", "e6"),
    ],
)
def test_bad_client_events_get_errors_and_the_session_stays_open(
    raw: str, code: str, param: str | None, event_id: str | None
) -> None:
    sim = EngineHarness()
    (error,) = errors(sim.send(raw))
    assert (error["code"], error["param"], error["event_id"]) == (code, param, event_id)
    assert error["type"] == "invalid_request_error"
    assert types(sim.say("still open")) == ["conversation.item.added", "conversation.item.done"]


def test_item_create_links_previous_items() -> None:
    sim = EngineHarness()
    first = sim.say("one")
    added, done = first
    assert added["previous_item_id"] is None and done["previous_item_id"] is None
    assert added["item"]["status"] == "completed" and added["item"]["id"].startswith("item_")
    assert added["item"] == done["item"]
    second = sim.say("two")
    assert second[0]["previous_item_id"] == added["item"]["id"]
    at_root = sim.say("zero", previous_item_id="root")
    assert at_root[0]["previous_item_id"] is None
    after_first = sim.say("one and a half", previous_item_id=added["item"]["id"])
    assert after_first[0]["previous_item_id"] == added["item"]["id"]
    order = [s.id for s in sim.engine.store.all()]
    assert order == [
        at_root[0]["item"]["id"],
        added["item"]["id"],
        after_first[0]["item"]["id"],
        second[0]["item"]["id"],
    ]


def test_item_errors() -> None:
    sim = EngineHarness()
    (error,) = errors(sim.say("x", previous_item_id="item_missing", event_id="e1"))
    assert (error["code"], error["param"], error["event_id"]) == ("item_not_found", "previous_item_id", "e1")
    item = {
        "id": "item_mine",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "a"}],
    }
    assert types(sim.send({"type": "conversation.item.create", "item": item})) == [
        "conversation.item.added",
        "conversation.item.done",
    ]
    (error,) = errors(sim.send({"type": "conversation.item.create", "item": item}))
    assert error["param"] == "item.id"
    audio_item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "hi"}],
    }
    (error,) = errors(sim.send({"type": "conversation.item.create", "item": audio_item}))
    assert error["param"] == "item.content[0].type"
    output = {"type": "function_call_output", "call_id": "call_nope", "output": "{}"}
    (error,) = errors(sim.send({"type": "conversation.item.create", "item": output}))
    assert error["param"] == "item.call_id"


def test_delete_and_retrieve() -> None:
    sim = EngineHarness()
    pcm = bytes(4800)
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": base64.b64encode(pcm).decode()}],
    }
    added, _ = sim.send({"type": "conversation.item.create", "item": item})
    assert "audio" not in added["item"]["content"][0]
    assert added["item"]["content"][0]["transcript"] is None
    item_id = added["item"]["id"]
    (retrieved,) = sim.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert retrieved["type"] == "conversation.item.retrieved"
    assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == pcm
    (deleted,) = sim.send({"type": "conversation.item.delete", "item_id": item_id})
    assert deleted == {
        "type": "conversation.item.deleted",
        "event_id": deleted["event_id"],
        "item_id": item_id,
    }
    for kind in ("conversation.item.delete", "conversation.item.retrieve"):
        (error,) = errors(sim.send({"type": kind, "item_id": item_id}))
        assert (error["code"], error["param"]) == ("item_not_found", "item_id")


def test_session_ends_after_its_maximum_duration() -> None:
    sim = EngineHarness(session_seconds=60)
    assert sim.engine.next_deadline() == NOW + 60
    events = sim.at(NOW + 60)
    assert errors(events)[0]["code"] == "session_expired"
    assert sim.closed == (1000, "session_expired")
    assert sim.send({"type": "response.create"}) == []


def test_client_secret_session_is_the_starting_point() -> None:
    defaults = {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_secret",
        "model": "gpt-realtime-mini",
        "instructions": "From the secret.",
    }
    full = EngineHarness().engine.session | defaults
    sim = EngineHarness(session_defaults=full)
    session = sim.started[0]["session"]
    assert session["instructions"] == "From the secret."
    assert session["model"] == "gpt-realtime-mini"
    assert session["id"] != "sess_secret"
    assert session["expires_at"] == int(NOW) + 3600
    only(sim.update(instructions="Changed."), "session.updated")

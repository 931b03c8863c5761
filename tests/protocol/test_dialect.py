"""Beta <-> GA dialect translation, checked against the SDK's own beta and GA models.

GA fixtures use the exact shapes of protocol-reference section 8 (and 2.3, 10 for the session and
error objects); each is validated against the GA server-event models before use, so a fixture that
drifted from the real protocol fails loudly instead of proving nothing.
"""

from __future__ import annotations

import copy
import typing
from typing import Annotated, Any, Final, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.beta.realtime import TranscriptionSessionUpdatedEvent
from pydantic import BaseModel, Field, TypeAdapter
from starlette.datastructures import Headers, QueryParams

from voxgate.protocol.dialect import (
    BETA_SUBPROTOCOL,
    GA_ONLY_SERVER_EVENTS,
    DialectError,
    DroppedField,
    beta_client_to_ga,
    beta_session_to_ga,
    ga_param_to_beta,
    ga_server_to_beta,
    ga_session_to_beta,
    wants_beta,
    wants_beta_subprotocol,
)
from voxgate.protocol.realtime import (
    ProtocolError,
    unknown_fields,
    validate_client_event,
    validate_server_event,
)

JSON = dict[str, Any]


# --- the SDK's beta models, dispatched on ``type`` like voxgate.protocol.realtime does for GA -------


def _members(union_alias: Any) -> tuple[type[BaseModel], ...]:
    return typing.get_args(typing.get_args(union_alias)[0])


def _type_of(model: type[BaseModel]) -> str:
    (value,) = typing.get_args(model.model_fields["type"].annotation)
    return str(value)


BETA_SERVER_MODELS: Final = _members(BetaServerEvent)
BETA_CLIENT_MODELS: Final = _members(BetaClientEvent)
BETA_SERVER_TYPES: Final = frozenset(_type_of(m) for m in BETA_SERVER_MODELS)
# Built as Any: mypy has no type for a union assembled at run time.
_beta_server_union: Any = Annotated[Union[BETA_SERVER_MODELS], Field(discriminator="type")]  # noqa: UP007
_beta_client_union: Any = Annotated[Union[BETA_CLIENT_MODELS], Field(discriminator="type")]  # noqa: UP007
BetaServerAdapter: Final[TypeAdapter[Any]] = TypeAdapter(_beta_server_union)
BetaClientAdapter: Final[TypeAdapter[Any]] = TypeAdapter(_beta_client_union)

# GA fields that survive into beta events on purpose (module docstring: additive, ignored by beta
# clients, and needed for a lossless GA -> beta -> GA). Anything else unknown to the beta models
# would be a translation leak.
ADDITIVE_GA_FIELDS: Final = frozenset(
    {
        "session.object",
        "session.expires_at",
        "session.truncation",
        "session.prompt",
        "session.include",
        "session.turn_detection.idle_timeout_ms",
        "response.usage.input_token_details.cached_tokens_details",
        "response.usage.input_token_details.image_tokens",
        # The beta service sent ``name`` on function_call_arguments.done too; the SDK never typed it.
        "name",
    }
)


def validate_beta_server_event(event: JSON) -> BaseModel:
    if event["type"] == "transcription_session.updated":
        # The SDK marks ``session.client_secret`` required, though its own docstring says the field
        # "is not present when a session is updated via the WebSocket API". Supply a stand-in.
        stand_in = {
            **event,
            "session": {**event["session"], "client_secret": {"value": "ek_x", "expires_at": 0}},
        }
        return TranscriptionSessionUpdatedEvent.model_validate(stand_in)
    model: BaseModel = BetaServerAdapter.validate_python(event)
    return model


# --- GA fixtures (protocol-reference sections 2.3, 8, 10) --------------------------------------------

RESP = "resp_H7kQ2wE9rT1yU3iO5pA8s"
ITEM = "item_P0oI9uY8tR7eW6qA5sD4f"
USER_ITEM = "item_U7y6T5r4E3w2Q1a0S9d8F"
CONV = "conv_B4nM6vC8xZ0lK2jH4gF6d"
FC_RESP = "resp_Z1x2C3v4B5n6M7a8S9d0F"
FC_ITEM = "item_G1h2J3k4L5z6X7c8V9b0N"
CALL = "call_x7Rk2pQ9mN4vL1sT"
LOC: Final = {"response_id": RESP, "item_id": ITEM, "output_index": 0, "content_index": 0}

GA_SESSION: Final[JSON] = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_Q2mX8pL0aZr4Tn7VbK1cW",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "You are the front desk of Acme Plumbing.",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "expires_at": 1767225600,
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 200,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0},
    },
    "include": None,
}

GA_TELEPHONY_SESSION: Final[JSON] = {
    **GA_SESSION,
    "instructions": "You answer calls for Acme Plumbing. Be brief.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "transcription": {"model": "gpt-4o-mini-transcribe"},
            "noise_reduction": {"type": "near_field"},
            "turn_detection": {
                "type": "server_vad",
                "silence_duration_ms": 500,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.0},
    },
    "tools": [
        {
            "type": "function",
            "name": "book_visit",
            "description": "Book a plumber visit.",
            "parameters": {
                "type": "object",
                "properties": {"date": {"type": "string"}},
                "required": ["date"],
            },
        }
    ],
}

GA_TRANSCRIPTION_SESSION: Final[JSON] = {
    "type": "transcription",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": ""},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
            },
        }
    },
}

USER_TEXT_ITEM: Final[JSON] = {
    "id": "item_Uu1Vv2Ww3Xx4Yy5Zz6Aa7",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [{"type": "input_text", "text": "Can someone come on Friday?"}],
}
ASSISTANT_IN_PROGRESS: Final[JSON] = {
    "id": ITEM,
    "object": "realtime.item",
    "type": "message",
    "status": "in_progress",
    "role": "assistant",
    "content": [],
}
ASSISTANT_DONE: Final[JSON] = {
    **ASSISTANT_IN_PROGRESS,
    "status": "completed",
    "content": [{"type": "output_audio", "transcript": "Sure, Friday works. Morning or afternoon?"}],
}
ASSISTANT_TEXT_DONE: Final[JSON] = {
    **ASSISTANT_IN_PROGRESS,
    "status": "completed",
    "content": [{"type": "output_text", "text": "Sure, Friday works."}],
}
FUNCTION_CALL_DONE: Final[JSON] = {
    "id": FC_ITEM,
    "object": "realtime.item",
    "type": "function_call",
    "status": "completed",
    "name": "book_visit",
    "call_id": CALL,
    "arguments": '{"date":"Friday"}',
}
GA_RESPONSE_IN_PROGRESS: Final[JSON] = {
    "object": "realtime.response",
    "id": RESP,
    "status": "in_progress",
    "status_details": None,
    "output": [],
    "conversation_id": CONV,
    "output_modalities": ["audio"],
    "max_output_tokens": "inf",
    "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}},
    "usage": None,
    "metadata": None,
}
GA_RESPONSE_DONE: Final[JSON] = {
    **GA_RESPONSE_IN_PROGRESS,
    "status": "completed",
    "output": [ASSISTANT_DONE],
    "usage": {
        "total_tokens": 311,
        "input_tokens": 180,
        "output_tokens": 131,
        "input_token_details": {
            "text_tokens": 168,
            "audio_tokens": 12,
            "image_tokens": 0,
            "cached_tokens": 128,
            "cached_tokens_details": {"text_tokens": 128, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": 29, "audio_tokens": 102},
    },
}


def _ev(kind: str, n: int, **fields: Any) -> JSON:
    return {"type": kind, "event_id": f"event_Fx{n:019d}", **fields}


# (GA event, the beta type it must become, or None when it must be dropped)
GA_FIXTURES: Final[list[tuple[JSON, str | None]]] = [
    (_ev("session.created", 1, session=GA_SESSION), "session.created"),
    (_ev("session.updated", 2, session=GA_TELEPHONY_SESSION), "session.updated"),
    (_ev("session.created", 3, session=GA_TRANSCRIPTION_SESSION), "transcription_session.created"),
    (_ev("session.updated", 4, session=GA_TRANSCRIPTION_SESSION), "transcription_session.updated"),
    (
        _ev("conversation.created", 5, conversation={"id": CONV, "object": "realtime.conversation"}),
        "conversation.created",
    ),
    (
        _ev("conversation.item.added", 6, item=USER_TEXT_ITEM, previous_item_id=None),
        "conversation.item.created",
    ),
    (_ev("conversation.item.done", 7, item=USER_TEXT_ITEM, previous_item_id=None), None),
    (
        _ev("conversation.item.added", 8, item=ASSISTANT_IN_PROGRESS, previous_item_id=USER_TEXT_ITEM["id"]),
        "conversation.item.created",
    ),
    (_ev("conversation.item.done", 9, item=ASSISTANT_DONE, previous_item_id=USER_TEXT_ITEM["id"]), None),
    (
        _ev(
            "conversation.item.retrieved",
            10,
            item={**ASSISTANT_DONE, "content": [{**ASSISTANT_DONE["content"][0], "audio": "/39+fX19fn5+"}]},
        ),
        "conversation.item.retrieved",
    ),
    (
        _ev("conversation.item.truncated", 11, item_id=ITEM, content_index=0, audio_end_ms=1840),
        "conversation.item.truncated",
    ),
    (_ev("conversation.item.deleted", 12, item_id=ITEM), "conversation.item.deleted"),
    (
        _ev(
            "conversation.item.input_audio_transcription.delta",
            13,
            item_id=USER_ITEM,
            content_index=0,
            delta="Can someone",
        ),
        "conversation.item.input_audio_transcription.delta",
    ),
    (
        _ev(
            "conversation.item.input_audio_transcription.completed",
            14,
            item_id=USER_ITEM,
            content_index=0,
            transcript="Can someone come on Friday?",
            usage={
                "type": "tokens",
                "total_tokens": 21,
                "input_tokens": 14,
                "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
                "output_tokens": 7,
            },
        ),
        "conversation.item.input_audio_transcription.completed",
    ),
    (
        _ev(
            "conversation.item.input_audio_transcription.failed",
            15,
            item_id=USER_ITEM,
            content_index=0,
            error={
                "type": "transcription_error",
                "code": "audio_unintelligible",
                "message": "Transcription failed for this audio.",
                "param": None,
            },
        ),
        "conversation.item.input_audio_transcription.failed",
    ),
    (
        _ev(
            "conversation.item.input_audio_transcription.segment",
            16,
            item_id=USER_ITEM,
            content_index=0,
            id="seg_0001",
            text="Can someone",
            speaker="A",
            start=0.0,
            end=0.8,
        ),
        None,
    ),
    (
        _ev("input_audio_buffer.speech_started", 17, audio_start_ms=4220, item_id=USER_ITEM),
        "input_audio_buffer.speech_started",
    ),
    (
        _ev("input_audio_buffer.speech_stopped", 18, audio_end_ms=6100, item_id=USER_ITEM),
        "input_audio_buffer.speech_stopped",
    ),
    (
        _ev("input_audio_buffer.committed", 19, item_id=USER_ITEM, previous_item_id=None),
        "input_audio_buffer.committed",
    ),
    (_ev("input_audio_buffer.cleared", 20), "input_audio_buffer.cleared"),
    (
        _ev(
            "input_audio_buffer.timeout_triggered",
            21,
            audio_start_ms=9000,
            audio_end_ms=15000,
            item_id=USER_ITEM,
        ),
        None,
    ),
    ({"type": "input_audio_buffer.dtmf_event_received", "event": "5", "received_at": 1767225612}, None),
    (_ev("response.created", 22, response=GA_RESPONSE_IN_PROGRESS), "response.created"),
    (
        _ev("response.output_item.added", 23, response_id=RESP, output_index=0, item=ASSISTANT_IN_PROGRESS),
        "response.output_item.added",
    ),
    (
        _ev("response.content_part.added", 24, **LOC, part={"type": "audio", "transcript": ""}),
        "response.content_part.added",
    ),
    (
        _ev("response.output_audio_transcript.delta", 25, **LOC, delta="Sure, Friday"),
        "response.audio_transcript.delta",
    ),
    (_ev("response.output_audio.delta", 26, **LOC, delta="/39+fX19fn5+f39/"), "response.audio.delta"),
    (_ev("response.output_audio.done", 27, **LOC), "response.audio.done"),
    (
        _ev(
            "response.output_audio_transcript.done",
            28,
            **LOC,
            transcript="Sure, Friday works. Morning or afternoon?",
        ),
        "response.audio_transcript.done",
    ),
    (
        _ev(
            "response.content_part.done",
            29,
            **LOC,
            part={"type": "audio", "transcript": "Sure, Friday works. Morning or afternoon?"},
        ),
        "response.content_part.done",
    ),
    (
        _ev("response.output_item.done", 30, response_id=RESP, output_index=0, item=ASSISTANT_DONE),
        "response.output_item.done",
    ),
    (_ev("response.done", 31, response=GA_RESPONSE_DONE), "response.done"),
    (_ev("response.output_text.delta", 32, **LOC, delta="Sure, "), "response.text.delta"),
    (_ev("response.output_text.done", 33, **LOC, text="Sure, Friday works."), "response.text.done"),
    (
        _ev("response.output_item.done", 34, response_id=RESP, output_index=0, item=ASSISTANT_TEXT_DONE),
        "response.output_item.done",
    ),
    (
        _ev(
            "response.function_call_arguments.delta",
            35,
            response_id=FC_RESP,
            item_id=FC_ITEM,
            output_index=0,
            call_id=CALL,
            delta='{"date":"Fri',
        ),
        "response.function_call_arguments.delta",
    ),
    (
        _ev(
            "response.function_call_arguments.done",
            36,
            response_id=FC_RESP,
            item_id=FC_ITEM,
            output_index=0,
            call_id=CALL,
            name="book_visit",
            arguments='{"date":"Friday"}',
        ),
        "response.function_call_arguments.done",
    ),
    (
        _ev("response.output_item.done", 37, response_id=FC_RESP, output_index=0, item=FUNCTION_CALL_DONE),
        "response.output_item.done",
    ),
    (
        _ev(
            "rate_limits.updated",
            38,
            rate_limits=[
                {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60},
                {"name": "tokens", "limit": 50000, "remaining": 49689, "reset_seconds": 0.37},
            ],
        ),
        "rate_limits.updated",
    ),
    (
        _ev(
            "error",
            39,
            error={
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "Invalid value: 'response.creat'. Supported values are: ...",
                "param": "type",
                "event_id": "gw_resp_9",
            },
        ),
        "error",
    ),
    (_ev("output_audio_buffer.started", 40, response_id=RESP), "output_audio_buffer.started"),
    (_ev("output_audio_buffer.stopped", 41, response_id=RESP), "output_audio_buffer.stopped"),
    (_ev("output_audio_buffer.cleared", 42, response_id=RESP), "output_audio_buffer.cleared"),
    (_ev("mcp_list_tools.in_progress", 43, item_id="mcpl_1"), None),
    (_ev("response.mcp_call.in_progress", 44, item_id="mcp_1", output_index=0), None),
    (
        _ev(
            "response.mcp_call_arguments.delta",
            45,
            response_id=RESP,
            item_id="mcp_1",
            output_index=0,
            delta="{",
        ),
        None,
    ),
]


def _fixture_id(case: tuple[JSON, str | None]) -> str:
    event, beta = case
    return f"{event['type']}->{beta}"


# --- the fixtures are real GA -----------------------------------------------------------------------


@pytest.mark.parametrize("case", GA_FIXTURES, ids=_fixture_id)
def test_fixture_is_valid_ga(case: tuple[JSON, str | None]) -> None:
    model = validate_server_event(case[0])
    # The SDK types ``session`` in server events with the request model, which lacks the fields
    # only the server fills in (protocol-reference 2.3 shows them in the real object).
    assert set(unknown_fields(model)) <= {"session.object", "session.id", "session.expires_at"}


# --- server events: GA -> beta ----------------------------------------------------------------------


@pytest.mark.parametrize("case", GA_FIXTURES, ids=_fixture_id)
def test_server_event_translates_to_valid_beta(case: tuple[JSON, str | None]) -> None:
    event, beta_type = case
    before = copy.deepcopy(event)
    out = ga_server_to_beta(event)
    assert event == before, "the GA event must not be mutated"
    if beta_type is None:
        assert out == []
        return
    (beta,) = out
    assert beta["type"] == beta_type
    if beta_type == "transcription_session.created":
        # Sent by the beta server (third-party clients handle it) but absent from the SDK's union.
        model: BaseModel = TranscriptionSessionUpdatedEvent.model_validate(
            {
                **beta,
                "type": "transcription_session.updated",
                "session": {**beta["session"], "client_secret": {"value": "ek_x", "expires_at": 0}},
            }
        )
    else:
        model = validate_beta_server_event(beta)
    leaked = set(unknown_fields(model)) - ADDITIVE_GA_FIELDS - {"session.client_secret"}
    assert not leaked, f"GA-only fields reached the beta client: {sorted(leaked)}"


def test_every_beta_server_event_with_a_ga_counterpart_is_produced() -> None:
    produced = {beta["type"] for event, _ in GA_FIXTURES for beta in ga_server_to_beta(event)}
    # Every member of the beta union has a GA counterpart (protocol-reference 12.1).
    assert produced >= BETA_SERVER_TYPES, sorted(BETA_SERVER_TYPES - produced)


def test_ga_only_events_are_all_covered_by_fixtures() -> None:
    covered = {event["type"] for event, beta in GA_FIXTURES if beta is None}
    mcp_variants = {
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "response.mcp_call_arguments.done",
    }
    assert covered | mcp_variants == GA_ONLY_SERVER_EVENTS


def test_audio_delta_is_a_cheap_rename() -> None:
    event = _ev("response.output_audio.delta", 1, **LOC, delta="A" * 4096)
    (beta,) = ga_server_to_beta(event)
    assert beta == {**event, "type": "response.audio.delta"}
    assert beta is not event
    assert beta["delta"] is event["delta"], "the audio payload is shared, not copied"
    assert event["type"] == "response.output_audio.delta"


def test_events_with_nothing_to_translate_are_passed_as_the_same_object() -> None:
    for event in (
        _ev("input_audio_buffer.speech_started", 1, audio_start_ms=0, item_id=USER_ITEM),
        _ev("response.output_item.added", 2, response_id=RESP, output_index=0, item=ASSISTANT_IN_PROGRESS),
        _ev("response.content_part.added", 3, **LOC, part={"type": "audio", "transcript": ""}),
        {"type": "connection_established", "client_id": "c1", "openai_connected": True},
        {"type": "token", "value": "ek_1", "expires_at": 1},
        {"type": "function_call_result", "function_name": "f", "result": {}},
    ):
        (out,) = ga_server_to_beta(event)
        assert out is event


def test_event_without_string_type_passes_through() -> None:
    event: JSON = {"type": ["not", "a", "name"]}
    assert ga_server_to_beta(event) == [event]


def test_session_is_flattened_with_format_strings() -> None:
    (beta,) = ga_server_to_beta(_ev("session.updated", 1, session=GA_TELEPHONY_SESSION))
    session = beta["session"]
    assert "type" not in session and "audio" not in session and "output_modalities" not in session
    assert session["modalities"] == ["text", "audio"]
    assert session["input_audio_format"] == "g711_ulaw"
    assert session["output_audio_format"] == "g711_ulaw"
    assert session["voice"] == "marin"
    assert session["speed"] == 1.0
    assert session["input_audio_transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert session["input_audio_noise_reduction"] == {"type": "near_field"}
    assert session["turn_detection"]["silence_duration_ms"] == 500
    assert session["max_response_output_tokens"] == "inf"
    assert session["tools"] == GA_TELEPHONY_SESSION["tools"]


@pytest.mark.parametrize(
    ("ga", "beta"),
    [
        ({"type": "audio/pcm", "rate": 24000}, "pcm16"),
        ({"type": "audio/pcm"}, "pcm16"),
        ({"type": "audio/pcmu"}, "g711_ulaw"),
        ({"type": "audio/pcma"}, "g711_alaw"),
    ],
)
def test_format_objects_become_beta_strings(ga: JSON, beta: str) -> None:
    session = ga_session_to_beta(
        {"type": "realtime", "audio": {"input": {"format": ga}, "output": {"format": ga}}}
    )
    assert session == {"input_audio_format": beta, "output_audio_format": beta}


def test_text_only_session_keeps_text_modality() -> None:
    assert ga_session_to_beta({"type": "realtime", "output_modalities": ["text"]}) == {"modalities": ["text"]}


def test_response_object_is_flattened_and_items_retyped() -> None:
    (beta,) = ga_server_to_beta(_ev("response.done", 1, response=GA_RESPONSE_DONE))
    response = beta["response"]
    assert response["modalities"] == ["text", "audio"]
    assert response["voice"] == "marin"
    assert response["output_audio_format"] == "g711_ulaw"
    assert "audio" not in response and "output_modalities" not in response
    assert response["output"][0]["content"] == [
        {"type": "audio", "transcript": "Sure, Friday works. Morning or afternoon?"}
    ]
    assert response["usage"] == GA_RESPONSE_DONE["usage"]


def test_item_content_types_are_renamed_in_every_item_event() -> None:
    for event in (
        _ev("conversation.item.added", 1, item=ASSISTANT_TEXT_DONE, previous_item_id=None),
        _ev("conversation.item.created", 2, item=ASSISTANT_TEXT_DONE, previous_item_id=None),
        _ev("conversation.item.retrieved", 3, item=ASSISTANT_TEXT_DONE),
        _ev("response.output_item.added", 4, response_id=RESP, output_index=0, item=ASSISTANT_TEXT_DONE),
        _ev("response.output_item.done", 5, response_id=RESP, output_index=0, item=ASSISTANT_TEXT_DONE),
    ):
        (beta,) = ga_server_to_beta(event)
        assert beta["item"]["content"] == [{"type": "text", "text": "Sure, Friday works."}]
        assert ASSISTANT_TEXT_DONE["content"][0]["type"] == "output_text"


def test_content_part_with_item_spelling_is_normalised() -> None:
    event = _ev("response.content_part.added", 1, **LOC, part={"type": "output_text", "text": ""})
    (beta,) = ga_server_to_beta(event)
    assert beta["part"] == {"type": "text", "text": ""}


def test_item_added_keeps_previous_item_id() -> None:
    event = _ev("conversation.item.added", 1, item=USER_TEXT_ITEM, previous_item_id="item_prev")
    (beta,) = ga_server_to_beta(event)
    assert beta == {**event, "type": "conversation.item.created"}


@pytest.mark.parametrize(
    ("ga", "beta"),
    [
        ("session.audio.output.voice", "session.voice"),
        ("session.audio.input.format", "session.input_audio_format"),
        ("session.audio.output.format.type", "session.output_audio_format.type"),
        ("session.audio.input.turn_detection.type", "session.turn_detection.type"),
        ("session.audio.input.transcription.model", "session.input_audio_transcription.model"),
        ("session.audio.input.noise_reduction", "session.input_audio_noise_reduction"),
        ("session.audio.output.speed", "session.speed"),
        ("session.output_modalities", "session.modalities"),
        ("session.output_modalities[1]", "session.modalities[1]"),
        ("session.max_output_tokens", "session.max_response_output_tokens"),
        ("response.audio.output.voice", "response.voice"),
        ("response.audio.output.format", "response.output_audio_format"),
        ("response.output_modalities", "response.modalities"),
        ("response.max_output_tokens", "response.max_response_output_tokens"),
        ("session.tools[0].meta", "session.tools[0].meta"),
        ("session.audio.output.voices", "session.audio.output.voices"),
        ("type", "type"),
    ],
)
def test_error_params_use_beta_names(ga: str, beta: str) -> None:
    assert ga_param_to_beta(ga) == beta


def test_error_event_param_and_message_are_renamed() -> None:
    error = ProtocolError(
        "unknown_parameter",
        "Unknown parameter: 'session.audio.output.voices'.",
        param="session.audio.output.voice",
        event_id="evt_1",
    )
    (beta,) = ga_server_to_beta(error.to_event())
    assert beta["error"]["param"] == "session.voice"
    assert beta["error"]["message"] == "Unknown parameter: 'session.voices'."
    assert beta["error"]["event_id"] == "evt_1"
    validate_beta_server_event(beta)


# --- client events: beta -> GA ----------------------------------------------------------------------

BETA_TELEPHONY_UPDATE: Final[JSON] = {
    "type": "session.update",
    "event_id": "evt_s1",
    "session": {
        "modalities": ["text", "audio"],
        "voice": "alloy",
        "input_audio_format": "g711_ulaw",
        "output_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad"},
        "temperature": 0.8,
        "instructions": "You answer calls for Acme Plumbing. Be brief.",
    },
}


def translate_and_validate(event: JSON, dropped: list[DroppedField] | None = None) -> JSON:
    """Check that the beta input is real beta, translate it, and check the result is clean GA."""
    BetaClientAdapter.validate_python(event)
    before = copy.deepcopy(event)
    ga = beta_client_to_ga(event, dropped)
    assert event == before, "the beta event must not be mutated"
    model = validate_client_event(ga)
    assert unknown_fields(model) == []
    return ga


def test_beta_telephony_session_update() -> None:
    dropped: list[DroppedField] = []
    ga = translate_and_validate(BETA_TELEPHONY_UPDATE, dropped)
    assert ga == {
        "type": "session.update",
        "event_id": "evt_s1",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": "You answer calls for Acme Plumbing. Be brief.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "whisper-1"},
                    "turn_detection": {"type": "server_vad"},
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"},
            },
        },
    }
    assert dropped == [DroppedField("session.temperature", 0.8, "GA sessions have no temperature")]


def test_dropped_is_optional() -> None:
    ga = beta_client_to_ga(BETA_TELEPHONY_UPDATE)
    assert "temperature" not in ga["session"]


@pytest.mark.parametrize(
    ("beta", "ga"),
    [
        (["text", "audio"], ["audio"]),
        (["audio", "text"], ["audio"]),
        (["audio"], ["audio"]),
        (["text"], ["text"]),
    ],
)
def test_modalities(beta: list[str], ga: list[str]) -> None:
    event = {"type": "session.update", "session": {"modalities": beta}}
    assert translate_and_validate(event)["session"]["output_modalities"] == ga
    response = {"type": "response.create", "response": {"modalities": beta}}
    assert translate_and_validate(response)["response"]["output_modalities"] == ga


@pytest.mark.parametrize("bad", [[], ["video"], "audio", [1], [["audio"]]])
def test_inexpressible_modalities_raise_a_beta_error(bad: Any) -> None:
    with pytest.raises(DialectError) as info:
        beta_client_to_ga({"type": "session.update", "event_id": "e9", "session": {"modalities": bad}})
    assert info.value.param == "session.modalities"
    assert info.value.event_id == "e9"
    assert info.value.to_event()["error"]["code"] == "invalid_value"


@pytest.mark.parametrize("field", ["input_audio_format", "output_audio_format"])
def test_unknown_audio_format_raises(field: str) -> None:
    with pytest.raises(DialectError) as info:
        beta_client_to_ga({"type": "session.update", "session": {field: "mp3"}})
    assert info.value.param == f"session.{field}"
    with pytest.raises(DialectError):
        beta_client_to_ga({"type": "response.create", "response": {"output_audio_format": "opus"}})


def test_all_session_fields_map() -> None:
    event = {
        "type": "session.update",
        "session": {
            "model": "gpt-realtime",
            "modalities": ["text"],
            "instructions": "Be brief.",
            "voice": "verse",
            "input_audio_format": "pcm16",
            "output_audio_format": "g711_alaw",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "ro", "prompt": "bar"},
            "turn_detection": {"type": "semantic_vad", "eagerness": "low", "create_response": False},
            "input_audio_noise_reduction": {"type": "far_field"},
            "speed": 1.2,
            "max_response_output_tokens": 512,
            "tools": [
                {"type": "function", "name": "menu", "description": "Read the menu.", "parameters": {}}
            ],
            "tool_choice": "required",
            "tracing": {"workflow_name": "bar", "group_id": "g1", "metadata": {"k": "v"}},
            "temperature": 1.0,
        },
    }
    ga = translate_and_validate(event)["session"]
    assert ga == {
        "type": "realtime",
        "model": "gpt-realtime",
        "output_modalities": ["text"],
        "instructions": "Be brief.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "ro", "prompt": "bar"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "low", "create_response": False},
                "noise_reduction": {"type": "far_field"},
            },
            "output": {"voice": "verse", "format": {"type": "audio/pcma"}, "speed": 1.2},
        },
        "max_output_tokens": 512,
        "tools": [{"type": "function", "name": "menu", "description": "Read the menu.", "parameters": {}}],
        "tool_choice": "required",
        "tracing": {"workflow_name": "bar", "group_id": "g1", "metadata": {"k": "v"}},
    }


def test_nulls_clear_in_ga_too() -> None:
    event = {
        "type": "session.update",
        "session": {
            "turn_detection": None,
            "input_audio_transcription": None,
            "input_audio_noise_reduction": None,
        },
    }
    ga = translate_and_validate(event)
    assert ga["session"]["audio"] == {
        "input": {"turn_detection": None, "transcription": None, "noise_reduction": None}
    }


def test_turn_detection_without_type_gets_beta_default() -> None:
    event = {"type": "session.update", "session": {"turn_detection": {"silence_duration_ms": 700}}}
    ga = translate_and_validate(event)
    assert ga["session"]["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "silence_duration_ms": 700,
    }


def test_chat_style_tool_choice_is_normalised() -> None:
    choice = {"type": "function", "function": {"name": "book_visit"}}
    for event in (
        {"type": "session.update", "session": {"tool_choice": choice}},
        {"type": "response.create", "response": {"tool_choice": choice}},
    ):
        ga = beta_client_to_ga(event)
        scope = "session" if event["type"] == "session.update" else "response"
        assert ga[scope]["tool_choice"] == {"type": "function", "name": "book_visit"}
        validate_client_event(ga)


def test_flat_fields_win_over_ga_shaped_audio() -> None:
    nested: dict[str, JSON] = {
        "output": {"voice": "marin", "speed": 1.1},
        "input": {"format": {"type": "audio/pcm"}},
    }
    event = {"type": "session.update", "session": {"audio": nested, "voice": "alloy"}}
    ga = beta_client_to_ga(event)
    assert ga["session"]["audio"] == {
        "output": {"voice": "alloy", "speed": 1.1},
        "input": {"format": {"type": "audio/pcm"}},
    }
    assert nested["output"]["voice"] == "marin", "the caller's nested dict is not written to"
    validate_client_event(ga)


def test_ga_only_session_fields_pass_through() -> None:
    event = {"type": "session.update", "session": {"truncation": "disabled", "include": None}}
    assert beta_client_to_ga(event)["session"] == {
        "type": "realtime",
        "truncation": "disabled",
        "include": None,
    }


def test_junk_is_left_for_the_ga_validator() -> None:
    ga = beta_client_to_ga({"type": "session.update", "session": {"vioce": "alloy"}})
    assert unknown_fields(validate_client_event(ga)) == ["session.vioce"]
    with pytest.raises(ProtocolError) as info:
        validate_client_event(beta_client_to_ga({"type": "session.update", "session": {"speed": "fast"}}))
    assert info.value.param == "session.audio.output.speed"
    assert ga_param_to_beta(info.value.param) == "session.speed"


def test_response_create() -> None:
    dropped: list[DroppedField] = []
    event = {
        "type": "response.create",
        "event_id": "gw_resp_3",
        "response": {
            "modalities": ["text", "audio"],
            "instructions": "Greet the caller in one sentence.",
            "voice": "sage",
            "output_audio_format": "g711_ulaw",
            "temperature": 0.7,
            "max_response_output_tokens": "inf",
            "conversation": "none",
            "metadata": {"purpose": "greeting"},
            "tools": [{"type": "function", "name": "menu", "parameters": {"type": "object"}}],
            "tool_choice": "auto",
            "input": [
                {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            ],
        },
    }
    ga = translate_and_validate(event, dropped)
    assert ga == {
        "type": "response.create",
        "event_id": "gw_resp_3",
        "response": {
            "output_modalities": ["audio"],
            "instructions": "Greet the caller in one sentence.",
            "audio": {"output": {"voice": "sage", "format": {"type": "audio/pcmu"}}},
            "max_output_tokens": "inf",
            "conversation": "none",
            "metadata": {"purpose": "greeting"},
            "tools": [{"type": "function", "name": "menu", "parameters": {"type": "object"}}],
            "tool_choice": "auto",
            "input": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello!"}],
                },
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            ],
        },
    }
    assert [d.param for d in dropped] == ["response.temperature"]


def test_bare_response_create_is_unchanged() -> None:
    event = {"type": "response.create"}
    assert beta_client_to_ga(event) is event


def test_assistant_items_get_ga_content_types() -> None:
    event = {
        "type": "conversation.item.create",
        "previous_item_id": "root",
        "item": {
            "id": "item_a1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "Welcome to the bar."}],
        },
    }
    ga = translate_and_validate(event)
    assert ga["item"]["content"] == [{"type": "output_text", "text": "Welcome to the bar."}]
    assert ga["previous_item_id"] == "root"


@pytest.mark.parametrize(
    "item",
    [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "AAAA"}]},
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be kind."}]},
        {"type": "function_call_output", "call_id": CALL, "output": '{"booked":true}'},
        {"type": "function_call", "call_id": CALL, "name": "book_visit", "arguments": "{}"},
    ],
)
def test_items_without_beta_spelling_pass_as_the_same_object(item: JSON) -> None:
    event = {"type": "conversation.item.create", "item": item}
    assert translate_and_validate(event) is event


@pytest.mark.parametrize(
    "event",
    [
        {"type": "input_audio_buffer.append", "audio": "////fn5+/v7+fn5+////"},
        {"type": "input_audio_buffer.commit"},
        {"type": "input_audio_buffer.clear"},
        {"type": "conversation.item.truncate", "item_id": ITEM, "content_index": 0, "audio_end_ms": 1840},
        {"type": "conversation.item.delete", "item_id": ITEM},
        {"type": "conversation.item.retrieve", "item_id": ITEM},
        {"type": "response.cancel", "response_id": RESP},
        {"type": "output_audio_buffer.clear"},
    ],
)
def test_unchanged_client_events_are_the_same_object(event: JSON) -> None:
    assert translate_and_validate(event) is event


@pytest.mark.parametrize(
    "event",
    [
        {"type": "get_token"},
        {"type": "function_call", "function_name": "menu", "arguments": {}},
        {"type": "session.update"},
        {"type": "session.update", "session": "nope"},
        {"type": "conversation.item.create", "item": None},
    ],
)
def test_other_events_pass_through(event: JSON) -> None:
    assert beta_client_to_ga(event) is event


def test_transcription_session_update() -> None:
    dropped: list[DroppedField] = []
    event = {
        "type": "transcription_session.update",
        "event_id": "evt_t1",
        "session": {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": ""},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500},
            "input_audio_noise_reduction": {"type": "near_field"},
            "include": ["item.input_audio_transcription.logprobs"],
            "modalities": ["text"],
        },
    }
    ga = translate_and_validate(event, dropped)
    assert ga == {
        "type": "session.update",
        "event_id": "evt_t1",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en", "prompt": ""},
                    "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500},
                    "noise_reduction": {"type": "near_field"},
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }
    assert [d.param for d in dropped] == ["session.modalities"]


def test_transcription_session_output_fields_are_left_for_the_validator() -> None:
    ga = beta_client_to_ga({"type": "transcription_session.update", "session": {"voice": "alloy"}})
    assert unknown_fields(validate_client_event(ga)) == ["session.voice"]


# --- round trips ------------------------------------------------------------------------------------


def _beta_meaning(session: JSON) -> JSON:
    """A beta session as GA can carry it: no temperature, modalities in canonical form, the default
    turn-detection type spelled out."""
    out = {k: v for k, v in session.items() if k != "temperature"}
    if "modalities" in out:
        out["modalities"] = ["text", "audio"] if "audio" in out["modalities"] else ["text"]
    detection = out.get("turn_detection")
    if isinstance(detection, dict) and "type" not in detection:
        out["turn_detection"] = {"type": "server_vad", **detection}
    return out


def _beta_round_trip(beta_session: JSON) -> JSON:
    """Beta session -> session.update (GA) -> the GA server's session.updated -> beta."""
    ga = beta_client_to_ga({"type": "session.update", "session": beta_session})
    validate_client_event(ga)
    echoed = _ev("session.updated", 1, session=ga["session"])
    validate_server_event(echoed)
    (beta,) = ga_server_to_beta(echoed)
    validate_beta_server_event(beta)
    session: JSON = beta["session"]
    return session


def test_beta_round_trip_preserves_meaning() -> None:
    session = BETA_TELEPHONY_UPDATE["session"]
    assert _beta_round_trip(session) == _beta_meaning(session)


@pytest.mark.parametrize("session", [GA_SESSION, GA_TELEPHONY_SESSION, GA_TRANSCRIPTION_SESSION], ids=str)
def test_ga_round_trip_is_lossless(session: JSON) -> None:
    kind = session["type"]
    assert beta_session_to_ga(ga_session_to_beta(session), kind) == session


def test_session_created_for_beta_keeps_server_fields() -> None:
    (beta,) = ga_server_to_beta(_ev("session.created", 1, session=GA_SESSION))
    assert beta["session"]["id"] == GA_SESSION["id"]
    assert beta["session"]["object"] == "realtime.session"
    assert beta["session"]["model"] == "gpt-realtime"
    assert beta["session"]["input_audio_format"] == "pcm16"
    assert beta["session"]["input_audio_transcription"] is None


# --- hypothesis -------------------------------------------------------------------------------------

_text = st.text(max_size=20)
_vad_common = {"create_response": st.booleans(), "interrupt_response": st.booleans()}
_server_vad_fields = {
    "threshold": st.floats(0.0, 1.0),
    "prefix_padding_ms": st.integers(0, 2000),
    "silence_duration_ms": st.integers(0, 2000),
    **_vad_common,
}
_turn_detection = st.one_of(
    st.none(),
    st.fixed_dictionaries({"type": st.just("server_vad")}, optional=_server_vad_fields),
    st.fixed_dictionaries({}, optional=_server_vad_fields),  # beta's implicit server_vad
    st.fixed_dictionaries(
        {"type": st.just("semantic_vad")},
        optional={"eagerness": st.sampled_from(["low", "medium", "high", "auto"]), **_vad_common},
    ),
)
_tool = st.fixed_dictionaries(
    {"type": st.just("function"), "name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True)},
    optional={"description": _text, "parameters": st.just({"type": "object", "properties": {}})},
)
BETA_SESSIONS: Final = st.fixed_dictionaries(
    {},
    optional={
        "modalities": st.sampled_from([["text"], ["audio"], ["text", "audio"], ["audio", "text"]]),
        "instructions": _text,
        "voice": st.sampled_from(["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse"]),
        "input_audio_format": st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]),
        "output_audio_format": st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]),
        "input_audio_transcription": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "model": st.sampled_from(["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]),
                "language": st.sampled_from(["en", "ro"]),
                "prompt": _text,
            },
        ),
        "turn_detection": _turn_detection,
        "input_audio_noise_reduction": st.none()
        | st.fixed_dictionaries({}, optional={"type": st.sampled_from(["near_field", "far_field"])}),
        "speed": st.floats(0.25, 1.5),
        "max_response_output_tokens": st.integers(1, 4096) | st.just("inf"),
        "temperature": st.floats(0.6, 1.2),
        "tools": st.lists(_tool, max_size=3),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "tracing": st.none()
        | st.just("auto")
        | st.fixed_dictionaries({}, optional={"workflow_name": _text, "group_id": _text}),
    },
)


@given(BETA_SESSIONS)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_valid_beta_sessions_become_valid_ga(session: JSON) -> None:
    dropped: list[DroppedField] = []
    ga = translate_and_validate({"type": "session.update", "session": session}, dropped)
    assert ga["session"]["type"] == "realtime"
    assert [d.param for d in dropped] == (["session.temperature"] if "temperature" in session else [])
    assert _beta_round_trip(session) == _beta_meaning(session)


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_session_keys = st.sampled_from(
    [
        "modalities",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "turn_detection",
        "input_audio_noise_reduction",
        "speed",
        "max_response_output_tokens",
        "temperature",
        "instructions",
        "tools",
        "tool_choice",
        "tracing",
        "audio",
        "type",
        "client_secret",
    ]
) | st.text(max_size=10)


@given(
    st.sampled_from(["session.update", "transcription_session.update", "response.create"]),
    st.dictionaries(_session_keys, _json, max_size=6),
)
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_any_beta_payload_becomes_valid_ga_or_a_clear_error(kind: str, payload: JSON) -> None:
    field = "response" if kind == "response.create" else "session"
    event = {"type": kind, "event_id": "evt_h", field: payload}
    before = copy.deepcopy(event)
    try:
        ga = beta_client_to_ga(event)
    except DialectError as exc:
        assert exc.param is not None and exc.param.startswith(f"{field}.")
        assert exc.event_id == "evt_h"
        return
    finally:
        assert event == before
    try:
        model = validate_client_event(ga)
    except ProtocolError as exc:
        assert exc.event_id == "evt_h"
        return
    # Valid as far as the SDK models go; what they do not know is reported by path, for the
    # session layer to refuse as ``unknown_parameter``.
    assert all(path.startswith(f"{field}.") for path in unknown_fields(model))


# --- choosing the dialect ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, {}, False),
        ({"OpenAI-Beta": "realtime=v1"}, {}, True),
        ({"openai-beta": "realtime=v1"}, {}, True),
        ({"OPENAI-BETA": " assistants=v2 , realtime=v1"}, {}, True),
        ({"OpenAI-Beta": "assistants=v2"}, {}, False),
        ({}, {"protocol": "beta"}, True),
        ({}, {"protocol": "BETA"}, True),
        ({"OpenAI-Beta": "realtime=v1"}, {"protocol": "ga"}, False),
        ({"OpenAI-Beta": "realtime=v1"}, {"protocol": "other"}, True),
        ({}, {"model": "gpt-realtime"}, False),
        ({"Sec-WebSocket-Protocol": f"realtime, openai-insecure-api-key.sk-x, {BETA_SUBPROTOCOL}"}, {}, True),
        ({"Sec-WebSocket-Protocol": "realtime, openai-insecure-api-key.sk-x"}, {}, False),
    ],
)
def test_wants_beta(headers: dict[str, str], query: dict[str, str], expected: bool) -> None:
    assert wants_beta(headers, query) is expected


def test_wants_beta_with_starlette_types() -> None:
    headers = Headers(raw=[(b"openai-beta", b"realtime=v1"), (b"authorization", b"Bearer sk-x")])
    assert wants_beta(headers, QueryParams("")) is True
    assert wants_beta(Headers(raw=[]), QueryParams("model=gpt-realtime&protocol=beta")) is True
    assert wants_beta(Headers(raw=[]), QueryParams("model=gpt-realtime")) is False


def test_wants_beta_subprotocol() -> None:
    assert wants_beta_subprotocol(["realtime", "openai-insecure-api-key.sk-x", BETA_SUBPROTOCOL])
    assert not wants_beta_subprotocol(["realtime", "openai-insecure-api-key.sk-x"])
    assert not wants_beta_subprotocol([])

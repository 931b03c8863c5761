"""The conversation state machine as pure data: events in, actions out."""

from __future__ import annotations

from voxgate.protocol.conversation import Conversation, RunTool, SendUpstream


def _call_done(response_id: str, call_id: str, name: str = "get_menu") -> dict:
    return {
        "type": "response.function_call_arguments.done",
        "event_id": "e",
        "response_id": response_id,
        "item_id": f"item_{call_id}",
        "output_index": 0,
        "call_id": call_id,
        "name": name,
        "arguments": "{}",
    }


def _response(kind: str, response_id: str, conversation: str | None = "conv_1") -> dict:
    return {"type": kind, "event_id": "e", "response": {"id": response_id, "conversation_id": conversation}}


def test_one_continuation_after_all_calls_of_a_response_are_answered() -> None:
    conv = Conversation(server_tools=frozenset({"get_menu", "check_id"}))
    conv.on_server_event(_response("response.created", "r1"))
    first = conv.on_server_event(_call_done("r1", "c1"))
    second = conv.on_server_event(_call_done("r1", "c2", "check_id"))
    assert [type(a) for a in first + second] == [RunTool, RunTool]
    assert conv.on_server_event(_response("response.done", "r1")) == []
    after_first = conv.on_tool_output("r1", "c1", '{"ok": true}')
    assert [a.event["type"] for a in after_first if isinstance(a, SendUpstream)] == [
        "conversation.item.create"
    ]
    after_second = conv.on_tool_output("r1", "c2", '{"ok": true}')
    kinds = [a.event["type"] for a in after_second if isinstance(a, SendUpstream)]
    assert kinds == ["conversation.item.create", "response.create"]
    assert conv.pending_tool_calls == 0


def test_continuation_waits_for_response_done_even_when_the_tool_is_fast() -> None:
    conv = Conversation(server_tools=frozenset({"get_menu"}))
    conv.on_server_event(_response("response.created", "r1"))
    conv.on_server_event(_call_done("r1", "c1"))
    sent = conv.on_tool_output("r1", "c1", "{}")
    assert [a.event["type"] for a in sent if isinstance(a, SendUpstream)] == ["conversation.item.create"]
    done = conv.on_server_event(_response("response.done", "r1"))
    assert [a.event["type"] for a in done if isinstance(a, SendUpstream)] == ["response.create"]


def test_client_side_tools_are_left_to_the_client() -> None:
    conv = Conversation(server_tools=frozenset({"get_menu"}))
    assert conv.on_server_event(_call_done("r1", "c1", "open_camera")) == []
    assert conv.on_server_event(_response("response.done", "r1")) == []


def test_out_of_band_responses_do_not_become_the_active_response() -> None:
    conv = Conversation(server_tools=frozenset())
    conv.on_server_event(_response("response.created", "oob", conversation=None))
    assert conv.active_response_id is None
    conv.on_server_event(_response("response.created", "r1"))
    assert conv.active_response_id == "r1"
    assert conv.forget_in_flight() == "r1" and conv.active_response_id is None


def _item_done(item: dict, previous: str | None) -> dict:
    return {"type": "conversation.item.done", "event_id": "e", "item": item, "previous_item_id": previous}


def test_replay_rebuilds_session_and_items_in_order_in_creatable_form() -> None:
    conv = Conversation(server_tools=frozenset())
    conv.note_session_update(
        {"type": "realtime", "instructions": "be nice", "audio": {"output": {"voice": "marin"}}}
    )
    conv.note_session_update({"audio": {"output": {"speed": 1.1}}})
    user = {
        "id": "u1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    conv.on_server_event(_item_done(user, None))
    conv.on_server_event(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "u1",
            "content_index": 0,
            "transcript": "hello",
        }
    )
    assistant = {
        "id": "a1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "hi there", "audio": "AAAA"}],
    }
    conv.on_server_event(_item_done(assistant, "u1"))
    call = {"id": "f1", "type": "function_call", "call_id": "c1", "name": "get_menu", "arguments": "{}"}
    conv.on_server_event(_item_done(call, "a1"))
    # An item inserted after u1 lands between u1 and a1.
    inserted = {
        "id": "s1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "x"}],
    }
    conv.on_server_event(_item_done(inserted, "u1"))
    events = conv.replay_events()
    assert events[0]["type"] == "session.update"
    assert events[0]["session"]["audio"]["output"] == {"voice": "marin", "speed": 1.1}
    items = [e["item"] for e in events[1:]]
    assert [i["id"] for i in items] == ["u1", "s1", "a1", "f1"]
    assert items[0]["content"] == [{"type": "input_text", "text": "hello"}]
    assert items[2] == {
        "id": "a1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hi there"}],
    }
    assert [e.get("previous_item_id") for e in events[1:]] == [None, "u1", "s1", "a1"]


def test_truncated_assistant_audio_forgets_its_unheard_transcript() -> None:
    conv = Conversation(server_tools=frozenset())
    assistant = {
        "id": "a1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "a long answer"}],
    }
    conv.on_server_event(_item_done(assistant, None))
    conv.on_server_event(
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "a1",
            "content_index": 0,
            "audio_end_ms": 100,
        }
    )
    assert conv.replay_events() == []  # nothing heard-and-known is left to replay
    conv.on_server_event({"type": "conversation.item.deleted", "event_id": "e", "item_id": "a1"})
    assert conv.items == {}

"""What the gateway knows about one Realtime conversation, as a pure state machine.

It reads the upstream's server events and the gateway's own tool results, and answers with actions
for the I/O layer: run a tool, send an event upstream. It keeps what a reconnect needs to rebuild
the conversation on a fresh upstream session (the session config the gateway asked for, and the
finished items in order). No sockets, no clock, no database.

Tool calls follow protocol-reference section 8.3: a tool starts on
``response.function_call_arguments.done``; its output goes upstream as soon as it is ready; the
follow-up ``response.create`` is sent once the originating response is done *and* every call of
that response has its output, so several calls in one response get a single ``response.create``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from voxgate.protocol.realtime import JSON

GATEWAY_EVENT_PREFIX = "vg_"


@dataclass(frozen=True, slots=True)
class RunTool:
    call_id: str
    name: str
    arguments: str
    response_id: str
    item_id: str


@dataclass(frozen=True, slots=True)
class SendUpstream:
    event: JSON


Action = RunTool | SendUpstream


def deep_merge(base: JSON, update: JSON) -> JSON:
    """Merge ``update`` into a copy of ``base`` the way ``session.update`` does: present keys win."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass(slots=True)
class _ResponseCalls:
    call_ids: list[str] = field(default_factory=list)
    done: bool = False


@dataclass(slots=True)
class Conversation:
    """Per-session state; feed it every upstream event the gateway receives."""

    server_tools: frozenset[str]
    requested_session: JSON = field(default_factory=dict)
    effective_session: JSON = field(default_factory=dict)
    upstream_session_id: str | None = None
    items: dict[str, JSON] = field(default_factory=dict)  # insertion order = conversation order
    active_response_id: str | None = None
    responses_seen: int = 0
    _calls: dict[str, _ResponseCalls] = field(default_factory=dict)
    _outputs_ready: set[str] = field(default_factory=set)
    _event_counter: int = 0

    # -- what the gateway sends -------------------------------------------------------------
    def note_session_update(self, session: JSON) -> None:
        """Remember every session change the gateway forwards, so a reconnect can restore it."""
        self.requested_session = deep_merge(self.requested_session, session)

    def next_event_id(self, purpose: str) -> str:
        self._event_counter += 1
        return f"{GATEWAY_EVENT_PREFIX}{purpose}_{self._event_counter}"

    # -- what the upstream sends ------------------------------------------------------------
    def on_server_event(self, event: JSON) -> list[Action]:
        kind = event["type"]
        if kind in ("session.created", "session.updated"):
            self.effective_session = event.get("session") or {}
            self.upstream_session_id = self.effective_session.get("id", self.upstream_session_id)
        elif kind == "conversation.item.done":
            self._store_item(event["item"], event.get("previous_item_id"))
        elif kind == "conversation.item.deleted":
            self.items.pop(event["item_id"], None)
        elif kind == "conversation.item.truncated":
            self._drop_unheard_transcript(event["item_id"])
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._set_user_transcript(event["item_id"], event.get("transcript") or "")
        elif kind == "response.created":
            response = event["response"]
            if response.get("conversation_id") is not None:
                self.active_response_id = response["id"]
            self.responses_seen += 1
        elif kind == "response.function_call_arguments.done":
            return self._on_call(event)
        elif kind == "response.done":
            return self._on_response_done(event["response"])
        return []

    def _store_item(self, item: JSON, previous_item_id: str | None) -> None:
        item_id = item.get("id")
        if not item_id:
            return
        clean = _without_audio(item)
        if previous_item_id is None or previous_item_id == "root" or item_id in self.items:
            self.items[item_id] = clean
            return
        # Keep the server's order when an item was inserted in the middle.
        reordered: dict[str, JSON] = {}
        for key, value in self.items.items():
            reordered[key] = value
            if key == previous_item_id:
                reordered[item_id] = clean
        if item_id not in reordered:
            reordered[item_id] = clean
        self.items = reordered

    def _drop_unheard_transcript(self, item_id: str) -> None:
        item = self.items.get(item_id)
        if item is None:
            return
        for part in item.get("content") or []:
            if isinstance(part, dict) and "transcript" in part:
                part["transcript"] = None

    def _set_user_transcript(self, item_id: str, transcript: str) -> None:
        item = self.items.get(item_id)
        if item is None:
            return
        for part in item.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "input_audio":
                part["transcript"] = transcript

    def _on_call(self, event: JSON) -> list[Action]:
        name = event.get("name", "")
        if name not in self.server_tools:
            return []  # a client-side tool: the client answers it
        response_id = event["response_id"]
        calls = self._calls.setdefault(response_id, _ResponseCalls())
        calls.call_ids.append(event["call_id"])
        return [
            RunTool(event["call_id"], name, event.get("arguments") or "{}", response_id, event["item_id"])
        ]

    def _on_response_done(self, response: JSON) -> list[Action]:
        if response.get("id") == self.active_response_id:
            self.active_response_id = None
        calls = self._calls.get(response.get("id", ""))
        if calls is None:
            return []
        calls.done = True
        return self._maybe_continue(response["id"])

    # -- what the tools return --------------------------------------------------------------
    def on_tool_output(self, response_id: str, call_id: str, output: str) -> list[Action]:
        """A server-side tool finished: its output goes up now; the continuation when all are in."""
        self._outputs_ready.add(call_id)
        create = {
            "type": "conversation.item.create",
            "event_id": self.next_event_id("tool_output"),
            "item": {"type": "function_call_output", "call_id": call_id, "output": output},
        }
        return [SendUpstream(create), *self._maybe_continue(response_id)]

    def _maybe_continue(self, response_id: str) -> list[Action]:
        calls = self._calls.get(response_id)
        if calls is None or not calls.done or not all(c in self._outputs_ready for c in calls.call_ids):
            return []
        del self._calls[response_id]
        self._outputs_ready.difference_update(calls.call_ids)
        return [SendUpstream({"type": "response.create", "event_id": self.next_event_id("continue")})]

    @property
    def pending_tool_calls(self) -> int:
        return sum(len(c.call_ids) for c in self._calls.values())

    # -- reconnect ---------------------------------------------------------------------------
    def replay_events(self) -> list[JSON]:
        """Events that rebuild this conversation on a fresh upstream session, in order."""
        events: list[JSON] = []
        if self.requested_session:
            events.append(
                {
                    "type": "session.update",
                    "event_id": self.next_event_id("replay_session"),
                    "session": copy.deepcopy(self.requested_session),
                }
            )
        previous: str | None = None
        for item_id, item in self.items.items():
            replayable = replayable_item(item)
            if replayable is None:
                continue
            event: JSON = {
                "type": "conversation.item.create",
                "event_id": self.next_event_id("replay_item"),
                "item": replayable,
            }
            if previous is not None:
                event["previous_item_id"] = previous
            events.append(event)
            previous = item_id
        return events

    def forget_in_flight(self) -> str | None:
        """The upstream is gone: a response it was producing will never finish. Returns its id."""
        lost = self.active_response_id
        self.active_response_id = None
        self._calls = {rid: calls for rid, calls in self._calls.items() if calls.done}
        return lost


def _without_audio(item: JSON) -> JSON:
    clean = dict(item)
    content = item.get("content")
    if isinstance(content, list):
        clean["content"] = [
            {k: v for k, v in part.items() if k != "audio"} if isinstance(part, dict) else part
            for part in content
        ]
    return clean


def replayable_item(item: JSON) -> JSON | None:
    """The client-creatable form of a finished item (clients cannot create assistant audio)."""
    kind = item.get("type")
    base: JSON = {"id": item["id"], "type": kind}
    if kind == "function_call":
        return {**base, "call_id": item["call_id"], "name": item["name"], "arguments": item["arguments"]}
    if kind == "function_call_output":
        return {**base, "call_id": item["call_id"], "output": item["output"]}
    if kind != "message":
        return None
    role = item.get("role")
    parts = list(_replay_parts(role, item.get("content") or []))
    if not parts:
        return None
    return {**base, "role": role, "content": parts}


def _replay_parts(role: Any, content: Iterable[Any]) -> Iterable[JSON]:
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            text = part.get("text") or ""
        elif kind in ("input_audio", "output_audio", "audio"):
            text = part.get("transcript") or ""
        else:
            continue
        if not text:
            continue
        yield {"type": "output_text" if role == "assistant" else "input_text", "text": text}

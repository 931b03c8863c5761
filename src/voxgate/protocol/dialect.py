"""The beta Realtime dialect ("realtime=v1"), translated to GA and back.

The gateway always speaks GA upstream. A client that asks for the beta dialect keeps working
unchanged: each of its events goes through :func:`beta_client_to_ga` before validation, and every
server event goes through :func:`ga_server_to_beta` on its way out. Both are pure functions over
decoded JSON objects; neither mutates its argument, and both return the argument itself (or share
its unchanged parts) whenever nothing needs translating, so the hot path (audio in, audio deltas
out) costs a dict lookup and, for a renamed delta, one shallow copy.

Public API::

    wants_beta(headers, query) -> bool         # OpenAI-Beta header, ?protocol=, or subprotocol
    wants_beta_subprotocol(subprotocols) -> bool
    beta_client_to_ga(event, dropped=None) -> dict       # raises DialectError
    ga_server_to_beta(event) -> list[dict]               # zero or one events
    beta_session_to_ga(session, ...) / ga_session_to_beta(session)
    beta_item_to_ga(item) / ga_item_to_beta(item) / ga_response_to_beta(response)
    ga_param_to_beta(param)

Choices where the two dialects do not line up (protocol-reference section 12):

* ``temperature`` (session and response) has no GA field. It is dropped, not refused, because
  typical beta clients always send it (0.8 was the recommended value) and GA picks its own. Every
  dropped field is reported as a :class:`DroppedField` in the caller's ``dropped`` list, so the
  session layer can log or count it. The same happens to ``modalities`` and ``client_secret`` in a
  ``transcription_session.update`` (GA transcription sessions have neither).
* A beta value that GA cannot express (``modalities: ["video"]``, ``input_audio_format: "mp3"``)
  raises :class:`DialectError`, a :class:`~voxgate.protocol.realtime.ProtocolError` whose ``param``
  names the beta field, so the client gets an ``error`` event in words it understands.
  Everything else, known or not, passes through untouched and is judged by the GA validator.
* ``modalities`` containing ``"audio"`` becomes ``output_modalities: ["audio"]`` (GA allows one
  modality; audio always carries its transcript, which is what beta's ``["text", "audio"]`` meant);
  back to beta, ``["audio"]`` becomes ``["text", "audio"]``.
* A beta ``turn_detection`` object without ``type`` gets ``"server_vad"``: that was beta's default,
  and GA requires the tag.
* A tool choice in the chat-completions shape ``{"type": "function", "function": {"name": N}}`` (the
  beta reference documented it) becomes GA's ``{"type": "function", "name": N}``.
* Flat beta fields win over GA-shaped ``audio`` objects sent in the same beta ``session``.
* ``conversation.item.added`` becomes ``conversation.item.created``; ``conversation.item.done`` is
  dropped. Beta sent one ``created`` per item: complete for user and tool items, empty and
  ``in_progress`` for model output, whose final form arrives in ``response.output_item.done`` and
  ``response.done``. GA's ``added`` has exactly that content, so dropping ``done`` reproduces the
  beta stream event for event, without a second ``created`` a beta client would take for a new item.
* GA-only events (:data:`GA_ONLY_SERVER_EVENTS`: idle timeout, DTMF, diarized transcription
  segments, MCP progress) are dropped. A beta client has no handler for them, and a client that
  checks event types against the beta list would reject them. Nothing a beta client needs is lost:
  the idle timeout is followed by the usual ``committed``/``created``/``response.*`` events. Events this
  module does not know at all (the gateway's own ``connection_established``, ``token``, ...) pass
  through unchanged.
* ``session.created``/``session.updated`` of a GA transcription session become
  ``transcription_session.created``/``transcription_session.updated`` as the beta server sent them.
* GA-only session fields (``truncation``, ``prompt``, ``include``, ``reasoning``, ...) stay in the
  flattened beta session: they are additive, beta clients ignore fields they do not know, and
  keeping them keeps GA → beta → GA lossless. GA values with no beta spelling (a custom voice
  ``{"id": ...}``, an MCP tool) pass through as they are.
* ``error.param`` paths (and the same path inside ``error.message``) are renamed to the beta field
  names, so a validation error about ``session.audio.output.voice`` reads ``session.voice``.

This module is pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from voxgate.protocol.realtime import ProtocolError

JSON = dict[str, Any]

__all__ = [
    "BETA_SUBPROTOCOL",
    "GA_ONLY_SERVER_EVENTS",
    "GA_TO_BETA_EVENT_NAMES",
    "DialectError",
    "DroppedField",
    "beta_client_to_ga",
    "beta_item_to_ga",
    "beta_session_to_ga",
    "ga_item_to_beta",
    "ga_param_to_beta",
    "ga_response_to_beta",
    "ga_server_to_beta",
    "ga_session_to_beta",
    "wants_beta",
    "wants_beta_subprotocol",
]

BETA_SUBPROTOCOL: Final = "openai-beta.realtime-v1"
"""The WebSocket subprotocol browsers offer to ask for beta (they cannot set the header)."""

GA_TO_BETA_EVENT_NAMES: Final[Mapping[str, str]] = {
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
}
"""Server events whose payloads are identical in both dialects: only ``type`` changes."""

GA_ONLY_SERVER_EVENTS: Final[frozenset[str]] = frozenset(
    {
        "conversation.item.done",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "conversation.item.input_audio_transcription.segment",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)
"""Server events a beta client never receives (see the module docstring for why)."""


@dataclass(frozen=True, slots=True)
class DialectError(ProtocolError):
    """A beta client event that has no GA equivalent; ``param`` is the beta path of the culprit."""


@dataclass(frozen=True, slots=True)
class DroppedField:
    """A beta field removed in translation because GA has no place for it."""

    param: str
    """Its beta path, e.g. ``session.temperature``."""
    value: Any
    reason: str


# --- field tables -----------------------------------------------------------------------------------

SessionKind = Literal["realtime", "transcription"]

# beta flat session field -> (GA audio direction, GA key). Shared by both directions and by the
# error-path renaming, so the three cannot drift apart.
_SESSION_AUDIO_FIELDS: Final[Mapping[str, tuple[str, str]]] = {
    "input_audio_format": ("input", "format"),
    "input_audio_transcription": ("input", "transcription"),
    "input_audio_noise_reduction": ("input", "noise_reduction"),
    "turn_detection": ("input", "turn_detection"),
    "output_audio_format": ("output", "format"),
    "voice": ("output", "voice"),
    "speed": ("output", "speed"),
}
_GA_AUDIO_TO_BETA: Final[Mapping[tuple[str, str], str]] = {
    ga: beta for beta, ga in _SESSION_AUDIO_FIELDS.items()
}
# In response.create GA nests only output settings, and beta had no per-response speed.
_RESPONSE_AUDIO_FIELDS: Final[Mapping[str, str]] = {"output_audio_format": "format", "voice": "voice"}

_FORMAT_FIELDS: Final = frozenset({"input_audio_format", "output_audio_format"})

_BETA_FORMATS: Final[Mapping[str, Mapping[str, Any]]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_GA_FORMATS: Final[Mapping[str, str]] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}

_BETA_ASSISTANT_CONTENT: Final[Mapping[str, str]] = {"text": "output_text", "audio": "output_audio"}
_GA_OUTPUT_CONTENT: Final[Mapping[str, str]] = {"output_text": "text", "output_audio": "audio"}

_MODALITIES: Final = frozenset({"text", "audio"})


def _param_renames() -> tuple[tuple[str, str], ...]:
    pairs = [(f"session.audio.{d}.{k}", f"session.{beta}") for beta, (d, k) in _SESSION_AUDIO_FIELDS.items()]
    pairs += [
        (f"response.audio.output.{k}", f"response.{beta}") for beta, k in _RESPONSE_AUDIO_FIELDS.items()
    ]
    for scope in ("session", "response"):
        pairs.append((f"{scope}.output_modalities", f"{scope}.modalities"))
        pairs.append((f"{scope}.max_output_tokens", f"{scope}.max_response_output_tokens"))
    return tuple(pairs)


_GA_PARAMS_TO_BETA: Final = _param_renames()


# --- choosing the dialect ---------------------------------------------------------------------------


def wants_beta_subprotocol(subprotocols: Iterable[str]) -> bool:
    """Whether a browser offered the beta subprotocol (``openai-beta.realtime-v1``)."""
    return any(p.strip() == BETA_SUBPROTOCOL for p in subprotocols)


def wants_beta(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether a connecting client asked for the beta dialect.

    ``?protocol=beta`` selects beta and ``?protocol=ga`` selects GA whatever the headers say (a URL
    is the one thing every client can set; other values are ignored). Otherwise beta is chosen by
    an ``OpenAI-Beta`` header listing ``realtime=v1`` (it may list other betas too) or by the beta
    subprotocol in ``Sec-WebSocket-Protocol``. Header names are matched case-insensitively, so a
    plain dict works as well as Starlette's ``Headers``.
    """
    protocol = query.get("protocol")
    if protocol is not None:
        choice = protocol.strip().lower()
        if choice == "beta":
            return True
        if choice == "ga":
            return False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "openai-beta":
            if any(part.strip().lower() == "realtime=v1" for part in value.split(",")):
                return True
        elif lowered == "sec-websocket-protocol" and wants_beta_subprotocol(value.split(",")):
            return True
    return False


# --- client events: beta -> GA ----------------------------------------------------------------------


def beta_client_to_ga(event: JSON, dropped: list[DroppedField] | None = None) -> JSON:
    """Translate one beta client event to GA, ready for :func:`validate_client_event`.

    Fields GA has no place for are removed and appended to ``dropped`` when it is given. Raises
    :class:`DialectError` for beta values GA cannot express. Events that need no translation are
    returned as they are (the same object).
    """
    kind = event.get("type")
    if kind == "session.update":
        session = event.get("session")
        if not isinstance(session, dict):
            return event
        session_kind: SessionKind = "transcription" if session.get("type") == "transcription" else "realtime"
        ga = beta_session_to_ga(session, session_kind, dropped=dropped, event_id=_event_id(event))
        return {**event, "session": ga}
    if kind == "transcription_session.update":
        session = event.get("session")
        out = {**event, "type": "session.update"}
        if isinstance(session, dict):
            out["session"] = beta_session_to_ga(
                session, "transcription", dropped=dropped, event_id=_event_id(event)
            )
        return out
    if kind == "response.create":
        response = event.get("response")
        if not isinstance(response, dict):
            return event
        return {**event, "response": _beta_response_params_to_ga(response, dropped, _event_id(event))}
    if kind == "conversation.item.create":
        item = event.get("item")
        if not isinstance(item, dict):
            return event
        ga_item = beta_item_to_ga(item)
        return event if ga_item is item else {**event, "item": ga_item}
    return event


def beta_session_to_ga(
    session: Mapping[str, Any],
    kind: SessionKind = "realtime",
    *,
    dropped: list[DroppedField] | None = None,
    event_id: str | None = None,
) -> JSON:
    """A flat beta session (as in ``session.update``) in GA's nested shape, with ``type`` set."""
    out: JSON = {"type": kind}
    audio = _copy_audio(session.get("audio"))
    for key, value in session.items():
        if key == "audio" and isinstance(value, dict):
            continue  # copied into ``audio`` above
        target = _SESSION_AUDIO_FIELDS.get(key)
        if target is not None and (kind == "realtime" or target[0] == "input"):
            direction, ga_key = target
            if key in _FORMAT_FIELDS:
                value = _beta_format_to_ga(value, f"session.{key}", event_id)
            elif key == "turn_detection":
                value = _beta_turn_detection_to_ga(value)
            audio = _nest(audio, direction, ga_key, value)
        elif key == "temperature":
            _drop(dropped, "session.temperature", value, "GA sessions have no temperature")
        elif kind == "realtime" and key == "modalities":
            out["output_modalities"] = _beta_modalities_to_ga(value, "session.modalities", event_id)
        elif kind == "realtime" and key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif kind == "realtime" and key == "tool_choice":
            out["tool_choice"] = _beta_tool_choice_to_ga(value)
        elif kind == "transcription" and key in ("modalities", "client_secret"):
            _drop(dropped, f"session.{key}", value, "GA transcription sessions have no such field")
        else:
            out[key] = value
    if audio is not None:
        out["audio"] = audio
    return out


def beta_item_to_ga(item: JSON) -> JSON:
    """A beta conversation item with GA content types (assistant ``text``/``audio`` become
    ``output_text``/``output_audio``); the same object when nothing changes."""
    if item.get("role") != "assistant":
        return item
    return _retype_content(item, _BETA_ASSISTANT_CONTENT)


def _beta_response_params_to_ga(
    response: Mapping[str, Any], dropped: list[DroppedField] | None, event_id: str | None
) -> JSON:
    out: JSON = {}
    audio = _copy_audio(response.get("audio"))
    for key, value in response.items():
        if key == "audio" and isinstance(value, dict):
            continue  # copied into ``audio`` above
        ga_key = _RESPONSE_AUDIO_FIELDS.get(key)
        if ga_key is not None:
            if key in _FORMAT_FIELDS:
                value = _beta_format_to_ga(value, f"response.{key}", event_id)
            audio = _nest(audio, "output", ga_key, value)
        elif key == "temperature":
            _drop(dropped, "response.temperature", value, "GA responses have no temperature")
        elif key == "modalities":
            out["output_modalities"] = _beta_modalities_to_ga(value, "response.modalities", event_id)
        elif key == "max_response_output_tokens":
            out["max_output_tokens"] = value
        elif key == "tool_choice":
            out["tool_choice"] = _beta_tool_choice_to_ga(value)
        elif key == "input" and isinstance(value, list):
            out["input"] = [beta_item_to_ga(i) if isinstance(i, dict) else i for i in value]
        else:
            out[key] = value
    if audio is not None:
        out["audio"] = audio
    return out


def _copy_audio(nested: Any) -> JSON | None:
    # A client mixing dialects may send GA-shaped ``audio`` too. Copy it two levels deep so that
    # nesting the flat fields into it does not write into the caller's dicts.
    if not isinstance(nested, dict):
        return None
    return {k: dict(v) if isinstance(v, dict) else v for k, v in nested.items()}


def _nest(audio: JSON | None, direction: str, key: str, value: Any) -> JSON:
    if audio is None:
        audio = {}
    section = audio.get(direction)
    if not isinstance(section, dict):
        section = audio[direction] = {}
    section[key] = value  # flat beta fields win over the same setting in a GA-shaped ``audio``
    return audio


def _beta_modalities_to_ga(value: Any, param: str, event_id: str | None) -> Any:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(m, str) and m in _MODALITIES for m in value)
    ):
        raise DialectError(
            "invalid_value",
            f"Invalid value for '{param}': expected a non-empty list of 'text' and 'audio'.",
            param=param,
            event_id=event_id,
        )
    return ["audio"] if "audio" in value else ["text"]


def _beta_format_to_ga(value: Any, param: str, event_id: str | None) -> Any:
    if value is None or isinstance(value, dict):
        return value  # null, or already a GA format object: the validator judges it
    if isinstance(value, str):
        fmt = _BETA_FORMATS.get(value)
        if fmt is not None:
            return dict(fmt)  # a fresh dict: callers may mutate what we return
    raise DialectError(
        "invalid_value",
        f"Invalid value for '{param}': {value!r}. Supported values are: 'pcm16', 'g711_ulaw', 'g711_alaw'.",
        param=param,
        event_id=event_id,
    )


def _beta_turn_detection_to_ga(value: Any) -> Any:
    if isinstance(value, dict) and "type" not in value:
        return {"type": "server_vad", **value}
    return value


def _beta_tool_choice_to_ga(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") == "function" and "name" not in value:
        function = value.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "function", "name": function["name"]}
    return value


def _drop(dropped: list[DroppedField] | None, param: str, value: Any, reason: str) -> None:
    if dropped is not None:
        dropped.append(DroppedField(param, value, reason))


def _event_id(event: Mapping[str, Any]) -> str | None:
    event_id = event.get("event_id")
    return event_id if isinstance(event_id, str) else None


# --- server events: GA -> beta ----------------------------------------------------------------------


def ga_server_to_beta(event: JSON) -> list[JSON]:
    """Translate one GA server event for a beta client: zero or one events.

    Unknown event types (including the gateway's own messages) pass through as the same object.
    """
    kind = event.get("type")
    if type(kind) is not str:
        return [event]
    renamed = GA_TO_BETA_EVENT_NAMES.get(kind)
    if renamed is not None:
        # The hot path: a shallow copy so the caller's GA event (which may be recorded) stays GA,
        # while the audio payload string is shared, not copied.
        out = event.copy()
        out["type"] = renamed
        return [out]
    if kind in GA_ONLY_SERVER_EVENTS:
        return []
    handler = _SERVER_HANDLERS.get(kind)
    if handler is None:
        return [event]
    return [handler(event)]


def ga_session_to_beta(session: Mapping[str, Any]) -> JSON:
    """A GA session object (realtime or transcription) in beta's flat shape, formats as strings."""
    out: JSON = {}
    for key, value in session.items():
        if key == "type":
            continue
        if key == "output_modalities":
            out["modalities"] = _ga_modalities_to_beta(value)
        elif key == "max_output_tokens":
            out["max_response_output_tokens"] = value
        elif key == "audio" and isinstance(value, dict):
            for direction, settings in value.items():
                if not isinstance(settings, dict):
                    continue
                for ga_key, setting in settings.items():
                    beta_key = _GA_AUDIO_TO_BETA.get((direction, ga_key))
                    if beta_key is None:
                        continue  # the SDK models have no other audio settings
                    out[beta_key] = _ga_format_to_beta(setting) if ga_key == "format" else setting
        else:
            out[key] = value
    return out


def ga_item_to_beta(item: JSON) -> JSON:
    """A GA item with beta content types (``output_text``/``output_audio`` become
    ``text``/``audio``); the same object when nothing changes."""
    return _retype_content(item, _GA_OUTPUT_CONTENT)


def ga_response_to_beta(response: Mapping[str, Any]) -> JSON:
    """A GA response object in beta's shape: flat ``modalities``, ``voice``, ``output_audio_format``."""
    out: JSON = {}
    for key, value in response.items():
        if key == "output_modalities":
            out["modalities"] = _ga_modalities_to_beta(value)
        elif key == "audio" and isinstance(value, dict):
            output = value.get("output")
            if isinstance(output, dict):
                if "format" in output:
                    out["output_audio_format"] = _ga_format_to_beta(output["format"])
                if "voice" in output:
                    out["voice"] = output["voice"]
        elif key == "output" and isinstance(value, list):
            out["output"] = [ga_item_to_beta(i) if isinstance(i, dict) else i for i in value]
        else:
            out[key] = value
    return out


def ga_param_to_beta(param: str) -> str:
    """An error ``param`` path with GA field names replaced by their beta names."""
    for ga, beta in _GA_PARAMS_TO_BETA:
        if param.startswith(ga) and (len(param) == len(ga) or param[len(ga)] in ".["):
            return beta + param[len(ga) :]
    return param


def _ga_modalities_to_beta(value: Any) -> Any:
    if isinstance(value, list):
        return ["text", "audio"] if "audio" in value else list(value)
    return value


def _ga_format_to_beta(value: Any) -> Any:
    if isinstance(value, dict):
        name = _lookup(_GA_FORMATS, value.get("type"))
        if name is not None:
            return name
    return value  # null, already a string, or a format beta cannot name


def _lookup(table: Mapping[str, str], key: Any) -> str | None:
    # JSON from a client can put a list or an object where a type name belongs: unhashable.
    return table.get(key) if isinstance(key, str) else None


def _retype_content(item: JSON, table: Mapping[str, str]) -> JSON:
    content = item.get("content")
    if not isinstance(content, list):
        return item
    new_content: list[Any] | None = None
    for index, part in enumerate(content):
        if not isinstance(part, dict):
            continue
        new_type = _lookup(table, part.get("type"))
        if new_type is None:
            continue
        if new_content is None:
            new_content = list(content)
        new_content[index] = {**part, "type": new_type}
    if new_content is None:
        return item
    return {**item, "content": new_content}


def _session_event(event: JSON) -> JSON:
    session = event.get("session")
    if not isinstance(session, dict):
        return event
    out = {**event, "session": ga_session_to_beta(session)}
    if session.get("type") == "transcription":
        # Beta's transcription sessions had their own event names (created, then updated).
        out["type"] = "transcription_session." + event["type"].removeprefix("session.")
    return out


def _item_event(event: JSON) -> JSON:
    item = event.get("item")
    if not isinstance(item, dict):
        return event
    beta = ga_item_to_beta(item)
    return event if beta is item else {**event, "item": beta}


def _item_added(event: JSON) -> JSON:
    out = {**event, "type": "conversation.item.created"}
    item = event.get("item")
    if isinstance(item, dict):
        out["item"] = ga_item_to_beta(item)
    return out


def _response_event(event: JSON) -> JSON:
    response = event.get("response")
    if not isinstance(response, dict):
        return event
    return {**event, "response": ga_response_to_beta(response)}


def _content_part_event(event: JSON) -> JSON:
    # GA already uses "text"/"audio" here (protocol-reference 5.1), but tolerate the item spelling.
    part = event.get("part")
    if isinstance(part, dict):
        new_type = _lookup(_GA_OUTPUT_CONTENT, part.get("type"))
        if new_type is not None:
            return {**event, "part": {**part, "type": new_type}}
    return event


def _error_event(event: JSON) -> JSON:
    error = event.get("error")
    if not isinstance(error, dict):
        return event
    param = error.get("param")
    if not isinstance(param, str):
        return event
    beta = ga_param_to_beta(param)
    if beta == param:
        return event
    new_error = {**error, "param": beta}
    message = error.get("message")
    if isinstance(message, str):
        new_error["message"] = message.replace(param, beta)
    return {**event, "error": new_error}


_SERVER_HANDLERS: Final[Mapping[str, Callable[[JSON], JSON]]] = {
    "session.created": _session_event,
    "session.updated": _session_event,
    "conversation.item.added": _item_added,
    "conversation.item.created": _item_event,
    "conversation.item.retrieved": _item_event,
    "response.output_item.added": _item_event,
    "response.output_item.done": _item_event,
    "response.created": _response_event,
    "response.done": _response_event,
    "response.content_part.added": _content_part_event,
    "response.content_part.done": _content_part_event,
    "error": _error_event,
}
